"""Image signatures as cosign makes and verifies them: a Sigstore bundle holding a DSSE envelope
of an in-toto statement whose subject is the image digest (predicate type
``https://sigstore.dev/cosign/sign/v1``), stored in the registry as an OCI 1.1 referrer.

The referrer is an artifact manifest (artifactType: the Sigstore bundle media type) whose
``subject`` is the image. It is pushed by digest; the registry lists it through the referrers
API, and where a registry has none, the client pushing it (crane, as cosign and oras do) keeps the
fallback index under the tag ``sha256-<hex>``. Verification asks the referrers API, then reads
the fallback index, then the tag ``sha256-<hex>.sigstore`` that older reprotasks releases pushed
a message signature under.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprotasks._run import Runner
from reprotasks.config import SignConfig
from reprotasks.errors import ReprotasksError
from reprotasks.image import oci
from reprotasks.signing import sigstore as _sigstore
from reprotasks.signing.sigstore import SignatureError, SignerPolicy

if TYPE_CHECKING:
    from sigstore.hashes import Hashed
    from sigstore.models import Bundle
    from sigstore.verify import Verifier

BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
EMPTY = "application/vnd.oci.empty.v1+json"
COSIGN_SIGN = "https://sigstore.dev/cosign/sign/v1"  # cosign's predicate for an image signature
IN_TOTO = "application/vnd.in-toto+json"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"
PREDICATE_ANNOTATION = "dev.sigstore.bundle.predicateType"
SLSA_PROVENANCE = "https://slsa.dev/provenance/v1"
_REFERENCE = re.compile(
    r"^(?P<repository>[^@\s]+?)(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


def signature_tag(digest: str) -> str:
    """The tag older reprotasks releases pushed an image signature under (read, never written)."""
    return digest.replace(":", "-") + ".sigstore"


def fallback_tag(digest: str) -> str:
    """The OCI 1.1 referrers tag schema: the index of an image's referrers where the registry has no API."""
    return digest.replace(":", "-")


def signature_statement(name: str, digest: str) -> bytes:
    """The in-toto statement of an image signature (cosign's predicate): the image as the only
    subject (its repository as the name, which in-toto requires and cosign ignores), no claim."""
    algorithm, _, value = digest.partition(":")
    subject = {"name": name, "digest": {algorithm: value}}
    return oci.canonical_json(
        {"_type": STATEMENT_V1, "subject": [subject], "predicateType": COSIGN_SIGN, "predicate": {}}
    )


def _hashed(digest: str) -> Hashed:
    from sigstore.hashes import Hashed
    from sigstore_models.common.v1 import HashAlgorithm

    return Hashed(algorithm=HashAlgorithm.SHA2_256, digest=bytes.fromhex(digest.removeprefix("sha256:")))


@dataclass(frozen=True)
class Signed:
    bundles: dict[str, bytes]  # image digest -> its signature bundle
    signer: str  # the identity the bundles show
    policy: SignerPolicy  # what they were verified for


def sign_digests(sign: SignConfig, images: Mapping[str, str], *, environ: Mapping[str, str]) -> Signed:
    """(digest -> bundle JSON, the signer) for each image (digest -> repository); every bundle verified
    before it is returned."""
    from sigstore.dsse import Statement
    from sigstore.errors import Error as SigstoreError
    from sigstore.sign import SigningContext
    from sigstore.verify import Verifier

    from reprotasks.signing.sign import identity_token, own_identity

    trust = _sigstore.trust_config(sign, offline=False)
    token = identity_token(sign, explicit=None, environ=environ, oidc_url=lambda: trust.signing_config.get_oidc_url())
    policy = SignerPolicy(sign) if sign.has_policy else own_identity(sign, token)
    verifier = Verifier(trusted_root=trust.trusted_root)
    bundles: dict[str, bytes] = {}
    try:
        with SigningContext.from_trust_config(trust).signer(token) as signer:
            for digest, name in images.items():
                statement = signature_statement(name, digest)
                bundle = signer.sign_dsse(Statement(statement))
                try:
                    _payload_type, payload = verifier.verify_dsse(bundle, policy)
                    if payload != statement:
                        raise SignatureError("the signed statement is not the one given")
                except (SigstoreError, SignatureError) as exc:
                    raise ReprotasksError(
                        f"publish: the new signature of {digest} does not verify for {policy.describe()}: "
                        f"{_sigstore.first_line(exc)}",
                        hint="check `sign.identity`/`sign.issuer` (or the GitHub policy) against the token's identity "
                        f"({token.identity}, issuer {token.issuer})",
                    ) from None
                bundles[digest] = bundle.to_json().encode()
    except _sigstore.signing_errors() as exc:
        raise ReprotasksError(
            f"publish: {_sigstore.signing_failure(exc)}",
            hint=f"check the token (its issuer and expiry) and the instance ({_sigstore.describe_instance(sign)}); "
            "nothing was pushed, run it again",
        ) from None
    return Signed(bundles, str(token.identity), policy)


def push_referrer(
    runner: Runner,
    root: Path,
    repository: str,
    subject: Mapping[str, Any],
    bundle: bytes,
    *,
    predicate_type: str = COSIGN_SIGN,
) -> str:
    """Push ``bundle`` (a DSSE bundle of ``predicate_type``) as a referrer of ``subject`` (the
    image's descriptor), by digest; returns where it can be read: the referrer's digest."""
    empty = oci.Blob(EMPTY, b"{}")
    layer = oci.Blob(BUNDLE_TYPE, bundle)
    manifest = {
        "schemaVersion": 2,
        "mediaType": oci.MANIFEST,
        "artifactType": BUNDLE_TYPE,
        "config": empty.descriptor(),
        "layers": [layer.descriptor()],
        "subject": dict(subject),
        "annotations": {"dev.sigstore.bundle.content": "dsse-envelope", PREDICATE_ANNOTATION: predicate_type},
    }
    manifest_blob = oci.Blob(oci.MANIFEST, oci.canonical_json(manifest))
    with tempfile.TemporaryDirectory(prefix="reprotasks-signature-") as scratch:
        layout = Path(scratch)
        (layout / "blobs" / "sha256").mkdir(parents=True)
        (layout / "oci-layout").write_bytes(oci.LAYOUT_VERSION)
        (layout / "index.json").write_bytes(oci.layout_index(manifest_blob, None).data)
        for blob in (empty, layer, manifest_blob):
            (layout / "blobs" / "sha256" / blob.digest.removeprefix("sha256:")).write_bytes(blob.data)
        # crane (go-containerregistry) updates the `sha256-<hex>` fallback index when the registry
        # does not answer a manifest with a subject by the OCI-Subject header, as cosign does.
        runner.run(
            ["crane", "push", str(layout), f"{repository}@{manifest_blob.digest}"],
            cwd=root,
            purpose="push the signature",
        )
    return manifest_blob.digest


@dataclass
class ReferrerSigner:
    """What `publish --sign` hands to reprotasks.image.publish: keyless signatures of image digests,
    and the release's signed provenance for each image it names, pushed as OCI referrers (image/
    stays free of Sigstore and of signing/)."""

    sign: SignConfig
    environ: Mapping[str, str]
    _policy: SignerPolicy | None = field(default=None, init=False, repr=False)

    def sign_digests(self, images: Mapping[str, str]) -> tuple[dict[str, bytes], str]:
        signed = sign_digests(self.sign, images, environ=self.environ)
        self._policy = signed.policy
        return signed.bundles, signed.signer

    def push_signature(
        self, runner: Runner, root: Path, repository: str, subject: Mapping[str, Any], bundle: bytes
    ) -> str:
        return push_referrer(runner, root, repository, subject, bundle)

    def attestations(self, directory: Path, digests: Collection[str]) -> tuple[dict[str, bytes], str]:
        """(digest -> the provenance bundle of ``directory``, for each image it attests; why none)"""
        assert self._policy is not None, "sign_digests first: the provenance must show the same signer"
        return provenance_bundles(directory, digests, self.sign, self._policy)

    def push_attestation(
        self, runner: Runner, root: Path, repository: str, subject: Mapping[str, Any], bundle: bytes
    ) -> str:
        return push_referrer(runner, root, repository, subject, bundle, predicate_type=SLSA_PROVENANCE)


def provenance_bundles(
    directory: Path, digests: Collection[str], sign: SignConfig, policy: SignerPolicy
) -> tuple[dict[str, bytes], str]:
    """The release's signed provenance (``provenance.intoto.json.sigstore.json``), verified for
    ``policy``, for each image digest its statement names as a subject: what `cosign
    verify-attestation --type slsaprovenance1` finds on the image. Attached as signed, never re-made."""
    from reprotasks.artifacts.layout import BUNDLE_SUFFIX, PROVENANCE_NAME, kind_of, read_regular

    path = directory / f"{PROVENANCE_NAME}{BUNDLE_SUFFIX}"
    if kind_of(path) is not None:
        return {}, f"no signed provenance ({PROVENANCE_NAME}{BUNDLE_SUFFIX}) to attach"
    data = read_regular(path)
    try:
        bundle = _sigstore.bundle_from_json(data)
        payload_type, payload = _sigstore.verify_dsse(_sigstore.verifier(sign, offline=sign.offline), policy, bundle)
        statement = json.loads(payload) if payload_type == IN_TOTO else {}
        named = {
            item["digest"].get("sha256") for item in statement["subject"] if str(item["name"]).startswith("pkg:oci/")
        }
    except (SignatureError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ReprotasksError(
            f"publish: {PROVENANCE_NAME}{BUNDLE_SUFFIX} does not verify for {policy.describe()}: {exc}",
            hint="sign the release again with `reprotasks sign` (the provenance names each image by digest), "
            "or publish without its provenance: remove the bundle from the directory published",
        ) from None
    if statement.get("predicateType") != SLSA_PROVENANCE:
        return {}, f"{PROVENANCE_NAME} is not SLSA provenance v1"
    attached = {digest: data for digest in digests if digest.removeprefix("sha256:") in named}
    return attached, "" if attached else f"{PROVENANCE_NAME} names none of the images (sign the release again)"


@dataclass(frozen=True)
class ImageVerified:
    reference: str
    digest: str
    signer: str


def verify_image(reference: str, sign: SignConfig, *, runner: Runner, root: Path) -> ImageVerified:
    """The image ``reference`` (by tag or digest) carries a bundle, signed for the policy, over its
    digest: a cosign-style DSSE signature among its referrers (the ``sha256-<hex>`` fallback index),
    or the message signature older releases tagged ``sha256-<hex>.sigstore``."""
    match = _REFERENCE.match(reference)
    if match is None:
        raise ReprotasksError(f"{reference!r} is not an image reference", hint="e.g. ghcr.io/acme/worker@sha256:...")
    repository = match["repository"]
    digest = match["digest"]
    if digest is None:
        tagged = runner.output_bytes(["crane", "digest", reference], cwd=root, purpose=f"resolve {reference}")
        digest = tagged.decode().strip()
    manifest = runner.output_bytes(["crane", "manifest", f"{repository}@{digest}"], cwd=root, purpose="read the image")
    if oci.sha256_digest(manifest) != digest:
        raise SignatureError(f"the registry served bytes for {repository}@{digest} that have another digest")
    verifier = _sigstore.verifier(sign, offline=sign.offline)
    policy = SignerPolicy(sign)
    referrers = _signature_referrers(runner, root, repository, digest)
    problems = []
    for referrer in referrers:
        try:
            bundle = _referrer_bundle(runner, root, repository, referrer, digest)
            payload_type, payload = _sigstore.verify_dsse(verifier, policy, bundle)
            _require_signature_of(payload_type, payload, digest)
        except SignatureError as exc:
            problems.append(f"{repository}@{referrer}: {exc}")
            continue
        return ImageVerified(f"{repository}@{digest}", digest, _sigstore.signer_of(bundle))
    legacy = _legacy_signature(runner, root, repository, digest, verifier, policy)
    if legacy is not None:
        return legacy
    if problems:
        raise SignatureError(
            "; ".join(problems[:3]) + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else "")
        )
    raise SignatureError(
        f"{repository}@{digest} has no signature (no Sigstore bundle among its referrers, "
        f"{repository}:{fallback_tag(digest)})"
    )


def _signature_referrers(runner: Runner, root: Path, repository: str, digest: str) -> list[str]:
    """The digests of the image's referrers that hold a Sigstore bundle of an image signature:
    through the registry's referrers API, or (none there) its ``sha256-<hex>`` fallback index."""
    from reprotasks.image.referrers import ReferrersError, list_referrers

    try:
        listed = list_referrers(repository, digest, BUNDLE_TYPE)
    except ReferrersError as exc:
        raise SignatureError(str(exc)) from None
    if listed is None:
        listed = _fallback_referrers(runner, root, repository, digest)
    signatures = []
    for entry in listed:
        annotations = entry.get("annotations") or {}
        # A bundle referrer says so by its artifactType, or (registries that report the config's media
        # type instead) by the annotations cosign and reprotasks give it; the manifest is checked after.
        bundle = entry.get("artifactType") == BUNDLE_TYPE or PREDICATE_ANNOTATION in annotations
        if bundle and annotations.get(PREDICATE_ANNOTATION, COSIGN_SIGN) == COSIGN_SIGN:
            signatures.append(str(entry.get("digest")))
    return signatures


def _fallback_referrers(runner: Runner, root: Path, repository: str, digest: str) -> list[dict[str, Any]]:
    result = runner.run(
        ["crane", "manifest", f"{repository}:{fallback_tag(digest)}"],
        cwd=root,
        check=False,
        purpose="read the image's referrers",
        quiet=True,
    )
    if result.returncode != 0:
        return []
    try:
        entries = json.loads(result.stdout).get("manifests") or []
    except (ValueError, AttributeError):
        raise SignatureError(f"{repository}:{fallback_tag(digest)} is not an OCI referrers index") from None
    return [entry for entry in entries if isinstance(entry, dict)]


def _referrer_bundle(runner: Runner, root: Path, repository: str, referrer: str, digest: str) -> Bundle:
    """The bundle the referrer manifest ``referrer`` holds, checked to name ``digest`` as its subject."""
    data = runner.output_bytes(["crane", "manifest", f"{repository}@{referrer}"], cwd=root, purpose="read a referrer")
    if oci.sha256_digest(data) != referrer:
        raise SignatureError("the registry served a referrer with another digest")
    return _blob_bundle(runner, root, repository, _bundle_layer(data, digest, ""))


def _bundle_layer(manifest: bytes | str, digest: str, where: str) -> str:
    """The digest of the bundle layer of a referrer manifest whose subject is ``digest`` (``where``:
    how messages name the manifest, "" when the caller does)."""
    try:
        document = json.loads(manifest)
        (layer,) = [item for item in document["layers"] if item.get("mediaType") == BUNDLE_TYPE]
        subject = document.get("subject", {}).get("digest")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SignatureError(f"{where}is not a Sigstore bundle referrer") from None
    if subject != digest:
        raise SignatureError(f"{where}is the signature of another image ({subject})")
    return str(layer.get("digest"))


def _blob_bundle(runner: Runner, root: Path, repository: str, layer_digest: str) -> Bundle:
    from sigstore.models import Bundle, InvalidBundle

    data = runner.output_bytes(
        ["crane", "blob", f"{repository}@{layer_digest}"], cwd=root, purpose="read the signature bundle"
    )
    if oci.sha256_digest(data) != layer_digest:
        raise SignatureError(f"the registry served a signature bundle whose digest is not {layer_digest}")
    try:
        return Bundle.from_json(data)
    except (InvalidBundle, ValueError) as exc:
        raise SignatureError(f"holds no valid bundle ({_sigstore.first_line(exc)})") from None


def _require_signature_of(payload_type: str, payload: bytes, digest: str) -> None:
    """The signed statement is an image signature (cosign's predicate) whose subject is ``digest``."""
    algorithm, _, value = digest.partition(":")
    try:
        statement = json.loads(payload) if payload_type == IN_TOTO else None
        subjects = statement["subject"] if isinstance(statement, dict) else []
        predicate_type = statement.get("predicateType") if isinstance(statement, dict) else None
        signed = any(isinstance(item, dict) and item.get("digest", {}).get(algorithm) == value for item in subjects)
    except (ValueError, TypeError, KeyError, AttributeError):
        signed, predicate_type = False, None
    if predicate_type != COSIGN_SIGN:
        raise SignatureError(f"signs a {payload_type} payload that is not an image signature ({predicate_type})")
    if not signed:
        raise SignatureError(f"signs a statement whose subject is not {digest}")


def _legacy_signature(
    runner: Runner, root: Path, repository: str, digest: str, verifier: Verifier, policy: SignerPolicy
) -> ImageVerified | None:
    """A message signature over the digest, tagged ``sha256-<hex>.sigstore`` (older releases)."""
    from sigstore.errors import Error as SigstoreError

    tag = signature_tag(digest)
    result = runner.run(
        ["crane", "manifest", f"{repository}:{tag}"], cwd=root, check=False, purpose="read the signature", quiet=True
    )
    if result.returncode != 0:
        return None
    bundle = _blob_bundle(runner, root, repository, _bundle_layer(result.stdout, digest, f"{repository}:{tag} "))
    try:
        verifier.verify_artifact(_hashed(digest), bundle, policy)
    except SigstoreError as exc:
        raise SignatureError(_sigstore.summarize(exc)) from None
    _sigstore.require_timestamp(bundle)
    return ImageVerified(f"{repository}@{digest}", digest, _sigstore.signer_of(bundle))
