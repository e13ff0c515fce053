"""`hybrid plan FILE...` writes a TOML job plan; `hybrid run PLAN` hands it to the Go worker."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import click
import tomli_w
from packaging.version import Version

from hybrid_orchestrator import __version__


@click.group()
@click.version_option(__version__)
def main() -> None:
    """Orchestrate Linux automation jobs."""


@main.command()
@click.argument("targets", nargs=-1, required=True)
@click.option("--min-worker", default="0.3.0", help="Lowest worker version allowed to run the plan.")
def plan(targets: tuple[str, ...], min_worker: str) -> None:
    """Print a job plan (TOML) for TARGETS, in a stable order."""
    jobs = [{"target": target, "action": "sync"} for target in sorted(set(targets))]
    click.echo(tomli_w.dumps({"min-worker": str(Version(min_worker)), "jobs": jobs}), nl=False)


@main.command()
@click.argument("plan_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def run(plan_file: Path) -> None:
    """Run PLAN_FILE with the `worker` binary found on PATH."""
    worker = shutil.which("worker")
    if worker is None:
        sys.exit("worker binary not found on PATH; build it with `go build ./go/cmd/worker`")
    jobs = json.dumps({"plan": plan_file.read_text(encoding="utf-8")})
    subprocess.run([worker], input=jobs, text=True, check=True)
