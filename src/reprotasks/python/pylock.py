"""Read a PEP 751 lock (``pylock.toml``) as the pins it installs here, and report what is not a
reproducible, hashed pin or does not fit the running Python.

A package is a pin when it comes from an index (an sdist and/or wheels, each with a sha256) at one
exact version. A package whose ``marker`` is false here is checked but not installed here, so it is
not among the pins (as an installer would skip it).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from reprotasks.python.lockmodel import LockProblem, ParsedLock, Pin

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

_RELOCK = "run `reprotasks lock` to regenerate the lock"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_NOT_FROM_AN_INDEX = ("vcs", "directory", "archive")


def parse_pylock_text(text: str) -> ParsedLock:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"line (\d+)", str(exc))
        return ParsedLock((), (LockProblem(int(where[1]) if where else 1, f"is not valid TOML ({exc})", _RELOCK),))
    problems = _document_problems(document)
    packages = document.get("packages", [])
    if not isinstance(packages, list) or not all(isinstance(package, dict) for package in packages):
        return ParsedLock((), (*problems, LockProblem(1, "`packages` is not an array of tables", _RELOCK)))
    lines = _package_lines(text)
    pins: list[Pin] = []
    for index, package in enumerate(packages):
        line = lines[index] if index < len(lines) else 1
        pin, package_problems = _package(package, line)
        problems += package_problems
        if pin is not None and _applies_here(package.get("marker")):
            pins.append(pin)
    return ParsedLock(tuple(pins), tuple(problems))


def _document_problems(document: Mapping[str, Any]) -> list[LockProblem]:
    problems = []
    version = document.get("lock-version")
    if not isinstance(version, str) or version.split(".")[0] != "1":
        problems.append(LockProblem(1, f"`lock-version` is {version!r}, not a PEP 751 version 1.x", _RELOCK))
    running = ".".join(str(part) for part in sys.version_info[:3])
    requires = document.get("requires-python")
    if requires is not None:
        try:
            admitted = SpecifierSet(str(requires)).contains(running, prereleases=True)
        except InvalidSpecifier:
            problems.append(LockProblem(1, f"`requires-python = {requires!r}` is not a version specifier", _RELOCK))
        else:
            if not admitted:
                problems.append(
                    LockProblem(
                        1,
                        f"`requires-python = {requires!r}` excludes the running Python {running}",
                        "lock with the Python the release is built with (.python-version), then " + _RELOCK,
                    )
                )
    environments = document.get("environments")
    if isinstance(environments, list) and environments and not any(_applies_here(item) for item in environments):
        problems.append(
            LockProblem(
                1,
                f"none of its `environments` ({'; '.join(map(str, environments))}) is this one",
                "lock for this platform and Python, then " + _RELOCK,
            )
        )
    return problems


def _package(package: Mapping[str, Any], line: int) -> tuple[Pin | None, list[LockProblem]]:
    name, version = package.get("name"), package.get("version")
    if not isinstance(name, str) or not name:
        return None, [LockProblem(line, "a package has no `name`", _RELOCK)]
    source = next((key for key in _NOT_FROM_AN_INDEX if key in package), None)
    if source is not None:
        fix = "depend on a released version from an index instead, then " + _RELOCK
        return None, [LockProblem(line, f"`{name}` comes from a {source}, not an index", fix)]
    if not isinstance(version, str) or not version:
        return None, [LockProblem(line, f"`{name}` has no exact `version`", "locks pin one version; " + _RELOCK)]
    artifacts = [package["sdist"]] if isinstance(package.get("sdist"), dict) else []
    wheels = package.get("wheels", [])
    artifacts += [wheel for wheel in wheels if isinstance(wheel, dict)] if isinstance(wheels, list) else []
    if not artifacts:
        return None, [LockProblem(line, f"`{name}=={version}` lists no sdist or wheel to install", _RELOCK)]
    hashes = []
    for artifact in artifacts:
        digests = artifact.get("hashes")
        digest = digests.get("sha256") if isinstance(digests, dict) else None
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            what = artifact.get("name") or artifact.get("url") or artifact.get("path") or "an artifact"
            fix = "every file needs a sha256 hash (64 hex digits); " + _RELOCK
            return None, [LockProblem(line, f"`{name}=={version}`: {what} has no sha256 hash", fix)]
        hashes.append(f"sha256:{digest}")
    return Pin(canonicalize_name(name), version, line, tuple(sorted(set(hashes)))), []


def _applies_here(marker: object) -> bool:
    """Whether a PEP 508 marker holds for the running interpreter (no marker: it does)."""
    if marker is None:
        return True
    try:
        return Marker(str(marker)).evaluate()
    except InvalidMarker:
        return True  # installed, so checked: an installer refuses the malformed marker itself


def _package_lines(text: str) -> list[int]:
    """The line of each ``[[packages]]`` table, in order (where messages point)."""
    return [number for number, line in enumerate(text.splitlines(), start=1) if line.strip() == "[[packages]]"]
