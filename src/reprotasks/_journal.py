"""Replacements that take more than one rename (dist/, the go.mod + go.sum pair), made whole.

One rename is atomic; two are not. Before the first rename a journal is written beside the
targets; it names each target, the backup of its old content and the new content. A kill at
any instant leaves the journal behind, and ``recover`` (run before every step) puts the old
content back, or, when every new part was already in place, just finishes the clean-up. So
a reader only ever sees all-old or all-new.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reprotasks._files import fsync_directory, remove_path, write_atomic
from reprotasks._run import signals_deferred
from reprotasks.errors import ReprotasksError

JOURNAL_SUFFIX = ".reprotasks-journal"
_BACKUP_SUFFIX = ".reprotasks-old"
# Test-only fault injection: the name of a point below makes the process SIGKILL itself there.
FAULT_ENV = "REPROTASKS_FAULT"


@dataclass(frozen=True)
class _Entry:
    target: str  # names relative to the journal's directory: the journal survives a moved checkout
    new: str
    backup: str | None  # None: the target did not exist before


def journal_path(directory: Path, name: str) -> Path:
    """Where the journal for replacing ``directory/name`` (and its companions) lives."""
    return directory / f".{name}{JOURNAL_SUFFIX}"


def fault_point(name: str) -> None:
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def replace_directory(stage: Path, target: Path) -> None:
    """Put the directory ``stage`` in place of ``target`` (both in the same parent directory)."""
    _replace(journal_path(target.parent, target.name), [(stage, target)], fault="replace-directory")


def replace_files(pairs: Sequence[tuple[Path, Path]], *, journal: Path) -> None:
    """Move each ``new`` file over its ``target`` (all in ``journal``'s directory) as one change."""
    _replace(journal, pairs, fault="replace-files")


def _replace(journal: Path, pairs: Sequence[tuple[Path, Path]], *, fault: str) -> None:
    directory = journal.parent
    recover(journal)
    entries = []
    for new, target in pairs:
        if new.parent != directory or target.parent != directory:
            raise ValueError(f"{new} and {target} must be in {directory}")
        backup = f".{target.name}{_BACKUP_SUFFIX}" if _exists(target) else None
        entries.append(_Entry(target.name, new.name, backup))
    for entry in entries:
        if entry.backup is not None:
            remove_path(directory / entry.backup)  # a finished replacement's clean-up, cut short
    # Ctrl-C or SIGTERM waits until the renames are over; only SIGKILL (or a crash) needs the journal.
    with signals_deferred():
        write_atomic(journal, _encode(entries))
        try:
            for entry in entries:
                if entry.backup is not None:
                    _set_aside(directory / entry.target, directory / entry.backup)
            fsync_directory(directory)
            fault_point(f"{fault}:backed-up")
            for number, entry in enumerate(entries, start=1):
                os.replace(directory / entry.new, directory / entry.target)
                if number < len(entries):
                    fault_point(f"{fault}:moved-{number}")
            fsync_directory(directory)
        except OSError:
            recover(journal)  # put the old content back before reporting the error
            raise
        journal.unlink()
        fsync_directory(directory)
    for entry in entries:
        if entry.backup is not None:
            remove_path(directory / entry.backup)


def _set_aside(target: Path, backup: Path) -> None:
    """Keep the old content under ``backup``. A file stays in place too (a hard link), so only
    a directory is ever briefly missing, and the journal covers that instant."""
    if target.is_dir() and not target.is_symlink():
        target.rename(backup)
        return
    try:
        os.link(target, backup, follow_symlinks=False)
    except OSError:
        shutil.copy2(target, backup, follow_symlinks=False)


def recover(journal: Path) -> str | None:
    """Finish or undo an interrupted replacement; returns what was done, or None when nothing was pending."""
    try:
        data = journal.read_bytes()
    except FileNotFoundError:
        return None
    directory = journal.parent
    entries = _decode(journal, data)
    if all(not _exists(directory / e.new) and _exists(directory / e.target) for e in entries):
        outcome = "completed"  # every new part was moved in: only the clean-up was cut short
    else:
        outcome = "rolled back"
        for entry in entries:
            target, new = directory / entry.target, directory / entry.new
            if entry.backup is not None and _exists(directory / entry.backup):
                if target.is_dir() and not target.is_symlink():
                    remove_path(target)
                os.replace(directory / entry.backup, target)
            elif entry.backup is None and not _exists(new):
                remove_path(target)  # it was new and moved in; before, there was no such file
            remove_path(new)
    fsync_directory(directory)
    journal.unlink()
    for entry in entries:
        if entry.backup is not None:
            remove_path(directory / entry.backup)
    return outcome


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _encode(entries: Sequence[_Entry]) -> bytes:
    rows = [{"target": e.target, "new": e.new, "backup": e.backup} for e in entries]
    return json.dumps({"version": 1, "entries": rows}, indent=1).encode("utf-8") + b"\n"


def _decode(journal: Path, data: bytes) -> list[_Entry]:
    try:
        document = json.loads(data)
        rows = document["entries"]
        entries = [_Entry(row["target"], row["new"], row["backup"]) for row in rows]
        if document["version"] != 1 or not entries:
            raise ValueError("unknown version")
        for entry in entries:
            for name in (entry.target, entry.new, entry.backup):
                if name is not None and (not isinstance(name, str) or name in ("", ".", "..") or "/" in name):
                    raise ValueError(f"bad name {name!r}")
    except (ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise ReprotasksError(
            f"{journal} is not a reprotasks journal that can be replayed",
            hint="it records an interrupted replacement of the files beside it; check those files by hand "
            "(the old ones carry the suffix .reprotasks-old), then delete the journal",
        ) from None
    return entries
