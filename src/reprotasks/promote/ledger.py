"""The promotion ledger: an append-only, hash-chained record of every promotion and rollback.

A directory (``promote.ledger``, committed or kept in a branch of its own) holds ``ledger.jsonl``,
one canonical JSON entry per line, and ``vsa/``, the signed Verification Summary Attestation of
each entry named by its sha256. Every entry names the sha256 of the line before it, so an edited,
removed, inserted or reordered entry breaks the chain at that line; each VSA is signed over the
previous entry's digest too, so a forged chain needs forged signatures. Appends take an exclusive
lock and rewrite the file atomically with the old bytes as its prefix: two promotions at once
queue up instead of forking the chain, and a kill leaves the old file or the new one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprotasks._files import write_atomic
from reprotasks.artifacts.layout import NotRegularFile, read_regular
from reprotasks.errors import Finding, ReprotasksError

LEDGER_NAME = "ledger.jsonl"
VSA_DIR = "vsa"
_LOCK = ".lock"
_HEX = re.compile(r"^[0-9a-f]{64}$")


def repair_hint(shown: str) -> str:
    return (
        f"the ledger is append-only: restore it from version control (`git -C {shown} checkout -- {LEDGER_NAME}`, "
        "or the ledger branch), never edit entries by hand"
    )


@dataclass(frozen=True, kw_only=True)
class Entry:
    seq: int
    prev: str | None  # sha256 of the previous line (None for the first entry)
    action: str  # "promote" | "rollback"
    environment: str
    version: str
    commit: str
    sums: str  # sha256 of the release's SHA256SUMS
    artifacts: dict[str, str]  # file name -> sha256, every file SHA256SUMS lists
    images: dict[str, str] = field(default_factory=dict)  # image name -> registry digest (sha256:...)
    vsa: str  # sha256 of the signed VSA bundle in vsa/
    who: str  # the identity that signed the VSA
    when: str  # UTC, from the VSA's verified timestamp
    restores: int | None = None  # rollback: the entry whose release the environment points at again

    def line(self) -> bytes:
        return canonical(self.as_json())

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "seq": self.seq,
            "prev": self.prev,
            "action": self.action,
            "environment": self.environment,
            "version": self.version,
            "commit": self.commit,
            "sums": self.sums,
            "artifacts": dict(self.artifacts),
            "images": dict(self.images),
            "vsa": self.vsa,
            "who": self.who,
            "when": self.when,
        }
        if self.restores is not None:
            document["restores"] = self.restores
        return document

    def digests(self) -> set[str]:
        """Every digest a deploy job may ask about: files (hex) and images (sha256:hex)."""
        return {*self.artifacts.values(), *(digest.removeprefix("sha256:") for digest in self.images.values())}


def canonical(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def digest_of(data: bytes) -> str:
    """sha256 (hex) of a ledger line, or of a VSA bundle (its name in vsa/)."""
    return hashlib.sha256(data).hexdigest()


@dataclass
class Ledger:
    directory: Path
    shown: str  # the directory as the user names it, for messages
    entries: list[Entry] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    # verifiedLevels of each entry's VSA, filled in once its signature verified (trail.open_ledger).
    levels: dict[int, list[str]] = field(default_factory=dict)
    # How far the git history vouches for the ledger (trail.open_ledger), for status lines.
    anchor: str = "not checked"
    # True when ledger.jsonl is exactly the version committed at HEAD (verify-promotion --require-anchor).
    anchored: bool = False
    # With `promote.registry`: the digest of the registry's ledger artifact as pulled (None: none yet),
    # and whether this copy holds entries the registry lacks (a push that failed).
    remote: str | None = None
    unpushed: bool = False

    @property
    def path(self) -> Path:
        return self.directory / LEDGER_NAME

    @property
    def head(self) -> str | None:
        return digest_of(self.lines[-1]) if self.lines else None

    def vsa_path(self, digest: str) -> Path:
        return self.directory / VSA_DIR / f"{digest}.sigstore.json"

    def current(self, environment: str) -> Entry | None:
        """The entry whose release ``environment`` holds now (the last one for it)."""
        for entry in reversed(self.entries):
            if entry.environment == environment:
                return entry
        return None

    def history(self, environment: str) -> list[Entry]:
        return [entry for entry in self.entries if entry.environment == environment]

    def of_version(self, version: str) -> list[Entry]:
        return [entry for entry in self.entries if entry.version == version]


def read_ledger(directory: Path, shown: str) -> Ledger:
    """Parse and chain-check the ledger (a missing one is empty); problems become findings."""
    ledger = Ledger(directory=directory, shown=shown)
    where = f"{shown}/{LEDGER_NAME}"
    try:
        data = read_regular(ledger.path)
    except FileNotFoundError:
        return ledger
    except NotADirectoryError:
        raise ReprotasksError(
            f"`promote.ledger` = {shown!r} is not a directory",
            hint="point `promote.ledger` in [tool.reprotasks.promote] at the ledger's directory (default "
            '"promotions")',
        ) from None
    except OSError as exc:
        what = (
            "is a symlink or not a regular file"
            if isinstance(exc, NotRegularFile) or exc.errno == errno.ELOOP
            else (f"cannot be read: {exc.strerror or exc}")
        )
        ledger.findings.append(Finding(where, None, what, repair_hint(shown)))
        return ledger
    if data and not data.endswith(b"\n"):
        ledger.findings.append(Finding(where, None, "ends in the middle of a line (cut short)", repair_hint(shown)))
    previous: str | None = None
    for number, line in enumerate(data.splitlines(), 1):
        problem, entry = _parse(line, number - 1, previous)
        if problem:
            ledger.findings.append(Finding(where, number, problem, repair_hint(shown)))
            return ledger  # nothing after a break can be trusted
        assert entry is not None
        ledger.entries.append(entry)
        ledger.lines.append(line)
        previous = digest_of(line)
    return ledger


def _parse(line: bytes, seq: int, previous: str | None) -> tuple[str, Entry | None]:
    try:
        document = json.loads(line)
    except (ValueError, RecursionError):
        return "is not a JSON entry", None
    if not isinstance(document, dict):
        return "is not a JSON object", None
    try:
        entry = Entry(
            seq=_int(document["seq"]),
            prev=document["prev"],
            action=_str(document["action"]),
            environment=_str(document["environment"]),
            version=_str(document["version"]),
            commit=_str(document["commit"]),
            sums=_str(document["sums"]),
            artifacts=_strings(document["artifacts"]),
            images=_strings(document.get("images", {})),
            vsa=_str(document["vsa"]),
            who=_str(document["who"]),
            when=_str(document["when"]),
            restores=None if document.get("restores") is None else _int(document["restores"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        return f"is not a ledger entry ({exc})", None
    try:
        canonical_line = entry.line()
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return "holds text that is not valid Unicode (a lone surrogate)", None
    if canonical_line != line:
        return "was edited: it is not the canonical encoding of its own content", None
    if entry.seq != seq:
        return f"has sequence number {entry.seq} where {seq} was expected (an entry was removed or inserted)", None
    if entry.prev != previous:
        return (
            "does not chain to the entry before it (its `prev` is not the sha256 of the previous line): an "
            "entry was edited, removed, reordered or added on another branch",
            None,
        )
    if entry.action not in ("promote", "rollback") or not _HEX.match(entry.sums) or not _HEX.match(entry.vsa):
        return "has an unknown action or a malformed digest", None
    if (entry.action == "rollback") != (entry.restores is not None):
        return "has `restores` where it does not belong (only a rollback restores an entry)", None
    if entry.restores is not None and not 0 <= entry.restores < entry.seq:
        return f"restores entry {entry.restores}, which does not come before it", None
    return "", entry


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("a number was expected")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("a string was expected")
    return value


def _strings(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise TypeError("a table of strings was expected")
    return dict(value)


@contextlib.contextmanager
def locked(directory: Path, shown: str, step: str) -> Iterator[None]:
    """Exclusive lock on the ledger: one promotion or rollback at a time (others wait)."""
    try:
        (directory / VSA_DIR).mkdir(parents=True, exist_ok=True)
        fd = os.open(directory / _LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise ReprotasksError(
            f"{step}: cannot use the ledger directory {shown}: {exc.strerror or exc}",
            hint="set `promote.ledger` to a writable directory of the project (or of a checkout of the ledger branch)",
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def append(ledger: Ledger, entry: Entry, bundle: bytes) -> None:
    """Store the VSA bundle, then the ledger with the entry added (call under ``locked``)."""
    assert entry.seq == len(ledger.entries) and entry.prev == ledger.head
    write_atomic(ledger.vsa_path(entry.vsa), bundle)
    write_atomic(ledger.path, b"".join(line + b"\n" for line in ledger.lines) + entry.line() + b"\n")
    ledger.entries.append(entry)
    ledger.lines.append(entry.line())
