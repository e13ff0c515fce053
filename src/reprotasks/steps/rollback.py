"""rollback: point an environment back at a release it held before, signed and recorded like a promotion."""

from __future__ import annotations

from dataclasses import dataclass

from reprotasks.step import Context, StepResult, StepSpec, param
from reprotasks.steps import SUMMARIES
from reprotasks.steps._signing import SignerPolicyOptions, identity_token


@dataclass(frozen=True, kw_only=True)
class RollbackOptions(SignerPolicyOptions):
    to: str | None = param("--to", metavar="ENV", help="the environment to roll back (required)")
    version: str | None = param(
        metavar="VERSION", help="the release to go back to (default: the one the environment held before)"
    )
    identity_token: str | None = identity_token()


def run(ctx: Context, options: RollbackOptions) -> StepResult:
    import os

    from reprotasks.errors import ReprotasksError
    from reprotasks.promote.core import Signing, rollback

    if not options.to:
        raise ReprotasksError("rollback needs --to ENV", hint="e.g. `reprotasks rollback --to prod`")
    outcome = rollback(
        ctx.config,
        options.to,
        options.version,
        signing=Signing(token=options.identity_token or ctx.identity_token, environ=os.environ),
        runner=ctx.runner,
        log=ctx.runner.log,
    )
    return StepResult.of(outcome)


def plan(ctx: Context, options: RollbackOptions) -> list[str]:
    return [f"reprotasks rollback --to {options.to} {options.version or ''}".rstrip() + "  # signed, recorded"]


SPEC = StepSpec(
    name="rollback",
    summary=(SUMMARIES["rollback"]),
    options=RollbackOptions,
    run=run,
    plan=plan,
    writes=lambda _options: True,
)
