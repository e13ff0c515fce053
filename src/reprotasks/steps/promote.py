"""promote: move a verified release into the next environment, signed (VSA) and recorded in the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reprotasks.step import Context, StepResult, StepSpec, param
from reprotasks.steps import SUMMARIES
from reprotasks.steps._signing import SignerPolicyOptions, identity_token


@dataclass(frozen=True, kw_only=True)
class PromoteOptions(SignerPolicyOptions):
    version: str | None = param(metavar="VERSION", required=True, help="the release's version (as its manifest says)")
    to: str | None = param("--to", metavar="ENV", help="the environment it enters (required)")
    release_dir: Path | None = param(
        "--release",
        metavar="DIR",
        path=True,
        help="the release directory to promote (default: dist/); a downloaded release works as well",
    )
    identity_token: str | None = identity_token()


def run(ctx: Context, options: PromoteOptions) -> StepResult:
    import os

    from reprotasks.errors import ReprotasksError
    from reprotasks.promote.core import Signing, promote

    if not options.version or not options.to:
        raise ReprotasksError("promote needs VERSION and --to ENV", hint="e.g. `reprotasks promote 1.2.0 --to staging`")
    outcome = promote(
        ctx.config,
        options.version,
        options.to,
        release_dir=options.release_dir or ctx.dist.path,
        signing=Signing(token=options.identity_token or ctx.identity_token, environ=os.environ),
        runner=ctx.runner,
        log=ctx.runner.log,
    )
    return StepResult.of(outcome)


def plan(ctx: Context, options: PromoteOptions) -> list[str]:
    directory = ctx.dist.rel(options.release_dir or ctx.dist.path)
    return [f"reprotasks promote {options.version} --to {options.to} --release {directory}  # checks, VSA, ledger"]


SPEC = StepSpec(
    name="promote",
    summary=(SUMMARIES["promote"]),
    options=PromoteOptions,
    run=run,
    plan=plan,
    writes=lambda _options: True,
)
