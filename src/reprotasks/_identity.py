"""Signer identities as a policy names them: exact, or a workflow identity whose ref is a pattern.

A GitHub Actions workflow signs as ``https://github.com/OWNER/REPO/.github/workflows/FILE@REF``,
so its identity changes with every tag. A policy that means "this workflow, run from any tag" names
it once as ``…/FILE@refs/tags/*``: the ``*`` may stand only in the ref, after the last ``@``, so the
repository and the workflow are always matched exactly (cosign's ``--certificate-identity-regexp``
and sigstore-python's ``GitHubWorkflowRef`` policies draw the same line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


def pattern_problem(identity: str) -> str | None:
    """Why ``identity`` cannot be a policy entry (None: it can)."""
    if "*" not in identity:
        return None
    prefix, at, ref = identity.rpartition("@")
    if not at or "*" in prefix or not identity.startswith("https://"):
        return (
            f"{identity!r} has a `*` outside the ref of a workflow identity: only the part after the last `@` "
            "of an https:// identity may hold one (…/.github/workflows/release.yml@refs/tags/*), so the "
            "repository and the workflow are matched exactly"
        )
    fixed = ref.split("*", 1)[0]
    if not fixed.startswith(("refs/tags/", "refs/heads/")):
        return (
            f"{identity!r} accepts too many refs: the ref must start with `refs/tags/` or `refs/heads/` before "
            "its first `*` (`refs/*` would also match pull requests' refs), e.g. `@refs/tags/*`"
        )
    return None


def matches(identity_or_pattern: str, identity: str) -> bool:
    if "*" not in identity_or_pattern:
        return identity_or_pattern == identity
    prefix, _, ref = identity_or_pattern.rpartition("@")
    # A `*` never spans an `@`: the identity's last `@` is the one the pattern's prefix ends with.
    expression = re.escape(f"{prefix}@") + "[^@]+".join(re.escape(part) for part in ref.split("*"))
    return re.fullmatch(expression, identity) is not None


@dataclass(frozen=True)
class Signer:
    """One identity (or workflow pattern) with the OIDC issuer that must have vouched for it."""

    identity: str
    issuer: str

    def accepts(self, identity: str, issuer: str | None) -> bool:
        return issuer == self.issuer and matches(self.identity, identity)

    def describe(self) -> str:
        return f"{self.identity} (issuer {self.issuer})"
