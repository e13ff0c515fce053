"""build: sdist, wheel and Go archives from a clean copy of the last commit, plus dist/manifest.json."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reprotasks.step import Context, StepResult, StepSpec, flag, many, param
from reprotasks.steps import SUMMARIES


@dataclass(frozen=True, kw_only=True)
class BuildOptions:
    platforms: tuple[str, ...] = many(
        "--platform",
        metavar="OS/ARCH",
        help="build Go binaries only for this platform (repeatable; default: go.platforms), e.g. for CI matrices",
    )
    python_only: bool = flag("--python-only", group="only", help="build only the sdist and wheel")
    go_only: bool = flag("--go-only", group="only", help="build only the Go binaries")
    force: bool = flag("--force", help="rebuild even if the inputs are unchanged since the last build")
    from_manifest: Path | None = param(
        "--from-manifest",
        metavar="MANIFEST",
        path=True,
        help="when the commit has no build lock: install the build backend from the requirements this "
        "manifest.json recorded instead of resolving them again (what `reproduce` does)",
    )


def run(ctx: Context, options: BuildOptions) -> StepResult:
    from reprotasks.artifacts.build import build

    built = build(
        ctx.config,
        dist=ctx.dist,
        runner=ctx.runner,
        platforms=options.platforms,
        python=not options.go_only,
        go=not options.python_only,
        force=options.force or not ctx.trust_cache,
        from_manifest=options.from_manifest,
    )
    return StepResult.of(built)


def plan(ctx: Context, options: BuildOptions) -> list[str]:
    from reprotasks.artifacts.build import planned_commands

    reuse = ctx.trust_cache and not options.force
    return planned_commands(ctx.config, dist=ctx.dist, runner=ctx.runner, platforms=options.platforms, reuse=reuse)


SPEC = StepSpec(
    name="build",
    summary=(SUMMARIES["build"]),
    options=BuildOptions,
    run=run,
    plan=plan,
    writes=lambda _options: True,
)
