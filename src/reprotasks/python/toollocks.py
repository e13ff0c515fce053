"""Locks that another Python tool keeps: ``uv.lock``, ``poetry.lock``, ``pdm.lock``.

They are not rewritten by reprotasks; ``verify`` asks their own tool whether they still match
pyproject.toml (``uv lock --check``, ``poetry check --lock``, ``pdm lock --check``) and the
SBOM lists the packages they pin, with their hashes.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from reprotasks._run import Runner, excerpt
from reprotasks.config import TOOL_LOCKS, Config
from reprotasks.errors import Finding, ReprotasksError
from reprotasks.python.resolve import find_uv, resolver_args

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]


@dataclass(frozen=True)
class ToolLock:
    path: Path
    tool: str  # uv | poetry | pdm
    check: tuple[str, ...]  # the tool's own freshness check, after the tool's name
    relock: str  # the command that rewrites it


_CHECKS = {
    "uv.lock": ("uv", ("lock", "--check"), "uv lock"),
    "poetry.lock": ("poetry", ("check", "--lock"), "poetry lock"),
    "pdm.lock": ("pdm", ("lock", "--check"), "pdm lock"),
}


_UNREACHABLE = (
    "error sending request",
    "dns error",
    "Failed to fetch",
    "Connection refused",
    "Network is unreachable",
    "Max retries exceeded",
)


@dataclass(frozen=True)
class LockedPackage:
    name: str  # canonical
    version: str
    hashes: tuple[str, ...]  # sha256 hex digests


def tool_locks(config: Config) -> list[ToolLock]:
    """The tool locks beside the Python project's pyproject.toml."""
    directory = config.python.project or config.root
    if config.pyproject is None:
        return []
    return [ToolLock(directory / name, *_CHECKS[name]) for name in TOOL_LOCKS if (directory / name).is_file()]


def freshness_findings(config: Config, lock: ToolLock, *, runner: Runner) -> list[Finding]:
    """The tool's own verdict on whether ``lock`` still matches pyproject.toml."""
    shown = config.rel(lock.path)
    if lock.tool == "uv":
        binary = find_uv(runner)
        extra = resolver_args(config)  # the same indexes the other locks resolve from
    else:
        binary = runner.which(lock.tool)
        extra = []
    if binary is None:
        return [
            Finding(
                shown,
                None,
                f"cannot be checked: `{lock.tool}` is not installed, and only it can tell whether {lock.path.name} "
                "still matches pyproject.toml",
                f"install {lock.tool} (e.g. `pipx install {lock.tool}`) where verify runs, or set "
                "`check-tool-locks = false` under [tool.reprotasks.python] to leave it unchecked",
            )
        ]
    result = runner.run(
        [binary, *lock.check, *extra],
        cwd=lock.path.parent,
        check=False,
        purpose=f"check {shown} with {lock.tool}",
        quiet=True,
    )
    if result.returncode == 0:
        return []
    output = (result.stdout + result.stderr).strip()
    if any(sign in output for sign in _UNREACHABLE):
        # An index that cannot be reached says nothing about the lock: an error, not drift.
        raise ReprotasksError(
            f"`{lock.tool} {' '.join(lock.check)}` could not reach the package index to check {shown}",
            details=excerpt(output),
            hint="check the network and the index settings (index-url, find-links, no-index), then verify again",
        )
    return [
        Finding(
            shown,
            None,
            f"does not match pyproject.toml (`{lock.tool} {' '.join(lock.check)}` failed)",
            f"run `{lock.relock}` and commit {lock.path.name}",
            excerpt(output) if output else "",
        )
    ]


def locked_packages(lock: ToolLock) -> list[LockedPackage]:
    """Every package ``lock`` pins from an index (the project itself and path/git sources left out).
    ``lock`` must be a regular file (never followed as a symlink) holding TOML; anything else is an
    error naming it, never an empty list."""
    shown = lock.path.name
    if lock.path.is_symlink() or not lock.path.is_file():
        raise ReprotasksError(
            f"{shown} is not a regular file (a symlink is never followed)",
            hint=f"commit the real {shown} written by {lock.tool}, or remove it",
        )
    try:
        document = tomllib.loads(lock.path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ReprotasksError(
            f"{shown} cannot be read as a {lock.tool} lock ({exc})", hint=f"run `{lock.relock}` and commit it"
        ) from None
    entries = document.get("package", [])
    packages: list[LockedPackage] = []
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        version = entry.get("version")
        source = entry.get("source")
        if not isinstance(version, str) or (isinstance(source, dict) and _local_source(source)):
            continue
        packages.append(LockedPackage(canonicalize_name(entry["name"]), version, tuple(sorted(_hashes(entry)))))
    return packages


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _local_source(source: dict[str, Any]) -> bool:
    """A uv source that is the project itself or a path (no index release to list)."""
    return any(key in source for key in ("editable", "virtual", "path", "directory"))


def _hashes(entry: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    files = [item for item in _list(entry.get("files")) if isinstance(item, dict)]  # poetry, pdm
    files += [entry["sdist"]] if isinstance(entry.get("sdist"), dict) else []  # uv
    files += [item for item in _list(entry.get("wheels")) if isinstance(item, dict)]  # uv
    for item in files:
        digest = item.get("hash") if isinstance(item, dict) else None
        if isinstance(digest, str) and digest.startswith("sha256:"):
            found.add(digest.removeprefix("sha256:"))
    return found
