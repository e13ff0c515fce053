"""The checksum step: ``dist/SHA256SUMS`` in ``sha256sum`` format, and its strict ``--check``.

dist/ must follow the release layout rule (``_layout``): the check never follows a symlink and
never opens a path outside dist/; absolute names, ``/`` or ``..`` in names, symlinks, hidden
files, subdirectories and unlisted files are findings, not reads.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from reprotasks._files import write_atomic
from reprotasks.artifacts.layout import (
    MAX_NAME_BYTES,
    SBOM_NAME,
    SUMS_NAME,
    artifact_name_problem,
    directory_problem,
    entries,
    entry_problem,
    kind_of,
    open_regular,
    read_regular,
    sha256_at,
    shown,
    unexpected_findings,
)
from reprotasks.errors import DriftError, Finding, ReprotasksError

_LINE = re.compile(r"^(?P<digest>[0-9a-fA-F]{64}) (?P<mode>[ *])(?P<name>.+)$")
# 64 hex digits, two separator characters and the longest file name a release may hold.
MAX_LINE_BYTES = 64 + 2 + MAX_NAME_BYTES
_REBUILD = "do not publish it; rebuild with `reprotasks build --force`, then checksum again"
_RECHECKSUM = "run `reprotasks checksum` after a fresh build, or restore the release files"
# A hostile SHA256SUMS can hold millions of bad lines: memory and output stay bounded by keeping
# the first findings (and counting the rest), and by refusing a listing no release comes near.
MAX_FINDINGS = 100
MAX_ENTRIES = 100_000
_BUFFER = 1 << 20
# The summary table shows this many files; SHA256SUMS lists them all.
SUMMARY_ROWS = 20


class _Findings:
    """The findings of one read: the first ``MAX_FINDINGS`` kept, the others counted."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.kept: list[Finding] = []
        self.more = 0

    def add(self, finding: Finding) -> None:
        if len(self.kept) < MAX_FINDINGS:
            self.kept.append(finding)
        else:
            self.more += 1

    def result(self) -> list[Finding]:
        if not self.more:
            return self.kept
        more = Finding(self.where, None, f"{self.more} more problem(s) not shown", _RECHECKSUM)
        return [*self.kept, more]


@dataclass(frozen=True)
class ChecksumResult:
    path: Path
    entries: tuple[tuple[str, str], ...]  # (name, sha256), sorted by name

    def rows(self) -> list[tuple[str, str]]:
        rows = [(name, digest[:16] + "…") for name, digest in self.entries[:SUMMARY_ROWS]]
        if len(self.entries) > SUMMARY_ROWS:
            rows.append((f"… {len(self.entries) - SUMMARY_ROWS} more", f"listed in {self.path.name}"))
        return rows


def artifact_names(dist: Path) -> list[str]:
    """The names SHA256SUMS lists for ``dist``, sorted byte-wise; DriftError if dist/ holds anything else."""
    names, findings = _listable(dist, dist.name)
    if findings:
        raise DriftError(findings, step="checksum")
    return names


def _listable(dist: Path, shown_dist: str) -> tuple[list[str], list[Finding]]:
    """(artifacts to list, entries that break the release layout) of ``dist``.

    Every regular file with a plain, unreserved name is listed; the layout rule judges the rest.
    One scan of the directory; each name is judged once.
    """
    scanned = list(entries(dist))
    names = [
        entry.name for entry in scanned if artifact_name_problem(entry.name) is None and entry_problem(entry) is None
    ]
    findings = unexpected_findings(dist, set(names), shown_dist, scanned=scanned)
    kind = kind_of(dist / SUMS_NAME)
    if kind not in (None, "missing"):  # the layout rule leaves SHA256SUMS itself to its reader
        findings.insert(0, Finding(f"{shown_dist}/{SUMS_NAME}", None, f"is {kind}", _RECHECKSUM))
    return names, findings


def _hash_all(dist: Path, names: Sequence[str]) -> list[str | OSError]:
    """sha256 of each named regular file in ``dist`` (an OSError in place of a symlink, special
    or vanished file).

    Files open relative to one descriptor of dist/, and each thread hashes a batch of them
    through its own buffer: a future per file costs more than hashing a small file.
    """
    workers = max(1, min(os.cpu_count() or 1, len(names)))
    size = max(1, len(names) // (workers * 8))  # enough batches to even out files of unequal size
    batches = [names[start : start + size] for start in range(0, len(names), size)]
    dir_fd = os.open(dist, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))

    def batch(part: Sequence[str]) -> list[str | OSError]:
        buffer = bytearray(_BUFFER)
        digests: list[str | OSError] = []
        for name in part:
            try:
                digests.append(sha256_at(dir_fd, name, buffer))
            except OSError as exc:
                digests.append(exc)
        return digests

    try:
        # hashlib releases the GIL on updates over 2 KiB, so threads use every core.
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return [digest for part in pool.map(batch, batches) for digest in part]
    finally:
        os.close(dir_fd)


def write_checksums(dist: Path, *, shown_dist: str | None = None) -> ChecksumResult:
    """Hash every artifact in ``dist`` and write SHA256SUMS atomically."""
    shown_dist = shown_dist or dist.name
    problem = directory_problem(dist)
    if problem is not None:
        fix = (
            "run `reprotasks build` first" if problem.startswith("does not") else "remove it and run `reprotasks build`"
        )
        raise ReprotasksError(f"{shown_dist}: {problem}", hint=fix)
    names, findings = _listable(dist, shown_dist)
    if findings:
        raise DriftError(findings, step="checksum")
    if not names:
        raise ReprotasksError(f"{shown_dist} holds no artifacts to checksum", hint="run `reprotasks build` first")
    digests = _hash_all(dist, names)
    failed = [(name, digest) for name, digest in zip(names, digests, strict=True) if isinstance(digest, OSError)]
    if failed:
        raise DriftError(
            [
                Finding(f"{shown_dist}/{name}", None, f"cannot be hashed: {error}", _RECHECKSUM)
                for name, error in failed
            ],
            step="checksum",
        )
    entries_ = tuple((name, str(digest)) for name, digest in zip(names, digests, strict=True))
    mismatches = _manifest_mismatches(dist, shown_dist, dict(entries_))
    if mismatches:
        raise DriftError(mismatches, step="checksum")
    write_atomic(dist / SUMS_NAME, "".join(f"{digest}  {name}\n" for name, digest in entries_).encode())
    return ChecksumResult(dist / SUMS_NAME, entries_)


def _manifest_mismatches(dist: Path, shown_dist: str, digests: dict[str, str]) -> list[Finding]:
    """SHA256SUMS vouches for what the build made: every artifact manifest.json lists must still
    have the digest recorded there (a file swapped after the build is never checksummed)."""
    from reprotasks.artifacts.manifest import MANIFEST_NAME, manifest_from_bytes

    if MANIFEST_NAME not in digests:
        return []
    try:
        manifest = manifest_from_bytes(read_regular(dist / MANIFEST_NAME))
    except (OSError, ValueError, TypeError) as exc:
        where = f"{shown_dist}/{MANIFEST_NAME}"
        return [Finding(where, None, f"is not a reprotasks build manifest ({exc})", _REBUILD)]
    findings = []
    listed = {record.name for record in manifest.artifacts} | {MANIFEST_NAME, SBOM_NAME}
    for name in sorted(digests.keys() - listed):
        # No step wrote it: SHA256SUMS (and the provenance made from it) must not vouch for it.
        findings.append(
            Finding(
                f"{shown_dist}/{name}",
                None,
                f"is not an artifact {MANIFEST_NAME} records (no build or image step made it)",
                "remove it from dist/ (or rebuild: `reprotasks build --force`), then run checksum again",
            )
        )
    for record in manifest.artifacts:
        found = digests.get(record.name)
        where = f"{shown_dist}/{record.name}"  # manifest names passed the release name rule
        if found is None:
            findings.append(Finding(where, None, f"is listed in {MANIFEST_NAME} but missing", _REBUILD))
        elif found != record.sha256:
            problem = f"was modified after the build: sha256 {found}, {MANIFEST_NAME} records {record.sha256}"
            findings.append(Finding(where, None, problem, _REBUILD))
    return findings


def check_findings(dist: Path, *, shown_dist: str = "dist", require_provenance: bool = False) -> list[Finding]:
    """Every way ``dist`` disagrees with its SHA256SUMS and the layout rule; empty when it matches exactly."""
    return _check(dist, shown_dist, require_provenance)[0]


def listed_digests(dist: Path, shown_dist: str) -> dict[str, str]:
    """name -> sha256 of a SHA256SUMS that ``check_findings`` accepted."""
    return {
        name: digest for name, (digest, _line) in read_sums(dist / SUMS_NAME, f"{shown_dist}/{SUMS_NAME}")[1].items()
    }


def _check(
    dist: Path, shown_dist: str, require_provenance: bool = False
) -> tuple[list[Finding], dict[str, tuple[str, int]]]:
    """(findings, listed name -> (sha256, line number)) from one read of SHA256SUMS."""
    sums = dist / SUMS_NAME
    where = f"{shown_dist}/{SUMS_NAME}"
    problem = directory_problem(dist)
    if problem is not None:
        fix = (
            "run `reprotasks build` (and `reprotasks checksum`) first"
            if problem.startswith("does not")
            else "remove it and run `reprotasks build`, or pass the directory holding the release files"
        )
        return [Finding(shown_dist, None, problem, fix)], {}
    sums_kind = kind_of(sums)
    if sums_kind == "missing":
        findings = [Finding(where, None, "missing", _RECHECKSUM)]
        return findings + unexpected_findings(dist, set(), shown_dist), {}
    if sums_kind is not None:
        return [Finding(where, None, f"is {sums_kind}: it is never followed or read", _RECHECKSUM)], {}

    irregular: set[str] = set()  # listed, present, not regular files: reported once, as listed

    def absent(name: str) -> str | None:  # checked while reading: a listed file that is not there is not kept
        kind = kind_of(dist / name)
        if kind == "missing":
            return f"{shown(name)} is listed but missing from {shown_dist}/"
        if kind is not None:
            irregular.add(name)
            return f"{shown(name)} is {kind}: release files must be regular files"
        return None

    findings, expected = read_sums(sums, where, absent=absent)
    if not expected and not findings:
        return [Finding(where, None, "is empty: it lists no artifact", _RECHECKSUM)], {}
    to_hash = [(name, number, digest) for name, (digest, number) in expected.items()]
    for (name, number, digest), actual in zip(to_hash, _hash_all(dist, [name for name, *_ in to_hash]), strict=True):
        if isinstance(actual, OSError):
            findings.append(Finding(where, number, f"{shown(name)} cannot be read as a regular file", _RECHECKSUM))
        elif actual != digest:
            findings.append(
                Finding(
                    where,
                    number,
                    f"{shown(name)} was modified: sha256 is {actual}, SHA256SUMS says {digest}",
                    "do not publish it; rebuild, or restore the original file",
                )
            )
    listed = expected.keys() | irregular
    findings += unexpected_findings(dist, listed, shown_dist, require_provenance=require_provenance)
    return findings, expected


def read_sums(
    sums: Path, where: str, *, absent: Callable[[str], str | None] | None = None
) -> tuple[list[Finding], dict[str, tuple[str, int]]]:
    """(malformed or unsafe lines, listed name -> (sha256, line number)) of a SHA256SUMS file.

    Streamed line by line with a bounded line length: a huge or hostile file costs bounded
    memory (the first ``MAX_FINDINGS`` findings, at most ``MAX_ENTRIES`` entries), and no
    overlong line is echoed. A symlink is never followed. ``absent(name)``, when given, says
    why a listed file is not there; such a line is a finding and is not kept.
    """
    found = _Findings(where)
    expected: dict[str, tuple[str, int]] = {}
    try:
        handle = os.fdopen(open_regular(sums), "rb")
    except OSError:
        return [Finding(where, None, "is not a regular file: it is never followed or read", _RECHECKSUM)], {}
    with handle:
        number = 0
        while True:
            raw = handle.readline(MAX_LINE_BYTES + 2)
            if not raw:
                break
            number += 1
            if not raw.endswith(b"\n") and len(raw) > MAX_LINE_BYTES:
                while (rest := handle.readline(1 << 16)) and not rest.endswith(b"\n"):
                    pass  # skip the rest of the overlong line without keeping it
                found.add(
                    Finding(where, number, f"line is longer than {MAX_LINE_BYTES} bytes (not shown)", _RECHECKSUM)
                )
                continue
            line = raw[:-1] if raw.endswith(b"\n") else raw
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                found.add(Finding(where, number, "line is not valid UTF-8", _RECHECKSUM))
                continue
            match, problem = _parse_line(text)
            if match is None:
                found.add(Finding(where, number, problem, _RECHECKSUM))
                continue
            name = match["name"]
            if name in expected:
                found.add(Finding(where, number, f"lists {shown(name)} twice", _RECHECKSUM))
                continue
            gone = absent(name) if absent is not None else None
            if gone is not None:
                found.add(Finding(where, number, gone, _RECHECKSUM))
                continue
            if len(expected) == MAX_ENTRIES:
                found.add(
                    Finding(where, number, f"lists more than {MAX_ENTRIES} files; the rest is not read", _RECHECKSUM)
                )
                break
            expected[name] = (match["digest"].lower(), number)
    return found.result(), expected


def _parse_line(line: str) -> tuple[re.Match[str] | None, str]:
    """(match, "") for a safe, well-formed line; (None, what is wrong) otherwise."""
    match = _LINE.match(line)
    if match is None:
        return None, f"malformed line {shown(line)}: expected `<64 hex digits>  <file name>`"
    name = match["name"]
    problem = artifact_name_problem(name)
    if problem is not None:
        return None, f"file name {shown(name)} {problem}"
    return match, ""


def check_checksums(dist: Path, *, shown_dist: str = "dist") -> ChecksumResult:
    """Raise DriftError listing every mismatch; return the verified entries otherwise."""
    findings, expected = _check(dist, shown_dist)
    if findings:
        raise DriftError(findings, step="checksum --check")
    return ChecksumResult(dist / SUMS_NAME, tuple((name, digest) for name, (digest, _line) in expected.items()))
