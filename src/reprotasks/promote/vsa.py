"""SLSA Verification Summary Attestations: the signed record of one promotion decision.

An in-toto v1 statement with predicateType ``https://slsa.dev/verification_summary/v1`` whose
subjects are every file of the release (and each image's registry digest), signed with Sigstore
as a DSSE envelope. ``inputAttestations`` names the release's own signed SHA256SUMS and
provenance bundles and the ledger entry the decision was appended after, so a signature binds the
decision to its place in the chain. The time a promotion happened is the signing certificate's
issuance time (Fulcio's, checked against the timestamp authority), not a time the promoter wrote.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from reprotasks import __version__, _cache
from reprotasks.promote.ledger import canonical
from reprotasks.signing import sigstore as _sigstore
from reprotasks.signing.sigstore import AnyIdentityPolicy, EitherPolicy, SignatureError, SignerPolicy

if TYPE_CHECKING:
    from reprotasks.signing.sigstore import Verifier

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
VSA_TYPE = "https://slsa.dev/verification_summary/v1"
VERIFIER_ID = "https://reprotasks.invalid/promote/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
# verifiedLevels of our own, beside SLSA_BUILD_LEVEL_1.
REPRODUCED = "REPROTASKS_REPRODUCED"
AUDIT_CLEAN = "REPROTASKS_AUDIT_CLEAN"
_CLOCK_SKEW = 15 * 60  # seconds a VSA's timeVerified may differ from its certificate's time

Policy = SignerPolicy | AnyIdentityPolicy | EitherPolicy


@dataclass(frozen=True, kw_only=True)
class Decision:
    """What a VSA says, as reprotasks writes and reads it."""

    action: str  # promote | rollback
    environment: str
    version: str
    commit: str
    resource: str  # resourceUri
    artifacts: dict[str, str]  # file -> sha256
    images: dict[str, str]  # image name -> sha256:...
    policy_uri: str
    policy_digest: str
    inputs: tuple[tuple[str, str], ...]  # (uri, sha256) of the attestations the decision relied on
    levels: tuple[str, ...]
    sequence: int
    previous: str | None  # the ledger entry appended before this one
    time_verified: str
    restores: int | None = None  # a rollback: the entry whose release the environment holds again

    def statement(self) -> bytes:
        subjects = [{"name": name, "digest": {"sha256": digest}} for name, digest in sorted(self.artifacts.items())]
        subjects += [
            {"name": f"oci-image:{name}", "digest": {"sha256": digest.removeprefix("sha256:")}}
            for name, digest in sorted(self.images.items())
        ]
        inputs = [{"uri": uri, "digest": {"sha256": digest}} for uri, digest in self.inputs]
        if self.previous is not None:
            inputs.append({"uri": f"ledger.jsonl#{self.sequence - 1}", "digest": {"sha256": self.previous}})
        document: dict[str, Any] = {
            "_type": STATEMENT_TYPE,
            "subject": subjects,
            "predicateType": VSA_TYPE,
            "predicate": {
                "verifier": {"id": VERIFIER_ID, "version": {"reprotasks": __version__}},
                "timeVerified": self.time_verified,
                "resourceUri": self.resource,
                "policy": {"uri": self.policy_uri, "digest": {"sha256": self.policy_digest}},
                "inputAttestations": inputs,
                "verificationResult": "PASSED",
                "verifiedLevels": list(self.levels),
                "slsaVersion": "1.0",
                # Not part of the VSA schema (consumers ignore unknown fields): what was decided.
                "reprotasks": {
                    "action": self.action,
                    "environment": self.environment,
                    "version": self.version,
                    "commit": self.commit,
                    "sequence": self.sequence,
                    "restores": self.restores,
                },
            },
        }
        return canonical(document)


def now() -> str:
    return stamp(datetime.now(timezone.utc))


def stamp(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except (TypeError, ValueError):
        return None


def time_agrees(time_verified: str, signed: datetime) -> bool:
    """Is a VSA's own timeVerified within a few minutes of its certificate's time (not back- or post-dated)?"""
    claimed = parse_stamp(time_verified)
    return claimed is not None and abs((claimed - signed).total_seconds()) <= _CLOCK_SKEW


def predicate_of(vsa: VerifiedVsa) -> dict[str, Any]:
    return table(vsa.statement, "predicate")


def table(document: Any, key: str) -> dict[str, Any]:
    """``document[key]`` when both are JSON objects, else {} (a signed VSA may still be malformed)."""
    value = document.get(key) if isinstance(document, dict) else None
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class VerifiedVsa:
    statement: dict[str, Any]
    who: str
    when: datetime  # the certificate's issuance time (UTC)


def verify(bundle_bytes: bytes, verifier: Verifier, policy: Policy) -> VerifiedVsa:
    """Check a VSA bundle's signature for ``policy``; SignatureError with the reason otherwise."""
    bundle = _sigstore.bundle_from_json(bundle_bytes)
    payload_type, payload = _sigstore.verify_dsse(verifier, policy, bundle)
    if payload_type != PAYLOAD_TYPE:
        raise SignatureError(f"signs a {payload_type} payload, not an in-toto statement")
    try:
        statement = json.loads(payload)
    except (ValueError, RecursionError):
        raise SignatureError("signs a payload that is not JSON (or is nested too deeply)") from None
    if not isinstance(statement, dict) or statement.get("predicateType") != VSA_TYPE:
        raise SignatureError("is not a SLSA Verification Summary Attestation")
    return VerifiedVsa(statement, _sigstore.signer_of(bundle), _sigstore.issued_at(bundle))


# A VSA's verification, kept by the bundle's sha256, the trust root's and the signer policy's: every
# command reads the whole ledger, and re-verifying 600 entries costs seconds each time. Only a
# success is kept (a failure is checked again), and only where the trust root is a file whose
# bytes key it (`sign.trust-config`): sigstore-python does not expose the public-good TUF root
# without refreshing it, so those entries are verified each time.
_VERIFIED = "vsa-verified"


def verify_remembered(
    bundle_bytes: bytes, verifier: Callable[[], Verifier], policy: Policy, trust: str | None
) -> VerifiedVsa:
    """``verify``, or the same check's result kept from an earlier run (``trust``: the trust root's
    key, None for none to key by); ``verifier`` is asked for only when the check runs."""
    key = None
    if trust is not None:
        digest = hashlib.sha256(bundle_bytes).hexdigest()
        key = _cache.digest([__version__, _VERIFIED, digest, trust, policy.describe()])
        remembered = _from_record(_cache.load(_VERIFIED, key))
        if remembered is not None:
            return remembered
    verified = verify(bundle_bytes, verifier(), policy)
    if key is not None:
        record = {"statement": verified.statement, "who": verified.who, "when": verified.when.isoformat()}
        _cache.store(_VERIFIED, key, json.dumps(record, sort_keys=True))
    return verified


def _from_record(text: str | None) -> VerifiedVsa | None:
    if text is None:
        return None
    try:
        record = json.loads(text)
        when = datetime.fromisoformat(record["when"])
        if not isinstance(record["statement"], dict) or not isinstance(record["who"], str) or when.tzinfo is None:
            return None
        return VerifiedVsa(record["statement"], record["who"], when)
    except (ValueError, KeyError, TypeError, RecursionError):
        return None  # unreadable: verify again


def says(vsa: VerifiedVsa) -> dict[str, Any]:
    """The reprotasks part of a verified VSA's predicate ({} when absent)."""
    predicate = vsa.statement.get("predicate")
    extra = predicate.get("reprotasks") if isinstance(predicate, dict) else None
    return extra if isinstance(extra, dict) else {}


def subjects(vsa: VerifiedVsa) -> dict[str, str]:
    found: dict[str, str] = {}
    for subject in vsa.statement.get("subject", []):
        if isinstance(subject, dict) and isinstance(subject.get("digest"), dict):
            digest = subject["digest"].get("sha256")
            if isinstance(subject.get("name"), str) and isinstance(digest, str):
                found[subject["name"]] = digest
    return found


def inputs(vsa: VerifiedVsa) -> dict[str, str]:
    predicate = vsa.statement.get("predicate")
    found: dict[str, str] = {}
    for item in predicate.get("inputAttestations", []) if isinstance(predicate, dict) else []:
        if isinstance(item, dict) and isinstance(item.get("digest"), dict):
            digest = item["digest"].get("sha256")
            if isinstance(item.get("uri"), str) and isinstance(digest, str):
                found[item["uri"]] = digest
    return found


def levels(vsa: VerifiedVsa) -> list[str]:
    predicate = vsa.statement.get("predicate")
    value = predicate.get("verifiedLevels") if isinstance(predicate, dict) else None
    return [level for level in value if isinstance(level, str)] if isinstance(value, list) else []
