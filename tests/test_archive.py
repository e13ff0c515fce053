"""Archives are byte-identical whatever the source path, file times, umask or owner."""

from __future__ import annotations

import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from reprotasks._archive import write_tar_gz, write_zip
from reprotasks.errors import ReprotasksError

EPOCH = 1706933106


def populate(root: Path, *, mtime: int, umask: int) -> list[tuple[str, Path]]:
    old = os.umask(umask)
    try:
        root.mkdir(parents=True)
        (root / "worker").write_bytes(b"\x7fELF binary")
        (root / "worker").chmod(0o777 & ~umask | 0o100)
        (root / "README.md").write_text("hello\n")
        (root / "LICENSE").write_text("license\n")
    finally:
        os.umask(old)
    for path in root.iterdir():
        os.utime(path, (mtime, mtime))
    # Deliberately unsorted input order.
    return [("worker", root / "worker"), ("README.md", root / "README.md"), ("LICENSE", root / "LICENSE")]


@pytest.mark.parametrize(("writer", "suffix"), [(write_tar_gz, ".tar.gz"), (write_zip, ".zip")])
def test_same_members_same_bytes(tmp_path: Path, writer: object, suffix: str) -> None:
    first = populate(tmp_path / "a" / "deep" / "src", mtime=1_000_000_000, umask=0o022)
    second = populate(tmp_path / "b", mtime=1_700_000_000, umask=0o077)
    out_a, out_b = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    writer(out_a, first, mtime=EPOCH)  # type: ignore[operator]
    writer(out_b, list(reversed(second)), mtime=EPOCH)  # type: ignore[operator]
    assert out_a.read_bytes() == out_b.read_bytes()
    writer(out_b, second, mtime=EPOCH + 3600)  # type: ignore[operator]
    assert out_a.read_bytes() != out_b.read_bytes()  # the epoch is the only clock that counts


def test_tar_headers_are_normalized(tmp_path: Path) -> None:
    members = populate(tmp_path / "src", mtime=1_000_000_000, umask=0o077)
    target = tmp_path / "out.tar.gz"
    write_tar_gz(target, members, mtime=EPOCH)
    raw = target.read_bytes()
    assert raw[:3] == b"\x1f\x8b\x08"
    assert raw[3] & 0x08 == 0, "gzip header must not carry a file name"
    assert raw[4:8] == b"\0\0\0\0", "gzip header mtime must be 0"
    with tarfile.open(target) as archive:
        infos = archive.getmembers()
        assert [info.name for info in infos] == ["LICENSE", "README.md", "worker"]
        for info in infos:
            assert (info.uid, info.gid, info.uname, info.gname, info.mtime) == (0, 0, "", "", EPOCH)
            assert info.pax_headers == {}
        assert [info.mode for info in infos] == [0o644, 0o644, 0o755]
        extracted = archive.extractfile("worker")
        assert extracted is not None and extracted.read() == b"\x7fELF binary"


def test_zip_entries_are_normalized(tmp_path: Path) -> None:
    members = populate(tmp_path / "src", mtime=1_000_000_000, umask=0o022)
    target = tmp_path / "out.zip"
    write_zip(target, members, mtime=EPOCH)
    with zipfile.ZipFile(target) as archive:
        infos = archive.infolist()
        assert [info.filename for info in infos] == ["LICENSE", "README.md", "worker"]
        assert {info.date_time for info in infos} == {(2024, 2, 3, 4, 5, 6)}
        assert [(info.external_attr >> 16) & 0o777 for info in infos] == [0o644, 0o644, 0o755]
        assert all(info.extra == b"" for info in infos)
        assert archive.read("README.md") == b"hello\n"


def test_bad_members_are_refused(tmp_path: Path) -> None:
    members = populate(tmp_path / "src", mtime=0, umask=0o022)
    with pytest.raises(ReprotasksError, match="unique names"):
        write_tar_gz(tmp_path / "x.tar.gz", [members[0], members[0]], mtime=EPOCH)
    with pytest.raises(ReprotasksError, match=r"cannot archive '\.\./x'"):
        write_zip(tmp_path / "x.zip", [("../x", members[0][1])], mtime=EPOCH)
    assert not (tmp_path / "x.zip").exists() and not (tmp_path / "x.tar.gz").exists()
