"""What every front end (CLI, nox, invoke) shares: run a registered step, print what it reports.

No nox or invoke import here: the adapters build the step's options (``reprotasks._frontend``)
and map ``ReprotasksError`` onto their own error reporting.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from reprotasks import registry
from reprotasks._distdir import DistDir
from reprotasks._guard import Places, guarded
from reprotasks._report import ReleaseReport, print_release, print_summary
from reprotasks._run import Runner
from reprotasks.config import Config, load_config
from reprotasks.errors import from_os_error
from reprotasks.step import CommandSpec, Context, PipelineSpec, Skip, StepResult, StepSpec, config_overrides


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_step(
    name: str,
    options: object | None = None,
    *,
    root: Path | str = ".",
    overrides: Mapping[str, Any] | None = None,
    overrides_source: str = "overrides",
    log: Callable[[str], None] = _stderr,
) -> StepResult:
    """Run one step (its default options unless given) and print its summary, output or report;
    raises ReprotasksError on failure. Option overrides of config keys win over ``overrides``."""
    spec = registry.get(name)
    if options is None:
        options = spec.defaults()
    elif not isinstance(options, spec.options):
        raise TypeError(f"{name} takes {spec.options.__name__}, not {type(options).__name__}")
    merged = _merge(overrides or {}, config_overrides(options))
    config = load_config(root, overrides=merged or None, overrides_source=overrides_source)
    dist = DistDir.of(config.dist_dir, config.root)
    context = Context(config=config, dist=dist, runner=Runner(config.root, log=log), log=log)
    started = time.monotonic()
    try:
        with guarded(places_of(config), exclusive=spec.writes(options), log=log):
            result = _execute(spec, context, options)
    except OSError as exc:
        raise from_os_error(name, exc) from None
    except KeyboardInterrupt:
        if isinstance(context.report, ReleaseReport):  # how far it got, before the exit
            print_release(context.report)
        raise
    if result.output:
        sys.stdout.write(result.output)
    if isinstance(result.report, ReleaseReport):
        print_release(result.report)
    if result.error is not None:
        if spec.table and result.table:  # what it found, then why it fails (drill's per-release table)
            print_summary(name, result.rows(), time.monotonic() - started)
        raise result.error
    if spec.table:
        print_summary(name, result.rows(), time.monotonic() - started)
    return result


def _execute(spec: CommandSpec[Any], context: Context, options: Any) -> StepResult:
    """A step's run (a step with nothing to do reports why), or the release runner for a pipeline."""
    if isinstance(spec, PipelineSpec):
        from reprotasks._pipeline import run_release

        report = run_release(
            context,
            registry.release_pipeline(),
            registry.skipped_steps(options.skip),
            dry_run=options.dry_run,
            trust_cache=options.trust_cache,
            token=options.identity_token,
        )
        return StepResult(report=report, error=report.error)
    assert isinstance(spec, StepSpec)
    try:
        return spec.run(context, options)
    except Skip as skip:
        return StepResult(table=(("skipped", skip.reason),))


def _merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for table, values in top.items():
        below = merged.get(table)
        merged[table] = {**below, **values} if isinstance(below, Mapping) else dict(values)
    return merged


def places_of(config: Config) -> Places:
    """Where this project's steps write: the lock and the recovery of killed runs cover these."""
    return Places(
        root=config.root,
        dist=config.dist_dir,
        go_modules=config.go.modules,
        lock_dirs=tuple(sorted({lock.output.parent for lock in config.python.all_locks})),
    )
