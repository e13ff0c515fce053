"""Reproducible Go binaries for a platform matrix, packed into deterministic archives.

CGO off, -trimpath, empty build id, explicit GOAMD64/GOARM, -mod=readonly, VCS stamping off
unless configured, and the toolchain go.mod pins.
"""

from __future__ import annotations

import functools
import json
import mmap
import os
import re
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from reprotasks._archive import write_archive
from reprotasks._command import Command, fill
from reprotasks._run import Failure, Runner, excerpt
from reprotasks.errors import CommandFailedError, ReprotasksError
from reprotasks.go import mod as _gomod
from reprotasks.go.options import DEFAULT_ARCHIVE_NAME, DEFAULT_PLATFORMS, VARIANTS, GoConfig
from reprotasks.go.options import parse_platform as parse_platform

# Micro-architecture levels are explicit so the machine's defaults never leak in.
_ARCH_ENV = {
    "amd64": {"GOAMD64": "v1"},
    "arm64": {"GOARM64": "v8.0"},
    "arm": {"GOARM": "7"},
    "386": {"GO386": "sse2"},
}


@dataclass(frozen=True)
class GoArtifact:
    path: Path
    command: str
    platform: str
    embedded: tuple[str, ...] = ()  # `go version -m` of the binary: module graph and build settings
    compiler: str | None = None  # the toolchain that compiled it (first line of `go version -m`)


@dataclass(frozen=True)
class Stamp:
    """What `go.ldflags` entries may name: ``{version}``, ``{tag}`` (``v`` + version), ``{commit}``,
    ``{short_commit}`` (7 hex digits, as git and GoReleaser abbreviate), ``{date}`` (the commit
    time, RFC 3339 UTC) and ``{timestamp}`` (its Unix time). All come from the commit, so a stamped
    binary reproduces."""

    version: str
    commit: str = ""
    epoch: int = 0

    def fill(self, flag: str) -> str:
        values = {
            "{version}": self.version,
            "{tag}": f"v{self.version}",
            "{commit}": self.commit,
            "{short_commit}": self.commit[:7],
            "{date}": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.epoch)),
            "{timestamp}": str(self.epoch),
        }
        for placeholder, value in values.items():
            flag = flag.replace(placeholder, value)
        return flag


def build_flags(
    version: str,
    *,
    version_variables: Sequence[str] = ("main.version",),
    vcs_stamp: bool = False,
    ldflags: Sequence[str] = (),
    tags: Sequence[str] = (),
    stamp: Stamp | None = None,
) -> list[str]:
    """The exact `go build` flags (recorded in the manifest). One flag set serves every main
    package: `-X` for a variable a package does not declare is ignored by the linker. ``ldflags``
    entries have their placeholders filled from ``stamp`` (``Stamp``)."""
    stamp = stamp or Stamp(version)
    linker = "-buildid="
    stamped = _stamped_by(ldflags)
    for variable in version_variables:
        if variable not in stamped:  # a GoReleaser ldflags entry stamps it already
            linker += f" -X {variable}={version}"
    linker += "".join(f" {stamp.fill(flag)}" for flag in ldflags)
    flags = ["-trimpath", f"-buildvcs={'true' if vcs_stamp else 'false'}"]
    if tags:
        flags.append(f"-tags={','.join(tags)}")
    return [*flags, f"-ldflags={linker}"]


def _stamped_by(ldflags: Sequence[str]) -> set[str]:
    """The variables ``-X NAME=VALUE`` (or ``-X=NAME=VALUE``) entries of ``ldflags`` set."""
    names = set()
    for index, flag in enumerate(ldflags):
        if flag == "-X" and index + 1 < len(ldflags):
            names.add(ldflags[index + 1].partition("=")[0])
        elif flag.startswith("-X="):
            names.add(flag.removeprefix("-X=").partition("=")[0])
    return names


def go_flags(go: GoConfig, version: str, *, commit: str = "", epoch: int = 0) -> list[str]:
    """``build_flags`` as a project's [tool.reprotasks.go] sets them, for the commit built."""
    return build_flags(
        version,
        version_variables=go.version_variables,
        vcs_stamp=go.vcs_stamp,
        ldflags=go.ldflags,
        tags=go.tags,
        stamp=Stamp(version, commit, epoch),
    )


# Go settings that change a binary and that the build does not set for every platform.
INHERITED_GO_SETTINGS = (
    "GO386",
    "GOAMD64",
    "GOARM",
    "GOARM64",
    "GODEBUG",
    "GOEXPERIMENT",
    "GOFIPS140",
    "GOMIPS",
    "GOMIPS64",
    "GOPPC64",
    "GORISCV64",
    "GOWASM",
    "GOWORK",
)


# Where modules come from and where they are kept: the only settings a build takes from go's
# environment file (`go env -w`), since they change no byte of a binary.
_NETWORK_SETTINGS = ("GOPROXY", "GONOPROXY", "GOPRIVATE", "GONOSUMDB", "GOSUMDB", "GOINSECURE", "GOMODCACHE", "GOCACHE")
_HERMETIC: dict[str, dict[str, str]] = {}


def hermetic_environment(module: Path, *, runner: Runner) -> dict[str, str]:
    """What the manifest records is the whole story: go's environment file is ignored (GOENV=off),
    settings inherited from the caller that would change a binary unrecorded (GOFIPS140,
    GOEXPERIMENT, GOARM, ...) and GOROOT are cleared (empty is go's default), and only the network
    and cache settings are carried over from ``go env``."""
    key = str(module)
    if key not in _HERMETIC:
        result = runner.run(
            ["go", "env", "-json", *_NETWORK_SETTINGS],
            cwd=module,
            env={"GOTOOLCHAIN": "local", "GOFLAGS": ""},
            check=False,
            purpose="read go's module proxy and cache settings",
            quiet=True,
        )
        try:
            network = json.loads(result.stdout) if result.returncode == 0 else {}
        except ValueError:
            network = {}
        cleared = {name: "" for name in (*INHERITED_GO_SETTINGS, "GOROOT") if os.environ.get(name) is not None}
        _HERMETIC[key] = {
            **cleared,
            "GOENV": "off",
            **{name: str(value) for name, value in network.items() if name in _NETWORK_SETTINGS and value},
        }
    return dict(_HERMETIC[key])


def platform_environment(platform: str, toolchain: str) -> dict[str, str]:
    goos, goarch = parse_platform(platform)
    return {
        "CGO_ENABLED": "0",
        "GOOS": goos,
        "GOARCH": goarch,
        "GOFLAGS": "-mod=readonly",
        "GOTOOLCHAIN": toolchain,
        **_ARCH_ENV.get(goarch, {}),
        **_variant_environment(platform),
    }


def _variant_environment(platform: str) -> dict[str, str]:
    parts = platform.split("/")
    if len(parts) != 3:
        return {}
    variable, values = VARIANTS[parts[1]]
    return {variable: values[parts[2]]}


def archive_name(binary: str, version: str, platform: str, template: str = DEFAULT_ARCHIVE_NAME) -> str:
    """The archive's file name: ``template`` filled in (by default ``NAME_VERSION_OS_ARCH``, the variant
    joined to the arch, ``linux_armv7``, as GoReleaser does), plus ``.zip`` on windows, else ``.tar.gz``."""
    goos, goarch = parse_platform(platform)
    variant = platform.split("/")[2] if platform.count("/") == 2 else ""
    stem = template
    for key, value in (("binary", binary), ("version", version), ("os", goos), ("arch", goarch)):
        stem = stem.replace(f"{{{key}}}", value)
    stem = stem.replace("{variant}", variant).replace("{os:title}", goos.title())
    stem = _RENAMED_ARCH.sub(lambda match: dict(_renames(match.group(1))).get(goarch, goarch), stem)
    return f"{stem}.zip" if goos == "windows" else f"{stem}.tar.gz"


# `{arch:amd64=x86_64,386=i386}`: the arch, some renamed (GoReleaser's default archive names).
_RENAMED_ARCH = re.compile(r"\{arch:([^{}]*)\}")


def _renames(spec: str) -> list[tuple[str, str]]:
    return [(pair.partition("=")[0], pair.partition("=")[2]) for pair in spec.split(",")]


def archive_names(
    go: GoConfig, packages: Sequence[str], platforms: Sequence[str], version: str
) -> list[tuple[str, str, str]]:
    """(archive name, main package, platform) of every binary built for ``platforms``, in build order."""
    return [
        (archive_name(go.binary_names.get(package, package), version, platform, go.archive_name), package, platform)
        for platform in platforms
        for package in packages
    ]


def member_prefix(in_directory: bool, archive: str) -> str:
    """Where an archive's files sit inside it: at the top level, or (``go.archive-in-directory``) in
    a directory named like the archive without its extension, as GoReleaser's `wrap_in_directory`."""
    return archive.removesuffix(".zip").removesuffix(".tar.gz") + "/" if in_directory else ""


def executable_name(binary: str, platform: str) -> str:
    return f"{binary}.exe" if parse_platform(platform)[0] == "windows" else binary


@dataclass(frozen=True)
class Toolchain:
    """How a module's binaries are compiled: the GOTOOLCHAIN setting and the exact Go version."""

    setting: str  # "local", or the pinned version for go to fetch through GOPROXY
    version: str  # e.g. "go1.24.1": what every binary's `go version` must say
    pinned: bool  # go.mod pins it; else it is the local go's, reproducible only with that go


def go_toolchain(module: Path, *, runner: Runner) -> Toolchain:
    """The toolchain that builds with exactly the version go.mod pins, or, when go.mod pins none,
    the local go (recorded as such: such binaries reproduce only with that go).

    ``local`` only when the ``go`` binary on PATH *is* the pin: asked with ``GOTOOLCHAIN=local``,
    so a GOTOOLCHAIN in the caller's environment cannot make another toolchain look like it.
    """
    pins = _gomod.read_pins(module)
    pinned = pins.pinned
    local, error = _gomod.running_version(module, runner=runner, toolchain="local")
    if pinned is not None:
        if local != pinned and os.environ.get("GOTOOLCHAIN") == "local":
            # The caller forbade toolchain downloads: say so, as verify does, rather than fetch the pin anyway.
            raise ReprotasksError(
                f"GOTOOLCHAIN=local, but {_pinned_in(module, pins)} pins {pinned} and the local go is {local}",
                hint=f"unset GOTOOLCHAIN so go fetches {pinned} through GOPROXY, or install {pinned} "
                "(or change the pin deliberately with `go mod edit -toolchain=...` and re-lock)",
            )
        if local != pinned:
            _say_if_downloaded(pinned, _pinned_in(module, pins), runner=runner)
        return Toolchain("local" if local == pinned else pinned, pinned, True)
    if local is None:
        last = (error.splitlines() or ["no output"])[-1]
        raise ReprotasksError(
            f"{module / 'go.mod'} pins no exact Go toolchain and the local go cannot build it ({last})",
            hint="pin one with `go mod edit -toolchain=goX.Y.Z`, or install a go that supports go.mod's `go` line",
        )
    return Toolchain("local", local, False)


def _pinned_in(module: Path, pins: _gomod.GoPins) -> str:
    """The file that pins the toolchain, as messages name it."""
    if pins.from_version_file and pins.version_file is not None:
        return pins.version_file.name if pins.version_file.parent != module else f"{module.name}/.go-version"
    return f"{module.name}/go.mod"


_ANNOUNCED: set[str] = set()
_GOARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "i686": "386", "armv7l": "arm"}


def _say_if_downloaded(version: str, pinned_by: str, *, runner: Runner) -> None:
    """A line, once per process, when go is about to fetch the pinned toolchain through GOPROXY (a
    first build on a fresh runner waits for it, and nothing else would say why)."""
    import platform

    if version in _ANNOUNCED:
        return
    _ANNOUNCED.add(version)
    cache = os.environ.get("GOMODCACHE") or str(
        Path((os.environ.get("GOPATH") or str(Path.home() / "go")).split(os.pathsep)[0]) / "pkg" / "mod"
    )
    host = f"{platform.system().lower()}-{_GOARCH.get(platform.machine().lower(), platform.machine().lower())}"
    if not (Path(cache) / "golang.org" / f"toolchain@v0.0.1-{version}.{host}").is_dir():
        runner.log(
            f"go: {version} ({pinned_by}'s pin) is not on this machine: go downloads it through GOPROXY before "
            "the first build (about 70 MB, once per machine)"
        )


def say_if_cold_cache(module: Path, *, runner: Runner) -> None:
    """A line when go's build cache is empty (a fresh runner): the first build compiles the standard
    library and every dependency for each platform, minutes that nothing else would explain. A
    warm cache holds thousands of entries spread over its 256 subdirectories; a few sampled
    subdirectories with almost nothing in them mean it is cold."""
    cache = hermetic_environment(module, runner=runner).get("GOCACHE", "")
    if not cache or cache == "off":
        return
    sampled = 0
    for name in ("00", "3f", "7f", "bf", "ff"):
        try:
            sampled += sum(1 for _entry in (Path(cache) / name).iterdir())
        except OSError:
            continue
    if sampled < 5:
        runner.log(
            f"go: the build cache ({cache}) is empty: this first build compiles the standard library and every "
            "dependency for each platform (minutes on a small runner); later builds reuse it"
        )


def toolchain_setting(module: Path, *, runner: Runner) -> str:
    """GOTOOLCHAIN value for ``module`` (see ``go_toolchain``)."""
    return go_toolchain(module, runner=runner).setting


_WASM_MAGIC = b"\0asm"
# cmd/go's sentinels around the module information (modload.infoStart / infoEnd).
_MODINFO_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
_MODINFO_END = bytes.fromhex("f932433186182072008242104116d8f2")
_GO_VERSION = re.compile(rb"(?<![0-9A-Za-z.])(go1\.[0-9]+(?:\.[0-9]+)?(?:(?:rc|beta)[0-9]+)?)(?![0-9A-Za-z.])")


def binary_info(binary: Path, *, runner: Runner, expected: str | None = None) -> tuple[str, tuple[str, ...]]:
    """(compiler, build information lines) embedded in a Go binary, read by ``go version -m``.

    Runs outside any module with the local go (reading needs no particular toolchain). A
    WebAssembly module, which ``go version -m`` cannot read, is read here (``wasm_build_info``).
    """
    with binary.open("rb") as handle:
        if handle.read(4) == _WASM_MAGIC:
            return wasm_build_info(binary, expected)
    shown = runner.run(
        ["go", "version", "-m", str(binary)],
        cwd=binary.parent,
        env={"GOTOOLCHAIN": "local", "GOFLAGS": ""},
        purpose="read the build information embedded in the binary",
        quiet=True,
    )
    lines = shown.stdout.splitlines()
    # First line: "<file>: go1.X.Y"; the rest is path-independent.
    compiler = lines[0].rpartition(": ")[2].strip() if lines else ""
    return compiler, tuple(line.strip() for line in lines[1:] if line.strip())


def wasm_build_info(binary: Path, expected: str | None = None) -> tuple[str, tuple[str, ...]]:
    """What ``go version -m`` would print for a WebAssembly module, which it cannot read: the
    module information the linker stores between its two 16-byte sentinels (``runtime.modinfo``),
    and the Go version (``runtime.buildVersion``).

    Less than ``go version -m`` can tell: the sentinels must occur exactly once each (a program
    holding them in a string, to plant other module lines, is refused rather than believed); the
    version is ``expected`` (the toolchain the build ran) when that string is in the module, else
    the only Go version string in it."""
    data = binary.read_bytes()
    starts, ends = data.count(_MODINFO_START), data.count(_MODINFO_END)
    start, end = data.find(_MODINFO_START), data.find(_MODINFO_END)
    versions = {match.group(1).decode() for match in _GO_VERSION.finditer(data)}
    version = expected if expected in versions else (next(iter(versions)) if len(versions) == 1 else None)
    if starts != 1 or ends != 1 or end < start or version is None:
        what = (
            "its module information is not marked exactly once"
            if starts != 1 or ends != 1 or end < start
            else f"it holds {len(versions)} Go version strings and none is {expected or 'the toolchain'}"
        )
        raise ReprotasksError(
            f"{binary.name}: the Go build information of this WebAssembly module cannot be read ({what})",
            hint="`go version -m` cannot read WebAssembly: leave js/wasm and wasip1/wasm out of `go.platforms`, or "
            "remove the string that imitates the linker's build information",
        )
    modinfo = data[start + len(_MODINFO_START) : end].decode("utf-8", "replace")
    return version, tuple(line.strip() for line in modinfo.splitlines() if line.strip())


def check_compiler(compiler: str, pinned: str, what: str) -> None:
    if compiler != pinned:
        raise ReprotasksError(
            f"{what} was compiled by {compiler or 'an unknown toolchain'}, but the build uses {pinned}: "
            "the toolchain recorded must be the toolchain used",
            hint=f"let reprotasks pick the toolchain (unset GOTOOLCHAIN, or set it to {pinned}), and make sure "
            "`go` can download it through GOPROXY (or install that version)",
        )


_EXCLUDED = "build constraints exclude all Go files"


class PlatformExcluded(CommandFailedError):
    """A main package with no Go file for a platform (e.g. a ``js && wasm`` command on linux)."""


def excluded_on(
    module: Path, package: str, platform: str, *, toolchain: str, flags: Sequence[str], runner: Runner
) -> bool:
    """Do ``package``'s build constraints leave no Go file for ``platform``, with the build's
    ``flags`` (its tags)? go decides, not us."""
    listed = runner.run(
        ["go", "list", "-e", *flags, "-f", "{{len .GoFiles}}", package],
        cwd=module,
        env=platform_environment(platform, toolchain),
        check=False,
        purpose="list",
        quiet=True,
    )
    return listed.returncode == 0 and listed.stdout.strip() == "0"


def go_build_failed(failure: Failure, *, module: Path, package: str, platform: str) -> CommandFailedError:
    """``go build`` failed: the compiler's positioned errors (paths relative to the module)."""
    if _EXCLUDED in failure.output:
        return PlatformExcluded(f"{package} has no Go file for {platform}")
    if "cannot set with -X" in failure.output:
        return CommandFailedError(
            f"`go build` of {package} for {platform}: the version variable is not a string variable",
            details=excerpt(failure.output),
            hint="set `go.version-variable` to the string variable the command prints "
            '(e.g. "main.Version"), or to "" to stamp nothing',
        )
    output = failure.output.replace(f"{module}{os.sep}", "").replace(str(module), ".")
    return CommandFailedError(
        f"`go build` of {package} for {platform} failed with exit code {failure.returncode} "
        "(in a clean copy of the commit)",
        details=excerpt(output) + failure.log_note(),
        hint="fix the errors above (file:line:column, relative to the Go module), commit the fix, and build again; "
        "`go vet ./...` in the module shows them too",
    )


def build_go(
    module: Path,
    packages: Sequence[str],
    *,
    version: str,
    out_dir: Path,
    runner: Runner,
    mtime: int,
    platforms: Sequence[str] = DEFAULT_PLATFORMS,
    version_variables: Sequence[str] = ("main.version",),
    toolchain: str | None = None,
) -> list[GoArtifact]:
    """Every package for every platform with the default flags and archive names."""
    toolchain = toolchain or toolchain_setting(module, runner=runner)
    flags = build_flags(version, version_variables=version_variables)
    artifacts: list[GoArtifact] = []
    for platform in platforms:
        artifacts += build_go_platform(
            module,
            packages,
            platform,
            version=version,
            out_dir=out_dir,
            runner=runner,
            mtime=mtime,
            flags=flags,
            version_variables=version_variables,
            toolchain=toolchain,
        )
    return artifacts


def go_environment(module: Path, platform: str, toolchain: str, *, runner: Runner) -> dict[str, str]:
    """The variables ``go build`` runs with for ``platform``: hermetic, then the platform's."""
    return {**hermetic_environment(module, runner=runner), **platform_environment(platform, toolchain)}


def go_build_command(
    module: str, package: str, platform: str, *, flags: Sequence[str], env: Mapping[str, str], binary: str
) -> Command:
    """``go build`` of ``package`` in ``module`` into the file ``binary`` (placeholders allowed)."""
    return Command(
        ("go", "build", *flags, "-o", binary, package),
        cwd=module,
        description=f"build {package} for {platform}",
        env=dict(env),
        output=binary,
    )


def binary_name(package: str, names: Mapping[str, str] | None = None) -> str:
    return (names or {}).get(package) or PurePosixPath(package).name


def build_go_platform(
    module: Path,
    packages: Sequence[str],
    platform: str,
    *,
    version: str,
    out_dir: Path,
    runner: Runner,
    mtime: int,
    toolchain: str,
    flags: Sequence[str],
    names: Mapping[str, str] | None = None,
    template: str = DEFAULT_ARCHIVE_NAME,
    extra_files: Sequence[Path] = (),
    in_directory: bool = False,
    version_variables: Sequence[str] = (),
    compiler: str | None = None,
    check_stamp: bool = False,
    commands: Sequence[Command] = (),
    places: Mapping[str, str] | None = None,
) -> list[GoArtifact]:
    """Every package for one platform (independent of other platforms: safe to run in parallel).

    ``flags``: the `go build` flags (``build_flags``); ``names``: the binary name of each package
    (default: its last path element); ``template``: the archive name (``archive_name``);
    ``extra_files``: put beside the binary in each archive; ``version_variables``: the ``-X``
    in ``flags`` that stamp the version (checked with ``check_stamp``); ``compiler``: the Go
    version every binary must report (default: go.mod's pin). ``commands``: the planned
    ``go_build_command`` of each package, run with ``places`` filling their placeholders
    (default: made here, with ``$SCRATCH`` a temporary directory)."""
    pinned = compiler or _gomod.read_pins(module).pinned
    out_dir.mkdir(parents=True, exist_ok=True)
    artifacts: list[GoArtifact] = []
    with tempfile.TemporaryDirectory(prefix="reprotasks-go-") as scratch:
        if not commands:
            env = go_environment(module, platform, toolchain, runner=runner)
            binaries = [f"$SCRATCH/{executable_name(binary_name(package, names), platform)}" for package in packages]
            commands = [
                go_build_command(str(module), package, platform, flags=flags, env=env, binary=binary)
                for package, binary in zip(packages, binaries, strict=True)
            ]
            places = {"SCRATCH": scratch}
        for package, command in zip(packages, commands, strict=True):
            name = binary_name(package, names)
            exe = executable_name(name, platform)
            binary = Path(fill(command.output, places or {}))
            binary.parent.mkdir(parents=True, exist_ok=True)
            try:
                command.run(
                    runner,
                    places or {},
                    on_failure=functools.partial(go_build_failed, module=module, package=package, platform=platform),
                )
            except PlatformExcluded:
                runner.log(f"build: {package} is not built for {platform}: its build constraints exclude every file")
                continue
            used, embedded = binary_info(binary, runner=runner, expected=pinned)
            if pinned is not None:
                check_compiler(used, pinned, f"{package} for {platform}")
            if check_stamp:
                _check_stamp(binary, package, version, version_variables, recorded=embedded, runner=runner)
            target = out_dir / archive_name(name, version, platform, template)
            inside = member_prefix(in_directory, target.name)
            members = [(inside + exe, binary), *((inside + path.name, path) for path in extra_files)]
            write_archive(target, members, mtime=mtime)
            artifacts.append(GoArtifact(target, package, platform, embedded, used))
    return artifacts


def carries_version(binary: Path, version: str, *, recorded: Sequence[str] = ()) -> bool:
    """Does the binary hold the release version as text beyond what its build information records
    (``recorded``: the ``go version -m`` lines)? A stamped variable's value, or a version written
    in the code (a `const version = "1.2.3"`), is such text. Read from the binary itself (no
    `go tool nm`, which a fresh Go cache would first have to build); a short version (under five
    characters) proves nothing."""
    if len(version) < 5:
        return False
    needle = version.encode()
    with binary.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return False
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            found, start = 0, data.find(needle)
            while start != -1:
                found += 1
                start = data.find(needle, start + len(needle))
    return found > sum(line.count(version) for line in recorded)


def _check_stamp(
    binary: Path, package: str, version: str, variables: Sequence[str], *, recorded: Sequence[str], runner: Runner
) -> None:
    if carries_version(binary, version, recorded=recorded):
        return  # stamped, or the code carries the version itself (yq's `Version = "v4.53.6"`, gojq's const)
    if not variables:
        runner.log(
            f"build: WARNING: {package}: no version variable to stamp (no main package declares a string `version` "
            "or `Version`), so the binary does not carry the version "
            f"{version} (set `go.version-variable` to the package.Variable it prints)"
        )
    elif len(version) >= 5:  # (a shorter one cannot be told from other text)
        shown = " ".join(f"-X {variable}=..." for variable in variables)
        runner.log(
            f"build: WARNING: {package}: `{shown}` matched no string variable, so the "
            f"binary does not carry the version {version} (set `go.version-variable` "
            'to the package.Variable it prints, or "" to stamp nothing)'
        )
