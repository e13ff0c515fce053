"""verify-promotion: the deploy job's one-liner: is this artifact what ENV holds, by an unbroken, signed record?"""

from __future__ import annotations

from dataclasses import dataclass

from reprotasks.step import Context, StepResult, StepSpec, flag, param
from reprotasks.steps import SUMMARIES
from reprotasks.steps._signing import SignerPolicyOptions


@dataclass(frozen=True, kw_only=True)
class VerifyPromotionOptions(SignerPolicyOptions):
    environment: str | None = param(metavar="ENV", required=True, help="the environment being deployed")
    artifact: str | None = param(
        metavar="ARTIFACT",
        required=True,
        help="the artifact file being deployed, its sha256:HEX digest, or an image REPO@sha256:HEX",
    )
    require_anchor: bool = flag(
        "--require-anchor",
        help="refuse a ledger that git does not vouch for: not in git, in a shallow clone, or with entries not "
        "committed at HEAD (a deploy gate should always pass it)",
    )


def run(ctx: Context, options: VerifyPromotionOptions) -> StepResult:
    from reprotasks.errors import ReprotasksError
    from reprotasks.promote.core import verify_promotion

    if not options.environment or not options.artifact:
        raise ReprotasksError(
            "verify-promotion needs ENV and ARTIFACT", hint="e.g. `reprotasks verify-promotion prod dist/app.whl`"
        )
    return StepResult.of(
        verify_promotion(
            ctx.config,
            options.environment,
            options.artifact,
            runner=ctx.runner,
            require_anchor=options.require_anchor,
        )
    )


def plan(ctx: Context, options: VerifyPromotionOptions) -> list[str]:
    anchor = " --require-anchor" if options.require_anchor else ""
    return [f"reprotasks verify-promotion{anchor} {options.environment} {options.artifact}"]


SPEC = StepSpec(
    name="verify-promotion",
    summary=(SUMMARIES["verify-promotion"]),
    options=VerifyPromotionOptions,
    run=run,
    plan=plan,
)
