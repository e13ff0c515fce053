"""The release runner: the steps it is given, each with its defaults, in a staging directory
beside dist/ that replaces dist/ only when every step passed.

The stage starts as a hard-linked copy of dist/ (an unchanged build is reused with
``--trust-cache``); the staged config records dist/ itself, so artifacts, manifest and provenance
are the bytes the individual steps write. A failure (or Ctrl-C) anywhere leaves dist/ as it was.

The runner knows no registry: the app layer passes the pipeline (``registry.release_pipeline()``)
and what ``--skip`` leaves out. ``run_step`` runs one step; the runner is a loop over them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reprotasks._report import ReleaseReport, StepOutcome
from reprotasks.errors import ReprotasksError, from_os_error
from reprotasks.step import Context, Outcome, Skip, StepSpec

Pipeline = tuple[StepSpec[Any], ...]


class _Failed(Exception):
    """Leaves the staged block without replacing dist/."""


def run_step(spec: StepSpec[Any], ctx: Context) -> StepOutcome:
    """Run one step with its defaults in ``ctx`` (writing into ``ctx.dist.path``): how long it
    took, what it wrote there, and its error (a failed outcome) or reason to skip."""
    started = time.monotonic()
    before = _snapshot(ctx.dist.path)
    ctx.log(f"release: {spec.name}")
    try:
        result = spec.run(ctx, spec.defaults())
        if result.error is not None:
            raise result.error
    except Skip as skip:
        return StepOutcome(spec.name, Outcome.SKIPPED, detail=skip.reason)
    except (ReprotasksError, OSError) as error:
        failure = error if isinstance(error, ReprotasksError) else from_os_error(spec.name, error)
        return StepOutcome(spec.name, Outcome.FAILED, time.monotonic() - started, error=failure)
    after = _snapshot(ctx.dist.path)
    changed = tuple(sorted(name for name, key in after.items() if before.get(name) != key))
    return StepOutcome(spec.name, Outcome.OK, time.monotonic() - started, changed)


def plan_step(spec: StepSpec[Any], ctx: Context) -> tuple[StepOutcome, list[str]]:
    """What one step would run (``release --dry-run``), or why it would skip itself."""
    try:
        return StepOutcome(spec.name, Outcome.PLANNED), spec.plan(ctx, spec.defaults())
    except Skip as skip:
        return StepOutcome(spec.name, Outcome.SKIPPED, detail=skip.reason), []


def run_release(
    ctx: Context,
    pipeline: Pipeline,
    skipped: Mapping[str, str],
    *,
    dry_run: bool,
    trust_cache: bool,
    token: str | None,
) -> ReleaseReport:
    """Run (or with ``dry_run`` plan) ``pipeline`` but the ``skipped`` steps (name -> why). A
    failing step ends up in the report (after the stage is removed), for the adapter to raise
    once the report is shown. Ctrl-C/SIGTERM is re-raised (so the project guard unwinds as for
    any step); the report is then in ``ctx.report`` for the adapter to show first."""
    config = ctx.config
    report = ReleaseReport(ctx.dist.rel(), dry_run=dry_run)
    ctx.report = report
    _refuse_to_start(ctx, skipped, dry_run=dry_run)
    if dry_run:
        planning = Context(
            config=config, dist=ctx.dist, runner=ctx.runner, log=ctx.log, trust_cache=trust_cache, identity_token=token
        )
        for spec in pipeline:
            if spec.name in skipped:
                report.outcomes.append(StepOutcome(spec.name, Outcome.SKIPPED, detail=skipped[spec.name]))
                continue
            outcome, commands = plan_step(spec, planning)
            report.outcomes.append(outcome)
            if outcome.outcome is Outcome.PLANNED:
                report.plan.append((spec.name, commands))
        return report
    from reprotasks.artifacts.stage import staged

    try:
        with staged(ctx.dist.path, "release", everything=True) as stage:
            # Caches never vouch for a release unless asked: verify re-resolves, build starts from scratch.
            inner = Context(
                config=config,
                dist=ctx.dist.staged(stage),
                runner=ctx.runner,
                log=ctx.log,
                trust_cache=trust_cache,
                identity_token=token,
            )
            _run_all(report, pipeline, skipped, inner)
            if report.error is not None:
                raise _Failed
    except _Failed:
        pass
    return report


def _refuse_to_start(ctx: Context, skipped: Mapping[str, str], *, dry_run: bool) -> None:
    from reprotasks.artifacts import source

    config = ctx.config
    dist = ctx.dist.path
    if "image" in skipped and config.images:
        raise ReprotasksError(
            "release --skip image: [[tool.reprotasks.images]] is configured, and sbom and provenance describe a "
            "dist/ with its images",
            hint="run the release with its images, or remove the [[tool.reprotasks.images]] entries first",
        )
    if not dry_run:  # first: a dist-dir of tracked files or source is never advised away below
        source.refuse_tracked_outputs(
            source.describe_source(config.root, runner=ctx.runner), config.rel(dist), runner=ctx.runner
        )
    if dist.is_symlink() or (dist.exists() and not dist.is_dir()):
        raise ReprotasksError(
            f"{config.rel(dist)} is not a directory", hint="remove it or point `dist-dir` somewhere else"
        )


def _run_all(report: ReleaseReport, pipeline: Pipeline, skipped: Mapping[str, str], ctx: Context) -> None:
    """Each step in turn; after a failure the rest are not run (the first error is the report's)."""
    running: tuple[str, float] | None = None  # the step running, since when
    try:
        for spec in pipeline:
            if spec.name in skipped:
                report.outcomes.append(StepOutcome(spec.name, Outcome.SKIPPED, detail=skipped[spec.name]))
            elif report.error is not None:
                report.outcomes.append(StepOutcome(spec.name, Outcome.NOT_RUN))
            else:
                running = (spec.name, time.monotonic())
                outcome = run_step(spec, ctx)
                report.outcomes.append(outcome)
                report.error = outcome.error
                running = None
    except KeyboardInterrupt:
        # Wherever it struck (in a step, or between two): the step running failed, the rest did not run.
        if running is not None and running[0] not in {item.step for item in report.outcomes}:
            report.outcomes.append(StepOutcome(running[0], Outcome.FAILED, time.monotonic() - running[1]))
        _not_run_after(report, pipeline, skipped)
        raise


def _not_run_after(report: ReleaseReport, pipeline: Pipeline, skipped: Mapping[str, str]) -> None:
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
