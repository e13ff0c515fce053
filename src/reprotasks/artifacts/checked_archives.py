"""Go archives known to pass the attesting steps' check, remembered by their bytes' sha256.

``trusted`` attests a Go archive only as the canonical archive of a binary the expected toolchain
compiled: it unpacks the binary, reads it with ``go version -m`` and re-packs it. That answer
depends on nothing but the archive's bytes and the check's inputs (``ArchiveCheck``), so it is
kept in this user's cache, beside the build's evidence: the build that wrote an archive records
it, and sbom, provenance and image (each its own process) then neither unpack nor re-pack it. A
record is only ever a shortcut to the answer the check would give; a release without
--trust-cache never reads one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from reprotasks import _cache
from reprotasks._version import __version__

_NAMESPACE = "go-archive-checked"


@dataclass(frozen=True)
class ArchiveCheck:
    """Everything the check of one Go archive takes, but the archive."""

    name: str  # the archive's file name
    package: str
    platform: str
    executable: str  # the binary's member name
    compiler: str | None  # the Go version the binary must report
    extras: tuple[tuple[str, str, bool], ...]  # go.archive-files: (member, sha256, executable), sorted
    mtime: int

    @staticmethod
    def extras_of(files: Mapping[str, tuple[bytes, bool]]) -> tuple[tuple[str, str, bool], ...]:
        return tuple(sorted((member, hashlib.sha256(data).hexdigest(), runs) for member, (data, runs) in files.items()))

    def _key(self, sha256: str) -> str:
        fields = [self.name, self.package, self.platform, self.executable, self.compiler, self.extras, self.mtime]
        return _cache.digest([__version__, _NAMESPACE, *fields, sha256])


def recall(check: ArchiveCheck, sha256: str) -> tuple[str, tuple[str, ...]] | None:
    """(compiler, build information lines) of the archive with these bytes, if it passed before."""
    text = _cache.load(_NAMESPACE, check._key(sha256))
    if text is None:
        return None
    try:
        record = json.loads(text)
        return str(record["compiler"]), tuple(str(line) for line in record["embedded"])
    except (ValueError, KeyError, TypeError):
        return None  # unreadable: check again


def remember(check: ArchiveCheck, sha256: str, compiler: str, embedded: tuple[str, ...]) -> None:
    """Record that the archive with these bytes passed: it holds, canonically packed, a binary
    ``compiler`` compiled (``check.compiler`` itself: any other fails the check)."""
    if compiler == check.compiler:
        _cache.store(_NAMESPACE, check._key(sha256), json.dumps({"compiler": compiler, "embedded": list(embedded)}))
