"""A tiny on-disk memo of checks that passed, keyed by a digest of all their inputs."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from reprotasks._files import write_atomic


def cache_dir() -> Path:
    configured = os.environ.get("REPROTASKS_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reprotasks"


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
