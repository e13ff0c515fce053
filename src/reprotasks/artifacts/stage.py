"""The one way a step replaces dist/: build the new content in a staging directory beside it,
then swap it in (journaled, so a kill leaves the old or the new dist/, never neither)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from reprotasks import _journal
from reprotasks.errors import ReprotasksError


def replace_directory(stage: Path, dist: Path) -> None:
    """Put the staged outputs in place of ``dist``; a journal makes it all-or-nothing across a kill."""
    if dist.is_symlink() or (dist.exists() and not dist.is_dir()):
        raise ReprotasksError(f"{dist} is not a directory", hint="remove it or point `dist-dir` somewhere else")
    _journal.replace_directory(stage, dist)


@contextlib.contextmanager
def staged(dist: Path, kind: str, *, keep: Iterable[str] | None = None, everything: bool = False) -> Iterator[Path]:
    """A staging directory ``.<dist>-<kind>-*`` that replaces ``dist`` when the block ends without
    an error, and is removed either way. It starts with hard links to ``dist``'s files named in
    ``keep`` (or all of them with ``everything``): steps write atomically, never in place, so
    sharing inodes with dist/ is safe."""
    dist.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{dist.name}-{kind}-", dir=dist.parent))
    try:
        if everything and dist.is_dir():
            shutil.copytree(dist, stage, symlinks=True, copy_function=_link_or_copy, dirs_exist_ok=True)
        for name in keep or ():
            _link_or_copy(str(dist / name), str(stage / name))
        yield stage
        stage.chmod(0o755)  # mkdtemp made it 0700; dist/ is meant to be world-readable
        replace_directory(stage, dist)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination, follow_symlinks=False)
    except OSError:  # another file system, or no hard links: a copy of the same bytes
        shutil.copy2(source, destination, follow_symlinks=False)
