"""What the user reads at the end of a step: the summary table, the release report, errors, and
the same as GitHub Actions job summary and ``::error`` annotations. Credentials are masked in all.

The job summary is written before stdout, so a closed stdout (``| head``) cannot cost it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from reprotasks._annotations import annotation
from reprotasks._run import mask
from reprotasks.errors import DriftError, ReprotasksError
from reprotasks.step import Outcome


@dataclass(frozen=True)
class StepOutcome:
    step: str
    outcome: Outcome
    seconds: float = 0.0
    artifacts: tuple[str, ...] = ()
    detail: str = ""  # why it was skipped
    error: ReprotasksError | None = field(default=None, compare=False)  # why it failed

    @property
    def result(self) -> str:
        return self.outcome.value


@dataclass
class ReleaseReport:
    dist: str
    dry_run: bool = False
    outcomes: list[StepOutcome] = field(default_factory=list)
    plan: list[tuple[str, list[str]]] = field(default_factory=list)  # --dry-run: step -> commands
    error: ReprotasksError | None = None  # the failing step's error, raised after the report is shown

    @property
    def succeeded(self) -> bool:
        """Every step passed (a release stopped before its first step has not succeeded)."""
        return bool(self.outcomes) and all(
            item.outcome in (Outcome.OK, Outcome.SKIPPED, Outcome.PLANNED) for item in self.outcomes
        )

    def table(self) -> list[tuple[str, str, str, str]]:
        """(step, result, time, artifacts) rows."""
        return [
            (
                item.step,
                item.result + (f" ({item.detail})" if item.detail else ""),
                f"{item.seconds:.1f}s" if item.outcome in (Outcome.OK, Outcome.FAILED) else "",
                ", ".join(item.artifacts),
            )
            for item in self.outcomes
        ]


def _job_summary(lines: list[str]) -> None:
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if os.environ.get("GITHUB_ACTIONS") == "true" and summary_file:
        with open(summary_file, "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n\n")


def print_summary(step: str, rows: list[tuple[str, str]], seconds: float) -> None:
    """A plain table on stdout, and the same in Markdown for the GitHub Actions job summary."""
    rows = [(mask(what), mask(outcome)) for what, outcome in rows]
    lines = [f"### reprotasks {step} ({seconds:.1f}s)", "", "| item | result |", "| --- | --- |"]
    _job_summary(lines + [f"| `{what}` | {outcome} |" for what, outcome in rows])
    width = max([len(what) for what, _ in rows] + [4])
    print(f"\n{step}: done in {seconds:.2f}s")
    for what, outcome in rows:
        print(f"  {what.ljust(width)}  {outcome}")


def print_release(report: ReleaseReport) -> None:
    """The release plan (--dry-run) or its summary table; in GitHub Actions also the job summary."""
    headers = ("step", "result", "time", "artifacts")
    rows = [tuple(mask(cell) for cell in row) for row in report.table()]
    verdict = "plan" if report.dry_run else ("done" if report.succeeded else f"FAILED, {report.dist}/ left unchanged")
    lines = [
        f"### reprotasks release: {verdict}",
        "",
        "| step | result | time | artifacts |",
        "| --- | --- | --- | --- |",
    ]
    _job_summary(
        lines + [f"| {step} | {result} | {seconds} | {artifacts} |" for step, result, seconds, artifacts in rows]
    )
    if report.dry_run:
        print(f"release plan (dry run: nothing is run; outputs are staged, then replace {report.dist}/):")
        for step, commands in report.plan:
            print(f"\n[{step}]")
            for command in commands:
                print(f"  {mask(command)}")
    widths = [max([len(headers[i]), *(len(row[i]) for row in rows)]) for i in range(3)]  # rows may be empty
    print(f"\nrelease: {verdict}")
    for row in (headers, *rows):
        print(("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3]).rstrip())


def report_error(error: ReprotasksError) -> None:
    """Print the error (no traceback) and, in GitHub Actions, one annotation per finding."""
    print(mask(error.render()), file=sys.stderr, flush=True)
    if os.environ.get("GITHUB_ACTIONS") != "true":
        return
    if isinstance(error, DriftError):
        for finding in error.findings:
            properties = {"file": mask(finding.path)} | ({"line": str(finding.line)} if finding.line else {})
            print(annotation("error", mask(f"{finding.problem} -- {finding.fix}"), properties), flush=True)
    else:
        print(annotation("error", mask(error.message)), flush=True)
