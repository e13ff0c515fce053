"""The ``[tool.reprotasks.sign]`` options, their resolved form (``SignConfig``) and the signer policy check.

A leaf module (see ``reprotasks._options``); the step flags that override these keys are in
``steps/_signing.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprotasks import discover
from reprotasks._options import Option, assemble
from reprotasks.errors import ConfigError

GITHUB_ACTIONS_ISSUER = "https://token.actions.githubusercontent.com"

TABLE = "sign"

# Tests may extend this tuple (monkeypatch): everything reads it when it runs, never at import.
OPTIONS: tuple[Option, ...] = (
    Option(
        table="sign",
        key="instance",
        kind="choice",
        default="production",
        choices=("production", "staging"),
        help=(
            "Public Sigstore instance used to sign and verify: `production` or `staging` (`--staging`); ignored "
            "when `sign.trust-config` is set."
        ),
    ),
    Option(
        table="sign",
        key="trust-config",
        kind="str",
        default=None,
        help=(
            "A Sigstore `ClientTrustConfig` JSON file (trusted root + signing config) for a private or local "
            "Sigstore instance (`--trust-config`); replaces `sign.instance`."
        ),
    ),
    Option(
        table="sign",
        key="artifacts",
        kind="bool",
        default=False,
        help=(
            "Also sign every artifact, not only SHA256SUMS (one verified SHA256SUMS signature already covers "
            "every file it lists)."
        ),
    ),
    Option(
        table="sign",
        key="pypi-attestations",
        kind="bool",
        default=False,
        help=(
            "Also write a PEP 740 attestation, `<file>.publish.attestation`, for every wheel and sdist: what "
            "`twine upload --attestations` sends and PyPI shows. Signed with the instance's Rekor v1 log, the "
            "only kind of entry the attestation format can carry."
        ),
    ),
    Option(
        table="sign",
        key="identity",
        kind="str",
        default=None,
        help="Exact signer identity (certificate SAN: an email or URI) that verification requires (`--identity`).",
    ),
    Option(
        table="sign",
        key="issuer",
        kind="str",
        default=None,
        default_text="GitHub Actions' issuer (`https://token.actions.githubusercontent.com`) with `github-repository`",
        help="OIDC issuer that verification requires; mandatory with `sign.identity` (`--issuer`).",
    ),
    Option(
        table="sign",
        key="github-repository",
        kind="str",
        default=None,
        help="GitHub workflow policy: `OWNER/REPO` whose workflow must have signed (instead of `sign.identity`).",
    ),
    Option(
        table="sign",
        key="github-workflow",
        kind="str",
        default=".github/workflows/release.yml",
        help="GitHub workflow policy: path of the signing workflow inside the repository.",
    ),
    Option(
        table="sign",
        key="github-ref",
        kind="str",
        default="refs/tags/*",
        help="GitHub workflow policy: glob the signing workflow's git ref must match.",
    ),
    Option(
        table="sign",
        key="offline",
        kind="bool",
        default=False,
        help=("Verify signatures with the trust root already on this machine, without a TUF refresh (`--offline`)."),
    ),
    Option(
        table="sign",
        key="require-provenance",
        kind="bool",
        default=True,
        help=(
            "Release policy: `verify-release` and `verify` (of a signed dist/) require a signed "
            "`provenance.intoto.json` whose subjects are exactly SHA256SUMS' entries."
        ),
    ),
)


@dataclass(frozen=True, kw_only=True)
class SignConfig:
    instance: str  # "production", "staging" or "custom" (trust_config set)
    trust_config: Path | None
    artifacts: bool
    identity: str | None
    issuer: str | None  # resolved: GitHub's issuer by default with a GitHub policy
    github_repository: str | None
    github_workflow: str
    github_ref: str
    offline: bool
    require_provenance: bool = True
    pypi_attestations: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)  # options without a field of their own

    @property
    def has_policy(self) -> bool:
        return self.identity is not None or self.github_repository is not None


def resolve(root: Path, values: Mapping[str, Any]) -> SignConfig:
    """``SignConfig`` from the layered ``sign.*`` values: one signer policy, the issuer and trust config resolved."""
    identity, repository = values["sign.identity"], values["sign.github-repository"]
    if identity is not None and repository is not None:
        raise ConfigError(
            "`sign.identity` and `sign.github-repository` are both set; a signer policy is one or the other",
            hint="keep `sign.identity` (+ `sign.issuer`) for a person or service account, or "
            "`sign.github-repository` for a GitHub Actions workflow",
        )
    issuer = values["sign.issuer"]
    if repository is not None:
        if repository.count("/") != 1 or repository.startswith("/") or repository.endswith("/"):
            raise ConfigError(
                f"`sign.github-repository` = {repository!r} is not OWNER/REPO", hint='e.g. `"acme/widgets"`'
            )
        issuer = issuer or GITHUB_ACTIONS_ISSUER
    elif identity is not None and issuer is None:
        raise ConfigError(
            "`sign.identity` is set without `sign.issuer`: an identity is only meaningful with the OIDC "
            "issuer that vouched for it",
            hint='add e.g. `issuer = "https://github.com/login/oauth"` (GitHub login) or '
            '`"https://accounts.google.com"` to [tool.reprotasks.sign]',
        )
    trust_config = values["sign.trust-config"]
    path = (
        None
        if trust_config is None
        else discover.resolve_path(root / trust_config, f"`sign.trust-config` = {trust_config!r}")
    )
    return assemble(
        SignConfig,
        OPTIONS,
        values,
        instance="custom" if path is not None else values["sign.instance"],
        trust_config=path,
        issuer=issuer,
    )
