"""verify-release: the consumer side, a downloaded release directory verified end to end."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reprotasks.step import Context, StepResult, StepSpec, param
from reprotasks.steps import SUMMARIES
from reprotasks.steps._signing import SignerPolicyOptions


@dataclass(frozen=True, kw_only=True)
class VerifyReleaseOptions(SignerPolicyOptions):
    directory: Path | None = param(metavar="DIR", path=True, required=True, help="the downloaded release directory")


def run(ctx: Context, options: VerifyReleaseOptions) -> StepResult:
    from reprotasks.signing import verify

    config = ctx.config
    directory = options.directory or ctx.dist.path
    sign = config.sign
    report = verify.verify_release(directory, sign, offline=sign.offline, shown_dir=ctx.dist.rel(directory))
    return StepResult(table=tuple(verify.raise_findings(report, "verify-release")))


def plan(ctx: Context, options: VerifyReleaseOptions) -> list[str]:
    directory = options.directory or ctx.dist.path
    return [f"reprotasks verify-release {ctx.config.rel(directory)}  # checksums, signatures, provenance subjects"]


SPEC = StepSpec(
    name="verify-release",
    summary=(SUMMARIES["verify-release"]),
    options=VerifyReleaseOptions,
    run=run,
    plan=plan,
)
