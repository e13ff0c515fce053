"""init: wire a repository up ([tool.reprotasks], noxfile.py/tasks.py imports, the release workflow)."""

from __future__ import annotations

from dataclasses import dataclass

from reprotasks.step import Context, StepResult, StepSpec, flag, many
from reprotasks.steps import SUMMARIES


@dataclass(frozen=True, kw_only=True)
class InitOptions:
    force: bool = flag("--force", help="replace a workflow init wrote that differs from the template")
    no_nox: bool = flag("--no-nox", help="leave noxfile.py alone")
    no_invoke: bool = flag("--no-invoke", help="leave tasks.py alone")
    install_command: tuple[str, ...] = many(
        "--install-command",
        metavar="CMD",
        help="how the workflow installs reprotasks (repeatable; default: pip install --require-hashes from "
        "requirements-release.txt)",
    )


def run(ctx: Context, options: InitOptions) -> StepResult:
    from reprotasks.scaffold import init

    done = init(
        ctx.config.root,
        runner=ctx.runner,
        force=options.force,
        install=options.install_command,
        nox=not options.no_nox,
        invoke=not options.no_invoke,
    )
    return StepResult.of(done)


def plan(ctx: Context, options: InitOptions) -> list[str]:
    return ["reprotasks init  # [tool.reprotasks], noxfile.py/tasks.py imports, .github/workflows/release.yml"]


SPEC = StepSpec(
    name="init",
    summary=SUMMARIES["init"],
    description="Write [tool.reprotasks] into pyproject.toml (your formatting and comments kept), add the import "
    "line to noxfile.py and tasks.py (creating them if absent), and write .github/workflows/release.yml from the "
    "template. Idempotent: running it again changes nothing.",
    options=InitOptions,
    run=run,
    plan=plan,
    writes=lambda _options: True,
)
