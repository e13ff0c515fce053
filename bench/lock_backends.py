"""Benchmark: `reprotasks lock` of examples/hybrid with the pip-tools vs the uv backend.

Cold = empty pip/pip-tools/uv caches (fresh directories each run); warm = caches kept from a
previous run. The lock file is deleted before every run so each run resolves from scratch.
Needs PyPI. Usage: python bench/lock_backends.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HYBRID = Path(__file__).resolve().parent.parent / "examples" / "hybrid"


def lock_once(project: Path, backend: str, cache: Path) -> float:
    env = {
        **os.environ,
        "PIP_CACHE_DIR": str(cache / "pip"),
        "XDG_CACHE_HOME": str(cache / "xdg"),  # pip-tools keeps its own cache here
        "UV_CACHE_DIR": str(cache / "uv"),
        "REPROTASKS_CACHE_DIR": str(cache / "reprotasks"),
    }
    (project / "requirements.txt").unlink(missing_ok=True)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "reprotasks", "lock", "--python-only", "--backend", backend],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reprotasks-bench-") as scratch:
        project = Path(scratch) / "hybrid"
        shutil.copytree(HYBRID, project)
        print(f"lock of examples/hybrid, median of {args.runs} runs (seconds)")
        print(f"{'backend':<10} {'cold':>8} {'warm':>8}")
        for backend in ("pip-tools", "uv"):
            cold = []
            for run in range(args.runs):
                cache = Path(scratch) / f"cold-{backend}-{run}"
                cold.append(lock_once(project, backend, cache))
            warm_cache = Path(scratch) / f"warm-{backend}"
            lock_once(project, backend, warm_cache)  # fill the cache
            warm = [lock_once(project, backend, warm_cache) for _ in range(args.runs)]
            print(f"{backend:<10} {statistics.median(cold):>8.2f} {statistics.median(warm):>8.2f}")


if __name__ == "__main__":
    main()
