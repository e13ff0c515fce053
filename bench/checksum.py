"""Benchmark: `reprotasks checksum` vs `sha256sum` on the same files (default 1 GiB in 64 files).

Both are timed as whole commands, after one untimed warm-up run each, so both read from the
page cache. Usage: python bench/checksum.py [--mib 1024] [--files 64] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(argv: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--files", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reprotasks-bench-") as scratch:
        project = Path(scratch)
        dist = project / "dist"
        dist.mkdir()
        chunk = os.urandom(1 << 20)
        per_file = args.mib // args.files
        for index in range(args.files):
            with (dist / f"artifact-{index:03}.bin").open("wb") as handle:
                for _ in range(per_file):
                    handle.write(chunk)
        names = sorted(path.name for path in dist.iterdir())
        ours = [sys.executable, "-m", "reprotasks", "checksum"]
        theirs = ["sha256sum", *names]
        timed(ours, project)
        timed(theirs, dist)
        mine = statistics.median(timed(ours, project) for _ in range(args.runs))
        ref = statistics.median(timed(theirs, dist) for _ in range(args.runs))
        print(f"checksum of {per_file * args.files} MiB in {args.files} files, median of {args.runs} runs")
        print(f"  reprotasks checksum  {mine:6.2f} s")
        print(f"  sha256sum            {ref:6.2f} s")
        print(f"  ratio                {mine / ref:6.2f} (target <= 1.0)")


if __name__ == "__main__":
    main()
