"""publish: push each image by digest to its `repository`, then tag it with the version (never moving a tag)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from reprotasks.step import Context, StepResult, StepSpec, flag
from reprotasks.steps import SUMMARIES


@dataclass(frozen=True, kw_only=True)
class PublishOptions:
    no_tag: bool = flag("--no-tag", help="push by digest only; leave the version tag alone")
    sign: bool = flag(
        "--sign",
        help="sign each image digest with Sigstore (keyless, [tool.reprotasks.sign]) and push the bundle as an OCI "
        "referrer of the image (`verify-signatures --image REF` checks it)",
    )


def run(ctx: Context, options: PublishOptions) -> StepResult:
    from reprotasks.image.publish import ImageSigner, publish

    signer: ImageSigner | None = None
    if options.sign:
        from reprotasks.signing.images import ReferrerSigner

        signer = ReferrerSigner(ctx.config.sign, os.environ)
    return StepResult.of(publish(ctx.config, ctx.dist, runner=ctx.runner, tag=not options.no_tag, signer=signer))


def plan(ctx: Context, options: PublishOptions) -> list[str]:
    targets = [image.repository for image in ctx.config.images if image.repository]
    where = ", ".join(str(target) for target in targets) or "no image has a `repository`"
    flags = (" --no-tag" if options.no_tag else "") + (" --sign" if options.sign else "")
    return [f"reprotasks publish{flags}  # -> {where}"]


SPEC = StepSpec(
    name="publish",
    summary=(SUMMARIES["publish"]),
    options=PublishOptions,
    run=run,
    plan=plan,
    writes=lambda _options: False,
)
