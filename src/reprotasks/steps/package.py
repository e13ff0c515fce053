"""package: .deb and .rpm packages of the Go services, from the build's archives, into dist/."""

from __future__ import annotations

from reprotasks.step import Context, NoOptions, Skip, StepResult, StepSpec
from reprotasks.steps import SUMMARIES

_NONE = "no [[tool.reprotasks.packages]] configured"


def run(ctx: Context, options: NoOptions) -> StepResult:
    from reprotasks.artifacts.source import refuse_source_dist
    from reprotasks.packages.build import build_packages
    from reprotasks.steps._derived import derivations

    if ctx.config.packages:
        refuse_source_dist(ctx.dist, runner=ctx.runner, step="package")
    made = build_packages(ctx.config, ctx.dist, runner=ctx.runner, derived=derivations(), trust_cache=ctx.trust_cache)
    if not ctx.config.packages and not made.removed:
        raise Skip(_NONE)
    return StepResult.of(made)


def plan(ctx: Context, options: NoOptions) -> list[str]:
    if not ctx.config.packages:
        raise Skip(_NONE)
    names = ", ".join(package.name for package in ctx.config.packages)
    return [f"reprotasks package  # {names} -> {ctx.dist.rel()}/*.deb, *.rpm, recorded in manifest.json"]


SPEC = StepSpec(
    name="package",
    summary=SUMMARIES["package"],
    options=NoOptions,
    run=run,
    plan=plan,
    writes=lambda _options: True,
)
