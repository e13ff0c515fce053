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
from reprotasks.errors import ReprotasksError
from reprotasks.step import Context, Outcome, StepSpec


class _Failed(Exception):
    """Leaves the staged block without replacing dist/."""


def run_release(
    ctx: Context, *, skip: tuple[str, ...], dry_run: bool, trust_cache: bool, token: str | None
) -> ReleaseReport:
    """Run (or with ``dry_run`` plan) the release. A failing step, or Ctrl-C, ends up in the
    report (after the stage is removed), for the adapter to raise once the report is shown."""
    from reprotasks.dist import source
    from reprotasks.dist.stage import staged

    config = ctx.config
    dist = config.dist_dir
    report = ReleaseReport(config.rel(dist), dry_run=dry_run)
    skipped = registry.skipped_steps(skip)
    pipeline = registry.release_pipeline()
    if dist.is_symlink() or (dist.exists() and not dist.is_dir()):
        raise ReprotasksError(
            f"{config.rel(dist)} is not a directory", hint="remove it or point `dist-dir` somewhere else"
        )
    if dry_run:
        for spec in pipeline:
            if spec.name in skipped:
                report.outcomes.append(StepOutcome(spec.name, Outcome.SKIPPED, detail=skipped[spec.name]))
            else:
                report.plan.append((spec.name, spec.plan(ctx, spec.defaults())))
                report.outcomes.append(StepOutcome(spec.name, Outcome.PLANNED))
        return report
    source.refuse_tracked_outputs(
        source.describe_source(config.root, runner=ctx.runner), report.dist, runner=ctx.runner
    )
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
            for spec in pipeline:
                if spec.name in skipped:
                    report.outcomes.append(StepOutcome(spec.name, Outcome.SKIPPED, detail=skipped[spec.name]))
                    continue
                if report.error is not None:
                    report.outcomes.append(StepOutcome(spec.name, Outcome.NOT_RUN))
                    continue
                before = _snapshot(stage)
                started = time.monotonic()
                ctx.log(f"release: {spec.name}")
                try:
                    result = spec.run(inner, spec.defaults())
                    if result.error is not None:
                        raise result.error
                except ReprotasksError as error:
                    report.error = error
                    report.outcomes.append(StepOutcome(spec.name, Outcome.FAILED, time.monotonic() - started))
                    continue
                except KeyboardInterrupt as stop:
                    report.interrupted = stop
                    report.outcomes.append(StepOutcome(spec.name, Outcome.FAILED, time.monotonic() - started))
                    _not_run_after(report, pipeline, spec.name, skipped)
                    raise _Failed from None
                changed = tuple(sorted(name for name, key in _snapshot(stage).items() if before.get(name) != key))
                report.outcomes.append(StepOutcome(spec.name, Outcome.OK, time.monotonic() - started, changed))
            if report.error is not None:
                raise _Failed
    except _Failed:
        pass
    return report


def _not_run_after(
    report: ReleaseReport, pipeline: tuple[StepSpec[Any], ...], failed: str, skipped: dict[str, str]
) -> None:
    names = [spec.name for spec in pipeline]
    for rest in names[names.index(failed) + 1 :]:
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
