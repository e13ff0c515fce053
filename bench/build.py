"""Benchmark: `reprotasks build` of examples/hybrid vs the same raw commands, and the no-op rebuild.

(a) `reprotasks build --force` (clean clone, sdist + wheel, 4 Go platforms, archives, manifest)
    against the raw commands it wraps, run directly in the project: `python -m build
    --no-isolation` in the same locked build environment and `go build` with the same flags for
    each platform. Target: ratio <= 1.10.
(b) `reprotasks build` when nothing changed (digests of dist/ checked, nothing rebuilt).

Both sides get one untimed warm-up, so the Go build cache and the build environment are warm
for both; then the two sides alternate round by round (a machine's load hits both alike), and
each reports the median wall time and CPU time (its processes' user + system).
Usage: python bench/build.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PLATFORMS = ("linux/amd64", "linux/arm64", "darwin/arm64", "windows/amd64")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def timed(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def with_cpu(run: object, *args: object) -> tuple[float, float]:
    """(wall, CPU of the child processes) of ``run(*args)``, which returns its wall time."""
    before = children_cpu()
    wall = run(*args)  # type: ignore[operator]
    return wall, children_cpu() - before


def raw_build(project: Path, python: Path, out: Path) -> float:
    """The commands reprotasks runs, without reprotasks: python -m build, then go build per platform."""
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1706933106", "CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly"}
    started = time.perf_counter()
    subprocess.run(
        [str(python), "-m", "build", "--no-isolation", "--outdir", str(out), "."],
        cwd=project,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    for platform in PLATFORMS:
        goos, goarch = platform.split("/")
        subprocess.run(
            [
                "go",
                "build",
                "-trimpath",
                "-buildvcs=false",
                "-ldflags=-buildid= -X main.version=0.3.0",
                "-o",
                str(out / f"{goos}_{goarch}" / "worker"),
                "./cmd/worker",
            ],
            cwd=project / "go",
            env={**env, "GOOS": goos, "GOARCH": goarch},
            check=True,
        )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reprotasks-bench-") as scratch:
        project = Path(scratch) / "hybrid"
        shutil.copytree(REPO / "examples" / "hybrid", project, ignore=shutil.ignore_patterns("dist", ".nox"))
        git_env = {**os.environ, **GIT_ENV}
        for command in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "bench"]):
            subprocess.run(command, cwd=project, env=git_env, check=True)
        env = {**os.environ, "REPROTASKS_CACHE_DIR": str(Path(scratch) / "cache")}
        ours = [sys.executable, "-m", "reprotasks", "build", "--force"]
        timed(ours, project, env)  # warm-up: creates the build environment, fills the Go cache
        (python,) = (Path(scratch) / "cache" / "build-env").glob("[!.]*/venv/bin/python")
        raw_out = Path(scratch) / "raw-dist"
        raw_build(project, python, raw_out)
        rounds = [
            (with_cpu(timed, ours, project, env), with_cpu(raw_build, project, python, raw_out))
            for _ in range(args.runs)
        ]
        mine = statistics.median(ours_run[0] for ours_run, _raw in rounds)
        mine_cpu = statistics.median(ours_run[1] for ours_run, _raw in rounds)
        raw = statistics.median(raw_run[0] for _ours, raw_run in rounds)
        raw_cpu = statistics.median(raw_run[1] for _ours, raw_run in rounds)
        noop_argv = [sys.executable, "-m", "reprotasks", "build"]
        noop = statistics.median(timed(noop_argv, project, env) for _ in range(max(args.runs, 5)))
        print(
            f"examples/hybrid: sdist + wheel + {len(PLATFORMS)} Go platforms, median of {args.runs} interleaved "
            f"rounds (load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs)"
        )
        print(f"  reprotasks build --force  {mine:6.2f} s wall  {mine_cpu:6.2f} s CPU")
        print(f"  raw commands              {raw:6.2f} s wall  {raw_cpu:6.2f} s CPU")
        print(f"  ratio                     {mine / raw:6.2f} wall  {mine_cpu / raw_cpu:6.2f} CPU (target <= 1.10)")
        print(f"  no-op rebuild             {noop:6.2f} s (nothing changed: digests checked, outputs reused)")


if __name__ == "__main__":
    main()
