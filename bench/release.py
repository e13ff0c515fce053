"""Benchmark: a release of examples/hybrid end to end, and `build --force`, for one or more installs.

Each install is named by the Python of its environment (``--python .venv/bin/python`` for this
checkout; another checkout's venv for a baseline). Rounds are interleaved (A, B, A, B, ...) so
that load from other jobs falls on every install alike; the report gives the median of each and
the ratio to the first, plus the load average seen.

Timed per round, in a fresh committed copy of examples/hybrid with warm Go and build caches:
- ``build --force``: clean clone, sdist + wheel, 4 Go platforms, archives, manifest;
- ``release --skip sign --skip verify-signatures``: verify (locks re-resolved), build, sbom,
  checksum, provenance, staged (no OIDC identity here, so no signature).

Usage: python bench/release.py --python A/bin/python [--python B/bin/python] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_AUTHOR_DATE": "2024-02-03T04:05:06Z",
    "GIT_COMMITTER_DATE": "2024-02-03T04:05:06Z",
}
COMMANDS = {
    "build --force": ["build", "--force"],
    "release": ["release", "--skip", "sign", "--skip", "verify-signatures"],
}


def project(scratch: Path) -> Path:
    target = scratch / "hybrid"
    shutil.copytree(REPO / "examples" / "hybrid", target, ignore=shutil.ignore_patterns(".nox", "__pycache__", "dist"))
    env = {**os.environ, **GIT_ENV}
    for argv in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "bench"]):
        subprocess.run(argv, cwd=target, env=env, check=True)
    return target


def timed(python: str, args: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [python, "-m", "reprotasks", *args],
        cwd=cwd,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", action="append", required=True, help="the Python of an install (repeatable)")
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reprotasks-bench-release-") as scratch:
        root = project(Path(scratch))
        env = {**os.environ, "GOTOOLCHAIN": "local", "REPROTASKS_CACHE_DIR": str(Path(scratch) / "cache")}
        for python in options.python:  # warm-up: build environment, Go caches, resolver caches
            for args in COMMANDS.values():
                timed(python, args, root, env)
        times: dict[tuple[str, str], list[float]] = {}
        loads = []
        for _ in range(options.runs):
            for python in options.python:
                for label, args in COMMANDS.items():
                    times.setdefault((python, label), []).append(timed(python, args, root, env))
            loads.append(os.getloadavg()[0])
    first = options.python[0]
    for label in COMMANDS:
        base = statistics.median(times[(first, label)])
        for python in options.python:
            median = statistics.median(times[(python, label)])
            print(f"{label:14} {python:40} median {median:6.2f} s  ratio {median / base:5.3f}")
    print(f"load average (1 min) during the rounds: {min(loads):.1f} to {max(loads):.1f}")


if __name__ == "__main__":
    main()
