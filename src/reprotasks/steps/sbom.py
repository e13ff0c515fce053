"""sbom: dist/sbom.cdx.json, CycloneDX 1.6, from the hashed locks, go.sum and the built binaries."""

from __future__ import annotations

from reprotasks.step import Context, NoOptions, StepResult, StepSpec
from reprotasks.steps import SUMMARIES


def run(ctx: Context, options: NoOptions) -> StepResult:
    from reprotasks.artifacts.sbom import sbom
    from reprotasks.artifacts.source import refuse_source_dist
    from reprotasks.steps._derived import derivations

    refuse_source_dist(ctx.dist, runner=ctx.runner, step="sbom")
    return StepResult.of(
        sbom(ctx.config, ctx.dist, derived=derivations(), runner=ctx.runner, trust_cache=ctx.trust_cache)
    )


def plan(ctx: Context, options: NoOptions) -> list[str]:
    return [f"reprotasks sbom  # -> {ctx.dist.rel()}/sbom.cdx.json"]


SPEC = StepSpec(
    name="sbom",
    summary=SUMMARIES["sbom"],
    options=NoOptions,
    run=run,
    plan=plan,
    writes=lambda _options: True,
)
