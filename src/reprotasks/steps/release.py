"""release: the pipeline of the registry, staged, so dist/ changes only when every step passed."""

from __future__ import annotations

from dataclasses import dataclass

from reprotasks.step import Context, StepResult, StepSpec, flag, many
from reprotasks.steps._signing import InstanceOptions, identity_token


def _pipeline_names() -> tuple[str, ...]:
    from reprotasks import registry

    return registry.release_names()


@dataclass(frozen=True, kw_only=True)
class ReleaseOptions(InstanceOptions):
    dry_run: bool = flag("--dry-run", help="print the plan (every step and command) and run nothing")
    skip: tuple[str, ...] = many(
        "--skip",
        metavar="STEP",
        choices=_pipeline_names,
        help="leave STEP out (repeatable), e.g. sign where no OIDC identity is at hand",
    )
    identity_token: str | None = identity_token()
    trust_cache: bool = flag(
        "--trust-cache",
        help="reuse cached results: verify's memo of fresh locks and an unchanged build in dist/ (by default a "
        "release re-resolves every lock and rebuilds from scratch)",
    )
    no_cache: bool = flag("--no-cache", help="the default for release (kept for old scripts)")


def run(ctx: Context, options: ReleaseOptions) -> StepResult:
    from reprotasks._pipeline import run_release

    if "image" in options.skip and ctx.config.images:
        from reprotasks.errors import ReprotasksError

        raise ReprotasksError(
            "release --skip image: [[tool.reprotasks.images]] is configured, and sbom and provenance describe a "
            "dist/ with its images",
            hint="run the release with its images, or remove the [[tool.reprotasks.images]] entries first",
        )

    report = run_release(
        ctx, skip=options.skip, dry_run=options.dry_run, trust_cache=options.trust_cache, token=options.identity_token
    )
    return StepResult(report=report, error=report.error)


def plan(ctx: Context, options: ReleaseOptions) -> list[str]:
    return [f"reprotasks {name}" for name in _pipeline_names() if name not in options.skip]


SPEC = StepSpec(
    name="release",
    summary=(
        "verify -> build -> image -> sbom -> checksum -> provenance -> sign -> verify-signatures, staged: dist/ is "
        "replaced "
        "only when every step succeeded; --dry-run shows the plan, --skip STEP leaves a step out."
    ),
    options=ReleaseOptions,
    run=run,
    plan=plan,
    writes=lambda options: not options.dry_run,
    table=False,
)
