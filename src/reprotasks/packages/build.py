"""Linux packages (.deb, .rpm) of the built Go binaries, made with nFPM and bit-for-bit reproducible.

The inputs are checked, never taken on trust: each binary is extracted from a Go archive the
trusted manifest re-derived, and each file, unit and script is read from the release commit (git),
not from the working tree. nFPM (``NFPM``, built once per machine by the pinned Go toolchain,
``NFPM_GO``: the compressed bytes depend on both) writes the package with every date set to the
commit's time (``mtime`` and SOURCE_DATE_EPOCH), every entry root:root with an explicit mode, a
fixed build host and gzip compression, so the bytes depend on nothing of the machine: measured
across paths, umasks, time zones, locales, HOMEs, host names and days (the note of issue 31).

``build_packages`` writes them into dist/ and records each as a ``linux-package`` artifact;
``derive_packages`` re-makes them from a checked build for sbom and provenance, which require the
same bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from reprotasks import _cache
from reprotasks._distdir import DistDir
from reprotasks._run import Runner
from reprotasks._version import __version__
from reprotasks.artifacts import source as _source
from reprotasks.artifacts.manifest import MANIFEST_NAME, ArtifactRecord, Manifest
from reprotasks.artifacts.trusted import Derivations, extract_binary, trusted_manifest
from reprotasks.artifacts.wheel_install import AppInstall, SiteFile, exact_python, install_app, with_shebang
from reprotasks.config import Config
from reprotasks.errors import Finding, ReprotasksError
from reprotasks.go.binaries import executable_name, member_prefix
from reprotasks.go.options import parse_platform
from reprotasks.packages.options import FORMATS, PackageConfig, package_version, rpm_relation

PACKAGE_KIND = "linux-package"
NFPM = "github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0"
NFPM_GO = "go1.26.8"  # the toolchain nFPM is built with (its compressors are Go code)
BUILD_HOST = "reprotasks"  # rpm's BUILDHOST: nFPM would write this machine's name
RERUN_HINT = "run `reprotasks package` again (it re-makes every package from the checked build)"

# GOARCH (and GOARM) -> the architecture names nFPM takes (it maps them to deb's and rpm's own).
_ARCH = {name: name for name in ("386", "amd64", "arm64", "ppc64le", "s390x", "riscv64")}
_DEB_ARCH = {"386": "i386", "arm5": "armel", "arm6": "armel", "arm7": "armhf"}
_RPM_ARCH = {
    "386": "i386",
    "amd64": "x86_64",
    "arm64": "aarch64",
    "arm5": "armv5tel",
    "arm6": "armv6hl",
    "arm7": "armv7hl",
}


@dataclass(frozen=True)
class Made:
    record: ArtifactRecord
    data: bytes


@dataclass(frozen=True)
class PackageResult:
    directory: Path
    records: tuple[ArtifactRecord, ...]
    removed: tuple[str, ...]

    def rows(self) -> list[tuple[str, str]]:
        rows = [(record.name, f"{record.platform}, sha256 {record.sha256[:16]}") for record in self.records]
        return rows + [(name, "removed (no longer configured)") for name in self.removed]


def nfpm_arch(platform: str) -> str:
    _os, arch = parse_platform(platform)
    if arch == "arm":  # GOARM: the variant (linux/arm/v6), Go's default 7 without one
        variant = platform.split("/")[2] if platform.count("/") == 2 else "v7"
        return f"arm{variant.removeprefix('v')}"
    if arch not in _ARCH:
        raise ReprotasksError(
            f"package: no Linux package architecture for {platform}",
            hint=f"package one of {', '.join(f'linux/{name}' for name in _ARCH)}, linux/arm/v6 or linux/arm/v7",
        )
    return _ARCH[arch]


def package_file(package: str, version: str, platform: str, kind: str) -> str:
    """The file name each format's own tools expect: NAME_VERSION_ARCH.deb, NAME-VERSION-1.ARCH.rpm
    (VERSION as the package orders it: ``package_version``, without its epoch)."""
    version = package_version(version)[1]
    arch = nfpm_arch(platform)
    if kind == "deb":
        return f"{package}_{version}_{_DEB_ARCH.get(arch, arch)}.deb"
    return f"{package}-{version}-1.{_RPM_ARCH.get(arch, arch)}.rpm"


def nfpm_tool(runner: Runner) -> Path:
    """nFPM, built once per machine from the Go module proxy (the checksum database vouches for it)."""
    target = _cache.tools_dir() / f"nfpm-{NFPM.rsplit('@', 1)[1]}-{NFPM_GO}" / "nfpm"
    if target.is_file():
        return target
    go = runner.require("go", purpose="build nFPM, which writes the .deb and .rpm packages")
    runner.log(f"package: building nFPM {NFPM.rsplit('@', 1)[1]} with {NFPM_GO} (once per machine)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="reprotasks-nfpm-", dir=target.parent) as scratch:
        env = {"GOBIN": scratch, "GOTOOLCHAIN": NFPM_GO, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
        runner.run([go, "install", "-trimpath", NFPM], cwd=Path(scratch), env=env, purpose="build nFPM")
        os.replace(Path(scratch) / "nfpm", target)
    return target


def _binaries(config: Config, built: Manifest, package: PackageConfig, platform: str) -> dict[str, ArtifactRecord]:
    """binary name -> the checked Go archive that holds it, for ``platform``."""
    found = {}
    for record in built.artifacts:
        if record.kind == "go-archive" and record.platform == platform and record.package:
            found[config.go.binary_names.get(record.package, record.package)] = record
    wanted = tuple(sorted(found)) if package.every_binary else package.binaries
    missing = [name for name in wanted if name not in found]
    if missing or (package.every_binary and not wanted):
        raise ReprotasksError(
            f"package {package.name}: the build made no {platform} binary named {', '.join(missing) or 'at all'}",
            hint=f"build it first (`reprotasks build`, go.platforms with {platform}), or fix `binaries` "
            f"(built: {', '.join(sorted(found)) or 'none'})",
        )
    return {name: found[name] for name in wanted}


def _committed(config: Config, source: _source.Source, path: Path, what: str, runner: Runner) -> bytes:
    relative = config.rel(path)
    data = _source.committed_bytes(source, relative, runner=runner)
    if data is None:
        raise ReprotasksError(
            f"package: {relative} ({what}) is not in commit {source.commit[:12]}",
            hint=f"`git add {relative}` and commit it: a package holds only committed files",
        )
    return data


_LICENSE_FILES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "COPYING", "LICENCE")


def _license_text(source: _source.Source, runner: Runner) -> str:
    for name in _LICENSE_FILES:
        data = _source.committed_bytes(source, name, runner=runner)
        if data is not None:
            return data.decode("utf-8", errors="replace")
    return ""


@dataclass(frozen=True)
class _Inputs:
    """Everything one package is made from, as bytes (binaries extracted, files as committed)."""

    binaries: Mapping[str, bytes]
    files: Mapping[str, bytes]  # destination -> content
    scripts: Mapping[str, bytes]
    maintainer: str
    license_text: str  # the committed LICENSE (or COPYING) file, "" without one
    app: tuple[SiteFile, ...] = ()  # the Python app as pip installs it (bin/: console scripts)
    app_scripts: tuple[str, ...] = ()  # the app wheel's own console scripts (not its dependencies')
    executables: frozenset[str] = frozenset()  # destinations of files committed executable (100755)


def _committed_inputs(
    config: Config, source: _source.Source, package: PackageConfig, runner: Runner
) -> tuple[dict[str, bytes], dict[str, bytes], str, str, frozenset[str]]:
    """(files by destination, scripts, maintainer, licence text, the destinations of files git
    records as executable): what the commit gives a package."""
    files = {dest: _committed(config, source, path, "in `files`", runner) for dest, path in package.files.items()}
    executables = frozenset(
        dest
        for dest, path in package.files.items()
        if _source.committed_executable(source, config.rel(path), runner=runner)
    )
    if package.systemd_unit is not None and package.unit_destination is not None:
        files[package.unit_destination] = _committed(config, source, package.systemd_unit, "the `systemd-unit`", runner)
    scripts = {
        kind: _committed(config, source, path, f"the {kind} script", runner) for kind, path in package.scripts.items()
    }
    maintainer = (
        package.maintainer
        or runner.run(
            ["git", "log", "-1", "--format=%an <%ae>", source.commit],
            cwd=source.toplevel,
            purpose="read the release commit's author (the package's maintainer)",
            quiet=True,
        ).stdout.strip()
    )
    return files, scripts, maintainer, _license_text(source, runner), executables


def _extracted(
    config: Config, dist: DistDir, archives: Mapping[str, ArtifactRecord], platform: str
) -> dict[str, bytes]:
    """Each binary as its (checked) archive holds it."""
    binaries = {}
    for name, record in archives.items():
        inside = member_prefix(config.go.archive_in_directory, record.name)
        extras = {inside + PurePosixPath(extra).name for extra in config.go.archive_files}
        with tempfile.TemporaryDirectory(prefix="reprotasks-package-") as scratch:
            target = Path(scratch) / name
            extract_binary(dist.path / record.name, target, inside + executable_name(name, platform), extras)
            binaries[name] = target.read_bytes()
    return binaries


# Packages known to be what nFPM makes of these inputs, remembered by the inputs' digest (the
# archives' sha256, every committed byte, the configuration, nFPM and its Go): sbom and provenance
# re-derive a package without running nFPM again. Only ever a shortcut to the same answer, and
# never read by a release without --trust-cache (as ``checked_archives``).
_MADE = "linux-package-made"


def _made_key(
    package: PackageConfig, platform: str, version: str, epoch: int, archives: Mapping[str, ArtifactRecord],
    committed: tuple[dict[str, bytes], dict[str, bytes], str, str, frozenset[str]], app: list[str],
) -> str:  # fmt: skip
    files, scripts, maintainer, license_text, executables = committed

    def digests(named: Mapping[str, bytes]) -> list[tuple[str, str]]:
        return sorted((name, hashlib.sha256(data).hexdigest()) for name, data in named.items())

    return _cache.digest(
        [
            __version__, _MADE, NFPM, NFPM_GO, package.name, list(package.formats), list(package.config_files),
            list(package.depends), package.description, package.license, package.homepage, platform, version, epoch,
            sorted((name, record.name, record.sha256) for name, record in archives.items()),
            digests(files), digests(scripts), maintainer, hashlib.sha256(license_text.encode()).hexdigest(), app,
            sorted(executables),
        ]
    )  # fmt: skip


def _app_key(config: Config, built: Manifest, package: PackageConfig, runner: Runner) -> list[str]:
    """What the Python app's install is made from: the wheel, the committed lock, the Python, pip
    and its indexes (empty for a package without the app)."""
    if package.requirements is None:
        return []
    from importlib.metadata import version as installed_version

    from reprotasks.artifacts.wheel_install import committed_lock, index_options

    app = AppInstall(f"package {package.name}", package.requirements, package.python_version)
    _relative, lock = committed_lock(config, app, runner=runner)
    wheels = sorted(record.sha256 for record in built.artifacts if record.kind == "wheel")
    return [*wheels, hashlib.sha256(lock).hexdigest(), package.python_version, installed_version("pip"),
            *index_options(config)]  # fmt: skip


def remembered(
    config: Config, built: Manifest, source: _source.Source, package: PackageConfig, *, runner: Runner
) -> list[ArtifactRecord] | None:
    """The records of every package ``make_packages`` would make, when each was made before from
    the same inputs (None: make them)."""
    version, epoch = _version_epoch(built, source)
    committed = _committed_inputs(config, source, package, runner)
    app = _app_key(config, built, package, runner)
    records: list[ArtifactRecord] = []
    for platform in _built_platforms(built, package):
        archives = _binaries(config, built, package, platform)
        text = _cache.load(_MADE, _made_key(package, platform, version, epoch, archives, committed, app))
        if text is None:
            return None
        try:
            records += [
                ArtifactRecord(name=str(name), size=int(size), sha256=str(sha256), kind=PACKAGE_KIND,
                               platform=platform, package=package.name)
                for name, size, sha256 in json.loads(text)
            ]  # fmt: skip
        except (ValueError, TypeError):
            return None
    return records


# Directories every Linux system has: a package owns only the ones it makes (/etc/NAME, ...).
_SYSTEM_DIRS = frozenset(
    {"/", "/etc", "/opt", "/usr", "/usr/bin", "/usr/lib", "/usr/lib/systemd", "/usr/lib/systemd/system",
     "/usr/share", "/usr/share/doc", "/usr/share/lintian", "/usr/share/lintian/overrides", "/var", "/var/lib"}
)  # fmt: skip


def _nfpm_config(
    package: PackageConfig, inputs: _Inputs, scratch: Path, version: str, platform: str, epoch: int
) -> dict[str, object]:
    """nFPM's configuration (JSON is YAML), with every source written under ``scratch``: the
    binaries, files, unit and scripts, and the documents Debian policy asks of a package (a
    changelog, a copyright file, lintian overrides for what a Go binary is by design)."""
    when = datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    docs = f"/usr/share/doc/{package.name}"

    def write(relative: str, data: bytes) -> str:
        path = scratch / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return str(path)

    contents: list[dict[str, object]] = [
        {"src": write(f"bin/{name}", data), "dst": f"/usr/bin/{name}", "file_info": _info(0o755)}
        for name, data in sorted(inputs.binaries.items())
    ]
    contents += _app_contents(package, inputs, write)
    for index, (destination, data) in enumerate(sorted(inputs.files.items())):
        mode = 0o755 if destination in inputs.executables else 0o644
        entry: dict[str, object] = {"src": write(f"files/{index}", data), "dst": destination, "file_info": _info(mode)}
        # Debian policy: every file under /etc is a conffile (kept on upgrade), listed or not.
        if destination in package.config_files or destination.startswith("/etc/"):
            entry["type"] = "config|noreplace"
        contents.append(entry)
    placed = [str(entry["dst"]) for entry in contents]
    owned = {str(parent) for item in placed for parent in PurePosixPath(item).parents} - _SYSTEM_DIRS
    contents += [{"dst": directory, "type": "dir", "file_info": _info(0o755)} for directory in sorted(owned)]
    contents.append({"src": write("copyright", _copyright(package, inputs, epoch)), "dst": f"{docs}/copyright",
                     "file_info": _info(0o644)})  # fmt: skip
    # The package carries the very binary the release's archive holds (same bytes, same digest in the
    # provenance): static, and not stripped, by design.
    overrides = "".join(
        f"{package.name}: {tag} [usr/bin/{name}]\n"
        for name in sorted(inputs.binaries)
        for tag in ("statically-linked-binary", "unstripped-binary-or-object")
    )
    if inputs.app:  # add-on software, where the FHS puts it (Debian's own packages never go there)
        overrides += f"{package.name}: dir-or-file-in-opt [opt/{package.name}/*]\n"
    lintian = f"/usr/share/lintian/overrides/{package.name}"
    contents.append({"src": write("overrides", overrides.encode()), "dst": lintian, "packager": "deb",
                     "file_info": _info(0o644)})  # fmt: skip
    epoch, upstream = package_version(version)
    changelog = [{"semver": f"{upstream}-1", "date": when, "packager": inputs.maintainer,
                  "deb": {"urgency": "medium", "distributions": ["unstable"]},
                  "changes": [{"note": f"Release {version}."}]}]  # fmt: skip
    scripts = {kind: write(f"scripts/{kind}", data) for kind, data in sorted(inputs.scripts.items())}
    for path in scratch.rglob("*"):  # nFPM copies some files' own times (apk scripts): every one is the commit's
        os.utime(path, (epoch, epoch), follow_symlinks=False)
    parts = [*sorted(inputs.binaries), *([f"the Python app for Python {package.python_version}"] if inputs.app else [])]
    depends = _depends(package, inputs)
    return {
        "name": package.name,
        "arch": nfpm_arch(platform),
        "platform": "linux",
        "version": upstream,
        "version_schema": "none",  # as package_version wrote it: no semver re-parsing
        **({"epoch": str(epoch)} if epoch else {}),
        "release": "1",
        "section": "utils",
        "priority": "optional",
        "maintainer": inputs.maintainer,
        "description": _description(package, version, parts or ["its files"]),
        "homepage": package.homepage,
        "license": package.license or "unknown",  # rpm's License tag is required; the copyright says it too
        "mtime": when,
        "changelog": write("changelog.yaml", json.dumps(changelog, ensure_ascii=False).encode()),
        "contents": contents,
        "overrides": {kind: {"depends": depends[kind]} for kind in package.formats},
        "scripts": scripts,
        "deb": {"compression": "gzip"},
        "rpm": {"compression": "gzip", "buildhost": BUILD_HOST},
    }


def _app_contents(
    package: PackageConfig, inputs: _Inputs, write: Callable[[str, bytes], str]
) -> list[dict[str, object]]:
    """The Python app's nFPM entries: its files under /opt/NAME/lib, and the wheel's own console
    scripts in /usr/bin, run by the system's python3 in isolated mode (-I: no PYTHONPATH, no user
    site) with the app first on sys.path (its dependencies' scripts and other files pip puts in bin/
    are left out: they would take system paths)."""
    site = f"/opt/{package.name}/lib"
    contents: list[dict[str, object]] = []
    for index, item in enumerate(inputs.app):
        if item.path.startswith("bin/"):
            if item.path.removeprefix("bin/") not in inputs.app_scripts:
                continue
            destination = f"/usr/bin/{item.path.removeprefix('bin/')}"
            if PurePosixPath(destination).name in inputs.binaries or destination in inputs.files:
                raise ReprotasksError(
                    f"package {package.name}: the Python app's console script {destination} is also a "
                    "binary or a file of the package",
                    hint="rename the script ([project.scripts] in pyproject.toml) or drop the binary or file from "
                    "the entry's `binaries` or `files`: a path is installed once",
                )
            launcher = with_shebang(item.data, b"/usr/bin/python3 -I")
            if not launcher.startswith(b"#!/usr/bin/python3 -I\n"):
                raise ReprotasksError(
                    f"package {package.name}: pip wrote {item.path} in a form reprotasks does not know",
                    hint="report it to reprotasks with the wheel's entry_points.txt",
                )
            first, newline, rest = launcher.partition(b"\n")
            data = first + newline + f"import sys; sys.path.insert(0, {site!r})\n".encode() + rest
            contents.append({"src": write(f"app/{index}", data), "dst": destination, "file_info": _info(0o755)})
        else:
            mode = 0o755 if item.executable else 0o644
            contents.append({"src": write(f"app/{index}", item.data), "dst": f"{site}/{item.path}",
                             "file_info": _info(mode)})  # fmt: skip
    return contents


def _description(package: PackageConfig, version: str, parts: list[str]) -> str:
    """A synopsis line a package manager shows in a list (under 80 characters, as Debian asks), then
    what the package holds and the whole description, wrapped at 79."""
    import textwrap

    text = " ".join(package.description.split())
    synopsis = text or f"{package.name} {version}"
    if len(synopsis) >= 80:
        synopsis = textwrap.shorten(synopsis.split(". ")[0], width=79, placeholder="")
    # What it holds first: lintian refuses an extended description that starts as the synopsis does.
    body = [f"{package.name} {version}: {', '.join(parts)}, built reproducibly by reprotasks."]
    body += [text] if text and text != synopsis else []
    return "\n".join([synopsis, *(line for paragraph in body for line in textwrap.wrap(paragraph, width=79))])


def _depends(package: PackageConfig, inputs: _Inputs) -> dict[str, list[str]]:
    """Each format's dependencies: the configured ones, and python3 for the app: that minor version
    when an installed distribution is built for one CPython ABI (cpXY), else that one or newer."""
    depends = {kind: list(package.depends) for kind in FORMATS}
    if inputs.app:
        major, minor = package.python_version.split(".")
        after = f"{major}.{int(minor) + 1}"
        exact = exact_python(list(inputs.app))
        depends["deb"].append(f"python3 (>= {package.python_version})")
        depends["rpm"].append(f"python3 >= {package.python_version}")
        if exact:
            depends["deb"].append(f"python3 (<< {after})")
            depends["rpm"].append(f"python3 < {after}")
    depends["rpm"] = [rpm_relation(item) for item in depends["rpm"]]
    return depends


def _copyright(package: PackageConfig, inputs: _Inputs, epoch: int) -> bytes:
    """A machine-readable Debian copyright file: who (the maintainer), when (the commit's year), and
    the licence with the committed licence text when there is one."""
    year = datetime.fromtimestamp(epoch, tz=timezone.utc).year
    lines = [
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/",
        f"Upstream-Name: {package.name}",
        *([f"Source: {package.homepage}"] if package.homepage else []),
        "",
        "Files: *",
        f"Copyright: {year} {inputs.maintainer}",
        f"License: {package.license or 'unknown'}",
    ]
    lines += [f" {line}" if line.strip() else " ." for line in inputs.license_text.splitlines()]
    return ("\n".join(lines) + "\n").encode()


def _info(mode: int) -> dict[str, object]:
    return {"mode": mode, "owner": "root", "group": "root"}


def _app(
    config: Config, dist: DistDir, built: Manifest, package: PackageConfig, platform: str, runner: Runner
) -> tuple[tuple[SiteFile, ...], tuple[str, ...]]:
    """(the app's files as pip installs them, the wheel's own console scripts)."""
    if package.requirements is None:
        return (), ()
    from reprotasks.artifacts.wheel_install import built_wheel, console_scripts

    app = AppInstall(f"package {package.name}", package.requirements, package.python_version)
    files = tuple(install_app(config, dist, built, app, platform, runner=runner))
    wheel, _record = built_wheel(dist, built, app.owner)
    return files, tuple(console_scripts(wheel))


def _built_platforms(built: Manifest, package: PackageConfig) -> list[str]:
    """The package's platforms this build made binaries for (a matrix job, `build --platform`
    builds some): packaged where built, and at least one. A package of the Python app alone is made
    for each of its platforms (the wheel is the same for all)."""
    if not package.binaries and not package.every_binary:
        return list(package.platforms)
    built_platforms = {record.platform for record in built.artifacts if record.kind == "go-archive"}
    platforms = [platform for platform in package.platforms if platform in built_platforms]
    if not platforms:
        raise ReprotasksError(
            f"package {package.name}: this build made none of its platforms ({', '.join(package.platforms)})",
            hint="build one of them (`reprotasks build`, or `build --platform linux/amd64`), then package",
        )
    return platforms


def _version_epoch(built: Manifest, source: _source.Source) -> tuple[str, int]:
    return str(built.project.get("version") or ""), int(built.source.get("source_date_epoch") or source.epoch)


def make_packages(
    config: Config, dist: DistDir, built: Manifest, source: _source.Source, package: PackageConfig, *, runner: Runner
) -> list[Made]:
    """Every format of ``package`` for each of its platforms, made from the checked build."""
    nfpm = nfpm_tool(runner)
    version, epoch = _version_epoch(built, source)
    committed = _committed_inputs(config, source, package, runner)
    files, scripts, maintainer, license_text, executables = committed
    app_key = _app_key(config, built, package, runner)
    made = []
    for platform in _built_platforms(built, package):
        archives = _binaries(config, built, package, platform)
        inputs = _Inputs(
            _extracted(config, dist, archives, platform), files, scripts, maintainer, license_text,
            *_app(config, dist, built, package, platform, runner), executables,
        )  # fmt: skip
        made_here = []
        with tempfile.TemporaryDirectory(prefix="reprotasks-package-") as scratch:
            root = Path(scratch)
            (root / "in").mkdir()
            document = _nfpm_config(package, inputs, root / "in", version, platform, epoch)
            # UTF-8 itself (a name may hold any character): YAML refuses JSON's surrogate-pair escapes.
            (root / "nfpm.yaml").write_text(
                json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False), encoding="utf-8"
            )
            for kind in package.formats:
                name = package_file(package.name, version, platform, kind)
                target = root / "out" / name
                target.parent.mkdir(exist_ok=True)
                runner.run(
                    [str(nfpm), "package", "--config", str(root / "nfpm.yaml"), "--packager", kind, "--target",
                     str(target)],
                    cwd=root,
                    env={"SOURCE_DATE_EPOCH": str(epoch), "TZ": "UTC", "LC_ALL": "C"},
                    purpose=f"make {name}",
                    quiet=True,
                )  # fmt: skip
                data = target.read_bytes()
                record = ArtifactRecord(
                    name=name,
                    size=len(data),
                    sha256=hashlib.sha256(data).hexdigest(),
                    kind=PACKAGE_KIND,
                    platform=platform,
                    package=package.name,
                )
                made_here.append(Made(record, data))
        key = _made_key(package, platform, version, epoch, archives, committed, app_key)
        kept = [[item.record.name, item.record.size, item.record.sha256] for item in made_here]
        _cache.store(_MADE, key, json.dumps(kept))
        made += made_here
    return made


def build_packages(
    config: Config, dist: DistDir, *, runner: Runner, derived: Derivations, trust_cache: bool = True
) -> PackageResult:
    """Make every configured package into dist/, replacing the packages recorded before, and record
    them. SHA256SUMS, the provenance, the SBOM and their bundles no longer describe dist/ afterwards:
    they are dropped (checksum, sbom, provenance and sign write them again)."""
    from reprotasks.artifacts import derived as _derived

    previous = _derived.recorded(dist, PACKAGE_KIND)
    if not config.packages and not previous:
        return PackageResult(dist.path, (), ())
    trusted = trusted_manifest(
        config, dist, runner=runner, step="package", derived=derived, replacing=PACKAGE_KIND, trust_cache=trust_cache
    )
    _derived.require_committed_table(config, trusted.source, "packages", runner=runner)
    made = [
        item
        for package in config.packages
        for item in make_packages(config, dist, trusted.manifest, trusted.source, package, runner=runner)
    ]
    pairs = [(item.record, item.data) for item in made]
    removed = _derived.install(
        dist, trusted.manifest, pairs, previous, step="package", what="the package", runner=runner
    )
    return PackageResult(dist.path, tuple(item.record for item in made), removed)


def derive_packages(
    config: Config, dist: DistDir, built: Manifest, manifest: Manifest, runner: Runner, trust_cache: bool = True
) -> tuple[list[ArtifactRecord], list[Finding]]:
    """The configured packages re-made from the (checked) build; each one ``manifest`` lists must be
    byte-identical (``trusted_manifest``'s check of derived artifacts)."""
    from reprotasks.artifacts.layout import sha256_regular

    where = f"{dist.rel()}/{MANIFEST_NAME}"
    listed = {record.name: record for record in manifest.artifacts if record.kind == PACKAGE_KIND}
    if not config.packages and not listed:
        return [], []
    from reprotasks.artifacts import derived as _derived

    source = _source.describe_source(config.root, runner=runner)
    _derived.require_committed_table(config, source, "packages", runner=runner)
    made: dict[str, ArtifactRecord] = {}
    for package in config.packages:
        kept = remembered(config, built, source, package, runner=runner) if trust_cache else None
        records = kept if kept is not None else [
            item.record for item in make_packages(config, dist, built, source, package, runner=runner)
        ]  # fmt: skip
        made.update((record.name, record) for record in records)
    findings = _derived.listing_findings(where, listed, made, noun="package", key="packages", hint=RERUN_HINT)
    for name in sorted(made.keys() & listed.keys()):
        if made[name] != listed[name] or sha256_regular(dist.path / name) != made[name].sha256:
            findings.append(
                Finding(
                    f"{dist.rel()}/{name}",
                    None,
                    f"is not the package this build and configuration make (re-made: sha256 {made[name].sha256})",
                    RERUN_HINT,
                )
            )
    return [made[name] for name in sorted(made.keys() & listed.keys())], findings
