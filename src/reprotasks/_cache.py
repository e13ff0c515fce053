"""A tiny on-disk memo of checks that passed, keyed by a digest of all their inputs."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from reprotasks._files import write_atomic
from reprotasks.errors import ReprotasksError


def tools_dir() -> Path:
    """Where tools reprotasks builds itself (nFPM) are kept, by name and version: shared by every
    project and by `reproduce`'s rebuild (like Go's module cache), never part of the results cache."""
    configured = os.environ.get("REPROTASKS_TOOLS_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reprotasks-tools"


def cache_dir() -> Path:
    configured = os.environ.get("REPROTASKS_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reprotasks"


def unwritable(directory: Path) -> str | None:
    """Why ``directory`` cannot hold a cache (created if missing), or None when it can."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".reprotasks-probe-"):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def not_writable_error(directory: Path, reason: str, *, step: str, what: str) -> ReprotasksError:
    """The one message for a cache directory that cannot be written (never reported as drift)."""
    return ReprotasksError(
        f"{step}: {directory}: cache directory {cache_dir()} is not writable ({reason}), so {what} cannot be kept",
        hint="check its permissions and the free space, or set REPROTASKS_CACHE_DIR (or XDG_CACHE_HOME) to a "
        "writable directory",
    )


def resolver_cache(backend: str) -> Path:
    """Where pip-tools or uv keep their cache, by their own rules (their variable, then XDG_CACHE_HOME)."""
    variable = "PIP_TOOLS_CACHE_DIR" if backend == "pip-tools" else "UV_CACHE_DIR"
    configured = os.environ.get(variable)
    if configured:
        return Path(configured)
    if backend == "pip-tools":
        try:
            from piptools.locations import CACHE_DIR
        except ImportError:  # pragma: no cover - pip-tools is a dependency
            pass
        else:
            return Path(CACHE_DIR)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / ("pip-tools" if backend == "pip-tools" else "uv")


def digest(parts: Any) -> str:
    """Stable digest of JSON-able ``parts``."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def remembered(namespace: str, key: str) -> bool:
    return (cache_dir() / namespace / key).is_file()


def remember(namespace: str, key: str) -> None:
    store(namespace, key, "ok")


def store(namespace: str, key: str, value: str) -> None:
    """Keep ``value`` under ``key``; best effort: a read-only or full cache directory must never fail a step."""
    target = cache_dir() / namespace / key
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, value.encode() + b"\n")
    except OSError:
        pass


def load(namespace: str, key: str) -> str | None:
    try:
        return (cache_dir() / namespace / key).read_text(encoding="utf-8").strip() or None
    except (OSError, UnicodeDecodeError):
        return None
