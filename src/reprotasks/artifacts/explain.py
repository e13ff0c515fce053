"""Say *why* two builds of one artifact differ: diffoscope when installed, else a built-in look
inside tar.gz / zip / wheel archives (member lists, headers, contents) and text files."""

from __future__ import annotations

import difflib
import gzip
import hashlib
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from reprotasks._run import Runner

MAX_LINES = 60
_TEXT_SUFFIXES = (".json", ".txt", ".py", ".cfg", ".toml", ".md", ".in", "PKG-INFO", "METADATA", "RECORD", "WHEEL")


def explain(first: Path, second: Path, *, runner: Runner) -> str:
    """A short text naming what differs (``first`` is the reference build)."""
    if runner.which("diffoscope") is not None:
        result = runner.run(
            ["diffoscope", "--text", "-", "--no-progress", str(first), str(second)],
            cwd=first.parent,
            check=False,
            purpose="explain the difference",
            quiet=True,
        )
        if result.returncode in (0, 1) and result.stdout.strip():
            return _clip(result.stdout.splitlines(), "diffoscope")
    return _clip(list(_builtin(first, second)), "reprotasks")


def _clip(lines: list[str], tool: str) -> str:
    kept = lines[:MAX_LINES]
    if len(lines) > MAX_LINES:
        kept.append(f"... {len(lines) - MAX_LINES} more lines")
    return f"({tool})\n" + "\n".join(kept)


def _builtin(first: Path, second: Path) -> Iterator[str]:
    name = first.name
    try:
        if name.endswith((".tar.gz", ".tgz")):
            yield from _gzip_header(first, second)
            yield from _members(_tar_members(first), _tar_members(second))
        elif name.endswith((".zip", ".whl")):
            yield from _members(_zip_members(first), _zip_members(second))
        elif name.endswith(_TEXT_SUFFIXES):
            yield from _text_diff(first.read_bytes(), second.read_bytes(), name)
        else:
            yield from _bytes(first.read_bytes(), second.read_bytes())
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        yield f"cannot look inside: {exc}"
        yield from _bytes(first.read_bytes(), second.read_bytes())


Member = tuple[dict[str, object], bytes]


def _tar_members(path: Path) -> dict[str, Member]:
    members: dict[str, Member] = {}
    with tarfile.open(path, "r:gz") as archive:
        for info in archive:
            handle = archive.extractfile(info) if info.isfile() else None
            data = handle.read() if handle is not None else info.linkname.encode()
            header: dict[str, object] = {
                "type": info.type.decode(),
                "mode": oct(info.mode),
                "mtime": info.mtime,
                "owner": f"{info.uid}:{info.gid} ({info.uname}:{info.gname})",
                "pax": sorted(info.pax_headers),
            }
            members[info.name] = (header, data)
    return members


def _zip_members(path: Path) -> dict[str, Member]:
    members: dict[str, Member] = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            header: dict[str, object] = {
                "date_time": info.date_time,
                "mode": oct(info.external_attr >> 16),
                "compression": info.compress_type,
                "extra": info.extra.hex(),
            }
            members[info.filename] = (header, archive.read(info))
    return members


def _gzip_header(first: Path, second: Path) -> Iterator[str]:
    heads = []
    for path in (first, second):
        with path.open("rb") as handle:
            heads.append(handle.read(10))
    if heads[0] != heads[1]:
        times = [int.from_bytes(head[4:8], "little") for head in heads]
        yield f"gzip header differs (mtime {times[0]} vs {times[1]}, flags {heads[0][3]} vs {heads[1][3]})"
    with gzip.open(first) as one, gzip.open(second) as two:
        if one.read() == two.read():
            yield "the uncompressed contents are identical: only compression or the gzip header differ"


def _members(first: dict[str, Member], second: dict[str, Member]) -> Iterator[str]:
    for name in sorted(first.keys() - second.keys()):
        yield f"member {name}: only in the first build"
    for name in sorted(second.keys() - first.keys()):
        yield f"member {name}: only in the rebuild"
    if list(first) != list(second) and first.keys() == second.keys():
        yield "members are in a different order"
    for name in sorted(first.keys() & second.keys()):
        (head_one, data_one), (head_two, data_two) = first[name], second[name]
        for field, value in head_one.items():
            if head_two[field] != value:
                yield f"member {name}: {field} {value} vs {head_two[field]}"
        if data_one != data_two:
            one, two = hashlib.sha256(data_one).hexdigest()[:12], hashlib.sha256(data_two).hexdigest()[:12]
            yield f"member {name}: contents differ (sha256 {one}... vs {two}...)"
            if name.endswith(_TEXT_SUFFIXES) or b"\0" not in data_one[:4096] + data_two[:4096]:
                yield from (f"    {line}" for line in _text_diff(data_one, data_two, name))


def _text_diff(one: bytes, two: bytes, name: str) -> Iterator[str]:
    lines = difflib.unified_diff(
        one.decode("utf-8", errors="replace").splitlines(),
        two.decode("utf-8", errors="replace").splitlines(),
        fromfile=f"first/{name}",
        tofile=f"rebuild/{name}",
        lineterm="",
        n=1,
    )
    yield from list(lines)[:20]


def _bytes(one: bytes, two: bytes) -> Iterator[str]:
    if len(one) != len(two):
        yield f"sizes differ: {len(one)} vs {len(two)} bytes"
    offset = next((index for index, (a, b) in enumerate(zip(one, two, strict=False)) if a != b), None)
    if offset is not None:
        yield f"first differing byte at offset {offset:#x}"
