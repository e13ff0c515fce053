"""sign: keyless Sigstore bundles for SHA256SUMS (optionally every artifact) and the provenance."""

from __future__ import annotations

from dataclasses import dataclass

from reprotasks.step import Context, StepResult, StepSpec
from reprotasks.steps import SUMMARIES
from reprotasks.steps._signing import InstanceOptions, identity_token


@dataclass(frozen=True, kw_only=True)
class SignOptions(InstanceOptions):
    identity_token: str | None = identity_token()


def run(ctx: Context, options: SignOptions) -> StepResult:
    from reprotasks.artifacts.source import refuse_source_dist
    from reprotasks.signing.sign import sign

    refuse_source_dist(ctx.dist, runner=ctx.runner, step="sign")
    signed = sign(ctx.config.sign, ctx.dist, token=options.identity_token or ctx.identity_token, log=ctx.runner.log)
    if signed.policy is not None:
        ctx.signer_policy = signed.policy  # verify-signatures checks the identity that just signed
    return StepResult.of(signed)


def plan(ctx: Context, options: SignOptions) -> list[str]:
    return [f"reprotasks sign  # Sigstore keyless -> {ctx.dist.rel()}/*.sigstore.json"]


SPEC = StepSpec(
    name="sign",
    summary=(SUMMARIES["sign"]),
    options=SignOptions,
    run=run,
    plan=plan,
    writes=lambda _options: True,
)
