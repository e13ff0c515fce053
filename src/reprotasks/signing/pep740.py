"""PEP 740 attestations: what PyPI accepts beside a wheel or sdist (``twine upload --attestations``).

An attestation is a Sigstore DSSE signature over an in-toto statement whose one subject is the
distribution's file name and sha256, with PyPI's publish predicate, re-packed by
``pypi-attestations`` into the attestation object PEP 740 defines. That object has room for
transparency log entries but not for RFC 3161 timestamps, so it can carry only Rekor v1 entries
(whose inclusion promise holds the time); signing forces the instance's Rekor v1 log, as
``pypi-attestations`` itself does. Verification here is the same check PyPI and
``pypi-attestations verify`` make, against the configured trust root rather than only the
public instances: the signature and the signer policy, one subject, that file's name and sha256,
and the publish predicate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from reprotasks.artifacts.layout import ATTESTATION_SUFFIX, read_regular, sha256_regular
from reprotasks.signing import sigstore as _sigstore
from reprotasks.signing.sigstore import SignatureError, SignerPolicy

if TYPE_CHECKING:
    from sigstore.models import ClientTrustConfig
    from sigstore.sign import Signer
    from sigstore.verify import Verifier

PUBLISH_PREDICATE = "https://docs.pypi.org/attestations/publish/v1"


def attestation_path(distribution: Path) -> Path:
    return distribution.with_name(distribution.name + ATTESTATION_SUFFIX)


def distributions(dist: Path, shown_dist: str) -> set[str]:
    """The wheels and sdists the build's manifest records (a Go archive is a `.tar.gz` too): what
    PyPI takes, hence what gets an attestation."""
    from reprotasks.artifacts.manifest import MANIFEST_NAME, read_manifest

    manifest = read_manifest(dist / MANIFEST_NAME, f"{shown_dist}/{MANIFEST_NAME}")
    return {record.name for record in manifest.artifacts if record.kind in ("sdist", "wheel")}


def rekor_v1_context_trust(trust: ClientTrustConfig, instance: str) -> ClientTrustConfig:
    """``trust`` signing with its Rekor v1 log only; a one-paragraph error when it lists none."""
    from sigstore.errors import Error as SigstoreError

    from reprotasks.errors import ReprotasksError

    trust.force_tlog_version = 1
    try:
        logs = trust.signing_config.get_tlogs()
    except (SigstoreError, ValueError):  # "No valid Rekor transparency log found in signing config"
        logs = []
    if not logs:
        raise ReprotasksError(
            f"sign: the Sigstore instance ({instance}) offers no Rekor v1 log, and PEP 740 attestations can carry "
            "only Rekor v1 entries (their format has no room for the timestamps a Rekor v2 entry needs)",
            hint="add the instance's Rekor v1 log (`majorApiVersion: 1`) to the signing config, or set "
            "`sign.pypi-attestations = false`",
        )
    return trust


def attest(signer: Signer, distribution: Path) -> bytes:
    """The PEP 740 attestation object for ``distribution``, as JSON."""
    from pypi_attestations import Attestation, Distribution

    attestation = Attestation.sign(signer, Distribution(name=distribution.name, digest=sha256_regular(distribution)))
    return attestation.model_dump_json().encode()


def check(distribution: Path, data: bytes, verifier: Verifier, policy: SignerPolicy) -> str:
    """Verify one attestation for ``distribution``; its signer, or SignatureError saying why not."""
    from pydantic import ValidationError
    from pypi_attestations import Attestation, ConversionError

    try:
        attestation = Attestation.model_validate_json(data)
        bundle = attestation.to_bundle()
    except (ValidationError, ConversionError, ValueError) as exc:
        raise SignatureError(
            f"is not a PEP 740 attestation object ({_sigstore.first_line(exc)})",
            hint="re-download it with its distribution, or sign again with `reprotasks sign`",
        ) from None
    payload_type, payload = _sigstore.verify_dsse(verifier, policy, bundle)
    if payload_type != "application/vnd.in-toto+json":
        raise SignatureError(f"signs a DSSE payload of type {payload_type!r}, not an in-toto statement")
    try:
        statement = json.loads(payload)
        subjects = statement["subject"]
        predicate = statement["predicateType"]
    except (ValueError, KeyError, TypeError):
        raise SignatureError("signs a statement without `subject` and `predicateType`") from None
    if predicate != PUBLISH_PREDICATE:
        raise SignatureError(f"attests {predicate!r}, not PyPI's publish predicate {PUBLISH_PREDICATE!r}")
    if not isinstance(subjects, list) or len(subjects) != 1 or not isinstance(subjects[0], dict):
        raise SignatureError("names more than one subject (PEP 740 allows exactly one)")
    subject = subjects[0]
    if subject.get("name") != distribution.name:
        raise SignatureError(f"belongs to {subject.get('name')!r}, not to {distribution.name!r}")
    digest = subject.get("digest", {}).get("sha256") if isinstance(subject.get("digest"), dict) else None
    actual = sha256_regular(distribution)
    if digest != actual:
        raise SignatureError(
            f"attests sha256 {digest}, but {distribution.name} has {actual} (the file was changed, or the attestation "
            "belongs to another build)"
        )
    return _sigstore.signer_of(bundle)


def read(path: Path) -> bytes:
    return read_regular(path)
