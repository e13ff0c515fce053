"""Deterministic archives: the same members give the same bytes on any machine, path or day.

tar.gz: members sorted, USTAR headers (no PAX atime/ctime records), mtime = SOURCE_DATE_EPOCH,
uid/gid 0 with empty names, modes 0644/0755, gzip header with mtime 0 and no file name.
zip: sorted, fixed date_time, Unix modes in ``external_attr``, no extra fields.
"""

from __future__ import annotations

import gzip
import stat
import tarfile
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

from reprotasks._files import atomic_path
from reprotasks.errors import ReprotasksError

Member = tuple[str, Path]  # (name inside the archive, file on disk)
_ZIP_EPOCH = 315532800  # 1980-01-01, the earliest time a zip entry can hold


def _mode(path: Path) -> int:
    return 0o755 if path.stat().st_mode & 0o111 else 0o644


def _sorted(members: Sequence[Member]) -> list[Member]:
    names = [name for name, _ in members]
    if len(set(names)) != len(names):
        raise ReprotasksError("archive members must have unique names", hint="rename the duplicated files")
    for name, path in members:
        if name.startswith("/") or ".." in name.split("/") or not path.is_file():
            raise ReprotasksError(
                f"cannot archive {name!r} from {path}", hint="archive regular files by relative names"
            )
    return sorted(members, key=lambda member: member[0].encode())


def write_tar_gz(target: Path, members: Sequence[Member], *, mtime: int) -> None:
    ordered = _sorted(members)
    # GzipFile(filename="") keeps the temporary file's name out of the gzip header.
    with (
        atomic_path(target) as temp,
        temp.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.USTAR_FORMAT) as archive,
    ):
        for name, path in ordered:
            info = tarfile.TarInfo(name)
            info.size = path.stat().st_size
            info.mtime = mtime
            info.mode = _mode(path)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.type = tarfile.REGTYPE
            with path.open("rb") as handle:
                archive.addfile(info, handle)


def write_zip(target: Path, members: Sequence[Member], *, mtime: int) -> None:
    date_time = time.gmtime(max(mtime, _ZIP_EPOCH))[:6]
    ordered = _sorted(members)
    with atomic_path(target) as temp:
        temp.write_bytes(b"")
        with zipfile.ZipFile(temp, "w") as archive:
            for name, path in ordered:
                info = zipfile.ZipInfo(name, date_time=date_time)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.create_system = 3  # Unix, so external_attr carries the mode
                info.external_attr = (stat.S_IFREG | _mode(path)) << 16
                with path.open("rb") as source, archive.open(info, "w") as sink:
                    while chunk := source.read(1 << 20):
                        sink.write(chunk)


def write_archive(target: Path, members: Sequence[Member], *, mtime: int) -> None:
    """The archive its name asks for: zip for ``.zip`` (windows), else tar.gz."""
    (write_zip if target.name.endswith(".zip") else write_tar_gz)(target, members, mtime=mtime)
