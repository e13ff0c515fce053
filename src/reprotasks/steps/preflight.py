"""preflight: before promote or rollback in a workflow, refuse an unguarded last environment."""

from __future__ import annotations

import os
from dataclasses import dataclass

from reprotasks.step import Context, StepResult, StepSpec, param
from reprotasks.steps import SUMMARIES


@dataclass(frozen=True, kw_only=True)
class PreflightOptions:
    to: str | None = param("--to", metavar="ENV", help="the environment a promotion or rollback enters (required)")


def run(ctx: Context, options: PreflightOptions) -> StepResult:
    from reprotasks._annotations import annotation
    from reprotasks.errors import ReprotasksError
    from reprotasks.promote.github import preflight

    promote = ctx.config.promote
    if not options.to or options.to not in promote.environments:
        raise ReprotasksError(
            f"preflight needs --to ENV, one of {', '.join(promote.environments)}",
            hint="e.g. `reprotasks preflight --to prod` (the environments are `promote.environments`)",
        )
    rules = promote.rules_for(options.to)
    promoters = ", ".join(signer.describe() for signer in rules.signers()) if rules.promoters else None
    rows, warning = preflight(promote.environments, options.to, promoters, dict(os.environ))
    if warning:
        ctx.runner.log(f"warning: {warning}")
        if os.environ.get("GITHUB_ACTIONS") == "true":
            print(annotation("warning", warning), flush=True)
    return StepResult(table=tuple(rows))


def plan(ctx: Context, options: PreflightOptions) -> list[str]:
    return [f"reprotasks preflight --to {options.to}  # who may enter it: promoters or required reviewers"]


SPEC = StepSpec(
    name="preflight",
    summary=SUMMARIES["preflight"],
    options=PreflightOptions,
    run=run,
    plan=plan,
)
