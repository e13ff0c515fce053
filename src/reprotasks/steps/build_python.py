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
import tempfile
from dataclasses import dataclass
from pathlib import Path

from reprotasks import _cache
from reprotasks._files import sha256_file
from reprotasks._run import Runner
from reprotasks.errors import ReprotasksError
from reprotasks.steps._compile import find_uv
from reprotasks.steps._lockfile import parse_lock
from reprotasks.steps.sdist import normalize_sdist

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


def build_environment(lock: Path, shown_lock: str, *, runner: Runner) -> BuildEnvironment:
    """The cached environment holding exactly the locked build requirements (created if needed)."""
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
    key = _cache.digest([lock_sha, sys.version, sys.executable, platform.machine()])[:20]
    home = _cache.cache_dir() / "build-env"
    target = home / key
    python = target / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    packages = {pin.name: pin.version for pin in parsed.pins}
    if (target / _READY).is_file() and python.exists():
        runner.log(f"build: reusing the build environment for {shown_lock}")
        return BuildEnvironment(python, lock_sha, packages)
    home.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=home))
    try:
        runner.log(f"build: creating the build environment from {shown_lock}")
        staged_python = staging / python.relative_to(target)
        uv = find_uv(runner)
        if uv is not None:
            runner.run([uv, "venv", "--quiet", "--python", sys.executable, str(staging)], cwd=home)
            install = [uv, "pip", "install", "--quiet", "--python", str(staged_python)]
        else:
            runner.run([sys.executable, "-m", "venv", str(staging)], cwd=home)
            install = [str(staged_python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        runner.run(
            [*install, "--require-hashes", "--no-deps", "-r", str(lock)],
            cwd=home,
            purpose=f"install the locked build requirements from {shown_lock}",
        )
        (staging / _READY).write_text(lock_sha + "\n", encoding="utf-8")
        try:
            staging.rename(target)
        except OSError:
            if not (target / _READY).is_file():  # not a concurrent build that won the race
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BuildEnvironment(python, lock_sha, packages)


def build_command(env: BuildEnvironment, out_dir: Path) -> list[str]:
    return [str(env.python), "-m", "build", "--no-isolation", "--outdir", str(out_dir), "."]


def build_environment_variables(project: Path, epoch: int, *, user_cflags: str = "") -> dict[str, str]:
    """What the backend runs with (the manifest records it with ``project`` as a placeholder)."""
    cflags = f"-ffile-prefix-map={project}=. {user_cflags}".strip()
    return {
        "SOURCE_DATE_EPOCH": str(epoch),
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "CFLAGS": cflags,  # C extensions would otherwise embed the build directory
    }


def build_python(
    project: Path, out_dir: Path, env: BuildEnvironment, *, runner: Runner, epoch: int
) -> list[PythonArtifact]:
    """sdist, then a wheel built from that sdist; the sdist is normalized if the backend left noise."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="reprotasks-pybuild-") as scratch:
        built = Path(scratch)
        variables = build_environment_variables(project, epoch, user_cflags=os.environ.get("CFLAGS", ""))
        environment = {key: value for key, value in runner.environment(variables).items() if key not in _DROPPED}
        runner.run(
            build_command(env, built),
            cwd=project,
            env=environment,
            purpose="build the sdist and wheel",
            replace_env=True,
        )
        artifacts: list[PythonArtifact] = []
        for path in sorted(built.iterdir()):
            if path.name.endswith(".tar.gz"):
                repacked = normalize_sdist(path, epoch)
                if repacked:
                    runner.log(f"build: re-packed {path.name} deterministically ({len(repacked)} header problems)")
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
    if {artifact.kind for artifact in artifacts} != {"sdist", "wheel"}:
        raise ReprotasksError("`python -m build` did not produce both an sdist and a wheel", hint="read its output")
    return artifacts
