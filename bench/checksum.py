"""Benchmark: `reprotasks checksum` against the standard tools, on many small files and on a few big ones.

Two shapes, each timed as whole commands, interleaved (ours, theirs, ours, ...) after one untimed
warm-up run each so both read from the page cache:
- ``--shape small`` (default 10,000 files of 10 KiB) against ``xargs -P<cores> -n 1000 openssl dgst -sha256``;
- ``--shape big`` (default 1 GiB in 64 files) against the same ``xargs ... openssl dgst -sha256`` (and
  coreutils ``sha256sum``, which on CPUs without SHA instructions is several times slower than OpenSSL).
Reports medians of wall time and of CPU time (user + sys of the command and its children), and
their ratios (target: within 1.2x on small files, at par on big ones).
Usage: python bench/checksum.py [--shape small|big|both] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(argv: list[str], cwd: Path, *, shell: bool = False) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the children) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv if not shell else " ".join(argv), cwd=cwd, check=True, stdout=subprocess.DEVNULL, shell=shell)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def make_files(dist: Path, count: int, size: int) -> None:
    dist.mkdir()
    chunk = os.urandom(min(size, 1 << 20))
    for index in range(count):
        with (dist / f"artifact-{index:05}.bin").open("wb") as handle:
            for _ in range(max(1, size // len(chunk))):
                handle.write(chunk)


def compare(title: str, project: Path, theirs: list[str], runs: int, *, shell: bool) -> None:
    ours = [sys.executable, "-m", "reprotasks", "checksum"]
    timed(ours, project)
    timed(theirs, project / "dist", shell=shell)
    mine, ref = [], []
    for _ in range(runs):
        mine.append(timed(ours, project))
        ref.append(timed(theirs, project / "dist", shell=shell))
    wall = statistics.median(w for w, _ in mine), statistics.median(w for w, _ in ref)
    cpu = statistics.median(c for _, c in mine), statistics.median(c for _, c in ref)
    print(f"{title}, median of {runs} interleaved runs (load average {os.getloadavg()[0]:.1f})")
    print(f"  reprotasks checksum  wall {wall[0]:6.2f} s   cpu {cpu[0]:6.2f} s")
    print(f"  {theirs[0] if not shell else 'xargs openssl':<19} wall {wall[1]:6.2f} s   cpu {cpu[1]:6.2f} s")
    print(f"  ratio                wall {wall[0] / wall[1]:6.2f}     cpu {cpu[0] / cpu[1]:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=("small", "big", "both"), default="both")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    if args.shape in ("small", "both"):
        with tempfile.TemporaryDirectory(prefix="reprotasks-bench-") as scratch:
            make_files(Path(scratch) / "dist", 10_000, 10 * 1024)
            xargs = ["ls | xargs", f"-P{cores}", "-n 1000", "openssl dgst -sha256"]
            compare("checksum of 10,000 files of 10 KiB", Path(scratch), xargs, args.runs, shell=True)
    if args.shape in ("big", "both"):
        with tempfile.TemporaryDirectory(prefix="reprotasks-bench-") as scratch:
            make_files(Path(scratch) / "dist", 64, 16 << 20)
            names = sorted(path.name for path in (Path(scratch) / "dist").iterdir())
            xargs = ["ls | xargs", f"-P{cores}", "-n 32", "openssl dgst -sha256"]
            compare("checksum of 1 GiB in 64 files", Path(scratch), xargs, args.runs, shell=True)
            compare("checksum of 1 GiB in 64 files", Path(scratch), ["sha256sum", *names], args.runs, shell=False)


if __name__ == "__main__":
    main()
