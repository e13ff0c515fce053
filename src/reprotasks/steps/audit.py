"""audit: the pinning audit of Dockerfiles, workflows, scripts, Makefiles, go.mod and nox/invoke files."""

from __future__ import annotations

from dataclasses import dataclass

from reprotasks.step import Context, StepResult, StepSpec, flag, param
from reprotasks.steps import SUMMARIES


@dataclass(frozen=True, kw_only=True)
class AuditOptions:
    format: str = param(
        "--format",
        default="text",
        choices=("text", "json", "sarif"),
        help="text (file:line:col: RULE-ID message), json, or SARIF 2.1.0 for GitHub code scanning",
    )
    no_cache: bool = flag(
        "--no-cache", help="audit every file again, even those whose bytes and rules are unchanged since the last run"
    )


def run(ctx: Context, options: AuditOptions) -> StepResult:
    from reprotasks.audit.scan import as_findings, as_json, as_sarif, as_text, audit
    from reprotasks.errors import DriftError

    audited = audit(ctx.config, runner=ctx.runner, use_cache=ctx.trust_cache and not options.no_cache)
    render = {"json": as_json, "sarif": as_sarif}.get(options.format, as_text)
    findings = tuple(as_findings(audited))
    error = None
    if audited.errors:
        error = DriftError(as_findings(audited), step="audit")
        error.message = f"audit found {len(audited.errors)} error(s), listed above"
        error.hint = "pin each input as its message says, or accept it with a [[tool.reprotasks.audit.allow]] entry"
    summary = ("audit", audited.summary().removeprefix("audit: "))
    return StepResult(table=(summary,), findings=findings, output=render(audited), error=error)


def plan(ctx: Context, options: AuditOptions) -> list[str]:
    return [f"reprotasks audit --format {options.format}"]


SPEC = StepSpec(
    name="audit",
    summary=(SUMMARIES["audit"]),
    options=AuditOptions,
    run=run,
    plan=plan,
    table=False,
)
