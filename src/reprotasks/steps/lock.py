"""lock: every lock input becomes a hashed lock; the Go module graph is tidied and downloaded."""

from __future__ import annotations

from dataclasses import dataclass

from reprotasks.step import Context, StepResult, StepSpec, flag, many, param
from reprotasks.steps import SUMMARIES


@dataclass(frozen=True, kw_only=True)
class LockOptions:
    upgrade: bool = flag("--upgrade", help="re-resolve every package to its newest allowed version")
    upgrade_packages: tuple[str, ...] = many(
        "--upgrade-package", "-P", metavar="NAME", help="upgrade only NAME (repeatable); other pins are kept"
    )
    backend: str | None = param(
        "--backend",
        choices=("pip-tools", "uv"),
        config="python.lock-backend",
        help="resolver for this run (default: python.lock-backend)",
    )
    python_only: bool = flag("--python-only", group="only", help="lock only the Python requirements")
    go_only: bool = flag("--go-only", group="only", help="only tidy and download the Go module")


def run(ctx: Context, options: LockOptions) -> StepResult:
    from reprotasks.inputs.lock import lock

    locked = lock(
        ctx.config,
        runner=ctx.runner,
        upgrade=options.upgrade,
        upgrade_packages=options.upgrade_packages,
        python=not options.go_only,
        go=not options.python_only,
    )
    return StepResult.of(locked)


def plan(ctx: Context, options: LockOptions) -> list[str]:
    locks = [ctx.config.rel(spec.output) for spec in ctx.config.python.locks] if not options.go_only else []
    modules = ctx.config.go.modules if not options.python_only else ()
    planned = [f"reprotasks lock  # -> {lock}" for lock in locks]
    for module in modules:
        planned.append(f"go mod tidy && go mod download  # in {ctx.config.rel(module)}")
    return planned


SPEC = StepSpec(
    name="lock",
    summary=SUMMARIES["lock"],
    options=LockOptions,
    run=run,
    plan=plan,
    writes=lambda _options: True,
)
