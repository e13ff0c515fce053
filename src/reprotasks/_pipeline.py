"""The release runner: the registry's pipeline, each step with its defaults, in a staging
directory beside dist/ that replaces dist/ only when every step passed.

The stage starts as a hard-linked copy of dist/ (an unchanged build is reused with
``--trust-cache``); the staged config records dist/ itself, so artifacts, manifest and provenance
are the bytes the individual steps write. A failure (or Ctrl-C) anywhere leaves dist/ as it was.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from reprotasks import registry
from reprotasks._report import ReleaseReport, StepOutcome
from reprotasks.errors import ReprotasksError, from_os_error
from reprotasks.step import Context, Outcome, StepSpec


class _Failed(Exception):
    """Leaves the staged block without replacing dist/."""


def run_release(
    ctx: Context, *, skip: tuple[str, ...], dry_run: bool, trust_cache: bool, token: str | None
) -> ReleaseReport:
    """Run (or with ``dry_run`` plan) the release. A failing step ends up in the report (after
    the stage is removed), for the adapter to raise once the report is shown. Ctrl-C/SIGTERM is
    re-raised (so the project guard unwinds as for any step); the report is then in
    ``ctx.report`` for the adapter to show first."""
    from reprotasks.artifacts import source
    from reprotasks.artifacts.stage import staged

    config = ctx.config
    dist = config.dist_dir
    report = ReleaseReport(config.rel(dist), dry_run=dry_run)
    ctx.report = report
    skipped = registry.skipped_steps(skip)
    pipeline = registry.release_pipeline()
    if not dry_run:  # first: a dist-dir of tracked files or source is never advised away below
        source.refuse_tracked_outputs(
            source.describe_source(config.root, runner=ctx.runner), report.dist, runner=ctx.runner
        )
    if dist.is_symlink() or (dist.exists() and not dist.is_dir()):
        raise ReprotasksError(
            f"{config.rel(dist)} is not a directory", hint="remove it or point `dist-dir` somewhere else"
        )
    if dry_run:
        planning = Context(config=config, runner=ctx.runner, log=ctx.log, trust_cache=trust_cache, identity_token=token)
        for spec in pipeline:
            if spec.name in skipped:
                report.outcomes.append(StepOutcome(spec.name, Outcome.SKIPPED, detail=skipped[spec.name]))
            else:
                report.plan.append((spec.name, spec.plan(planning, spec.defaults())))
                report.outcomes.append(StepOutcome(spec.name, Outcome.PLANNED))
        return report
    try:
        with staged(dist, "release", everything=True) as stage:
            # Caches never vouch for a release unless asked: verify re-resolves, build starts from scratch.
            inner = Context(
                config=config.staged(stage),
                runner=ctx.runner,
                log=ctx.log,
                staged=True,
                trust_cache=trust_cache,
                identity_token=token,
            )
            current: tuple[str, float] | None = None  # the step running, since when
            try:
                for spec in pipeline:
                    if spec.name in skipped:
                        report.outcomes.append(StepOutcome(spec.name, Outcome.SKIPPED, detail=skipped[spec.name]))
                        continue
                    if report.error is not None:
                        report.outcomes.append(StepOutcome(spec.name, Outcome.NOT_RUN))
                        continue
                    current = (spec.name, time.monotonic())
                    before = _snapshot(stage)
                    ctx.log(f"release: {spec.name}")
                    try:
                        result = spec.run(inner, spec.defaults())
                        if result.error is not None:
                            raise result.error
                    except (ReprotasksError, OSError) as error:
                        report.error = error if isinstance(error, ReprotasksError) else from_os_error(spec.name, error)
                        report.outcomes.append(StepOutcome(spec.name, Outcome.FAILED, time.monotonic() - current[1]))
                        current = None
                        continue
                    changed = tuple(sorted(name for name, key in _snapshot(stage).items() if before.get(name) != key))
                    report.outcomes.append(StepOutcome(spec.name, Outcome.OK, time.monotonic() - current[1], changed))
                    current = None
            except KeyboardInterrupt:
                # Wherever it struck (in a step, or between two): the step running failed, the rest did not run.
                if current is not None and current[0] not in {item.step for item in report.outcomes}:
                    report.outcomes.append(StepOutcome(current[0], Outcome.FAILED, time.monotonic() - current[1]))
                _not_run_after(report, pipeline, skipped)
                raise
            if report.error is not None:
                raise _Failed
    except _Failed:
        pass
    return report


def _not_run_after(report: ReleaseReport, pipeline: tuple[StepSpec[Any], ...], skipped: dict[str, str]) -> None:
    """Every step without an outcome yet: skipped (if asked) or not run."""
    done = {item.step for item in report.outcomes}
    for rest in [spec.name for spec in pipeline if spec.name not in done]:
        report.outcomes.append(
            StepOutcome(rest, Outcome.SKIPPED, detail=skipped[rest])
            if rest in skipped
            else StepOutcome(rest, Outcome.NOT_RUN)
        )


def _snapshot(directory: Path) -> dict[str, tuple[int, int, int]]:
    """name -> (inode, size, mtime): which files a step wrote (atomic writes make new inodes)."""
    snapshot = {}
    for entry in os.scandir(directory):
        if entry.is_file(follow_symlinks=False):
            stat = entry.stat(follow_symlinks=False)
            snapshot[entry.name] = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    return snapshot
