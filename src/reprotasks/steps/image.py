"""image: OCI images of the Go services, from the build's archives, as dist/NAME_VERSION.oci.tar."""

from __future__ import annotations

from reprotasks.step import Context, NoOptions, StepResult, StepSpec


def run(ctx: Context, options: NoOptions) -> StepResult:
    from reprotasks.artifacts.source import refuse_source_dist
    from reprotasks.image.build import build_images

    if ctx.config.images:
        refuse_source_dist(ctx.config, runner=ctx.runner, step="image")
    return StepResult.of(build_images(ctx.config, runner=ctx.runner))


def plan(ctx: Context, options: NoOptions) -> list[str]:
    if not ctx.config.images:
        return ["reprotasks image  # no [[tool.reprotasks.images]]: nothing to do"]
    dist = ctx.config.rel(ctx.config.dist_dir)
    names = ", ".join(image.name for image in ctx.config.images)
    return [f"reprotasks image  # {names} -> {dist}/NAME_VERSION.oci.tar, recorded in {dist}/manifest.json"]


SPEC = StepSpec(
    name="image",
    summary=(
        "Make an OCI image (multi-platform, bit-for-bit reproducible) of each [[tool.reprotasks.images]] entry "
        "from the built Go binaries, on scratch or a base pinned by digest: dist/NAME_VERSION.oci.tar."
    ),
    options=NoOptions,
    run=run,
    plan=plan,
    writes=lambda _options: True,
)
