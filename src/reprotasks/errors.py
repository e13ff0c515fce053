"""Errors that reach the user as one paragraph plus a hint, never as a traceback."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ReprotasksError(Exception):
    """Base error: ``message`` says what is wrong, ``hint`` says how to fix it."""

    exit_code: int = 2

    def __init__(self, message: str, *, hint: str = "", details: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details

    def render(self) -> str:
        """The full text shown to a user: message, captured details, then the fix."""
        parts = [f"error: {self.message}"]
        if self.details:
            parts.append(self.details.rstrip())
        if self.hint:
            parts.append(f"hint: {self.hint}")
        return "\n".join(parts)


class ConfigError(ReprotasksError):
    """``[tool.reprotasks]`` (or an override) is malformed or names an unknown key."""


class ToolMissingError(ReprotasksError):
    """A command reprotasks needs is not installed or not on PATH."""


class CommandFailedError(ReprotasksError):
    """A tool ran and exited non-zero."""

    exit_code = 1


@dataclass(frozen=True)
class Finding:
    """One drift found by a check: ``path:line: problem -- fix``."""

    path: str
    line: int | None
    problem: str
    fix: str
    details: str = ""  # e.g. why two builds differ; shown indented below the finding

    def render(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        text = f"{where}: {self.problem} -- {self.fix}"
        if self.details:
            text += "\n" + "\n".join(f"    {line}" for line in self.details.splitlines())
        return text


class DriftError(ReprotasksError):
    """A verification found drift; carries every finding, not just the first."""

    exit_code = 1

    def __init__(self, findings: Sequence[Finding], *, step: str = "verify") -> None:
        self.findings = tuple(findings)
        count = len(self.findings)
        noun = "problem" if count == 1 else "problems"
        super().__init__(
            f"{step} found {count} {noun}:\n" + "\n".join(f.render() for f in self.findings),
        )


def from_os_error(step: str, exc: OSError) -> ReprotasksError:
    """Disk full, permissions, a file vanishing under a step: which file, and never a traceback."""
    where = f"{exc.filename}: " if exc.filename else ""
    return ReprotasksError(
        f"{step}: {where}{exc.strerror or exc}",
        hint="check that path's permissions and the free space; outputs are written atomically, "
        "so nothing half-written was left",
    )
