"""The checksum step: ``dist/SHA256SUMS`` in ``sha256sum`` format, and its strict ``--check``.

The check never opens a path outside dist/: absolute names, ``..`` components and symlinks
that leave dist/ are findings, not reads.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from reprotasks._files import sha256_file, write_atomic
from reprotasks.errors import DriftError, Finding, ReprotasksError

SUMS_NAME = "SHA256SUMS"
# Written after the sums (signatures over them), so never listed in them.
# Signing outputs come after SHA256SUMS and describe it, so they are never listed in it.
_NOT_LISTED = re.compile(r"^SHA256SUMS(\..*)?$|\.sigstore\.json$|^provenance\.intoto\.json$")
_LINE = re.compile(r"^(?P<digest>[0-9a-fA-F]{64}) (?P<mode>[ *])(?P<name>.+)$")
_RECHECKSUM = "run `reprotasks checksum` after a fresh build, or restore the release files"


@dataclass(frozen=True)
class ChecksumResult:
    path: Path
    entries: tuple[tuple[str, str], ...]  # (name, sha256), sorted by name

    def rows(self) -> list[tuple[str, str]]:
        return [(name, digest[:16] + "…") for name, digest in self.entries]


def artifact_names(dist: Path) -> list[str]:
    """Regular files directly in ``dist`` that SHA256SUMS lists, sorted byte-wise."""
    names = []
    for entry in os.scandir(dist):
        if _NOT_LISTED.search(entry.name) or entry.name.startswith("."):
            continue
        if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
            continue
        names.append(entry.name)
    return sorted(names, key=lambda name: name.encode())


def _hash_all(paths: Iterable[Path]) -> list[str]:
    # hashlib releases the GIL on large updates, so threads use every core.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(sha256_file, paths))


def write_checksums(dist: Path) -> ChecksumResult:
    """Hash every artifact in ``dist`` and write SHA256SUMS atomically."""
    if not dist.is_dir():
        raise ReprotasksError(f"{dist} does not exist", hint="run `reprotasks build` first")
    names = artifact_names(dist)
    if not names:
        raise ReprotasksError(f"{dist} holds no artifacts to checksum", hint="run `reprotasks build` first")
    digests = _hash_all(dist / name for name in names)
    entries = tuple(zip(names, digests, strict=True))
    write_atomic(dist / SUMS_NAME, "".join(f"{digest}  {name}\n" for name, digest in entries).encode())
    return ChecksumResult(dist / SUMS_NAME, entries)


def check_findings(dist: Path, *, shown_dist: str = "dist") -> list[Finding]:
    """Every way ``dist`` disagrees with its SHA256SUMS; empty when it matches exactly."""
    return _check(dist, shown_dist)[0]


def _check(dist: Path, shown_dist: str) -> tuple[list[Finding], dict[str, tuple[str, int]]]:
    """(findings, listed name -> (sha256, line number)) from one read of SHA256SUMS."""
    sums = dist / SUMS_NAME
    where = f"{shown_dist}/{SUMS_NAME}"
    if not sums.is_file():
        return [Finding(where, None, "missing", _RECHECKSUM)], {}
    findings, expected = read_sums(sums, where)
    if not expected and not findings:
        return [Finding(where, None, "is empty: it lists no artifact", _RECHECKSUM)], {}
    root = dist.resolve()
    present = set(artifact_names(dist))
    to_hash: list[tuple[str, int, str, Path]] = []
    for name, (digest, number) in expected.items():
        path = dist / name
        if path.is_symlink() or any(parent.is_symlink() for parent in _parents_within(dist, name)):
            target = path.resolve()
            if not target.is_relative_to(root):
                findings.append(
                    Finding(
                        where, number, f"{name!r} is a symlink that leaves {shown_dist}/ (to {target})", _RECHECKSUM
                    )
                )
                continue
        if not path.exists():
            findings.append(Finding(where, number, f"{name!r} is listed but missing from {shown_dist}/", _RECHECKSUM))
            continue
        if not path.is_file():
            findings.append(Finding(where, number, f"{name!r} is not a regular file", _RECHECKSUM))
            continue
        to_hash.append((name, number, digest, path))
    for (name, number, digest, _path), actual in zip(to_hash, _hash_all(p for *_, p in to_hash), strict=True):
        if actual != digest:
            findings.append(
                Finding(
                    where,
                    number,
                    f"{name!r} was modified: sha256 is {actual}, SHA256SUMS says {digest}",
                    "do not publish it; rebuild, or restore the original file",
                )
            )
    for name in sorted(present - expected.keys()):
        findings.append(Finding(f"{shown_dist}/{name}", None, f"is not listed in {SUMS_NAME}", _RECHECKSUM))
    return findings, expected


def read_sums(sums: Path, where: str) -> tuple[list[Finding], dict[str, tuple[str, int]]]:
    """(malformed or unsafe lines, listed name -> (sha256, line number)) of a SHA256SUMS file."""
    findings: list[Finding] = []
    expected: dict[str, tuple[str, int]] = {}
    lines = sums.read_bytes().decode("utf-8", errors="replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        match, problem = _parse_line(line)
        if match is None:
            findings.append(Finding(where, number, problem, _RECHECKSUM))
            continue
        name = match["name"]
        if name in expected:
            findings.append(Finding(where, number, f"lists {name!r} twice", _RECHECKSUM))
            continue
        expected[name] = (match["digest"].lower(), number)
    return findings, expected


def _parents_within(dist: Path, name: str) -> list[Path]:
    parts = PurePosixPath(name).parts[:-1]
    return [dist.joinpath(*parts[: index + 1]) for index in range(len(parts))]


def _parse_line(line: str) -> tuple[re.Match[str] | None, str]:
    """(match, "") for a safe, well-formed line; (None, what is wrong) otherwise."""
    match = _LINE.match(line)
    if match is None:
        shown = line if len(line) <= 80 else line[:77] + "..."
        return None, f"malformed line {shown!r}: expected `<64 hex digits>  <file name>`"
    name = match["name"]
    if "\x00" in name or "\r" in name or "\\" in name:
        return None, f"file name {name!r} holds a control character or backslash"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return None, f"absolute path {name!r}: names must be relative to dist/"
    if ".." in PurePosixPath(name).parts:
        return None, f"path {name!r} has a `..` component: names must stay inside dist/"
    return match, ""


def check_checksums(dist: Path, *, shown_dist: str = "dist") -> ChecksumResult:
    """Raise DriftError listing every mismatch; return the verified entries otherwise."""
    findings, expected = _check(dist, shown_dist)
    if findings:
        raise DriftError(findings, step="checksum --check")
    return ChecksumResult(dist / SUMS_NAME, tuple((name, digest) for name, (digest, _line) in expected.items()))
