"""The one place that talks to sigstore-python: trust roots, signer policies, bundles.

sigstore is imported lazily (it costs ~0.3 s) so that steps which never sign stay fast.
"""

from __future__ import annotations

import fnmatch
import logging
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprotasks._identity import Signer
from reprotasks.artifacts.layout import BUNDLE_SUFFIX, read_regular, sha256_regular
from reprotasks.config import SignConfig
from reprotasks.errors import ConfigError, ReprotasksError

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from cryptography.x509 import Certificate
    from sigstore.hashes import Hashed
    from sigstore.models import Bundle

    # Re-exported (`X as X`) for annotations elsewhere, under TYPE_CHECKING: only signing/ imports sigstore.
    from sigstore.models import ClientTrustConfig as ClientTrustConfig
    from sigstore.oidc import IdentityToken as IdentityToken
    from sigstore.verify import Verifier as Verifier

__all__ = ["BUNDLE_SUFFIX", "SignatureError", "SignerPolicy"]

# Fulcio certificate extensions (https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md).
_ISSUER_V2 = "1.3.6.1.4.1.57264.1.8"
_ISSUER_V1 = "1.3.6.1.4.1.57264.1.1"


class SignatureError(Exception):
    """A bundle that does not verify; the message is one sentence for a Finding, ``hint`` the fix
    when it is not the usual one (re-download or re-sign)."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


# The Rekor entry kinds sigstore-python checks; a bundle logged as another kind (e.g. Rekor v1
# `intoto` entries, as older cosign attestations are) is refused for that reason alone.
_CHECKED_KINDS = {("hashedrekord", "0.0.1"), ("dsse", "0.0.1"), ("hashedrekord", "0.0.2"), ("dsse", "0.0.2")}


def require_checkable_entry(bundle: Bundle) -> None:
    kind = bundle.log_entry._inner.kind_version
    if (kind.kind, kind.version) not in _CHECKED_KINDS:
        raise SignatureError(
            f"is logged as a Rekor `{kind.kind}` {kind.version} entry, a kind this verifier (sigstore-python) "
            "cannot check: refused without a verdict on its content",
            hint="verify it with cosign (`cosign verify-blob-attestation --bundle ...`), or have it signed again "
            "as a `dsse` or `hashedrekord` entry (what `reprotasks sign` and cosign v3 write)",
        )


def quiet() -> None:
    """sigstore logs "offline mode" notices and a pyasn1 length warning on every call; keep output clean."""
    logging.getLogger("sigstore").setLevel(logging.ERROR)
    logging.getLogger("tuf").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module=r"sigstore\..*")


def bundle_path(file: Path) -> Path:
    return file.with_name(file.name + BUNDLE_SUFFIX)


def describe_instance(sign: SignConfig) -> str:
    return f"trust config {sign.trust_config}" if sign.trust_config is not None else f"Sigstore {sign.instance}"


def trust_config(sign: SignConfig, *, offline: bool) -> ClientTrustConfig:
    """The ClientTrustConfig of the configured instance (a file, staging or production)."""
    quiet()
    from sigstore.errors import Error as SigstoreError
    from sigstore.models import ClientTrustConfig

    if sign.trust_config is not None:
        try:
            return ClientTrustConfig.from_json(sign.trust_config.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(
                f"`sign.trust-config` {sign.trust_config}: {exc.strerror}",
                hint="point `sign.trust-config` (or --trust-config) at a ClientTrustConfig JSON file",
            ) from None
        except Exception as exc:
            raise _unusable_trust_config(sign.trust_config, exc) from None
    try:
        if sign.instance == "staging":
            return ClientTrustConfig.staging(offline=offline)
        return ClientTrustConfig.production(offline=offline)
    except (SigstoreError, OSError) as exc:
        raise ReprotasksError(
            f"cannot load the Sigstore {sign.instance} trust root: {first_line(exc)}",
            hint="check the network access to the Sigstore TUF repository, or verify with --offline "
            "(uses the trust root cached on this machine or shipped with sigstore)",
        ) from None


_TRUST_PARTS = ("mediaType", "trustedRoot", "signingConfig")


def _unusable_trust_config(path: Path, exc: Exception) -> ConfigError:
    """Why sigstore refused the trust config: the parts it lacks, or (all there) what is wrong inside."""
    import json

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        document = None
    if not isinstance(document, dict):
        return ConfigError(
            f"`sign.trust-config` {path} is not JSON: {first_line(exc)}",
            hint="point `sign.trust-config` (or --trust-config) at a Sigstore ClientTrustConfig JSON file",
        )
    missing = [part for part in _TRUST_PARTS if part not in document]
    if missing:
        return ConfigError(
            f"`sign.trust-config` {path} is not a Sigstore ClientTrustConfig: it has no {', '.join(missing)}",
            hint="the file needs mediaType application/vnd.dev.sigstore.clienttrustconfig.v0.1+json, "
            "a trustedRoot and a signingConfig",
        )
    return ConfigError(
        f"`sign.trust-config` {path} has a mediaType, trustedRoot and signingConfig, but sigstore refuses their "
        f"content: {first_line(exc)}",
        hint="fix the field named (every key, log and authority needs `validFor.start`), or get the instance's "
        "current trust config from its operator",
    )


def trust_root_key(sign: SignConfig) -> str | None:
    """What identifies the trust root verification uses, for keeping results by it: a trust-config
    file's sha256; None for the public-good instances (their TUF root is not known before a refresh)."""
    import hashlib

    if sign.trust_config is None:
        return None
    try:
        return "trust-config:" + hashlib.sha256(sign.trust_config.read_bytes()).hexdigest()
    except OSError:
        return None  # the verifier's own loading says what is wrong


def verifier(sign: SignConfig, *, offline: bool) -> Verifier:
    from sigstore.verify import Verifier

    return Verifier(trusted_root=trust_config(sign, offline=offline).trusted_root)


def lazy_verifier(sign: SignConfig, given: Verifier | None = None) -> Callable[[], Verifier]:
    """``verifier`` (with `sign.offline`) made on first need and then kept: a command that may find
    every signature's result remembered (``vsa.verify_remembered``) never builds one."""
    made = [given] if given is not None else []

    def get() -> Verifier:
        if not made:
            made.append(verifier(sign, offline=sign.offline))
        return made[0]

    return get


def first_line(exc: BaseException) -> str:
    return summarize(exc, limit=300)


# What sigstore's signing clients raise that does not derive from sigstore.errors.Error, by module.
_SIGNING_ERRORS = {
    "sigstore._internal.fulcio.client": (
        ("FulcioClientError", "the certificate authority (Fulcio) refused or failed"),
        ("ExpiredCertificate", "the signing certificate expired before the signature was made"),
    ),
    "sigstore._internal.rekor": (("RekorClientError", "the transparency log (Rekor) refused or failed"),),
    "sigstore._internal.timestamp": (("TimestampError", "the timestamp authority failed"),),
    "sigstore.oidc": (("ExpiredIdentity", "the identity token has expired"),),
    "requests": (("RequestException", "the Sigstore instance could not be reached"),),
}


def signing_errors() -> tuple[type[BaseException], ...]:
    """Every exception signing may raise for a reason outside this program: sigstore's own Error,
    and its clients' errors that do not derive from it (FulcioClientError and the like)."""
    import importlib

    from sigstore.errors import Error as SigstoreError

    found: list[type[BaseException]] = [SigstoreError]
    for module_name, names in _SIGNING_ERRORS.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # pragma: no cover - another sigstore layout
            continue
        found += [getattr(module, name) for name, _what in names if isinstance(getattr(module, name, None), type)]
    return tuple(found)


def signing_failure(exc: BaseException) -> str:
    """One line: which service failed, and why (an empty message is completed by its cause)."""
    what = "Sigstore refused or failed"
    for module_name, names in _SIGNING_ERRORS.items():
        for name, description in names:
            if any(kind.__name__ == name and kind.__module__.startswith(module_name) for kind in type(exc).__mro__):
                what = description
    detail = summarize(exc, limit=300) if str(exc).strip() else ""
    cause = exc.__cause__
    if cause is not None and str(cause).strip():
        detail = "; ".join(part for part in (detail, summarize(cause, limit=200)) if part)
    return f"{what}: {detail or type(exc).__name__}"


class SignerPolicy:
    """Who must have signed: an exact identity, or a GitHub workflow; always with the OIDC issuer."""

    def __init__(self, sign: SignConfig) -> None:
        if not sign.has_policy or sign.issuer is None:
            raise ConfigError(
                "no signer identity to verify against",
                hint="set `sign.identity` + `sign.issuer`, or `sign.github-repository`, in [tool.reprotasks.sign] "
                "(or pass --identity and --issuer); a signature is only as good as the identity it is checked for",
            )
        self.sign = sign
        self.issuer = sign.issuer
        self.identity = sign.identity
        self.pattern: str | None = None
        if sign.github_repository is not None:
            workflow = sign.github_workflow.lstrip("/")
            self.pattern = f"https://github.com/{sign.github_repository}/{workflow}@{sign.github_ref}"

    def describe(self) -> str:
        who = self.identity if self.identity is not None else self.pattern
        return f"{who} (issuer {self.issuer})"

    def verify(self, cert: Certificate) -> None:
        from sigstore.errors import VerificationError

        sans = _identities_from(cert, self.issuer)
        if self.identity is not None:
            if self.identity not in sans:
                raise VerificationError(f"signed by {_names(sans)}, expected {self.identity}")
        elif self.pattern is not None and not any(fnmatch.fnmatchcase(san, self.pattern) for san in sans):
            raise VerificationError(f"signed by {_names(sans)}, expected a match for {self.pattern}")


class AnyIdentityPolicy:
    """One of several signers, each an identity (or a workflow pattern) with its OIDC issuer (e.g.
    who may promote)."""

    def __init__(self, signers: tuple[Signer, ...]) -> None:
        self.signers = signers

    def describe(self) -> str:
        return f"one of {', '.join(signer.describe() for signer in self.signers)}"

    def verify(self, cert: Certificate) -> None:
        from sigstore.errors import VerificationError

        issuer = certificate_issuer(cert)
        sans = certificate_identities(cert)
        if not any(signer.accepts(san, issuer) for signer in self.signers for san in sans):
            raise VerificationError(f"signed by {_names(sans)} (issuer {issuer}), expected {self.describe()}")


class EitherPolicy:
    """Either of two policies (past decisions: today's promoters or the former ones)."""

    def __init__(self, first: SignerPolicy | AnyIdentityPolicy, second: AnyIdentityPolicy) -> None:
        self.first = first
        self.second = second

    def describe(self) -> str:
        return f"{self.first.describe()} or {self.second.describe()}"

    def verify(self, cert: Certificate) -> None:
        from sigstore.errors import VerificationError

        try:
            self.first.verify(cert)
        except VerificationError:
            self.second.verify(cert)


def _identities_from(cert: Certificate, issuer: str) -> list[str]:
    """The certificate's identities, once its OIDC issuer is the one required (VerificationError else)."""
    from sigstore.errors import VerificationError

    found = certificate_issuer(cert)
    if found != issuer:
        raise VerificationError(f"signed through OIDC issuer {found!r}, expected {issuer!r}")
    return certificate_identities(cert)


def certificate_issuer(cert: Certificate) -> str | None:
    return _extension_text(cert, _ISSUER_V2, der=True) or _extension_text(cert, _ISSUER_V1, der=False)


def _names(sans: list[str]) -> str:
    return ", ".join(sans) if sans else "no identity"


def certificate_identities(cert: Certificate) -> list[str]:
    """Email, URI and Sigstore other-name SANs of a signing certificate."""
    from cryptography.x509 import OtherName, RFC822Name, SubjectAlternativeName, UniformResourceIdentifier
    from cryptography.x509.oid import ObjectIdentifier

    try:
        san = cert.extensions.get_extension_for_class(SubjectAlternativeName).value
    except Exception:
        return []
    names: list[str] = list(san.get_values_for_type(RFC822Name))
    names += san.get_values_for_type(UniformResourceIdentifier)
    other_oid = ObjectIdentifier("1.3.6.1.4.1.57264.1.7")
    names += [
        value.value.decode(errors="replace")
        for value in san.get_values_for_type(OtherName)
        if value.type_id == other_oid
    ]
    return names


def _extension_text(cert: Certificate, oid: str, *, der: bool) -> str | None:
    from cryptography.x509.oid import ObjectIdentifier

    try:
        value: Any = cert.extensions.get_extension_for_oid(ObjectIdentifier(oid)).value
    except Exception:
        return None
    raw: bytes = value.value
    if der:
        # A DER UTF8String: tag 0x0C, a length (short or long form), then the text.
        if len(raw) < 2 or raw[0] != 0x0C:
            return None
        length, start = raw[1], 2
        if length & 0x80:
            count = length & 0x7F
            length, start = int.from_bytes(raw[2 : 2 + count], "big"), 2 + count
        return raw[start : start + length].decode(errors="replace")
    return raw.decode(errors="replace")


def load_bundle(path: Path, *, follow: bool = False) -> Bundle:
    """Parse a bundle; SignatureError with a readable reason when it is not one.

    A bundle in a release directory is never read through a symlink (``follow=False``).
    """
    quiet()
    try:
        data = path.read_bytes() if follow else read_regular(path)
    except OSError as exc:
        raise SignatureError(f"cannot be read as a regular file: {exc.strerror or exc}") from None
    return bundle_from_json(data)


def bundle_from_json(data: bytes) -> Bundle:
    """Parse a bundle's bytes; SignatureError with a readable reason when they are not one."""
    from sigstore.models import Bundle

    try:
        return Bundle.from_json(data)
    except Exception as exc:
        raise SignatureError(f"is not a valid Sigstore bundle: {summarize(exc)}") from None


def signer_of(bundle: Bundle) -> str:
    names = certificate_identities(bundle.signing_certificate)
    return _names(names)


def issued_at(bundle: Bundle) -> datetime:
    """When the bundle's certificate was issued (UTC): the signing time Fulcio vouches for."""
    return bundle.signing_certificate.not_valid_before_utc


def sign_dsse(trust: ClientTrustConfig, token: IdentityToken, statement: bytes) -> bytes:
    """DSSE-sign an in-toto statement with a short-lived certificate for ``token``; the bundle's JSON.

    A refusal of the instance raises one of ``signing_errors()``.
    """
    from sigstore.dsse import Statement
    from sigstore.sign import SigningContext

    with SigningContext.from_trust_config(trust).signer(token) as signer:
        bundle = signer.sign_dsse(Statement(statement))
        return str(bundle.to_json()).encode()


def file_digest(file: Path, *, follow: bool = False) -> Hashed:
    """The file's sha256 as sigstore's prehashed input (streamed: large artifacts never sit in memory)."""
    from sigstore.hashes import Hashed
    from sigstore_models.common.v1 import HashAlgorithm

    from reprotasks._files import sha256_file

    digest = sha256_file(file) if follow else sha256_regular(file)
    return Hashed(algorithm=HashAlgorithm.SHA2_256, digest=bytes.fromhex(digest))


def verify_artifact(
    verifier: Verifier, policy: SignerPolicy, file: Path, bundle: Bundle, *, follow: bool = False
) -> None:
    """Check ``bundle`` signs ``file`` for ``policy``; SignatureError otherwise."""
    from sigstore.errors import Error as SigstoreError

    require_checkable_entry(bundle)
    try:
        verifier.verify_artifact(file_digest(file, follow=follow), bundle, policy)
    except SigstoreError as exc:
        raise SignatureError(_explain(exc)) from None
    require_timestamp(bundle)


def verify_dsse(
    verifier: Verifier, policy: SignerPolicy | AnyIdentityPolicy | EitherPolicy, bundle: Bundle
) -> tuple[str, bytes]:
    from sigstore.errors import Error as SigstoreError

    require_checkable_entry(bundle)
    try:
        payload_type, payload = verifier.verify_dsse(bundle, policy)
    except SigstoreError as exc:
        raise SignatureError(_explain(exc)) from None
    require_timestamp(bundle)
    return payload_type, payload


def require_timestamp(bundle: Bundle) -> None:
    # Rekor v2 entries carry no signed time of their own: without a TSA timestamp the
    # short-lived certificate cannot be checked (sigstore only warns when the TSA failed).
    entry = bundle.log_entry._inner
    if entry.kind_version.version == "0.0.2" and not bundle.verification_material.timestamp_verification_data:
        raise SignatureError("has a Rekor v2 log entry but no timestamp from a timestamp authority")


_BYTES = re.compile(r"""b(['"]).{40,}?(?<!\\)\1""")
_PYDANTIC_NOISE = re.compile(r"\s*For further information visit \S+")


def summarize(exc: BaseException, limit: int = 400) -> str:
    """An exception as one line that keeps what matters and never dumps kilobytes of bytes.

    pydantic's "1 validation error for Bundle" keeps the failing field and its reason; byte
    strings and long values are cut.
    """
    text = _PYDANTIC_NOISE.sub("", str(exc)).strip() or type(exc).__name__
    text = _BYTES.sub("b'...'", text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and "validation error" in lines[0]:
        text = f"{lines[0]}: " + (
            _validation_errors(exc)
            or "; ".join(f"field `{field}`: {reason}" for field, reason in zip(lines[1::2], lines[2::2], strict=False))
        )
    else:
        text = " ".join(lines)
    text = re.sub(r"input_value=(.{60}).*?, input_type", r"input_value=\1..., input_type", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _validation_errors(exc: BaseException) -> str:
    """A pydantic ValidationError (``exc``, or what it was raised from) as what is wrong where:
    "field `verificationMaterial`: Field required", or "truncated JSON: ... at line 1 column N" for
    input cut short (its text alone has no field line to show then)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        errors = getattr(current, "errors", None)
        if callable(errors) and type(current).__name__ == "ValidationError":
            try:
                items = errors(include_url=False, include_input=False)
            except Exception:  # a foreign object with an errors() method: fall back to the text
                return ""
            return "; ".join(_validation_item(item) for item in items) or ""
        current = current.__cause__ or current.__context__
    return ""


def _validation_item(item: Any) -> str:
    kind = str(item.get("type", ""))
    message = str(item.get("msg", "")).removeprefix("Invalid JSON: ")
    if kind == "json_invalid":
        match = re.search(r"line (\d+) column (\d+)", message)
        where = f" at line {match.group(1)} column {match.group(2)}" if match else ""
        if "EOF" in message:
            return f"truncated JSON: it ends in the middle of a value{where}"
        return f"not valid JSON{where}: {message}"
    location = ".".join(str(part) for part in item.get("loc", ()))
    return f"field `{location}`: {message}" if location else message


def _explain(exc: BaseException) -> str:
    text = summarize(exc)
    lowered = text.lower()
    if "expired at time of signing" in lowered or "not valid at" in lowered:
        return (
            "the signing certificate was not valid at signing time (the signature was made outside the "
            "certificate's validity window, or the timestamp is from another time)"
        )
    if "not enough sources of verified time" in lowered:
        return "has no verified signing time (no timestamp-authority timestamp and no log integration time)"
    if "signature is invalid for input" in lowered or "digest mismatch" in lowered:
        return "does not sign this file's content (the file or the bundle was changed)"
    if "inconsistent" in lowered:
        return f"is inconsistent with its transparency log entry ({text})"
    if "certificate chain" in lowered or "candidates exhausted" in lowered:
        return (
            "was not issued by this Sigstore instance's certificate authority "
            f"(signed on another instance, e.g. staging vs production?): {text}"
        )
    return text
