"""Options shared by the signing steps: which Sigstore instance, and which signer is accepted.

Each overrides a ``[tool.reprotasks.sign]`` key; a light module (no sigstore import), since
every front end reads it before a step runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reprotasks.step import flag, param

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def identity_token() -> Any:
    return param(
        "--identity-token",
        metavar="TOKEN",
        secret=True,
        help="OIDC identity token (default: $SIGSTORE_ID_TOKEN, then ambient CI credentials, then the browser)",
    )


@dataclass(frozen=True, kw_only=True)
class InstanceOptions:
    staging: bool = flag(
        "--staging",
        group="instance",
        config="sign.instance",
        config_value="staging",
        help="use Sigstore's staging instance (sign.instance)",
    )
    trust_config: Path | None = param(
        "--trust-config",
        metavar="FILE",
        path=True,
        group="instance",
        config="sign.trust-config",
        help="ClientTrustConfig JSON of a private or local Sigstore instance (sign.trust-config)",
    )


@dataclass(frozen=True, kw_only=True)
class SignerPolicyOptions(InstanceOptions):
    offline: bool = flag(
        "--offline",
        config="sign.offline",
        help="use the trust root on this machine; do not refresh it over TUF (sign.offline)",
    )
    identity: str | None = param(
        "--identity",
        metavar="ID",
        config="sign.identity",
        clears=("sign.github-repository",),
        help="exact signer identity (email or URI) (sign.identity)",
    )
    issuer: str | None = param(
        "--issuer", metavar="URL", config="sign.issuer", help="OIDC issuer the signer used (sign.issuer)"
    )
    github_repository: str | None = param(
        "--github-repository",
        metavar="OWNER/REPO",
        config="sign.github-repository",
        help="accept this repository's workflow as signer (sign.github-repository)",
    )
    github_workflow: str | None = param(
        "--github-workflow", metavar="PATH", config="sign.github-workflow", help="workflow path (sign.github-workflow)"
    )
    github_ref: str | None = param(
        "--github-ref",
        metavar="GLOB",
        config="sign.github-ref",
        help="allowed refs, e.g. 'refs/tags/v*' (sign.github-ref)",
    )
