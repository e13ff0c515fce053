"""Benchmark: `reprotasks audit` on a generated git repository of 5,000 files.

Targets: a re-audit of the unchanged tree (per-file results reused) under 0.6 s, also while the
machine is busy; a first audit (`--no-cache`) reported beside it.

The mix: 2,000 files the audit skips by name (sources, data), and 3,000 it reads: 600 each of
Dockerfiles, workflows, shell scripts, Makefiles and extension-less files (half with a shell
shebang), each with a few pinned and unpinned commands. Timed as whole commands (interpreter
start-up included), after one untimed warm-up run, interleaved round by round (cold, warm and,
when it is installed, zizmor on the same 600 workflows) so that a busy machine slows all alike.
With `--repo DIR` (a clone of a real repository, e.g. uv or prometheus), the same three commands
run there instead, interleaved, each reported with wall and CPU seconds (the children's user +
system time) and as a ratio to zizmor; a cold run has an empty cache directory and --no-cache.
Targets: the unchanged tree under 0.3 s; a cold audit at most 1.5x zizmor.
Usage: python bench/audit.py [--files 5000] [--runs 5] [--repo DIR]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))  # _timing, beside this script
from _timing import timed

DOCKERFILE = (
    "FROM python:3.12-slim\nRUN pip install --require-hashes -r r.txt && \\\n    apt-get install -y curl=8.5.0\n"
)
WORKFLOW = (
    "name: ci\non: [push]\npermissions:\n  contents: read\njobs:\n  t:\n    runs-on: ubuntu-24.04\n    steps:\n"
    "      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1\n"
    "      - run: |\n          go install example.com/x@v1.2.3\n          pip install tox\n"
)
SCRIPT = "#!/bin/sh\nset -e\nV=v1.0.0\ngo install example.com/t@$V\ncurl -fsSL https://x | sh\n"
MAKEFILE = "all:\n\tpip install --require-hashes -r r.txt\n\tgo install example.com/y@latest\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repo", type=Path, help="audit this repository instead of a generated one")
    args = parser.parse_args()
    if args.repo is not None:
        bench_repository(args.repo.resolve(), args.runs)
        return
    with tempfile.TemporaryDirectory(prefix="reprotasks-bench-") as scratch:
        root = Path(scratch) / "repo"
        root.mkdir()
        (root / "pyproject.toml").write_text('[project]\nname = "bench"\nversion = "0"\n')
        skipped = args.files * 2 // 5
        per_kind = (args.files - skipped) // 5
        for index in range(skipped):
            target = root / "src" / f"pkg{index % 50}" / f"module{index}.py"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("print('pip install is just a string here')\n" * 20)
        for index in range(per_kind):
            directory = root / "services" / f"s{index}"
            (directory / ".github" / "workflows").mkdir(parents=True)
            (directory / "Dockerfile").write_text(DOCKERFILE)
            (directory / ".github" / "workflows" / "ci.yml").write_text(WORKFLOW)
            (directory / "install.sh").write_text(SCRIPT)
            (directory / "Makefile").write_text(MAKEFILE)
            (directory / "run").write_text(SCRIPT if index % 2 else "plain text, no shebang\n")
        subprocess.run(["git", "init", "-q"], cwd=root, check=True)
        subprocess.run(["git", "add", "-A"], cwd=root, check=True)
        count = int(subprocess.run(["git", "ls-files"], cwd=root, check=True, capture_output=True).stdout.count(b"\n"))
        bin_dir = Path(sys.executable).parent
        commands = {
            "reprotasks audit (unchanged tree)": [str(bin_dir / "reprotasks"), "audit"],
            "reprotasks audit --no-cache": [str(bin_dir / "reprotasks"), "audit", "--no-cache"],
        }
        zizmor = bin_dir / "zizmor"
        if zizmor.exists():
            commands["zizmor --offline (workflows only)"] = [str(zizmor), "--offline", "--no-progress", "."]
        # Byte-code caching as an installed package has it (pip compiles at install time).
        env = {**os.environ, "REPROTASKS_CACHE_DIR": str(Path(scratch) / "cache")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run(commands["reprotasks audit (unchanged tree)"], cwd=root, env=env, capture_output=True)
        times: dict[str, list[float]] = {name: [] for name in commands}
        summary = ""
        for _ in range(args.runs):
            for name, command in commands.items():
                started = time.perf_counter()
                result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=False)
                times[name].append(time.perf_counter() - started)
                if name.startswith("reprotasks"):
                    summary = result.stdout.strip().splitlines()[-1]
        print(f"{count} files in the repository; {summary}")
        for name, measured in times.items():
            print(f"{name}: median {statistics.median(measured):.2f}s, max {max(measured):.2f}s over {args.runs} runs")
        print(f"cpus: {os.cpu_count()}, load average at the end: {os.getloadavg()[0]:.2f}")


def _timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the child, the audit's summary line)."""
    wall, cpu, result = timed(command, cwd, env)
    lines = (result.stdout + result.stderr).strip().splitlines()
    return wall, cpu, next((line for line in reversed(lines) if line.startswith("audit:")), lines[-1] if lines else "")


def bench_repository(root: Path, runs: int) -> None:
    bin_dir = Path(sys.executable).parent
    reprotasks = str(bin_dir / "reprotasks")
    zizmor = str(bin_dir / "zizmor")
    with tempfile.TemporaryDirectory(prefix="reprotasks-bench-") as scratch:
        warm_cache, cold_cache = Path(scratch) / "warm", Path(scratch) / "cold"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        commands = {
            "zizmor --offline": ([zizmor, "--offline", "--no-progress", "."], env),
            "reprotasks audit --no-cache (cold)": (
                [reprotasks, "audit", "--no-cache"],
                {**env, "REPROTASKS_CACHE_DIR": str(cold_cache)},
            ),
            "reprotasks audit (unchanged tree)": (
                [reprotasks, "audit"],
                {**env, "REPROTASKS_CACHE_DIR": str(warm_cache)},
            ),
        }
        _timed(commands["reprotasks audit (unchanged tree)"][0], root, commands["reprotasks audit (unchanged tree)"][1])
        walls: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        summary = ""
        for _ in range(runs):
            for name, (command, command_env) in commands.items():
                if "cold" in name:
                    shutil.rmtree(cold_cache, ignore_errors=True)
                wall, cpu, last = _timed(command, root, command_env)
                walls[name].append(wall)
                cpus[name].append(cpu)
                summary = last if name.startswith("reprotasks") else summary
        print(f"{root.name}: {summary}")
        base_wall = statistics.median(walls["zizmor --offline"])
        base_cpu = statistics.median(cpus["zizmor --offline"])
        for name in commands:
            wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
            print(
                f"  {name}: median {wall:.3f}s wall ({wall / base_wall:.2f}x zizmor), "
                f"{cpu:.3f} CPU-s ({cpu / base_cpu:.2f}x), over {runs} runs"
            )
        print(f"  cpus: {os.cpu_count()}, load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
