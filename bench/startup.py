"""Benchmark: how long `reprotasks --help` takes, and what `import reprotasks.cli` imports.

The CLI builds a command's parser from the step registry; the step modules only declare their
specs, so no step's implementation (sigstore, cyclonedx, the build machinery) is imported until a
step runs, and the top-level help lists the commands without importing the registry at all.
Prints the median wall and CPU time of `python -m reprotasks --help` and of a bare
`python -c pass` (the interpreter's own start-up), the cumulative import time of
`reprotasks.cli` from `python -X importtime`, and fails if a heavy module was imported.
Usage: python bench/startup.py [--runs 20]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time

HEAVY = ("sigstore", "cyclonedx", "packaging", "tomlkit", "reprotasks.artifacts", "reprotasks.signing.sign")


def timed(argv: list[str], runs: int) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds: user + sys of the process) over ``runs`` runs."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    bare, bare_cpu = timed([sys.executable, "-c", "pass"], runs)
    help_, help_cpu = timed([sys.executable, "-m", "reprotasks", "--help"], runs)
    trace = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import reprotasks.cli"], check=True, capture_output=True, text=True
    ).stderr
    modules = {}
    for line in trace.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
            if cumulative.isdigit():
                modules[name] = int(cumulative)
    heavy = sorted(name for name in modules if name.startswith(HEAVY))
    print(f"python -c pass:          {bare * 1000:6.1f} ms wall, {bare_cpu * 1000:6.1f} ms CPU (median of {runs})")
    print(
        f"reprotasks --help:       {help_ * 1000:6.1f} ms wall, {help_cpu * 1000:6.1f} ms CPU (median of {runs}; "
        "target < 50 ms CPU)"
    )
    print(f"import reprotasks.cli:   {modules.get('reprotasks.cli', 0) / 1000:6.1f} ms cumulative (-X importtime)")
    if heavy:
        raise SystemExit(f"heavy modules imported by `import reprotasks.cli`: {', '.join(heavy)}")


if __name__ == "__main__":
    main()
