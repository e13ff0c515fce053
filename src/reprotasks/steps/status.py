"""status: which release each environment holds, after checking the whole ledger."""

from __future__ import annotations

from dataclasses import dataclass

from reprotasks.step import Context, StepResult, StepSpec
from reprotasks.steps import SUMMARIES
from reprotasks.steps._signing import SignerPolicyOptions


@dataclass(frozen=True, kw_only=True)
class StatusOptions(SignerPolicyOptions):
    pass


def run(ctx: Context, options: StatusOptions) -> StepResult:
    from reprotasks.promote.core import status_rows

    return StepResult.of(status_rows(ctx.config, ctx.runner))


def plan(ctx: Context, options: StatusOptions) -> list[str]:
    return ["reprotasks status  # what each environment holds (ledger chain and VSAs verified)"]


SPEC = StepSpec(
    name="status",
    summary=SUMMARIES["status"],
    options=StatusOptions,
    run=run,
    plan=plan,
)
