"""provenance: dist/provenance.intoto.json, SLSA provenance v1 over SHA256SUMS' entries."""

from __future__ import annotations

from reprotasks.step import Context, NoOptions, StepResult, StepSpec
from reprotasks.steps import SUMMARIES


def run(ctx: Context, options: NoOptions) -> StepResult:
    from reprotasks.artifacts.provenance import provenance
    from reprotasks.artifacts.source import refuse_source_dist
    from reprotasks.steps._derived import derivations

    refuse_source_dist(ctx.dist, runner=ctx.runner, step="provenance")
    return StepResult.of(
        provenance(ctx.config, ctx.dist, derived=derivations(), runner=ctx.runner, trust_cache=ctx.trust_cache)
    )


def plan(ctx: Context, options: NoOptions) -> list[str]:
    return [f"reprotasks provenance  # -> {ctx.dist.rel()}/provenance.intoto.json"]


SPEC = StepSpec(
    name="provenance",
    summary=(SUMMARIES["provenance"]),
    options=NoOptions,
    run=run,
    plan=plan,
    writes=lambda _options: True,
)
