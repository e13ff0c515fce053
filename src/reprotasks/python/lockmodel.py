"""What a lock says, whatever its format: its pins and the lines that are not reproducible pins."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pin:
    name: str  # canonical name
    version: str
    line: int
    hashes: tuple[str, ...]


@dataclass(frozen=True)
class LockProblem:
    line: int
    problem: str
    fix: str


@dataclass(frozen=True)
class ParsedLock:
    pins: tuple[Pin, ...]
    problems: tuple[LockProblem, ...]

    def versions(self) -> dict[str, str]:
        return {pin.name: pin.version for pin in self.pins}
