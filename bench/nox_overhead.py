"""Benchmark: `nox -s verify` on examples/hybrid when nothing changed, split into nox overhead and the step.

A copy of examples/hybrid is committed to a scratch git repository and verified once (untimed:
it fills the lock-freshness cache, as any earlier run would). Then each front end runs --runs
times; the step's own time is what it prints ("verify: done in X.XXs"), the rest of the wall time
is start-up and adapter overhead (interpreter, imports, nox's session machinery).
Usage: python bench/nox_overhead.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HYBRID = Path(__file__).resolve().parent.parent / "examples" / "hybrid"
GIT = {"GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@e", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@e"}


def run(argv: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, step seconds as the step reports it)."""
    started = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - started
    match = re.search(r"verify: done in ([\d.]+)s", result.stdout)
    if match is None:
        raise SystemExit(f"no step time in the output of {argv}:\n{result.stdout}")
    return wall, float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env_go = {"GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"}
    os.environ.update(env_go)
    with tempfile.TemporaryDirectory(prefix="reprotasks-bench-") as scratch:
        project = Path(scratch) / "hybrid"
        shutil.copytree(HYBRID, project, ignore=shutil.ignore_patterns(".nox", "__pycache__", "dist"))
        for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "bench"]):
            subprocess.run(["git", *command], cwd=project, check=True, env={**os.environ, **GIT})
        bin_dir = Path(sys.executable).parent
        front_ends = {
            "nox -s verify": [str(bin_dir / "nox"), "-s", "verify"],
            "invoke verify": [str(bin_dir / "invoke"), "verify"],
            "reprotasks verify": [str(bin_dir / "reprotasks"), "verify"],
        }
        run(front_ends["reprotasks verify"], project)  # warm-up: fills the freshness cache
        print(f"{'front end':<20} {'wall':>8} {'step':>8} {'overhead':>9}   (median of {args.runs} runs)")
        for label, argv in front_ends.items():
            samples = [run(argv, project) for _ in range(args.runs)]
            wall = statistics.median(sample[0] for sample in samples)
            step = statistics.median(sample[1] for sample in samples)
            print(f"{label:<20} {wall:>7.2f}s {step:>7.2f}s {wall - step:>8.2f}s")


if __name__ == "__main__":
    main()
