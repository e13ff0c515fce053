"""Make an sdist deterministic when its build backend did not.

hatchling, flit-core and poetry-core already write reproducible sdists; setuptools leaks
PAX mtimes, the user's name, file modes and the gzip time and file name, and pdm-backend the
gzip time. The check below accepts any archive whose headers carry nothing machine- or
time-dependent; anything else is re-packed with the same members and contents: sorted,
normalized headers, gzip mtime 0 and no file name.
"""

from __future__ import annotations

import gzip
import tarfile
from pathlib import Path

from reprotasks._files import atomic_path
from reprotasks.errors import ReprotasksError

_GZIP_NAME_FLAGS = 0x08 | 0x10 | 0x04  # FNAME, FCOMMENT, FEXTRA
_NEUTRAL_OWNER = ("", "root")
_KEPT_PAX = frozenset({"path", "linkpath"})
_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE)


def _normal_mode(info: tarfile.TarInfo) -> int:
    if info.isdir() or info.mode & 0o111:
        return 0o755
    return 0o644


def _gzip_header_is_neutral(path: Path, mtime: int) -> bool:
    with path.open("rb") as handle:
        header = handle.read(10)
    if len(header) < 10 or header[:2] != b"\x1f\x8b":
        raise ReprotasksError(f"{path.name} is not a gzip file", hint="check the build backend's output")
    stamped = int.from_bytes(header[4:8], "little")
    return not header[3] & _GZIP_NAME_FLAGS and stamped in (0, mtime)


def problems(path: Path, mtime: int) -> list[str]:
    """What in this sdist depends on the machine or the clock (empty: deterministic)."""
    found: list[str] = []
    if not _gzip_header_is_neutral(path, mtime):
        found.append("gzip header carries a time stamp or file name")
    with tarfile.open(path, "r:gz") as archive:
        for info in archive:
            if info.type not in _TYPES:
                raise ReprotasksError(
                    f"{path.name}: member {info.name!r} is a device, FIFO or other special file",
                    hint="an sdist must hold only files, directories and links; fix the project's sdist includes",
                )
            if info.mtime != mtime:
                found.append(f"{info.name}: mtime {info.mtime} instead of SOURCE_DATE_EPOCH {mtime}")
            if info.uid or info.gid or info.uname not in _NEUTRAL_OWNER or info.gname not in _NEUTRAL_OWNER:
                found.append(f"{info.name}: owner {info.uname or info.uid}:{info.gname or info.gid}")
            if info.mode != _normal_mode(info) and not info.issym():
                found.append(f"{info.name}: mode {oct(info.mode)}")
            if set(info.pax_headers) - _KEPT_PAX:
                found.append(f"{info.name}: PAX records {', '.join(sorted(set(info.pax_headers) - _KEPT_PAX))}")
    return found


def normalize_sdist(path: Path, mtime: int) -> list[str]:
    """Re-pack ``path`` in place if needed; returns what was wrong (empty: left untouched)."""
    found = problems(path, mtime)
    if found:
        _repack(path, mtime)
    return found


def _repack(path: Path, mtime: int) -> None:
    with tarfile.open(path, "r:gz") as source:
        members = sorted(source.getmembers(), key=lambda info: info.name.encode())
        names = [info.name for info in members]
        if len(set(names)) != len(names):
            raise ReprotasksError(
                f"{path.name} holds the same member twice, so it cannot be re-packed faithfully",
                hint="fix the build backend's file selection (duplicated include rules)",
            )
        with (
            atomic_path(path) as temp,
            temp.open("wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as compressed,
            tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as target,
        ):
            for info in members:
                clean = tarfile.TarInfo(info.name)
                clean.type = tarfile.REGTYPE if info.type == tarfile.AREGTYPE else info.type
                clean.linkname = info.linkname
                clean.mtime = mtime
                clean.mode = _normal_mode(info) if not info.issym() else 0o777
                clean.uid = clean.gid = 0
                clean.uname = clean.gname = ""
                if info.isfile():
                    clean.size = info.size
                    handle = source.extractfile(info)
                    if handle is None:  # pragma: no cover - regular files always have data
                        raise ReprotasksError(f"cannot read {info.name} from {path.name}", hint="rebuild")
                    with handle:
                        target.addfile(clean, handle)
                else:
                    target.addfile(clean)
