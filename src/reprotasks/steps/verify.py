"""verify: the drift gate (stale or unhashed locks, untidy go.mod/go.sum, unpinned toolchains, audit)."""

from __future__ import annotations

from dataclasses import dataclass

from reprotasks.step import Context, StepResult, StepSpec, flag
from reprotasks.steps import SUMMARIES


@dataclass(frozen=True, kw_only=True)
class VerifyOptions:
    no_cache: bool = flag(
        "--no-cache", help="re-resolve every lock even if its inputs are unchanged since the last passing verify"
    )


def run(ctx: Context, options: VerifyOptions) -> StepResult:
    from reprotasks.inputs.verify import verify

    # Inside a release, dist/ is being rebuilt: its old signatures are not checked.
    checked = verify(
        ctx.config,
        runner=ctx.runner,
        use_cache=ctx.trust_cache and not options.no_cache,
        dist=None if ctx.dist.is_staged else ctx.dist,
    )
    return StepResult.of(checked)


def plan(ctx: Context, options: VerifyOptions) -> list[str]:
    return ["reprotasks verify  # locks fresh + hashed, go.mod/go.sum tidy, toolchains pinned"]


SPEC = StepSpec(
    name="verify",
    summary=SUMMARIES["verify"],
    options=VerifyOptions,
    run=run,
    plan=plan,
)
