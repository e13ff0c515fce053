"""reproduce: rebuild elsewhere under varied conditions and prove every artifact is byte-identical."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reprotasks.step import Context, StepResult, StepSpec, param
from reprotasks.steps import SUMMARIES


@dataclass(frozen=True, kw_only=True)
class ReproduceOptions:
    ref: str | None = param("--ref", metavar="TAG", help="rebuild this tag (or commit) instead of HEAD")
    sums: Path | None = param(
        "--sums",
        metavar="FILE",
        path=True,
        help="with --ref: the release's published SHA256SUMS to compare the rebuild with",
    )


def run(ctx: Context, options: ReproduceOptions) -> StepResult:
    from reprotasks.artifacts.reproduce import reproduce

    return StepResult.of(reproduce(ctx.config, ctx.dist, runner=ctx.runner, ref=options.ref, sums=options.sums))


def plan(ctx: Context, options: ReproduceOptions) -> list[str]:
    what = options.ref or "HEAD"
    against = ctx.config.rel(options.sums) if options.sums else f"{ctx.dist.rel()}/"
    return [f"reprotasks reproduce  # rebuild {what} elsewhere, compare with {against}"]


SPEC = StepSpec(
    name="reproduce",
    summary=(SUMMARIES["reproduce"]),
    options=ReproduceOptions,
    run=run,
    plan=plan,
)
