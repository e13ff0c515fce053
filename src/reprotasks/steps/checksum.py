"""checksum: write dist/SHA256SUMS, or check dist/ against it."""

from __future__ import annotations

from dataclasses import dataclass

from reprotasks.step import Context, StepResult, StepSpec, flag
from reprotasks.steps import SUMMARIES


@dataclass(frozen=True, kw_only=True)
class ChecksumOptions:
    check: bool = flag(
        "--check", help="verify dist/ against its SHA256SUMS instead of writing it (never reads outside dist/)"
    )


def run(ctx: Context, options: ChecksumOptions) -> StepResult:
    from reprotasks.artifacts.checksum import check_checksums, write_checksums
    from reprotasks.artifacts.source import refuse_source_dist

    refuse_source_dist(ctx.dist, runner=ctx.runner, step="checksum --check" if options.check else "checksum")
    dist = ctx.dist.path
    act = check_checksums if options.check else write_checksums
    return StepResult.of(act(dist, shown_dist=ctx.dist.rel()))


def plan(ctx: Context, options: ChecksumOptions) -> list[str]:
    from reprotasks.artifacts.layout import SUMS_NAME

    dist = ctx.dist.rel()
    return [
        f"reprotasks checksum --check  # {dist}/ against {SUMS_NAME}"
        if options.check
        else f"reprotasks checksum  # -> {dist}/{SUMS_NAME}"
    ]


SPEC = StepSpec(
    name="checksum",
    summary=SUMMARIES["checksum"],
    options=ChecksumOptions,
    run=run,
    plan=plan,
    writes=lambda options: not options.check,
)
