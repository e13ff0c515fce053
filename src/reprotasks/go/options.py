"""The ``[tool.reprotasks.go]`` options, their resolved form (``GoConfig``) and their checks.

A leaf module (see ``reprotasks._options``): config.py imports it, and so do the Go build
modules for the one platform parser and the defaults.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from reprotasks import discover, goreleaser
from reprotasks._options import Option, assemble
from reprotasks.errors import ConfigError

DEFAULT_PLATFORMS = ("linux/amd64", "linux/arm64", "darwin/arm64", "windows/amd64")
# GoReleaser's archive naming, the variant joined to the arch (`linux_armv7`).
DEFAULT_ARCHIVE_NAME = "{binary}_{version}_{os}_{arch}{variant}"

# OS/ARCH/VARIANT: the variable a variant sets, and the values it takes.
VARIANTS = {
    "arm": ("GOARM", {"v5": "5", "v6": "6", "v7": "7"}),
    "amd64": ("GOAMD64", {"v1": "v1", "v2": "v2", "v3": "v3", "v4": "v4"}),
    "arm64": ("GOARM64", {f"v{major}.{minor}": f"v{major}.{minor}" for major in (8, 9) for minor in range(10)}),
}


def parse_platform(text: str, where: str = "platform") -> tuple[str, str]:
    """(GOOS, GOARCH) of ``OS/ARCH`` or ``OS/ARCH/VARIANT`` (``linux/arm/v7``, ``linux/amd64/v3``): the one
    check of a platform, for `go.platforms` and `build --platform` alike."""
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ConfigError(
            f"{where} {text!r} is not OS/ARCH or OS/ARCH/VARIANT",
            hint="write platforms like `linux/amd64`, `linux/arm/v7` or `linux/amd64/v3`",
        )
    if len(parts) == 3:
        _variable, values = VARIANTS.get(parts[1], ("", {}))
        if parts[2] not in values:
            raise ConfigError(
                f"{where} {text!r}: {parts[1]!r} has no variant {parts[2]!r}",
                hint="variants are arm/v5, arm/v6, arm/v7; amd64/v1 to amd64/v4; arm64/v8.0 to arm64/v9.9",
            )
    return parts[0], parts[1]


TABLE = "go"

# Tests may extend this tuple (monkeypatch): everything reads it when it runs, never at import.
OPTIONS: tuple[Option, ...] = (
    Option(
        table="go",
        key="enabled",
        kind="bool",
        default=True,
        described=False,  # false resolves to go.module = None (shown as null)
        help="Run the Go parts of each step; `false` skips Go entirely (skipped anyway when no `go.mod` is found).",
    ),
    Option(
        table="go",
        key="module",
        kind="str",
        default=None,
        default_text="the one `go.mod` found in the tree, else the one module with main packages",
        help=(
            "Directory holding the `go.mod` of the module whose commands are released (`build` asks for it when "
            "several modules have commands)."
        ),
    ),
    Option(
        table="go",
        key="modules",
        kind="list",
        default=None,
        default_text="every `go.mod` in the tree",
        help=(
            "Directories of the Go modules `lock` tidies and downloads and `verify` checks (toolchain pin, "
            "`go mod tidy -diff`, `go mod verify`); tools and example modules are checked, not released (the "
            "commands of one of them are: `module`)."
        ),
    ),
    Option(
        table="go",
        key="main-packages",
        kind="list",
        default=None,
        default_text="every `cmd/*` with `package main`, and the module root (`.`) when it is one",
        help="Go `main` packages to build, relative to the module.",
    ),
    Option(
        table="go",
        key="toolchain-pin",
        kind="choice",
        default="required",
        choices=("required", "none"),
        help=(
            "`required`: the Go toolchain must be pinned exactly: go.mod's `toolchain go1.X.Y`, else a "
            "`.go-version` file (`1.X.Y`, as actions/setup-go reads it), else `go 1.X.Y`; `none` skips the check."
        ),
    ),
    Option(
        table="go",
        key="platforms",
        kind="list",
        default=list(DEFAULT_PLATFORMS),
        help=(
            "GOOS/GOARCH targets every main package is built for, optionally with a variant: `linux/arm/v7` "
            "(GOARM=7), `linux/amd64/v3` (GOAMD64=v3), `linux/arm64/v8.2` (GOARM64); archives are then named "
            "`..._linux_armv7`. `build --platform OS/ARCH` picks one."
        ),
    ),
    Option(
        table="go",
        key="version-variable",
        kind="str",
        default="auto",
        help=(
            "Variable set to the release version with `-ldflags -X`. `auto`: each package-level string variable "
            'named `version` or `Version` a main package declares (`var Version string`, `var version = "dev"`), '
            "and each one outside main named `version`, `Version` or `...Version` whose value is a placeholder "
            '(`"dev"`, `"development"`, `"unknown"`, ...); or a `package/path.Var`; `""` to stamp nothing. A binary '
            "whose code already holds the release version (a `const`) is not warned about."
        ),
    ),
    Option(
        table="go",
        key="vcs-stamp",
        kind="bool",
        default=False,
        help=(
            "Embed VCS information (`-buildvcs=true`: revision, commit time); `build` then always requires a clean "
            "tree. Off by default (`-buildvcs=false`)."
        ),
    ),
    Option(
        table="go",
        key="ldflags",
        kind="list",
        default=[],
        help=(
            'Extra linker flags appended to `-ldflags`, one flag per entry, e.g. `["-s", "-w"]` to leave out the '
            'symbol table and DWARF, or `["-X", "main.commit={short_commit}"]`: `{version}`, `{tag}`, `{commit}`, '
            "`{short_commit}` (7 digits), `{date}` (the commit's time, RFC 3339) and `{timestamp}` are filled from "
            "the commit. Recorded in the manifest. Never `-buildid`: reprotasks sets `-buildid=` itself. Default: "
            "the `ldflags` of the repository's `.goreleaser.yml`, if any (as are main packages, binary names, "
            "platforms, tags and the archive name and files)."
        ),
    ),
    Option(
        table="go",
        key="tags",
        kind="list",
        default=[],
        help="Build tags for every `go build` (`-tags=a,b`); recorded in the manifest.",
    ),
    Option(
        table="go",
        key="exclude-packages",
        kind="list",
        default=[],
        help=(
            'Main packages never built, e.g. `["./cmd/devtool"]`, taken out of `main-packages` or of those found '
            "(an entry that is no main package is an error)."
        ),
    ),
    Option(
        table="go",
        key="binary-names",
        kind="list",
        default=[],
        show=lambda go, _rel: [f"{package}={name}" for package, name in sorted(go.binary_names.items())],
        default_text="the last element of the package path; for `.`, of the module path (without a `/vN` suffix)",
        help='Binary names as `PACKAGE=NAME` entries, e.g. `["./cmd/server=acme-server"]`.',
    ),
    Option(
        table="go",
        key="archive-files",
        kind="list",
        default=[],
        help=(
            'Files of the commit put beside the binary in every archive, by their base name, e.g. `["LICENSE", '
            '"README.md"]` (paths relative to the project root).'
        ),
    ),
    Option(
        table="go",
        key="archive-in-directory",
        kind="bool",
        default=False,
        help=(
            "Put each archive's files in a directory named like the archive (without its extension), as "
            "GoReleaser's `wrap_in_directory: true` does, instead of at the top level."
        ),
    ),
    Option(
        table="go",
        key="archive-name",
        kind="str",
        default=DEFAULT_ARCHIVE_NAME,
        help=(
            "Archive name without extension (`.tar.gz`, `.zip` on windows), from `{binary}`, `{version}`, `{os}`, "
            "`{arch}` and `{variant}` (`v7` of linux/arm/v7); `{os}` and `{arch}` are required, `{binary}` too with "
            "several main packages. `{os:title}` writes `Linux`, `{arch:amd64=x86_64,386=i386}` renames the arches "
            "listed (GoReleaser's default archive names)."
        ),
    ),
)


@dataclass(frozen=True, kw_only=True)
class GoConfig:
    module: Path | None  # None: the project has no Go module (or Go is disabled)
    main_packages: tuple[str, ...]
    toolchain_pin: str
    platforms: tuple[str, ...]
    version_variable: str
    vcs_stamp: bool
    ldflags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    # What the version is stamped into: version_variable resolved ("auto": found in the sources).
    version_variables: tuple[str, ...] = ()
    binary_names: Mapping[str, str] = dataclasses.field(default_factory=dict)  # main package -> binary name
    archive_files: tuple[str, ...] = ()  # project-relative files added to every archive
    archive_name: str = DEFAULT_ARCHIVE_NAME
    archive_in_directory: bool = False
    exclude_packages: tuple[str, ...] = ()
    modules: tuple[Path, ...] = ()  # every module lock tidies and verify checks (module among them)
    unchosen: tuple[Path, ...] = ()  # several modules with commands, none configured: build asks which
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # options without a field of their own
    # The repository's GoReleaser configuration the defaults were taken from, and what it could not map.
    goreleaser: str | None = None
    goreleaser_notes: tuple[str, ...] = ()


def resolve(root: Path, values: Mapping[str, Any]) -> GoConfig:
    """``GoConfig`` from the layered ``go.*`` values: the modules found, their main packages, the outputs."""
    platforms = tuple(values["go.platforms"])
    for platform in platforms:
        parse_platform(platform, "`go.platforms` entry")
    modules: tuple[Path, ...] = ()
    module: Path | None = None
    unchosen: tuple[Path, ...] = ()
    if values["go.enabled"]:
        modules = discover.go_modules(root, values["go.modules"])
        module, unchosen = discover.go_module(root, values["go.module"], modules)
        if module is not None and module not in modules:
            modules = (*modules, module)
    main_packages: tuple[str, ...] = ()
    outputs = GoOutputs()
    released = None
    if module is not None:
        released = goreleaser.read(root, module, discover.go_module_path(module))
        released = released or goreleaser.read_makefile(root, module)
        values = _with_goreleaser(values, released)
        platforms = tuple(values["go.platforms"])
        configured = values["go.main-packages"]
        main_packages = tuple(configured) if configured is not None else discover.main_packages(module)
        main_packages = _without_excluded(main_packages, values["go.exclude-packages"])
        outputs = _outputs(root, module, main_packages, values)
    return assemble(
        GoConfig,
        OPTIONS,
        values,
        module=module,
        modules=modules,
        unchosen=unchosen,
        main_packages=main_packages,
        platforms=platforms,
        ldflags=_ldflags(values["go.ldflags"]),
        tags=_tags(values["go.tags"]),
        version_variables=outputs.version_variables,
        binary_names=outputs.binary_names,
        archive_files=outputs.archive_files,
        archive_name=outputs.archive_name,
        goreleaser=None if released is None else released.path,
        goreleaser_notes=() if released is None else released.notes,
    )


def _with_goreleaser(values: Mapping[str, Any], released: goreleaser.GoReleaser | None) -> Mapping[str, Any]:
    """The ``go.*`` values with each one still at its default taken from the repository's GoReleaser
    configuration instead: what the repository releases is the default, a setting of ours wins."""
    if released is None:
        return values
    found: dict[str, Any] = {
        "go.main-packages": list(released.main_packages) or None,
        "go.binary-names": [f"{package}={name}" for package, name in released.binary_names.items()],
        "go.ldflags": list(released.ldflags),
        "go.tags": list(released.tags),
        "go.platforms": list(released.platforms),
        "go.archive-name": released.archive_name,
        "go.archive-files": list(released.archive_files),
        "go.archive-in-directory": released.archive_in_directory,
    }
    defaults = {f"go.{option.key}": option.default for option in OPTIONS}
    merged = dict(values)
    for key, value in found.items():
        if value and merged[key] == defaults[key]:
            merged[key] = value
    return merged


@dataclass(frozen=True)
class GoOutputs:
    version_variables: tuple[str, ...] = ()
    binary_names: Mapping[str, str] = dataclasses.field(default_factory=dict)
    archive_files: tuple[str, ...] = ()
    archive_name: str = DEFAULT_ARCHIVE_NAME


_GO_TAG = re.compile(r"^[A-Za-z0-9_.]+$")
_BINARY_NAME = re.compile(r"^[A-Za-z0-9_+-][A-Za-z0-9._+-]*$")
_ARCHIVE_FIELDS = ("binary", "version", "os", "arch", "variant")


def _without_excluded(packages: tuple[str, ...], excluded: list[str]) -> tuple[str, ...]:
    for entry in excluded:
        if entry not in packages:
            raise ConfigError(
                f"`go.exclude-packages` entry {entry!r} is not one of the main packages "
                f"({', '.join(packages) or 'none'})",
                hint="name a main package exactly as listed (e.g. `./cmd/devtool`), or remove the entry",
            )
    return tuple(package for package in packages if package not in excluded)


def _outputs(root: Path, module: Path, packages: tuple[str, ...], values: Mapping[str, Any]) -> GoOutputs:
    """Binary names, version variables, archive names and files, validated against the packages."""
    names = _binary_names(module, packages, values["go.binary-names"])
    template = _archive_name(values["go.archive-name"], packages)
    files = _archive_files(root, values["go.archive-files"], names)
    variable = values["go.version-variable"]
    variables: tuple[str, ...] = (variable,) if variable else ()
    if variable == "auto":
        variables = discover.version_variables(module, packages) + discover.placeholder_version_variables(module)
    return GoOutputs(variables, names, files, template)


def _binary_names(module: Path, packages: tuple[str, ...], entries: list[str]) -> dict[str, str]:
    module_path = discover.go_module_path(module)
    names = {package: discover.default_binary_name(package, module_path) for package in packages}
    for entry in entries:
        package, sep, name = entry.partition("=")
        if not sep or package not in names or not _BINARY_NAME.match(name):
            raise ConfigError(
                f"`go.binary-names` entry {entry!r} is not PACKAGE=NAME for a main package "
                f"({', '.join(packages) or 'none'}) and a file name of letters, digits, `.`, `_`, `+`, `-`",
                hint='e.g. `binary-names = ["./cmd/server=acme-server"]` under [tool.reprotasks.go]',
            )
        names[package] = name
    clashing = sorted({name for name in names.values() if list(names.values()).count(name) > 1})
    if clashing:
        raise ConfigError(
            f"two main packages make a binary named {clashing[0]!r}",
            hint="give one of them another name with `binary-names` under [tool.reprotasks.go]",
        )
    return names


# What may follow a field's name after a colon: `{os:title}`, `{arch:amd64=x86_64,386=i386}`.
_ARCHIVE_MODIFIER = {
    "os": re.compile("title"),
    "arch": re.compile(r"\w+=[A-Za-z0-9._+-]+(?:,\w+=[A-Za-z0-9._+-]+)*"),
}


def _archive_name(template: str, packages: tuple[str, ...]) -> str:
    written = re.findall(r"\{([^{}]*)\}", template)
    fields = [field.partition(":")[0] for field in written]
    literal = re.sub(r"\{[^{}]*\}", "", template)
    usable = (
        all(field in _ARCHIVE_FIELDS for field in fields)
        and all(
            _ARCHIVE_MODIFIER.get(field.partition(":")[0], re.compile("$^")).fullmatch(field.partition(":")[2])
            for field in written
            if ":" in field
        )
        and {"os", "arch"} <= set(fields)
        and ("binary" in fields or len(packages) <= 1)
        and re.fullmatch(r"[A-Za-z0-9._+-]*", literal) is not None
        and not template.startswith((".", "{variant}"))
    )
    if not usable:
        raise ConfigError(
            f"`go.archive-name` = {template!r} is not a usable archive name",
            hint="use the fields {binary} {version} {os} (or {os:title}) {arch} (or {arch:amd64=x86_64,...}) "
            "{variant} ({os} and {arch} always, {binary} with several main packages) and letters, digits, `.`, "
            '`_`, `+`, `-`, e.g. `archive-name = "{binary}-{version}-{os}-{arch}"`',
        )
    return template


def _archive_file(root: Path, entry: str) -> str:
    discover.inside(root, entry, "go.archive-files")  # never outside the project, even through a link
    relative = PurePosixPath(os.path.normpath(entry).replace(os.sep, "/"))
    lexical = root / relative
    if (
        relative.is_absolute()
        or ".." in relative.parts
        or any(part.lower() == ".git" for part in relative.parts)
        or any(ancestor.is_symlink() for ancestor in (lexical, *lexical.parents) if ancestor.is_relative_to(root))
        or not lexical.is_file()
    ):
        raise ConfigError(
            f"`go.archive-files` entry {entry!r} is not a regular file of the project (a symlink, a directory, "
            "or a path into .git is not one)",
            hint="list committed files such as LICENSE or README.md, relative to the project root",
        )
    return relative.as_posix()


def _archive_files(root: Path, entries: list[str], names: Mapping[str, str]) -> tuple[str, ...]:
    files = [_archive_file(root, entry) for entry in entries]
    basenames = [PurePosixPath(name).name for name in files]
    taken = set(names.values()) | {f"{name}.exe" for name in names.values()}
    if len(set(basenames)) != len(basenames) or taken & set(basenames):
        raise ConfigError(
            "`go.archive-files` puts two files with the same name (or a binary's name) into the archives",
            hint="list files whose base names differ from each other and from the binaries",
        )
    return tuple(files)


def _ldflags(flags: list[str]) -> tuple[str, ...]:
    for flag in flags:
        if not flag.strip() or any(char.isspace() for char in flag) or flag.startswith(("-buildid", "--buildid")):
            raise ConfigError(
                f"`go.ldflags` entry {flag!r}: each entry is one linker flag without spaces, and not -buildid",
                hint='write e.g. `ldflags = ["-s", "-w", "-X", "main.commit=abc"]` under [tool.reprotasks.go]; '
                "reprotasks sets -buildid= itself",
            )
    return tuple(flags)


def _tags(tags: list[str]) -> tuple[str, ...]:
    for tag in tags:
        if not _GO_TAG.match(tag):
            raise ConfigError(
                f"`go.tags` entry {tag!r} is not a Go build tag",
                hint='build tags are words of letters, digits, `_` and `.`, e.g. `tags = ["netgo", "osusergo"]`',
            )
    return tuple(tags)
