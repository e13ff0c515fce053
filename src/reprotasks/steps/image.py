"""image: OCI images of the Go services, from the build's archives, as dist/NAME_VERSION.oci.tar."""

from __future__ import annotations

from reprotasks.step import Context, NoOptions, Skip, StepResult, StepSpec
from reprotasks.steps import SUMMARIES

_NONE = "no [[tool.reprotasks.images]] configured"


def run(ctx: Context, options: NoOptions) -> StepResult:
    from reprotasks.artifacts.source import refuse_source_dist
    from reprotasks.image.build import build_images
    from reprotasks.steps._derived import derivations

    if ctx.config.images:
        refuse_source_dist(ctx.dist, runner=ctx.runner, step="image")
    made = build_images(ctx.config, ctx.dist, runner=ctx.runner, derived=derivations(), trust_cache=ctx.trust_cache)
    if not ctx.config.images and not made.removed:  # no image before, none now
        raise Skip(_NONE)
    return StepResult.of(made)


def plan(ctx: Context, options: NoOptions) -> list[str]:
    if not ctx.config.images:
        raise Skip(_NONE)
    dist = ctx.dist.rel()
    names = ", ".join(image.name for image in ctx.config.images)
    return [f"reprotasks image  # {names} -> {dist}/NAME_VERSION.oci.tar, recorded in {dist}/manifest.json"]


SPEC = StepSpec(
    name="image",
    summary=(SUMMARIES["image"]),
    options=NoOptions,
    run=run,
    plan=plan,
    writes=lambda _options: True,
)
