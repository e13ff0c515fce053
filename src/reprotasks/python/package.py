"""sdist + wheel with ``python -m build`` in a build environment installed from a hashed lock.

The lock (``python.build-lock``, written by the lock step) pins the build backend, its
dependencies and the ``build`` front end. It is installed once, with hash checking, into a
cached environment keyed by the lock's digest and the interpreter; ``python -m build
--no-isolation`` then runs inside it, so every build uses exactly the locked backend and no
network. Backends that write non-deterministic sdists are corrected by re-packing.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from reprotasks import _cache
from reprotasks._command import Command, fill
from reprotasks._files import sha256_file
from reprotasks._run import Failure, Runner, excerpt
from reprotasks.errors import CommandFailedError, ReprotasksError
from reprotasks.python import buildenv as _buildenv
from reprotasks.python.lockfile import parse_lock
from reprotasks.python.sdist import normalize_sdist

_READY = "reprotasks-ready"
_RELOCK = "run `reprotasks lock` (or `nox -s lock`) and commit the lock"
# Variables that would let the caller's environment change what the backend sees.
_DROPPED = ("PYTHONPATH", "PYTHONSTARTUP", "PYTHONUSERBASE", "PYTHONHOME", "PIP_CONSTRAINT", "PIP_REQUIRE_VIRTUALENV")


@dataclass(frozen=True)
class PythonArtifact:
    path: Path
    kind: str  # "sdist" or "wheel"
    repacked: tuple[str, ...] = ()  # what made the backend's sdist non-deterministic


@dataclass(frozen=True)
class BuildEnvironment:
    python: Path
    lock_sha256: str
    packages: dict[str, str]  # name -> version, from the lock
    disposable: Path | None = None  # an uncached environment, removed after the build
    directory: Path | None = None  # where it lives (its venv/ and the wheels it was installed from)


def build_environment(lock: Path, shown_lock: str, *, runner: Runner) -> BuildEnvironment:
    """An environment holding exactly the locked build requirements, verified before every use.

    Cached (keyed by the lock's digest and the interpreter) and checked against the lock each
    time (``_buildenv.verify``): a modified or poisoned environment is rebuilt, never used.
    """
    if not lock.is_file():
        raise ReprotasksError(
            f"{shown_lock} is missing, so the build backend is not pinned",
            hint=f"{_RELOCK}; it locks [build-system] requires of pyproject.toml",
        )
    parsed = parse_lock(lock)
    if parsed.problems:
        first = parsed.problems[0]
        raise ReprotasksError(f"{shown_lock}:{first.line}: {first.problem}", hint=f"{first.fix}; or {_RELOCK}")
    lock_sha = sha256_file(lock)
    key = _cache.digest(["buildenv-v2", lock_sha, sys.version, sys.executable, platform.machine()])[:20]
    home = _cache.cache_dir() / "build-env"
    target = home / key
    packages = {pin.name: pin.version for pin in parsed.pins}
    if (target / _READY).is_file():
        try:
            _buildenv.verify(target, parsed.pins)
        except (_buildenv.Untrusted, OSError) as exc:
            runner.log(
                f"build: WARNING: the cached build environment for {shown_lock} fails its check ({exc}); rebuilding it"
            )
            _buildenv.remove(target)
        else:
            runner.log(f"build: reusing the build environment for {shown_lock} (checked against the lock)")
            return BuildEnvironment(_buildenv.python_in(target), lock_sha, packages, directory=target)
    unusable = _cache.unwritable(home)
    if unusable is not None:
        raise _cache.not_writable_error(home, unusable, step="build", what="the build environment")
    staging = _buildenv.fresh_directory(home, key)
    try:
        runner.log(f"build: creating the build environment from {shown_lock}")
        anchored = _buildenv.create(staging, lock, shown_lock, runner=runner)
        if not anchored:
            # A pin without a wheel cannot be checked file by file later: use it once, keep nothing.
            runner.log(f"build: {shown_lock} pins a package without a wheel: this build environment is not cached")
            return BuildEnvironment(
                _buildenv.python_in(staging), lock_sha, packages, disposable=staging, directory=staging
            )
        try:
            _buildenv.verify(staging, parsed.pins)
        except _buildenv.Untrusted as exc:
            raise ReprotasksError(
                f"the build environment installed from {shown_lock} does not match it: {exc}",
                hint="report this: the installer changed files it installed",
            ) from None
        (staging / _READY).write_text(lock_sha + "\n", encoding="utf-8")
        try:
            staging.rename(target)
        except OSError:
            if not (target / _READY).is_file():  # not a concurrent build that won the race
                raise
    except BaseException:
        _buildenv.remove(staging)
        raise
    _buildenv.remove(staging)
    return BuildEnvironment(_buildenv.python_in(target), lock_sha, packages, directory=target)


def build_argv(python: str, out_dir: str) -> tuple[str, ...]:
    return (python, "-m", "build", "--no-isolation", "--outdir", out_dir, ".")


def build_environment_variables(
    project: str | os.PathLike[str], epoch: int, *, user_cflags: str = ""
) -> dict[str, str]:
    """What the backend runs with (the manifest records it with ``project`` as a placeholder)."""
    cflags = f"-ffile-prefix-map={os.fspath(project)}=. {user_cflags}".strip()
    return {
        "SOURCE_DATE_EPOCH": str(epoch),
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "CFLAGS": cflags,  # C extensions would otherwise embed the build directory
    }


def python_build_command(project: str, out_dir: str, environment: str, epoch: int) -> Command:
    """``python -m build`` of ``project`` into ``out_dir`` with the build environment's python
    (``environment``: its directory); placeholders allowed in all three."""
    python = _buildenv.python_in(Path(environment))
    return Command(
        build_argv(str(python), out_dir),
        cwd=project,
        description="build the sdist and wheel",
        env=build_environment_variables(project, epoch, user_cflags=os.environ.get("CFLAGS", "")),
        unset=_DROPPED,
        # The environment's scripts first on PATH, as in an activated venv: some backends run a tool
        # they install (uv_build runs its `uv-build` binary).
        path_first=(str(python.parent),),
        output=out_dir,
    )


def backend_failed(failure: Failure, project: Path) -> CommandFailedError:
    """``python -m build`` failed: the lines carrying the backend's error, paths shown project-relative."""
    output = failure.output.replace(f"{project}{os.sep}", "").replace(str(project), ".")
    return CommandFailedError(
        f"`python -m build --no-isolation` failed with exit code {failure.returncode}: the build backend could not "
        "build the sdist or wheel (it ran in a clean copy of the commit)",
        details=excerpt(output) + failure.log_note(),
        hint="fix what the lines above name (pyproject.toml, the backend's settings or the package), commit it, and "
        "build again",
    )


def build_python(
    command: Command, places: Mapping[str, str], out_dir: Path, *, runner: Runner, epoch: int
) -> list[PythonArtifact]:
    """sdist, then a wheel built from that sdist, by ``command`` (``python_build_command``, its
    placeholders filled from ``places``); the sdist is normalized if the backend left noise."""
    out_dir.mkdir(parents=True, exist_ok=True)
    project = Path(fill(command.cwd, places))
    built = Path(fill(command.output, places))
    try:
        command.run(runner, places, on_failure=lambda failure: backend_failed(failure, project))
        artifacts: list[PythonArtifact] = []
        for path in sorted(built.iterdir()):
            if path.name.endswith(".tar.gz"):
                repacked = normalize_sdist(path, epoch)
                if repacked:
                    count = f"{len(repacked)} header problem{'s' if len(repacked) != 1 else ''}"
                    runner.log(f"build: re-packed {path.name} deterministically ({count})")
                kind, notes = "sdist", tuple(repacked)
            elif path.suffix == ".whl":
                kind, notes = "wheel", ()
            else:
                raise ReprotasksError(
                    f"`python -m build` wrote an unexpected file {path.name}",
                    hint="only an sdist (.tar.gz) and a wheel (.whl) are expected",
                )
            final = out_dir / path.name
            shutil.move(path, final)
            artifacts.append(PythonArtifact(final, kind, notes))
    finally:
        shutil.rmtree(built, ignore_errors=True)
    if {artifact.kind for artifact in artifacts} != {"sdist", "wheel"}:
        raise ReprotasksError("`python -m build` did not produce both an sdist and a wheel", hint="read its output")
    return artifacts
