"""assemble: merge the dist/ of each CI matrix job into one dist/ (digests checked, one manifest)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reprotasks.step import Context, StepResult, StepSpec, many
from reprotasks.steps import SUMMARIES


@dataclass(frozen=True, kw_only=True)
class AssembleOptions:
    parts: tuple[Path, ...] = many(
        metavar="DIR",
        path=True,
        required=True,
        invoke="part",
        help="a build job's dist/ (one per platform, plus Python)",
    )


def run(ctx: Context, options: AssembleOptions) -> StepResult:
    from reprotasks.artifacts.assemble import assemble

    return StepResult.of(assemble(ctx.config, ctx.dist, options.parts, runner=ctx.runner))


def plan(ctx: Context, options: AssembleOptions) -> list[str]:
    parts = " ".join(ctx.config.rel(part) for part in options.parts)
    return [f"reprotasks assemble {parts}  # -> {ctx.dist.rel()}/"]


SPEC = StepSpec(
    name="assemble",
    summary=(SUMMARIES["assemble"]),
    options=AssembleOptions,
    run=run,
    plan=plan,
    writes=lambda _options: True,
)
