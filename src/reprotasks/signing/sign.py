"""The sign step: keyless Sigstore bundles for SHA256SUMS (and optionally every artifact).

The provenance statement, when present, is signed as a DSSE envelope. A file whose bundle
already verifies for the configured signer is skipped, so re-runs are cheap and never add
log entries. Bundles are written atomically; each new one is verified before it is kept.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from reprotasks._distdir import DistDir
from reprotasks._files import write_atomic
from reprotasks.artifacts.checksum import check_findings, listed_digests
from reprotasks.artifacts.layout import PROVENANCE_NAME, SUMS_NAME, kind_of, read_regular
from reprotasks.errors import DriftError, Finding, ReprotasksError
from reprotasks.signing import sigstore as _sigstore
from reprotasks.signing.options import SignConfig
from reprotasks.signing.sigstore import SignatureError, SignerPolicy, bundle_path

if TYPE_CHECKING:
    from sigstore.models import Bundle
    from sigstore.oidc import IdentityToken
    from sigstore.verify import Verifier

TOKEN_ENV = "SIGSTORE_ID_TOKEN"  # noqa: S105 - the variable's name, not a token
_HOW_TO_SIGN_IN = (
    "pass --identity-token or set SIGSTORE_ID_TOKEN to an OIDC token for audience `sigstore`; in GitHub Actions "
    "give the job `permissions: id-token: write` (the token is then detected); or run in a terminal to sign in "
    "through the browser"
)


@dataclass
class SignResult:
    rows_: list[tuple[str, str]] = field(default_factory=list)
    # The signer every bundle in dist/ now verifies for (release verifies against it afterwards).
    policy: SignConfig | None = None

    def rows(self) -> list[tuple[str, str]]:
        return self.rows_


def files_to_sign(settings: SignConfig, where: DistDir) -> list[Path]:
    """SHA256SUMS, with ``sign.artifacts`` every file it lists, and the provenance (call after the check)."""
    dist = where.path
    files = [dist / SUMS_NAME]
    if settings.artifacts:
        files += [dist / name for name in sorted(listed_digests(dist, where.rel()), key=str.encode)]
    if kind_of(dist / PROVENANCE_NAME) is None:
        files.append(dist / PROVENANCE_NAME)
    return files


def identity_token(
    sign: SignConfig, *, explicit: str | None, environ: Mapping[str, str], oidc_url: Callable[[], str]
) -> IdentityToken:
    """The token, in order: --identity-token / SIGSTORE_ID_TOKEN, ambient CI, then the browser."""
    from sigstore.oidc import IdentityError, IdentityToken, Issuer, IssuerError, detect_credential

    raw = explicit or environ.get(TOKEN_ENV)
    source = "--identity-token" if explicit else TOKEN_ENV
    if not raw:
        source = "the CI environment (ambient OIDC)"
        try:
            raw = detect_credential()
        except IdentityError as exc:
            raise ReprotasksError(
                f"sign: the CI environment offers an OIDC credential but it could not be fetched: {exc}",
                hint=_HOW_TO_SIGN_IN,
            ) from None
    if not raw:
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise ReprotasksError("sign: no identity token (no terminal for a browser sign-in)", hint=_HOW_TO_SIGN_IN)
        try:
            return Issuer(oidc_url()).identity_token()
        except (IssuerError, IdentityError) as exc:
            raise ReprotasksError(f"sign: browser sign-in failed: {exc}", hint=_HOW_TO_SIGN_IN) from None
    try:
        return IdentityToken(raw)
    except IdentityError as exc:
        raise ReprotasksError(
            f"sign: the identity token from {source} is not usable: {exc}",
            hint="tokens are short-lived: fetch a fresh one for audience `sigstore`; " + _HOW_TO_SIGN_IN,
        ) from None


def own_identity(sign: SignConfig, token: IdentityToken) -> SignerPolicy:
    """Without a configured policy, the new bundles must show the token's own identity and issuer."""
    return SignerPolicy(replace(sign, identity=token.identity, issuer=token.issuer, github_repository=None))


def sign(
    settings: SignConfig,
    where: DistDir,
    *,
    token: str | None = None,
    environ: Mapping[str, str] | None = None,
    log: Callable[[str], None] = print,
) -> SignResult:
    env = os.environ if environ is None else environ
    dist = where.path
    findings = check_findings(dist, shown_dist=where.rel())
    if findings:
        # Never sign a SHA256SUMS that does not describe dist/ exactly.
        raise DriftError(findings, step="sign")
    if kind_of(dist / PROVENANCE_NAME) is None:
        # Nor a provenance that names other files or digests than the SHA256SUMS signed with it.
        from reprotasks.artifacts.provenance import release_images, subject_problems

        shown = f"{where.rel()}/{PROVENANCE_NAME}"
        listed = listed_digests(dist, where.rel())
        problems = subject_problems(read_regular(dist / PROVENANCE_NAME), listed, release_images(dist, listed))
        if problems:
            raise DriftError(
                [
                    Finding(shown, None, problem, "run `reprotasks checksum` and `reprotasks provenance` again")
                    for problem in problems
                ],
                step="sign",
            )
    trust = _sigstore.trust_config(settings, offline=False)
    from sigstore.sign import SigningContext
    from sigstore.verify import Verifier as SigstoreVerifier

    verifier = SigstoreVerifier(trusted_root=trust.trusted_root)

    def get_token() -> IdentityToken:
        return identity_token(
            settings, explicit=token, environ=env, oidc_url=lambda: trust.signing_config.get_oidc_url()
        )

    # A token is needed up front only when the policy must come from it; otherwise only when signing.
    identity = None if settings.has_policy else get_token()
    policy = SignerPolicy(settings) if identity is None else own_identity(settings, identity)
    result = SignResult(policy=policy.sign)
    pending: list[Path] = []
    for file in files_to_sign(settings, where):
        if _already_signed(file, verifier, policy):
            result.rows_.append((where.rel(file), "already signed (bundle verifies), skipped"))
        else:
            pending.append(file)
    attest = _unattested(settings, where, verifier, policy, result) if settings.pypi_attestations else []
    if not pending and not attest:
        return result
    identity = identity or get_token()
    try:
        if attest:
            _write_attestations(settings, where, attest, identity, verifier, policy, result, log)
        if not pending:
            return result
        context = SigningContext.from_trust_config(trust)
        with context.signer(identity) as signer:
            for file in pending:
                log(f"sign: {where.rel(file)} ({_sigstore.describe_instance(settings)})")
                if file.name == PROVENANCE_NAME:
                    from sigstore.dsse import Statement

                    bundle = signer.sign_dsse(Statement(read_regular(file)))
                else:
                    bundle = signer.sign_artifact(_sigstore.file_digest(file))
                target = bundle_path(file)
                # Check what we are about to publish, then write it whole or not at all.
                if not _verifies(file, bundle, verifier, policy):
                    raise ReprotasksError(
                        f"sign: the new bundle for {where.rel(file)} does not verify for {policy.describe()}",
                        hint="check `sign.identity`/`sign.issuer` (or the GitHub policy) against the identity "
                        f"the token carries ({identity.identity}, issuer {identity.issuer})",
                    )
                write_atomic(target, bundle.to_json().encode())
                result.rows_.append((where.rel(target), f"signed as {identity.identity}"))
    except _sigstore.signing_errors() as exc:
        raise ReprotasksError(
            f"sign: {_sigstore.signing_failure(exc)}",
            hint="check the token (its issuer and expiry) and the instance "
            f"({_sigstore.describe_instance(settings)}); bundles already written are complete and verified, "
            "re-running signs only what is missing",
        ) from None
    return result


def _unattested(
    settings: SignConfig, where: DistDir, verifier: Verifier, policy: SignerPolicy, result: SignResult
) -> list[Path]:
    """The listed wheels and sdists without a PEP 740 attestation that verifies for the policy."""
    from reprotasks.signing import pep740

    missing = []
    wanted = pep740.distributions(where.path, where.rel())
    for name in sorted(listed_digests(where.path, where.rel()), key=str.encode):
        if name not in wanted:
            continue
        distribution = where.path / name
        target = pep740.attestation_path(distribution)
        try:
            if kind_of(target) is None:
                pep740.check(distribution, read_regular(target), verifier, policy)
                result.rows_.append((where.rel(target), "already attested (verifies), skipped"))
                continue
        except (SignatureError, OSError):
            pass
        missing.append(distribution)
    return missing


def _write_attestations(
    settings: SignConfig,
    where: DistDir,
    distributions: list[Path],
    identity: IdentityToken,
    verifier: Verifier,
    policy: SignerPolicy,
    result: SignResult,
    log: Callable[[str], None],
) -> None:
    """A PEP 740 attestation per distribution, signed through the instance's Rekor v1 log, each
    checked as PyPI would check it before it is written (atomically)."""
    from sigstore.sign import SigningContext

    from reprotasks.signing import pep740

    trust = pep740.rekor_v1_context_trust(
        _sigstore.trust_config(settings, offline=False), _sigstore.describe_instance(settings)
    )
    with SigningContext.from_trust_config(trust).signer(identity) as signer:
        for distribution in distributions:
            target = pep740.attestation_path(distribution)
            log(f"sign: {where.rel(target)} (PEP 740, {_sigstore.describe_instance(settings)}, Rekor v1)")
            data = pep740.attest(signer, distribution)
            try:
                pep740.check(distribution, data, verifier, policy)
            except SignatureError as exc:
                raise ReprotasksError(
                    f"sign: the new PEP 740 attestation for {where.rel(distribution)} does not verify for "
                    f"{policy.describe()}: {exc}",
                    hint="check `sign.identity`/`sign.issuer` (or the GitHub policy) against the identity the token "
                    f"carries ({identity.identity}, issuer {identity.issuer})",
                ) from None
            write_atomic(target, data)
            result.rows_.append((where.rel(target), f"attested (PEP 740) as {identity.identity}"))


def _already_signed(file: Path, verifier: Verifier, policy: SignerPolicy) -> bool:
    target = bundle_path(file)
    if not target.is_file():
        return False
    try:
        bundle = _sigstore.load_bundle(target)
    except SignatureError:
        return False
    return _verifies(file, bundle, verifier, policy)


def _verifies(file: Path, bundle: Bundle, verifier: Verifier, policy: SignerPolicy) -> bool:
    try:
        if file.name == PROVENANCE_NAME:
            _payload_type, payload = _sigstore.verify_dsse(verifier, policy, bundle)
            return payload == read_regular(file)
        _sigstore.verify_artifact(verifier, policy, file, bundle)
    except SignatureError:
        return False
    return True
