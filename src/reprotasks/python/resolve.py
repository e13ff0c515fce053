"""Run a resolver backend (pip-compile or uv) to write one hashed lock."""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from reprotasks import _cache
from reprotasks._run import Failure, Runner, compact_tracebacks
from reprotasks.config import BUILD_CONSTRAINTS, Config, LockSpec
from reprotasks.errors import CommandFailedError, ConfigError
from reprotasks.python.lockfile import is_pylock, parse_lock_text

LOCK_COMMAND = "reprotasks lock"
_CAUSE_LINES = 12
_NETWORK = re.compile(
    r"Connection refused|Failed to establish a new connection|Name or service not known|Temporary failure in name"
    r"|NameResolutionError|Network is unreachable|timed out|Request failed after|Failed to fetch|tcp connect error"
    r"|SSLError|certificate verify failed|ProxyError",
    re.IGNORECASE,
)
_MISSING = re.compile(
    r"from versions: none|not found in the provided package locations|not found in the package registry",
    re.IGNORECASE,
)
_VERSION = re.compile(r"\(from versions: [^)]|there is no version of|only .* is available", re.IGNORECASE)
_CONFLICT = re.compile(r"ResolutionImpossible|conflict|unsatisfiable|Could not find a version", re.IGNORECASE)


class ResolutionFailed(CommandFailedError):
    """The resolver could not turn an input into a lock; ``kind`` is network, missing, conflict or other."""

    def __init__(self, message: str, *, kind: str, cause: str, log: Path | None, hint: str, details: str) -> None:
        super().__init__(message, hint=hint, details=details)
        self.kind = kind
        self.cause = cause  # the resolver's lines that say why, one per line
        self.log = log  # its full output


_EXCEPTION = re.compile(r"^(?P<name>[A-Za-z_][\w.]*(?:Error|Exception|NotFound|Impossible|Conflicted))(?::\s*|$)")


def resolver_cause(output: str) -> list[str]:
    """The lines of pip-compile's or uv's output that say why resolution failed, without tracebacks.

    pip-tools ends in a chain of pip's internal exceptions: only the last one's message is kept,
    with pip's own ``ERROR:`` lines and the last ``Retrying`` warning; uv's ``error:``/``cause:``
    lines are kept as they are.
    """
    lines = compact_tracebacks([line.rstrip() for line in output.splitlines() if line.strip()], last_frame=False)
    exceptions = [number for number, line in enumerate(lines) if _EXCEPTION.match(line)]
    kept: list[str] = []
    retry: str | None = None
    for number, line in enumerate(lines):
        text = line.strip()
        if "Retrying (Retry(" in text:
            retry = text  # one per attempt: the last says it all
            continue
        if text.startswith(("ERROR: ", "WARNING: ")):
            line = text  # pip's log lines, indented by pip-tools
        elif number in exceptions:
            if number != exceptions[-1]:
                continue  # pip's chained internals (RequirementsConflicted, ResolutionImpossible reprs)
            matched = _EXCEPTION.match(text)
            assert matched is not None
            line = matched["name"].rpartition(".")[2] + text[len(matched["name"]) :]
        if line not in kept:
            kept.append(line)
    return ([retry] if retry else []) + kept[:_CAUSE_LINES]


def explain_resolution(failure: Failure, *, input_rel: str, lock_rel: str, backend: str) -> ResolutionFailed:
    """A resolver failure as a reprotasks error: the cause lines and a hint naming the input."""
    cause = resolver_cause(failure.output) or [f"{backend} exited with code {failure.returncode}"]
    text = "\n".join(cause)
    if _NETWORK.search(text):
        kind = "network"
        hint = (
            "the package index could not be reached: check the network, a proxy, and `python.index-url` / "
            "`python.extra-index-urls` (or `python.find-links` with `no-index` for offline locking)"
        )
    elif _MISSING.search(text):
        kind = "missing"
        hint = (
            f"a requirement of {input_rel} names a package no index or find-links location offers: check its spelling "
            "and `python.index-url` / `python.find-links`"
        )
    elif _VERSION.search(text):
        kind = "version"
        hint = (
            f"no release matches the version a requirement of {input_rel} asks for (the lines above list what "
            f"exists): change that specifier, then run `{LOCK_COMMAND}`"
        )
    elif _CONFLICT.search(text):
        kind = "conflict"
        hint = (
            f"the requirements of {input_rel} named above cannot all be met at once: relax or correct one of them, "
            f"then run `{LOCK_COMMAND}`"
        )
    else:
        kind = "other"
        hint = f"fix {input_rel} as the lines above say, then run `{LOCK_COMMAND}`"
    first = re.sub(r"^(?:ERROR|error|\u00d7):?\s*", "", cause[0].strip())
    return ResolutionFailed(
        f"cannot resolve {input_rel} into {lock_rel} ({backend}): {first}",
        kind=kind,
        cause=text,
        log=failure.log,
        hint=hint,
        details="\n".join(f"    {line}" for line in cause[1:]) + failure.log_note(),
    )


def find_uv(runner: Runner) -> str | None:
    """The uv binary: the one the `uv` Python package ships, else uv on PATH, else None."""
    try:
        from uv import find_uv_bin
    except ImportError:
        return runner.which("uv")
    return find_uv_bin()


def _uv_binary(runner: Runner) -> str:
    return find_uv(runner) or runner.require("uv", purpose="lock with the uv backend")


def backend_version(backend: str) -> str:
    """Version of the installed backend, read without starting a process (cache keys)."""
    distribution = "pip-tools" if backend == "pip-tools" else "uv"
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def resolver_args(config: Config) -> list[str]:
    python = config.python
    args: list[str] = []
    if python.index_url:
        args += ["--index-url", python.index_url]
    for url in python.extra_index_urls:
        args += ["--extra-index-url", url]
    for link in python.find_links:
        # Relative directories are relative to the project root, not to the lock's folder.
        args += ["--find-links", link if "://" in link else str((config.root / link).resolve())]
    if python.no_index:
        args.append("--no-index")
    return args


def compile_lock(
    config: Config,
    spec: LockSpec,
    output: Path,
    *,
    runner: Runner,
    backend: str,
    upgrade: bool = False,
    upgrade_packages: Sequence[str] = (),
) -> None:
    """Resolve ``spec.input`` into ``output`` (which may hold the previous lock: pins are kept).
    A ``pylock.toml`` is written by uv, whatever ``backend`` says: pip-compile cannot write one."""
    if is_pylock(spec.output):
        backend = "uv"
        if output.name != spec.output.name:  # uv writes only files named pylock[.NAME].toml
            with tempfile.TemporaryDirectory(prefix="reprotasks-pylock-") as scratch:
                named = Path(scratch) / spec.output.name
                previous = output if output.is_file() and output.stat().st_size else spec.output
                if previous.is_file():
                    shutil.copyfile(previous, named)  # the previous lock: its pins are kept
                compile_lock(
                    config,
                    spec,
                    named,
                    runner=runner,
                    backend=backend,
                    upgrade=upgrade,
                    upgrade_packages=upgrade_packages,
                )
                shutil.copyfile(named, output)
            return
    if backend == "uv" and not is_pylock(output) and output.is_file() and output.stat().st_size:
        _forget_hashes(output)
    upgrade_args: list[str] = ["--upgrade"] if upgrade else []
    for name in upgrade_packages:
        upgrade_args += ["--upgrade-package", name]
    common = [
        "--generate-hashes",
        "--no-config",
        "--strip-extras",
        "--output-file",
        str(output),
        *resolver_args(config),
        *upgrade_args,
        *spec.resolver_args,
        spec.input.name,
    ]
    if spec.generated is not None:
        # The input exists only in memory (the build-system lock): resolve it from a scratch
        # directory under its fixed name, so the "via -r NAME" annotations are stable.
        with tempfile.TemporaryDirectory(prefix="reprotasks-input-") as scratch:
            (Path(scratch) / spec.input.name).write_text(spec.generated, encoding="utf-8")
            if spec.constraints is not None:
                shutil.copyfile(spec.constraints, Path(scratch) / BUILD_CONSTRAINTS)
            _compile(config, spec, common, Path(scratch), runner=runner, backend=backend)
    else:
        _compile(config, spec, common, spec.input.parent, runner=runner, backend=backend)


def _forget_hashes(previous: Path) -> None:
    """Keep only the pins of the previous lock that uv is given as its output file. uv copies the
    hashes of a pin it keeps from that file instead of reading them from the index, so a tampered
    hash would come back unchanged (and verify would find the lock fresh); pip-compile reads them
    again. The pins alone are the preferences both resolvers keep."""
    pins = parse_lock_text(previous.read_text(encoding="utf-8", errors="replace")).pins
    previous.write_text("".join(f"{pin.name}=={pin.version}\n" for pin in pins), encoding="utf-8")


def _compile(config: Config, spec: LockSpec, common: list[str], cwd: Path, *, runner: Runner, backend: str) -> None:
    cache = _cache.resolver_cache(backend)
    unusable = _cache.unwritable(cache)
    if unusable is not None:
        # The resolver's cache only saves downloads: resolving without it gives the same lock.
        runner.log(
            f"lock: WARNING: cache directory {cache} is not writable ({unusable}); resolving without a cache "
            f"(fix its permissions, or set {'PIP_TOOLS_CACHE_DIR' if backend == 'pip-tools' else 'UV_CACHE_DIR'} "
            "or XDG_CACHE_HOME to a writable directory)"
        )
    if backend == "pip-tools":
        with tempfile.TemporaryDirectory(prefix="reprotasks-resolver-cache-") as scratch:
            cache_args = ["--cache-dir", scratch] if unusable is not None else []
            # Not --quiet: pip's warnings (an unreachable index) are the cause of a failure.
            argv = [
                sys.executable,
                "-m",
                "piptools",
                "compile",
                "--allow-unsafe",
                "--no-emit-index-url",
                "--no-emit-find-links",
                *cache_args,
                *common,
            ]
            _resolve(config, spec, argv, cwd, {"CUSTOM_COMPILE_COMMAND": LOCK_COMMAND}, runner=runner, backend=backend)
    elif backend == "uv":
        argv = [
            _uv_binary(runner),
            "pip",
            "compile",
            "--quiet",
            *(["--no-cache"] if unusable is not None else []),
            "--custom-compile-command",
            LOCK_COMMAND,
            "--python",
            sys.executable,
            *(_universal_args(config) if spec.universal else []),
            *common,
        ]
        _resolve(config, spec, argv, cwd, {}, runner=runner, backend=backend)
    else:
        raise ConfigError(f"unknown lock backend {backend!r}", hint="use `pip-tools` or `uv`")


def _universal_args(config: Config) -> list[str]:
    """uv's one lock for every Python the project supports: from the lowest `requires-python` allows."""
    args = ["--universal"]
    floors = []
    try:
        specifiers = SpecifierSet(config.requires_python or "")
    except InvalidSpecifier:
        return args
    for specifier in specifiers:
        if specifier.operator in (">=", "~=", "==", "==="):
            parts = specifier.version.split(".")
            if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
                floors.append((int(parts[0]), int(parts[1])))
    if floors:
        major, minor = max(floors)
        args += ["--python-version", f"{major}.{minor}"]
    return args


def _resolve(
    config: Config, spec: LockSpec, argv: list[str], cwd: Path, env: dict[str, str], *, runner: Runner, backend: str
) -> None:
    input_rel = spec.describe_input(config.root)
    runner.run(
        argv,
        cwd=cwd,
        env=env,
        purpose=f"lock {input_rel}",
        on_failure=lambda failure: explain_resolution(
            failure, input_rel=input_rel, lock_rel=config.rel(spec.output), backend=backend
        ),
    )
