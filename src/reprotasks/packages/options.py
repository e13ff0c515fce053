"""The ``[[tool.reprotasks.packages]]`` option: Linux packages (.deb, .rpm) of the built Go binaries
and of the Python app.

Each entry is one package: which built binaries go to /usr/bin, whether the build's wheel goes to
/opt/NAME with its hashed lock (``python``), which committed files go where
(config files marked as such), a systemd unit, maintainer scripts, dependencies and the metadata a
package manager shows. A leaf module (see ``reprotasks._options``): config.py imports it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from reprotasks import discover
from reprotasks._options import Option, Rel, check_entry_value, suggest
from reprotasks.errors import ConfigError

FORMATS = ("deb", "rpm")
SCRIPTS = ("preinstall", "postinstall", "preremove", "postremove")
# Keys of one entry (`name` is required), with their TOML types: "str", "bool", "list" (of strings)
# or "table" (of strings).
PACKAGE_KEYS: dict[str, str] = {
    "name": "str",
    "binaries": "list",
    "python": "bool",
    "requirements": "str",
    "python-version": "str",
    "formats": "list",
    "files": "table",
    "config-files": "list",
    "systemd-unit": "str",
    "scripts": "table",
    "depends": "list",
    "description": "str",
    "license": "str",
    "homepage": "str",
    "maintainer": "str",
    "platforms": "list",
}
PACKAGE_EXAMPLE = (
    '[[tool.reprotasks.packages]]\nname = "worker"\nbinaries = ["worker"]\n'
    'files = { "/etc/worker/worker.toml" = "deploy/worker.toml" }\nconfig-files = ["/etc/worker/worker.toml"]\n'
    'systemd-unit = "deploy/worker.service"'
)
_KEY_SCHEMAS: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "bool": {"type": "boolean"},
    "list": {"type": "array", "items": {"type": "string"}},
    "table": {"type": "object", "additionalProperties": {"type": "string"}},
}
PACKAGES_SCHEMA: Mapping[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {key: _KEY_SCHEMAS[kind] for key, kind in PACKAGE_KEYS.items()},
    },
}
# Debian policy's package names (a subset rpm accepts too): lower case, digits, + - . ; 2+ characters.
_PACKAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_INSTALL_PATH = re.compile(r"^/(?:[A-Za-z0-9._@+-]+/)*[A-Za-z0-9._@+-]+$")


def check_package_list(value: Any, where: str) -> list[dict[str, Any]]:
    """Every `[[tool.reprotasks.packages]]` entry checked: keys, types, names, paths, formats, platforms."""
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise ConfigError(f"{where} must be an array of tables", hint=f"e.g.\n{PACKAGE_EXAMPLE}")
    names: set[str] = set()
    for number, item in enumerate(value, 1):
        at = f"{where} entry {number}"
        _check_keys(item, at)
        name = item.get("name", "")
        if not _PACKAGE_NAME.match(name):
            raise ConfigError(
                f"{at}: `name` {name!r} is not a package name (lower-case letters, digits, + - . ; two or more)",
                hint='e.g. `name = "worker"`; the files are NAME_VERSION_ARCH.deb and NAME-VERSION-1.ARCH.rpm',
            )
        if name in names:
            raise ConfigError(f"{at}: `name` {name!r} is given twice", hint="give each package its own name")
        names.add(name)
        _check_contents(item, at)
    _check_shared_destinations(value, where)
    return [dict(item) for item in value]


def _check_shared_destinations(value: list[Mapping[str, Any]], where: str) -> None:
    """Two packages installing one path cannot both be installed: refused here, not on a server."""
    owner: dict[str, str] = {}
    for item in value:
        placed = [*item.get("files", {}), *(f"/usr/bin/{binary}" for binary in item.get("binaries", []))]
        if "systemd-unit" in item:
            placed.append(f"/usr/lib/systemd/system/{PurePosixPath(item['systemd-unit']).name}")
        for destination in placed:
            if destination in owner:
                raise ConfigError(
                    f"{where}: packages {owner[destination]!r} and {item['name']!r} both install {destination!r}",
                    hint="install each path from one package only",
                )
            owner[destination] = item["name"]


def _check_keys(item: Mapping[str, Any], at: str) -> None:
    unknown = sorted(set(item) - set(PACKAGE_KEYS))
    if unknown:
        raise ConfigError(
            f"{at}: unknown key `{unknown[0]}`",
            hint=f"{suggest(unknown[0], list(PACKAGE_KEYS))}an entry has: {', '.join(PACKAGE_KEYS)}",
        )
    for key, kind in PACKAGE_KEYS.items():
        if key not in item:
            continue
        value = item[key]
        check_entry_value(
            key, kind, value, at, example=PACKAGE_EXAMPLE, forbidden=("\x00\n\r", "a NUL, newline or carriage return")
        )
        if kind == "list" and len(set(value)) != len(value):
            twice = sorted(part for part in value if value.count(part) > 1)[0]
            raise ConfigError(f"{at}: `{key}` lists {twice!r} twice", hint="list each value once")


def _check_contents(item: Mapping[str, Any], at: str) -> None:
    formats = item.get("formats", list(FORMATS))
    if not formats or any(kind not in FORMATS for kind in formats) or len(set(formats)) != len(formats):
        raise ConfigError(
            f"{at}: `formats` = {formats!r} is not a list of {' and '.join(FORMATS)}",
            hint='e.g. `formats = ["deb", "rpm"]` (the default)',
        )
    files = item.get("files", {})
    for destination in files:
        if not _INSTALL_PATH.match(destination) or "/../" in f"{destination}/" or "/./" in f"{destination}/":
            raise ConfigError(
                f"{at}: `files` destination {destination!r} is not an absolute path of plain names",
                hint='e.g. `files = { "/etc/worker/worker.toml" = "deploy/worker.toml" }`',
            )
    _check_destinations(item, files, at)
    for destination in item.get("config-files", []):
        if destination not in files:
            raise ConfigError(
                f"{at}: `config-files` names {destination!r}, which `files` does not install",
                hint="list config files by their destination in `files`",
            )
    _check_python(item, at)
    unknown = sorted(set(item.get("scripts", {})) - set(SCRIPTS))
    if unknown:
        raise ConfigError(f"{at}: `scripts` has `{unknown[0]}`", hint=f"the scripts are: {', '.join(SCRIPTS)}")
    platforms = item.get("platforms", [])
    for platform in platforms:
        if platform not in _PLATFORMS:
            raise ConfigError(
                f"{at}: platform {platform!r} is not one a package can be made for",
                hint=f"packages install on Linux: one of {', '.join(_PLATFORMS)} (built by go.platforms)",
            )
    _check_depends(item, formats, at)
    maintainer = item.get("maintainer")
    if maintainer is not None and not _MAINTAINER.match(maintainer):
        raise ConfigError(
            f"{at}: `maintainer` {maintainer!r} is not `Name <email@example.com>`",
            hint='e.g. `maintainer = "Release Team <release@example.com>"` (leave it out for the commit\'s author)',
        )


# A Debian-style relation: NAME, or NAME (OP VERSION); rpm gets NAME OP VERSION. Alternatives
# (" | ") only for .deb-only packages (nFPM writes no rpm boolean dependencies).
_RELATION = re.compile(r"^[a-z0-9][a-z0-9+.-]*(?: \((?:<<|<=|=|>=|>>) [A-Za-z0-9.+~:-]+\))?$")
_MAINTAINER = re.compile(r"^[^<>\s][^<>]* <[^<>@\s]+@[^<>@\s]+\.[^<>@\s]+>$")
_RPM_OPERATORS = {"<<": "<", ">>": ">", "<=": "<=", ">=": ">=", "=": "="}


def _check_depends(item: Mapping[str, Any], formats: list[str], at: str) -> None:
    for dependency in item.get("depends", []):
        alternatives = dependency.split(" | ")
        if not all(_RELATION.match(part) for part in alternatives):
            raise ConfigError(
                f"{at}: `depends` entry {dependency!r} is not NAME or NAME (OP VERSION)",
                hint='e.g. `depends = ["ca-certificates", "libc6 (>= 2.31)"]` (OP: <<, <=, =, >=, >>); one package per '
                "entry, written as Debian does (the .rpm gets `libc6 >= 2.31`)",
            )
        if len(alternatives) > 1 and "rpm" in formats:
            raise ConfigError(
                f"{at}: `depends` entry {dependency!r} has alternatives, which the .rpm cannot say",
                hint='list one package, or make the package .deb only (`formats = ["deb"]`)',
            )


def rpm_relation(dependency: str) -> str:
    """A checked Debian-style relation as rpm writes it: `libc6 (>= 2.31)` -> `libc6 >= 2.31`."""
    match = re.match(r"^(\S+) \((\S+) (\S+)\)$", dependency)
    return f"{match.group(1)} {_RPM_OPERATORS[match.group(2)]} {match.group(3)}" if match else dependency


def package_version(version: str) -> tuple[int, str]:
    """(epoch, version) as .deb and .rpm order a release's version: a PEP 440 pre-release or dev
    release sorts before its release (`0.4.0rc1` -> `0.4.0~rc1`), a post-release and a local
    version after it (`+post1`, `+local`), an epoch is the package's epoch; a semantic version's
    pre-release likewise (`1.2.3-rc.1` -> `1.2.3~rc.1`); a commit after a tag, as git describe
    names it, after that tag (`4.53.6-1-g53e1aa0e8922` -> `4.53.6+1.g53e1aa0e8922`). No hyphen is
    left: rpm splits NAME-VERSION-RELEASE at them."""
    from packaging.version import InvalidVersion, Version

    try:
        parsed = Version(version)
    except InvalidVersion:
        described = re.match(r"^v?(.+?)-(\d+)-g([0-9a-f]{4,40})$", version)
        if described:
            return 0, f"{package_version(described.group(1))[1]}+{described.group(2)}.g{described.group(3)}"
        match = re.match(r"^v?(\d+(?:\.\d+)*)-([0-9A-Za-z.-]+)$", version)
        text = f"{match.group(1)}~{match.group(2)}" if match else version
        return 0, text.replace("-", ".")
    text = ".".join(str(part) for part in parsed.release)
    if parsed.pre is not None:
        text += f"~{parsed.pre[0]}{parsed.pre[1]}"
    if parsed.post is not None:
        text += f"+post{parsed.post}"
    if parsed.dev is not None:
        text += f"~dev{parsed.dev}"
    if parsed.local is not None:
        text += f"+{parsed.local}"
    return parsed.epoch, text


# Where pip finds wheels for a Python app (manylinux tags): the platforms a `python` package is made for.
PYTHON_PLATFORMS = ("linux/amd64", "linux/arm64")


def _check_python(item: Mapping[str, Any], at: str) -> None:
    if not item.get("python"):
        given = [key for key in ("requirements", "python-version") if key in item]
        if given:
            raise ConfigError(
                f"{at}: `{given[0]}` is for the Python app, which this package does not install",
                hint="set `python = true` to install the build's wheel and its hashed lock under /opt/NAME",
            )
        return
    version = item.get("python-version")
    if version is not None and not re.match(r"^3\.\d+$", version):
        raise ConfigError(f"{at}: `python-version` {version!r} is not 3.N", hint='e.g. "3.11" (the servers\' python3)')
    for platform in item.get("platforms", []):
        if platform not in PYTHON_PLATFORMS:
            raise ConfigError(
                f"{at}: platform {platform!r} has no manylinux wheels for the Python app",
                hint=f"a `python` package is made for {' or '.join(PYTHON_PLATFORMS)}",
            )


_PLATFORMS = (
    "linux/386", "linux/amd64", "linux/arm64", "linux/ppc64le", "linux/s390x", "linux/riscv64", "linux/arm",
    "linux/arm/v5", "linux/arm/v6", "linux/arm/v7",
)  # fmt: skip
# Directories every system has, and the places a package's own documents go: never a file of `files`.
_RESERVED = frozenset(
    {"/etc", "/opt", "/usr", "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib/systemd", "/usr/lib/systemd/system",
     "/usr/share", "/usr/share/doc", "/usr/share/lintian", "/usr/share/lintian/overrides", "/var", "/var/lib",
     "/bin", "/sbin", "/lib", "/boot", "/dev", "/proc", "/sys", "/run", "/tmp", "/home", "/root", "/srv",  # noqa: S108 - a path a package must not replace, not one we write
     "/lib32", "/lib64", "/libx32", "/usr/lib32", "/usr/lib64", "/usr/libx32", "/usr/libexec", "/usr/include",
     "/usr/local", "/usr/local/bin", "/usr/local/lib", "/usr/local/sbin", "/usr/local/share", "/usr/share/man",
     "/etc/systemd", "/etc/systemd/system", "/etc/default", "/etc/init.d", "/var/log", "/var/cache", "/mnt", "/media"}
)  # fmt: skip


def _check_destinations(item: Mapping[str, Any], files: Mapping[str, str], at: str) -> None:
    """No file where a directory must be (another destination inside it, a system directory), and
    none where the package puts its own files (binaries, the unit, its documents)."""
    name = item.get("name", "")
    taken = {f"/usr/bin/{binary}": "a binary" for binary in item.get("binaries", [])}
    if "systemd-unit" in item:
        taken[f"/usr/lib/systemd/system/{PurePosixPath(item['systemd-unit']).name}"] = "the systemd unit"
    for destination in files:
        clash = taken.get(destination) or ("a system directory" if destination in _RESERVED else None)
        under = next((path for path in taken if destination.startswith(path + "/")), None)
        if under is not None:
            clash = f"inside {taken[under]} ({under})"
        if destination == f"/usr/share/doc/{name}" or destination.startswith(
            (f"/usr/share/doc/{name}/", f"/usr/share/lintian/overrides/{name}")
        ):
            clash = "the package's own documents"
        if item.get("python") and (destination + "/").startswith(f"/opt/{name}/"):
            clash = "the Python app's directory"
        inside = next((other for other in files if other.startswith(destination + "/")), None)
        if inside is not None:
            clash = f"the directory of {inside!r}"
        if clash:
            raise ConfigError(
                f"{at}: `files` installs {destination!r}, which is {clash}",
                hint="install each file at a path of its own, e.g. /etc/NAME/FILE",
            )


OPTIONS: tuple[Option, ...] = (
    Option(
        table="",
        key="packages",
        kind="entries",
        default=[],
        check=check_package_list,
        schema=PACKAGES_SCHEMA,
        example='[{"name": "worker", "binaries": ["worker"]}]',
        help=(
            "Linux packages of the built Go binaries and the Python app, as `[[tool.reprotasks.packages]]` "
            "entries: `name`, `binaries` (built binaries installed to /usr/bin; default: every one, none with "
            "`python`), `python` (true: the build's wheel and its hashed `requirements` lock, default the "
            "project's first lock, installed to /opt/NAME/lib for `python-version`, default .python-version, "
            "with its console scripts in /usr/bin), `formats` (default "
            '["deb", "rpm"]), `files` ({ "/DEST" = "committed/file" }), `config-files` (destinations kept on '
            "upgrade), `systemd-unit` (a committed unit, installed to /usr/lib/systemd/system/), `scripts` "
            "(preinstall, postinstall, preremove, postremove: committed scripts), `depends`, `description`, "
            "`license`, `homepage`, `maintainer` (defaults from pyproject.toml and the release commit's author), "
            "`platforms` (default: the linux ones of go.platforms; linux/amd64 and linux/arm64 only with "
            "`python`). Environment variable: a JSON array of such "
            "tables."
        ),
    ),
)


@dataclass(frozen=True, kw_only=True)
class PackageConfig:
    """One `[[tool.reprotasks.packages]]` entry, checked and resolved against the project."""

    name: str
    binaries: tuple[str, ...] = ()
    every_binary: bool = False  # `binaries` not given, on a package without the Python app
    requirements: Path | None = None  # the Python app's hashed lock; None: no Python app
    python_version: str = ""  # the servers' python3 (X.Y), for which wheels are chosen
    formats: tuple[str, ...] = FORMATS
    files: Mapping[str, Path] = field(default_factory=dict)  # destination -> file in the project
    config_files: tuple[str, ...] = ()
    systemd_unit: Path | None = None
    unit_name: str = ""  # the name the entry gives the unit (a symlink's, not its target's)

    @property
    def unit_destination(self) -> str | None:
        return None if self.systemd_unit is None else f"/usr/lib/systemd/system/{self.unit_name}"

    scripts: Mapping[str, Path] = field(default_factory=dict)
    depends: tuple[str, ...] = ()
    description: str = ""
    license: str = ""
    homepage: str = ""
    maintainer: str = ""  # empty: the release commit's author
    platforms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Project:
    """What a package's defaults come from: [project] of pyproject.toml, go.platforms, the first lock."""

    metadata: Mapping[str, Any]
    go_platforms: tuple[str, ...]
    requirements: Path | None


def _platforms(entry: Mapping[str, Any], project: Project) -> tuple[str, ...]:
    """The entry's platforms, else the linux ones of go.platforms (those with wheels, for a Python
    app; linux/amd64 when the project builds no Go)."""
    if entry.get("platforms"):
        return tuple(entry["platforms"])
    linux = tuple(platform for platform in project.go_platforms if platform.startswith("linux/"))
    if entry.get("python"):
        with_wheels = tuple(platform for platform in linux if platform in PYTHON_PLATFORMS)
        return with_wheels or ((PYTHON_PLATFORMS[0],) if not linux else ())
    return linux


def _python_app(root: Path, entry: Mapping[str, Any], project: Project) -> tuple[Path | None, str]:
    """(the lock, the Python version) of a `python` package; (None, "") for one without the app."""
    if not entry.get("python"):
        return None, ""
    at = f"package {entry['name']}"
    requirements = project.requirements
    if "requirements" in entry:
        requirements = discover.inside(root, entry["requirements"], f"packages.{entry['name']}.requirements")
    if requirements is None:
        raise ConfigError(
            f"{at}: no hashed lock to install with the wheel: the project has no requirements lock",
            hint="set `requirements` to the hashed runtime lock (e.g. requirements.txt from `reprotasks lock`)",
        )
    version = entry.get("python-version") or discover.python_version_file(root)
    if not version:
        raise ConfigError(
            f"{at}: which Python do the servers run?",
            hint='set `python-version = "3.11"` on the package (or commit a .python-version file)',
        )
    _require_supported(at, version, project.metadata.get("requires-python"))
    return requirements, version


def _require_supported(at: str, version: str, requires: object) -> None:
    """The servers' Python must be one the project supports (`requires-python`), or pip refuses the wheel."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    if not isinstance(requires, str):
        return
    try:
        supported = SpecifierSet(requires)
    except InvalidSpecifier:
        return
    if not supported.contains(f"{version}.0", prereleases=True) and not supported.contains(f"{version}.99"):
        raise ConfigError(
            f"{at}: `python-version` {version} is not a Python the project supports (requires-python {requires!r})",
            hint="set `python-version` to the servers' python3 within requires-python",
        )


def resolve(root: Path, entries: list[dict[str, Any]], project: Project) -> tuple[PackageConfig, ...]:
    """The checked entries resolved: files inside the project, platforms from go.platforms, metadata
    from [project] of pyproject.toml where the entry is silent."""
    resolved = []
    for entry in entries:
        where = f"packages.{entry['name']}"
        platforms = _platforms(entry, project)
        if not platforms:
            raise ConfigError(
                f"package {entry['name']}: go.platforms builds no linux platform to package"
                + (f" (with wheels: {', '.join(PYTHON_PLATFORMS)})" if entry.get("python") else ""),
                hint="add e.g. linux/amd64 to go.platforms, or set `platforms` on the package",
            )
        requirements, python_version = _python_app(root, entry, project)
        # Without `binaries`: every built binary, unless the package is the Python app's.
        binaries = entry.get("binaries", [] if entry.get("python") else None)
        inside = functools.partial(_source_file, root)
        metadata = project.metadata
        resolved.append(
            PackageConfig(
                name=entry["name"],
                binaries=tuple(binaries) if binaries is not None else (),
                every_binary=binaries is None,
                requirements=requirements,
                python_version=python_version,
                formats=tuple(entry.get("formats", FORMATS)),
                files={dest: inside(src, f"{where}.files") for dest, src in entry.get("files", {}).items()},
                config_files=tuple(entry.get("config-files", ())),
                systemd_unit=inside(entry["systemd-unit"], f"{where}.systemd-unit")
                if "systemd-unit" in entry
                else None,
                unit_name=PurePosixPath(entry.get("systemd-unit", "")).name,
                scripts={kind: inside(src, f"{where}.scripts") for kind, src in entry.get("scripts", {}).items()},
                depends=tuple(entry.get("depends", ())),
                description=entry.get("description") or str(metadata.get("description") or ""),
                license=entry.get("license") or _license(metadata),
                homepage=entry.get("homepage") or _homepage(metadata),
                maintainer=entry.get("maintainer", ""),
                platforms=platforms,
            )
        )
    return tuple(resolved)


def _source_file(root: Path, relative: str, key: str) -> Path:
    """A file a package installs: inside the project, and a file (a directory is not listed)."""
    path = discover.inside(root, relative, key)
    if path.is_dir():
        raise ConfigError(
            f"`{key}` = {relative!r} is a directory: a package installs files one by one",
            hint='list each file with its destination, e.g. `files = { "/etc/NAME/a.toml" = "deploy/a.toml" }`',
        )
    return path


def _license(project: Mapping[str, Any]) -> str:
    value = project.get("license")
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("text"), str) and len(value["text"]) < 100:
        return str(value["text"])
    return ""


def _homepage(project: Mapping[str, Any]) -> str:
    urls = project.get("urls")
    if not isinstance(urls, Mapping):
        return ""
    for key in ("Homepage", "homepage", "Home", "Source", "Repository"):
        if isinstance(urls.get(key), str) and urls[key].startswith("https://"):
            return str(urls[key])
    return ""


def describe(packages: tuple[PackageConfig, ...], rel: Rel) -> list[dict[str, Any]]:
    """describe()'s `packages`: every entry with its defaults filled in."""
    return [
        {
            "name": package.name,
            "binaries": "(every built binary)" if package.every_binary else list(package.binaries),
            "python": package.requirements is not None,
            "requirements": None if package.requirements is None else rel(package.requirements),
            "python-version": package.python_version,
            "formats": list(package.formats),
            "files": {dest: rel(src) for dest, src in sorted(package.files.items())},
            "config-files": list(package.config_files),
            "systemd-unit": None if package.systemd_unit is None else rel(package.systemd_unit),
            "scripts": {kind: rel(src) for kind, src in sorted(package.scripts.items())},
            "depends": list(package.depends),
            "description": package.description,
            "license": package.license,
            "homepage": package.homepage,
            "maintainer": package.maintainer or "(the release commit's author)",
            "platforms": list(package.platforms),
        }
        for package in packages
    ]
