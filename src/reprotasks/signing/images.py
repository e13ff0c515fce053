"""Image signatures: a Sigstore bundle over the image digest, stored in the registry as an OCI referrer.

The bundle signs the image index's digest itself (a message signature over ``sha256:...``), so an
image is verified by digest alone. It is pushed as an OCI 1.1 artifact whose ``subject`` is the
image (registries with the referrers API list it for cosign, oras and the like), and tagged
``sha256-<hex>.sigstore`` so that crane, which has no referrers command, can read it back.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
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

BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
EMPTY = "application/vnd.oci.empty.v1+json"
_REFERENCE = re.compile(
    r"^(?P<repository>[^@\s]+?)(?::(?P<tag>[\w][\w.-]{0,127}))?(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


def signature_tag(digest: str) -> str:
    return digest.replace(":", "-") + ".sigstore"


def _hashed(digest: str) -> Hashed:
    from sigstore.hashes import Hashed
    from sigstore_models.common.v1 import HashAlgorithm

    return Hashed(algorithm=HashAlgorithm.SHA2_256, digest=bytes.fromhex(digest.removeprefix("sha256:")))


def sign_digests(sign: SignConfig, digests: list[str], *, environ: Mapping[str, str]) -> tuple[dict[str, bytes], str]:
    """(digest -> bundle JSON, the signer) for each image digest; every bundle verified before it is returned."""
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
            for digest in digests:
                bundle = signer.sign_artifact(_hashed(digest))
                try:
                    verifier.verify_artifact(_hashed(digest), bundle, policy)
                except SigstoreError as exc:
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
    return bundles, str(token.identity)


def push_signature(runner: Runner, root: Path, repository: str, subject: Mapping[str, Any], bundle: bytes) -> str:
    """Push ``bundle`` as a referrer of ``subject`` (a descriptor of the image); returns its tag."""
    empty = oci.Blob(EMPTY, b"{}")
    layer = oci.Blob(BUNDLE_TYPE, bundle)
    manifest = {
        "schemaVersion": 2,
        "mediaType": oci.MANIFEST,
        "artifactType": BUNDLE_TYPE,
        "config": empty.descriptor(),
        "layers": [layer.descriptor()],
        "subject": dict(subject),
        "annotations": {"dev.sigstore.bundle.content": "message-signature"},
    }
    manifest_blob = oci.Blob(oci.MANIFEST, oci.canonical_json(manifest))
    index = oci.Blob(oci.INDEX, oci.canonical_json({"schemaVersion": 2, "manifests": [manifest_blob.descriptor()]}))
    tag = signature_tag(str(subject["digest"]))
    with tempfile.TemporaryDirectory(prefix="reprotasks-signature-") as scratch:
        layout = Path(scratch)
        (layout / "blobs" / "sha256").mkdir(parents=True)
        (layout / "oci-layout").write_bytes(oci.LAYOUT_VERSION)
        (layout / "index.json").write_bytes(index.data)
        for blob in (empty, layer, manifest_blob):
            (layout / "blobs" / "sha256" / blob.digest.removeprefix("sha256:")).write_bytes(blob.data)
        runner.run(["crane", "push", str(layout), f"{repository}:{tag}"], cwd=root, purpose="push the signature")
    return tag


@dataclass(frozen=True)
class ReferrerSigner:
    """What `publish --sign` hands to reprotasks.image.publish: keyless signatures of image digests,
    pushed as OCI referrers (image/ stays free of Sigstore and of signing/)."""

    sign: SignConfig
    environ: Mapping[str, str]

    def sign_digests(self, digests: list[str]) -> tuple[dict[str, bytes], str]:
        return sign_digests(self.sign, digests, environ=self.environ)

    def push_signature(
        self, runner: Runner, root: Path, repository: str, subject: Mapping[str, Any], bundle: bytes
    ) -> str:
        return push_signature(runner, root, repository, subject, bundle)


@dataclass(frozen=True)
class ImageVerified:
    reference: str
    digest: str
    signer: str


def verify_image(reference: str, sign: SignConfig, *, runner: Runner, root: Path) -> ImageVerified:
    """The image ``reference`` (by tag or digest) carries a bundle, signed for the policy, over its digest."""
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import Bundle, InvalidBundle

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
    tag = signature_tag(digest)
    result = runner.run(
        ["crane", "manifest", f"{repository}:{tag}"], cwd=root, check=False, purpose="read the signature", quiet=True
    )
    if result.returncode != 0:
        raise SignatureError(f"{repository}@{digest} has no signature ({repository}:{tag} is absent)")
    try:
        referrer = json.loads(result.stdout)
        layers = referrer["layers"]
        (layer,) = [item for item in layers if item.get("mediaType") == BUNDLE_TYPE]
        if referrer.get("subject", {}).get("digest") != digest:
            raise SignatureError(f"{repository}:{tag} is the signature of another image")
        bundle_bytes = runner.output_bytes(
            ["crane", "blob", f"{repository}@{layer['digest']}"], cwd=root, purpose="read the signature bundle"
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SignatureError(f"{repository}:{tag} is not a Sigstore bundle referrer") from None
    if oci.sha256_digest(bundle_bytes) != layer["digest"]:
        raise SignatureError(f"the registry served a signature bundle whose digest is not {layer['digest']}")
    try:
        bundle = Bundle.from_json(bundle_bytes)
    except (InvalidBundle, ValueError) as exc:
        raise SignatureError(f"{repository}:{tag} holds no valid bundle ({_sigstore.first_line(exc)})") from None
    verifier = _sigstore.verifier(sign, offline=sign.offline)
    try:
        verifier.verify_artifact(_hashed(digest), bundle, SignerPolicy(sign))
    except SigstoreError as exc:
        raise SignatureError(_sigstore.summarize(exc)) from None
    _sigstore.require_timestamp(bundle)
    return ImageVerified(f"{repository}@{digest}", digest, _sigstore.signer_of(bundle))
