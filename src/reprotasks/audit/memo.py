"""Per-file audit results kept between runs, keyed by the file's content digest and the rules' version.

One JSON file per project in the reprotasks cache directory (``audit/<digest of the project path>.json``).
An entry is reused only when the file's bytes, its kind and the rules (the audit's own source and
the YAML parser's version) are all unchanged, and every ``pip install -r FILE`` lock it consulted
still answers the same (a lock that lost its hashes changes the finding without touching the file).
A missing, corrupt or foreign cache is ignored; writing it is best effort and atomic.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprotasks import _cache
from reprotasks._files import write_atomic

Raw = tuple[int, int, str, str, str]  # line, col, rule, detail, snippet: what a finding is rebuilt from


@dataclass
class Entry:
    kind: str
    digest: str
    was_read: bool
    raws: list[Raw]
    locks: dict[str, bool] = field(default_factory=dict)  # `-r NAME` -> was it a hashed lock

    def as_json(self) -> list[Any]:
        return [self.kind, self.digest, self.was_read, [list(raw) for raw in self.raws], self.locks]


@functools.cache
def rules_version() -> str:
    """Changes whenever the audit's code or the YAML parser does (so a development tree never reuses
    results of older rules; a released version's sources are fixed)."""
    import yaml

    from reprotasks import __version__

    digest = hashlib.sha256(f"{__version__}\0{yaml.__version__}\0".encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()


def content_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _store(root: Path) -> Path:
    return _cache.cache_dir() / "audit" / f"{hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:32]}.json"


def load(root: Path) -> dict[str, Entry]:
    try:
        data = json.loads(_store(root).read_bytes())
        if data.get("rules") != rules_version():
            return {}
        return {
            str(relative): Entry(str(kind), str(digest), bool(was_read), [tuple(raw) for raw in raws], dict(locks))
            for relative, (kind, digest, was_read, raws, locks) in data["files"].items()
        }
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}  # no cache yet, or one this version cannot read: audit everything


def save(root: Path, entries: Mapping[str, Entry]) -> None:
    data = {"rules": rules_version(), "files": {relative: entry.as_json() for relative, entry in entries.items()}}
    target = _store(root)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, json.dumps(data, separators=(",", ":")).encode())
    except OSError:
        pass  # a read-only or full cache directory never fails the audit


def still_valid(entry: Entry, digest: str, is_hashed_lock: Callable[[str], bool]) -> bool:
    """The file has the bytes the entry was made from, and every lock it consulted answers the same."""
    return entry.digest == digest and all(is_hashed_lock(name) == answer for name, answer in entry.locks.items())
