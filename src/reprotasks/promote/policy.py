"""The promotion policy of ``[tool.reprotasks.promote]``: the ordered environments and what each requires.

Parsed and checked here (``check_rules``), resolved into ``PromoteConfig`` by config.py. The policy
of one environment has a digest (``rules_digest``) that every Verification Summary Attestation
names, so a deploy job can tell which rules a release was let in under.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprotasks.errors import ConfigError

DEFAULT_ENVIRONMENTS = ("dev", "staging", "prod")

# Keys of one `[tool.reprotasks.promote.rules.ENV]` table, with their TOML types.
RULE_KEYS: dict[str, str] = {
    "provenance": "bool",
    "sbom": "bool",
    "reproduced": "bool",
    "audit": "bool",
    "soak": "str",
    "promoters": "list",
    "former-promoters": "list",
    "promoter-issuer": "str",
}
RULES_EXAMPLE = (
    '[tool.reprotasks.promote.rules.prod]\nreproduced = true\nsoak = "24h"\n'
    'promoters = ["release-manager@example.com"]\n'
    'promoter-issuer = "https://accounts.google.com"'
)
_ENVIRONMENT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_SOAK = re.compile(r"^(\d{1,6})([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True, kw_only=True)
class Rules:
    """What must hold before a release enters one environment."""

    provenance: bool = True  # signed provenance whose subjects are exactly SHA256SUMS
    sbom: bool = True  # an SBOM among the checksummed files
    reproduced: bool = False  # a rebuild gave the same bytes (proven now, or by an earlier signed VSA)
    audit: bool = False  # the pinning audit of the release commit has no finding
    soak: str = "0s"  # least time the release spent in the previous environment
    promoters: tuple[str, ...] = ()  # identities that may promote here (empty: the sign policy)
    # Identities whose past decisions still count (read), though they may no longer promote.
    former_promoters: tuple[str, ...] = ()
    promoter_issuer: str | None = None

    @property
    def soak_seconds(self) -> int:
        match = _SOAK.match(self.soak)
        assert match is not None  # checked when the config was read
        return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]

    def as_json(self) -> dict[str, Any]:
        return {
            "provenance": self.provenance,
            "sbom": self.sbom,
            "reproduced": self.reproduced,
            "audit": self.audit,
            "soak": self.soak,
            "promoters": list(self.promoters),
            "former-promoters": list(self.former_promoters),
            "promoter-issuer": self.promoter_issuer,
        }


@dataclass(frozen=True, kw_only=True)
class PromoteConfig:
    environments: tuple[str, ...] = DEFAULT_ENVIRONMENTS
    ledger: Path | None = None  # resolved against the project; None until config.py sets it
    registry: str | None = None  # an OCI repository holding the ledger (promote.remote)
    rules: Mapping[str, Rules] = field(default_factory=dict)

    def rules_for(self, environment: str) -> Rules:
        return self.rules.get(environment, Rules())

    def previous(self, environment: str) -> str | None:
        index = self.environments.index(environment)
        return self.environments[index - 1] if index else None

    def rules_digest(self, environment: str) -> str:
        """sha256 of the rules of ``environment`` and its place in the order (canonical JSON)."""
        document = {
            "environment": environment,
            "previous": self.previous(environment),
            "rules": self.rules_for(environment).as_json(),
        }
        return hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def check_environments(value: list[str], where: str) -> list[str]:
    if not value:
        raise ConfigError(f"{where} is empty", hint='list the environments in order, e.g. ["dev", "staging", "prod"]')
    for name in value:
        if not _ENVIRONMENT.match(name):
            raise ConfigError(
                f"{where}: {name!r} is not an environment name",
                hint="use lower-case letters, digits, '-' and '_' (it names ledger entries and GitHub environments)",
            )
    duplicates = sorted({name for name in value if value.count(name) > 1})
    if duplicates:
        raise ConfigError(f"{where} names {duplicates[0]!r} twice", hint="list each environment once, in order")
    return value


def check_rules(value: Any, where: str) -> dict[str, dict[str, Any]]:
    """``[tool.reprotasks.promote.rules]``: a table of environment -> rules table, every key checked."""
    where = where.replace("`promote.rules`", "`promote.rules")  # each environment's key closes the quote
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}` must be a table of tables, not {type(value).__name__}", hint=RULES_EXAMPLE)
    checked: dict[str, dict[str, Any]] = {}
    for environment, rules in value.items():
        _check_environment_rules(rules, f"{where}.{environment}`")
        checked[str(environment)] = dict(rules)
    return checked


def _check_environment_rules(rules: Any, at: str) -> None:
    """One environment's rules table: known keys, each of its kind, a duration, an issuer for promoters."""
    if not isinstance(rules, Mapping):
        raise ConfigError(f"{at} must be a table, not {type(rules).__name__}", hint=RULES_EXAMPLE)
    unknown = sorted(set(rules) - set(RULE_KEYS))
    if unknown:
        raise ConfigError(f"{at}: unknown key `{unknown[0]}`", hint=f"the rules are: {', '.join(RULE_KEYS)}")
    for key, kind in RULE_KEYS.items():
        if key in rules:
            _check_rule_value(rules[key], key, kind, at)
    soak = rules.get("soak", "0s")
    if not _SOAK.match(soak):
        raise ConfigError(
            f"{at}: `soak` = {soak!r} is not a duration",
            hint='write a whole number and a unit: "30m", "24h", "7d" (s, m, h, d)',
        )
    if (rules.get("promoters") or rules.get("former-promoters")) and not rules.get("promoter-issuer"):
        raise ConfigError(
            f"{at}: `promoters` is set without `promoter-issuer`",
            hint="an identity only means something with its OIDC issuer: add e.g. "
            '`promoter-issuer = "https://token.actions.githubusercontent.com"`',
        )


def _check_rule_value(item: Any, key: str, kind: str, at: str) -> None:
    """``item`` is a value of ``kind`` (bool, str or list of identities) without NULs or stray spaces."""
    good = (
        isinstance(item, bool)
        if kind == "bool"
        else isinstance(item, str)
        if kind == "str"
        else isinstance(item, list) and all(isinstance(part, str) and part.strip() for part in item)
    )
    if not good:
        wanted = {"bool": "true or false", "str": "a string", "list": "an array of non-empty strings"}[kind]
        raise ConfigError(f"{at}: `{key}` must be {wanted}", hint=RULES_EXAMPLE)
    if kind != "bool" and any("\x00" in text for text in ([item] if kind == "str" else item)):
        raise ConfigError(f"{at}: `{key}` contains a NUL character (\\u0000)", hint="remove the NUL character")
    if kind == "list" and any(part != part.strip() for part in item):
        raise ConfigError(
            f"{at}: `{key}` has an identity with spaces around it",
            hint="write each identity exactly as the signing certificate names it, without spaces",
        )


def resolve(
    environments: list[str],
    ledger: Path,
    rules: Mapping[str, Mapping[str, Any]],
    where: str,
    registry: str | None = None,
) -> PromoteConfig:
    unknown = sorted(set(rules) - set(environments))
    if unknown:
        raise ConfigError(
            f"{where} names {unknown[0]!r}, which `promote.environments` does not list",
            hint=f"the environments are: {', '.join(environments)}; fix the name or add it to the list",
        )
    resolved = {
        environment: Rules(
            provenance=bool(table.get("provenance", True)),
            sbom=bool(table.get("sbom", True)),
            reproduced=bool(table.get("reproduced", False)),
            audit=bool(table.get("audit", False)),
            soak=str(table.get("soak", "0s")),
            promoters=tuple(table.get("promoters", ())),
            former_promoters=tuple(table.get("former-promoters", ())),
            promoter_issuer=table.get("promoter-issuer"),
        )
        for environment, table in rules.items()
    }
    if registry and not re.match(r"^[a-z0-9.-]+(?::[0-9]+)?(?:/[a-z0-9._-]+)+$", registry):
        raise ConfigError(
            f"`promote.registry` = {registry!r} is not an OCI repository",
            hint='write it as REGISTRY/PATH without a tag, e.g. "ghcr.io/acme/ledger"',
        )
    return PromoteConfig(environments=tuple(environments), ledger=ledger, rules=resolved, registry=registry or None)
