"""Who guards a GitHub environment: its protection rules, read from the GitHub REST API.

A workflow job that names ``environment: X`` makes GitHub create X on the fly, unprotected, when
it does not exist; with no ``promoters`` in the policy, anyone who may run the workflow then
promotes to X. The preflight reads the environment with the job's own token (read access is
enough) and says which case holds.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from reprotasks.errors import ReprotasksError

_TIMEOUT = 15


@dataclass(frozen=True)
class Protection:
    exists: bool
    reviewers: int = 0  # required reviewers (people and teams)
    rules: tuple[str, ...] = ()  # every protection rule's type


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is never followed: urllib would carry the token to whatever host it names."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_RULE_TYPE = re.compile(r"^[a-z_]{1,40}$")


class Unreadable(Exception):
    """The API could not say (no token, no access, network): the caller warns instead of deciding."""


def _api_base(api_url: str) -> str:
    parts = urllib.parse.urlsplit(api_url)
    loopback = parts.hostname in ("127.0.0.1", "::1", "localhost")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ReprotasksError(
            f"GITHUB_API_URL {api_url!r} is not an https:// URL",
            hint="the job's token is only sent over https (GitHub Actions sets GITHUB_API_URL itself)",
        )
    return api_url.rstrip("/")


def environment_protection(repository: str, environment: str, *, token: str | None, api_url: str) -> Protection:
    if not _REPOSITORY.match(repository) or ".." in repository:
        raise ReprotasksError(
            f"GITHUB_REPOSITORY {repository[:100]!r} is not OWNER/NAME",
            hint="GitHub Actions sets it; outside a workflow, unset it or set it to the repository, e.g. acme/widgets",
        )
    url = (
        f"{_api_base(api_url)}/repos/{urllib.parse.quote(repository, safe='/')}"
        f"/environments/{urllib.parse.quote(environment, safe='')}"
    )
    request = urllib.request.Request(url)  # noqa: S310 - the scheme is checked above
    request.add_header("Accept", "application/vnd.github+json")
    request.add_header("X-GitHub-Api-Version", "2022-11-28")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with _OPENER.open(request, timeout=_TIMEOUT) as response:
            document: Any = json.loads(response.read(1 << 20))
    except urllib.error.HTTPError as exc:
        if exc.code == 404 and token:
            return Protection(exists=False)
        if exc.code == 404:  # without a token, a private repository's environment is a 404 too
            raise Unreadable("the GitHub API answered 404 without a token (a private repository?)") from None
        raise Unreadable(f"the GitHub API answered {exc.code} (redirects are not followed)") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise Unreadable(f"the GitHub API could not be read ({type(exc).__name__})") from None
    rules = document.get("protection_rules") if isinstance(document, dict) else None
    if not isinstance(rules, list):
        raise Unreadable("the GitHub API's answer has no protection_rules list")
    # The server's words are shown only when they look like a rule type (they reach logs and annotations).
    kinds = tuple(
        rule["type"] if isinstance(rule.get("type"), str) and _RULE_TYPE.match(rule["type"]) else "unknown"
        for rule in rules
        if isinstance(rule, dict)
    )
    reviewers = sum(
        len(rule["reviewers"]) if isinstance(rule.get("reviewers"), list) else 0
        for rule in rules
        if isinstance(rule, dict) and rule.get("type") == "required_reviewers"
    )
    return Protection(exists=True, reviewers=reviewers, rules=kinds)


def preflight(
    environments: tuple[str, ...],
    environment: str,
    promoters: str | None,
    environ: dict[str, str],
) -> tuple[list[tuple[str, str]], str | None]:
    """(summary rows, a warning) for promoting or rolling back into ``environment``; raises when the
    last environment is guarded by nothing: no ``promoters`` (``promoters``: their description, or
    None) and a GitHub environment without required reviewers."""
    rows = [("environment", environment)]
    if promoters is not None:
        return [*rows, ("who may enter", f"the policy's promoters: {promoters}")], None
    if environment != environments[-1]:
        return [*rows, ("who may enter", "whoever may run the workflow (not the last environment)")], None
    repository = environ.get("GITHUB_REPOSITORY")
    if not repository:
        warning = (
            f"{environment} has no `promoters` and this is not GitHub Actions, so its GitHub environment was not "
            "checked: whoever may run the release workflow promotes to it unless the environment has required reviewers"
        )
        return [*rows, ("who may enter", "NOT CHECKED (not in GitHub Actions)")], warning
    where = f"[tool.reprotasks.promote.rules.{environment}]"
    fix = (
        f"protect it: Settings -> Environments -> {environment} -> Required reviewers (and Deployment branches and "
        f"tags: tags only), or name who may promote as `promoters` under {where}"
    )
    token = environ.get("GITHUB_TOKEN") or environ.get("GH_TOKEN")
    try:
        protection = environment_protection(
            repository, environment, token=token, api_url=environ.get("GITHUB_API_URL", "https://api.github.com")
        )
    except Unreadable as exc:
        warning = (
            f"{environment} has no `promoters`, and its GitHub environment's protection could not be read ({exc}): "
            f"unless it has required reviewers, whoever may run the workflow promotes to it; {fix}"
        )
        return [*rows, ("who may enter", "NOT CHECKED (GitHub API unreadable)")], warning
    if not protection.exists:
        raise ReprotasksError(
            f"{environment} has no `promoters` in the policy and {repository} has no GitHub environment named "
            f"{environment}: GitHub creates it unprotected when the job starts, so whoever may run the workflow "
            f"would promote to {environment}",
            hint=f"create the environment and {fix[0].lower()}{fix[1:]}",
        )
    if not protection.reviewers:
        rules = ", ".join(protection.rules) or "none"
        raise ReprotasksError(
            f"{environment} has no `promoters` in the policy and its GitHub environment has no required reviewers "
            f"(protection rules: {rules}): whoever may run the workflow would promote to {environment}",
            hint=fix,
        )
    return [*rows, ("who may enter", f"the GitHub environment's required reviewers ({protection.reviewers})")], None
