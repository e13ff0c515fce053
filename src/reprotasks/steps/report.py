"""report: the promotion dashboard as one static HTML page (no server needed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reprotasks.step import Context, StepResult, StepSpec, param
from reprotasks.steps import SUMMARIES
from reprotasks.steps._signing import SignerPolicyOptions


@dataclass(frozen=True, kw_only=True)
class ReportOptions(SignerPolicyOptions):
    output: Path | None = param(
        "--output", metavar="FILE", path=True, help="where the page goes (default: the ledger directory's index.html)"
    )


def run(ctx: Context, options: ReportOptions) -> StepResult:
    from reprotasks.promote.core import write_report

    return StepResult.of(write_report(ctx.config, options.output, runner=ctx.runner))


def plan(ctx: Context, options: ReportOptions) -> list[str]:
    ledger = ctx.config.promote.ledger
    target = options.output or (ledger / "index.html" if ledger else Path("index.html"))
    return [f"reprotasks report --output {ctx.config.rel(target)}  # static dashboard of the verified ledger"]


SPEC = StepSpec(
    name="report",
    summary=(SUMMARIES["report"]),
    options=ReportOptions,
    run=run,
    plan=plan,
)
