"""What an attestation of dist/ rests on: a build that ran, or a rebuild that reproduced it.

``sbom`` and ``provenance`` re-derive every fact they can (commit, locks, flags, each Go
archive from its binary), but the bytes of an sdist or a wheel can only be vouched for by the
build that wrote them. So a statement is made only about a manifest with *evidence*:

- ``build in this invocation``: this process's ``build`` wrote exactly these manifest bytes
  (``release``, or a noxfile/tasks.py session that runs build and then the attestation steps);
- ``build record``: a ``build`` on this machine, by this user, wrote exactly these bytes (a
  record in the cache directory, ``REPROTASKS_CACHE_DIR``): this trusts whoever can write there;
- ``reproduced``: ``reprotasks reproduce`` rebuilt the commit independently and got exactly
  these manifest bytes and artifact digests (how a dist/ assembled from matrix parts earns it).

Evidence is keyed by the sha256 of the manifest the *build* writes: image records are left out,
because images are re-made from the checked archives and compared byte for byte. A file never
counts as evidence: a manifest only says what it claims.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from reprotasks import _cache
from reprotasks.artifacts.manifest import DERIVED_KINDS, Manifest

BUILT = "build in this invocation"
RECORDED = "build record"
REPRODUCED = "reproduced"

_BUILT_NAMESPACE = "witnessed-builds"
_REPRODUCED_NAMESPACE = "witnessed-reproductions"
# Manifest digests this process's build wrote, and reproductions it ran (kind -> digests).
_THIS_PROCESS: dict[str, dict[str, str]] = {BUILT: {}, REPRODUCED: {}}


@dataclass(frozen=True)
class Evidence:
    kind: str  # BUILT | RECORDED | REPRODUCED
    manifest_sha256: str  # of the build's manifest (image records left out)
    detail: str = ""

    def annotations(self) -> dict[str, str]:
        shown = {"kind": self.kind, "manifest": f"sha256:{self.manifest_sha256}"}
        return {**shown, "detail": self.detail} if self.detail else shown


def build_manifest_bytes(manifest: Manifest) -> bytes:
    """The manifest as ``build`` wrote it: without the records the image and package steps add."""
    kept = tuple(record for record in manifest.artifacts if record.kind not in DERIVED_KINDS)
    return dataclasses.replace(manifest, artifacts=kept).to_json()


def _digest(manifest: Manifest) -> str:
    return hashlib.sha256(build_manifest_bytes(manifest)).hexdigest()


def record_build(manifest: Manifest) -> None:
    """``build`` wrote ``manifest`` (and its artifacts) here, now."""
    digest = _digest(manifest)
    _THIS_PROCESS[BUILT][digest] = str(manifest.source.get("commit"))
    _cache.store(_BUILT_NAMESPACE, digest, json.dumps({"commit": manifest.source.get("commit")}, sort_keys=True))


def record_reproduction(manifest: Manifest, conditions: tuple[str, ...]) -> None:
    """An independent rebuild of ``manifest``'s commit gave these manifest bytes and every artifact digest."""
    digest = _digest(manifest)
    detail = "an independent rebuild (reprotasks reproduce) gave every digest; rebuilt under " + ", ".join(conditions)
    _THIS_PROCESS[REPRODUCED][digest] = detail
    _cache.store(_REPRODUCED_NAMESPACE, digest, detail)


def built_here(manifest: Manifest) -> bool:
    """A build on this machine (this process or its record) wrote ``manifest``'s build part."""
    return any(item.kind in (BUILT, RECORDED) for item in evidence_for(manifest))


def evidence_for(manifest: Manifest) -> tuple[Evidence, ...]:
    """Every piece of evidence for ``manifest`` (the strongest first); empty: none."""
    digest = _digest(manifest)
    found: list[Evidence] = []
    if digest in _THIS_PROCESS[BUILT]:
        found.append(Evidence(BUILT, digest, "this process built dist/ from the commit"))
    elif _cache.load(_BUILT_NAMESPACE, digest) is not None:
        found.append(
            Evidence(RECORDED, digest, "a build on this machine wrote these bytes (record in the cache directory)")
        )
    reproduced = _THIS_PROCESS[REPRODUCED].get(digest) or _cache.load(_REPRODUCED_NAMESPACE, digest)
    if reproduced is not None:
        found.append(Evidence(REPRODUCED, digest, reproduced))
    return tuple(found)
