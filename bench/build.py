"""Benchmark: `reprotasks build` of examples/hybrid vs the same raw commands, and the no-op rebuild.

(a) `reprotasks build --force` (clean clone, sdist + wheel, 4 Go platforms, archives, manifest)
    against the same work done by the raw commands: a clean clone, `python -m build
    --no-isolation` in the same locked build environment and `go build` with the same flags for
    each platform, all at once, then an archive per binary and the sha256 of every output.
    Target: ratio <= 1.10.
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
    """The same work as `reprotasks build --force`, without reprotasks: a clean clone of the commit,
    `python -m build` and one `go build` per platform all at once (reprotasks runs them in
    parallel), an archive per binary (tar + gzip -n, zip on windows) and the sha256 of every output."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1706933106", "CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly"}
    started = time.perf_counter()
    clone = out / "src"
    subprocess.run(["git", "clone", "--quiet", "--shared", str(project), str(clone)], check=True)
    jobs = [
        subprocess.Popen(
            [str(python), "-m", "build", "--no-isolation", "--outdir", str(out / "python"), "."],
            cwd=clone,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    for platform in PLATFORMS:
        goos, goarch = platform.split("/")
        binary = "worker.exe" if goos == "windows" else "worker"
        jobs.append(
            subprocess.Popen(
                [
                    "go",
                    "build",
                    "-trimpath",
                    "-buildvcs=false",
                    "-ldflags=-buildid= -X main.version=0.3.0",
                    "-o",
                    str(out / f"{goos}_{goarch}" / binary),
                    "./cmd/worker",
                ],
                cwd=clone / "go",
                env={**env, "GOOS": goos, "GOARCH": goarch},
            )
        )
    for job in jobs:
        if job.wait() != 0:
            raise SystemExit(f"raw build failed: {job.args!r}")
    archives = []
    for platform in PLATFORMS:
        goos, goarch = platform.split("/")
        folder = out / f"{goos}_{goarch}"
        if goos == "windows":
            archive = out / f"worker_0.3.0_{goos}_{goarch}.zip"
            subprocess.run(["zip", "-q", "-X", str(archive), "worker.exe"], cwd=folder, check=True)
        else:
            archive = out / f"worker_0.3.0_{goos}_{goarch}.tar.gz"
            with archive.open("wb") as sink:
                tar = subprocess.Popen(["tar", "-c", "--sort=name", "worker"], cwd=folder, stdout=subprocess.PIPE)
                subprocess.run(["gzip", "-n"], stdin=tar.stdout, stdout=sink, check=True)
                tar.wait()
        archives.append(archive)
    outputs = [*archives, *sorted((out / "python").iterdir())]
    subprocess.run(["sha256sum", *map(str, outputs)], check=True, stdout=subprocess.DEVNULL)
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
