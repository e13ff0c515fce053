"""The ``[tool.reprotasks.promote]`` options: the ordered environments and what each requires.

Declared (``OPTIONS``), checked (``check_rules``) and resolved into ``PromoteConfig`` here. The policy
of one environment has a digest (``rules_digest``) that every Verification Summary Attestation
names, so a deploy job can tell which rules a release was let in under. A leaf module (see
``reprotasks._options``): config.py imports it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprotasks._identity import Signer, pattern_problem
from reprotasks._options import Option, assemble
from reprotasks.errors import ConfigError

DEFAULT_ENVIRONMENTS = ("dev", "staging", "prod")

# Keys of one `[tool.reprotasks.promote.rules.ENV]` table, with their TOML types.
RULE_KEYS: dict[str, str] = {
    "provenance": "bool",
    "sbom": "bool",
    "reproduced": "bool",
    "audit": "bool",
    "soak": "str",
    "promoters": "signers",
    "former-promoters": "signers",
    "promoter-issuer": "str",
}
RULES_EXAMPLE = (
    '[tool.reprotasks.promote.rules.prod]\nreproduced = true\nsoak = "24h"\n'
    'promoters = ["release-manager@example.com"]\n'
    'promoter-issuer = "https://accounts.google.com"'
)
GITHUB_ACTIONS_ISSUER = "https://token.actions.githubusercontent.com"
SIGNERS_EXAMPLE = (
    'promoters = [\n  "release-manager@example.com",  # with `promoter-issuer`\n'
    '  { identity = "https://github.com/acme/widgets/.github/workflows/release.yml@refs/tags/*", '
    f'issuer = "{GITHUB_ACTIONS_ISSUER}" }},\n]'
)
# One entry of `promoters`: an identity (its issuer is `promoter-issuer`) or (identity, issuer).
PromoterEntry = str | tuple[str, str]
RULES_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "additionalProperties": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            key: {"bool": {"type": "boolean"}, "str": {"type": "string"}}.get(
                kind,
                {
                    "type": "array",
                    "items": {
                        "anyOf": [
                            {"type": "string"},
                            {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["identity", "issuer"],
                                "properties": {"identity": {"type": "string"}, "issuer": {"type": "string"}},
                            },
                        ]
                    },
                },
            )
            for key, kind in RULE_KEYS.items()
        },
    },
}
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
    promoters: tuple[PromoterEntry, ...] = ()  # who may promote here (empty: the sign policy)
    # Identities whose past decisions still count (read), though they may no longer promote.
    former_promoters: tuple[PromoterEntry, ...] = ()
    promoter_issuer: str | None = None  # the issuer of the entries written as plain strings

    def signers(self, *, former: bool = False) -> tuple[Signer, ...]:
        """``promoters`` (or ``former-promoters``) with each entry's issuer resolved."""
        entries = self.former_promoters if former else self.promoters
        resolved = []
        for entry in entries:
            if isinstance(entry, str):
                assert self.promoter_issuer is not None  # checked when the config was read
                resolved.append(Signer(entry, self.promoter_issuer))
            else:
                resolved.append(Signer(*entry))
        return tuple(resolved)

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
            "promoters": [_entry_json(entry) for entry in self.promoters],
            "former-promoters": [_entry_json(entry) for entry in self.former_promoters],
            "promoter-issuer": self.promoter_issuer,
        }


def _entry_json(entry: PromoterEntry) -> str | dict[str, str]:
    return entry if isinstance(entry, str) else {"identity": entry[0], "issuer": entry[1]}


@dataclass(frozen=True, kw_only=True)
class PromoteConfig:
    environments: tuple[str, ...] = DEFAULT_ENVIRONMENTS
    ledger: Path | None = None  # resolved against the project; None until config.py sets it
    registry: str | None = None  # an OCI repository holding the ledger (promote.remote)
    rules: Mapping[str, Rules] = field(default_factory=dict)
    # Reproducibility drills: where releases are published ({tag}, {version}), who signs drill
    # records, and how old a drill may be to stand for a rebuild in a `reproduced` rule.
    published: str | None = None
    drill_signers: tuple[PromoterEntry, ...] = ()
    drill_signer_issuer: str | None = None
    drill_fresh: str = "35d"
    extra: Mapping[str, Any] = field(default_factory=dict)  # options without a field of their own

    def drill_signer_list(self) -> tuple[Signer, ...]:
        """`drill-signers` with each entry's issuer resolved (empty: the release signer policy)."""
        return Rules(promoters=self.drill_signers, promoter_issuer=self.drill_signer_issuer).signers()

    @property
    def drill_fresh_seconds(self) -> int:
        return Rules(soak=self.drill_fresh).soak_seconds

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
    return {
        str(environment): _check_environment_rules(rules, f"{where}.{environment}`")
        for environment, rules in value.items()
    }


def _check_environment_rules(rules: Any, at: str) -> dict[str, Any]:
    if not isinstance(rules, Mapping):
        raise ConfigError(f"{at} must be a table, not {type(rules).__name__}", hint=RULES_EXAMPLE)
    unknown = sorted(set(rules) - set(RULE_KEYS))
    if unknown:
        raise ConfigError(f"{at}: unknown key `{unknown[0]}`", hint=f"the rules are: {', '.join(RULE_KEYS)}")
    for key, kind in RULE_KEYS.items():
        if key in rules:
            _check_rule(key, kind, rules[key], at)
    soak = rules.get("soak", "0s")
    if not _SOAK.match(soak):
        raise ConfigError(
            f"{at}: `soak` = {soak!r} is not a duration",
            hint='write a whole number and a unit: "30m", "24h", "7d" (s, m, h, d)',
        )
    plain = [
        (key, entry)
        for key in ("promoters", "former-promoters")
        for entry in rules.get(key, ())
        if isinstance(entry, str)
    ]
    issuer = rules.get("promoter-issuer")
    if issuer is not None and not _is_issuer(issuer):
        raise ConfigError(
            f"{at}: `promoter-issuer` = {issuer!r} is not an OIDC issuer's https:// URL",
            hint=f'e.g. `promoter-issuer = "https://accounts.google.com"` ({GITHUB_ACTIONS_ISSUER} for a workflow)',
        )
    if plain and not issuer:
        raise ConfigError(
            f"{at}: `{plain[0][0]}` names {plain[0][1]!r} without `promoter-issuer`",
            hint="an identity only means something with its OIDC issuer: add e.g. "
            '`promoter-issuer = "https://accounts.google.com"`, or write the entry as '
            f'{{ identity = "...", issuer = "..." }} ({GITHUB_ACTIONS_ISSUER} for a GitHub workflow)',
        )
    return dict(rules)


_ISSUER = re.compile(
    r"^(?:https://[A-Za-z0-9.-]+\.[A-Za-z]{2,}|http://(?:127\.0\.0\.1|localhost|\[::1\]))(?::\d+)?(?:/\S*)?$"
)


def _is_issuer(text: str) -> bool:
    """An OIDC issuer's URL: https with a host name, or http on this machine (a test instance)."""
    return _ISSUER.match(text) is not None


def _check_signers(key: str, item: Any, at: str) -> None:
    if not isinstance(item, list):
        raise ConfigError(f"{at}: `{key}` must be an array of identities", hint=SIGNERS_EXAMPLE)
    for entry in item:
        if isinstance(entry, Mapping):
            unknown = sorted(set(entry) - {"identity", "issuer"})
            if unknown or not all(isinstance(entry.get(part), str) for part in ("identity", "issuer")):
                raise ConfigError(
                    f'{at}: `{key}` has a table that is not {{ identity = "...", issuer = "..." }}',
                    hint=SIGNERS_EXAMPLE,
                )
            texts = [entry["identity"], entry["issuer"]]
            if not _is_issuer(entry["issuer"]):
                raise ConfigError(
                    f"{at}: `{key}` names the issuer {entry['issuer']!r}, which is no https:// URL",
                    hint=f"write the OIDC issuer's URL, e.g. {GITHUB_ACTIONS_ISSUER} for a GitHub workflow",
                )
        elif isinstance(entry, str):
            texts = [entry]
        else:
            raise ConfigError(f"{at}: `{key}` must list identities (strings or tables)", hint=SIGNERS_EXAMPLE)
        if any(not text.strip() or "\x00" in text for text in texts):
            raise ConfigError(f"{at}: `{key}` has an empty identity or a NUL character", hint=SIGNERS_EXAMPLE)
        if any(text != text.strip() for text in texts):
            raise ConfigError(
                f"{at}: `{key}` has an identity with spaces around it",
                hint="write each identity exactly as the signing certificate names it, without spaces",
            )
        problem = pattern_problem(texts[0])
        if problem:
            raise ConfigError(f"{at}: `{key}`: {problem}", hint=SIGNERS_EXAMPLE)


def _check_rule(key: str, kind: str, item: Any, at: str) -> None:
    if kind == "signers":
        _check_signers(key, item, at)
        return
    if not isinstance(item, bool if kind == "bool" else str):
        wanted = "true or false" if kind == "bool" else "a string"
        raise ConfigError(f"{at}: `{key}` must be {wanted}", hint=RULES_EXAMPLE)
    if isinstance(item, str) and "\x00" in item:
        raise ConfigError(f"{at}: `{key}` contains a NUL character (\\u0000)", hint="remove the NUL character")


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
            promoters=_entries(table.get("promoters", ())),
            former_promoters=_entries(table.get("former-promoters", ())),
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


def _entries(value: Any) -> tuple[PromoterEntry, ...]:
    return tuple(entry if isinstance(entry, str) else (entry["identity"], entry["issuer"]) for entry in value)


TABLE = "promote"

# Tests may extend this tuple (monkeypatch): everything reads it when it runs, never at import.
OPTIONS: tuple[Option, ...] = (
    Option(
        table="promote",
        key="environments",
        layered=False,
        kind="list",
        default=list(DEFAULT_ENVIRONMENTS),
        help="The environments a release is promoted through, in order; `promote` never skips one.",
    ),
    Option(
        table="promote",
        key="ledger",
        layered=False,
        kind="str",
        default="promotions",
        help=(
            "Directory (relative to the project) of the promotion ledger: `ledger.jsonl`, hash-chained, and the "
            "signed VSA of every entry in `vsa/`. Commit it, or point this at a checkout of a ledger branch."
        ),
    ),
    Option(
        table="promote",
        key="registry",
        layered=False,
        kind="str",
        default=None,
        help=(
            "An OCI repository (e.g. `ghcr.io/acme/ledger`) that keeps the ledger as one artifact tagged `ledger`, "
            "for teams without a shared ledger branch: every command pulls it first, promote and rollback push it."
        ),
    ),
    Option(
        table="promote",
        key="rules",
        layered=False,
        kind="entries",
        default=None,
        default_text=(
            "every environment: `provenance = true`, `sbom = true`, `reproduced = false`, `audit = false`, "
            '`soak = "0s"`, no `promoters`'
        ),
        check=check_rules,
        schema=RULES_SCHEMA,
        example='{"prod": {"reproduced": true, "soak": "24h"}}',
        help=(
            "What each environment requires, as `[tool.reprotasks.promote.rules.ENV]` tables: `provenance` "
            "(default true: signed provenance matching SHA256SUMS), `sbom` (default true), `reproduced` (default "
            "false: a rebuild proves the bytes, or an earlier signed VSA did), `audit` (default false: the "
            "pinning audit of the release commit is clean), `soak` (least time in the previous environment, e.g. "
            '"24h"), `promoters` (identities that may promote there; without them the `[sign]` signer policy decides), '
            "`former-promoters` (identities whose past decisions still count, though they may no longer promote) "
            "and `promoter-issuer` (the OIDC issuer of the entries written as plain strings)."
        ),
    ),
)


def check_drill_signers(value: Any, where: str) -> list[Any]:
    _check_signers("drill-signers", value, where)
    return list(value)


DRILL_OPTIONS: tuple[Option, ...] = (
    Option(
        table="promote",
        key="published",
        layered=False,
        kind="str",
        default=None,
        default_text="`https://github.com/OWNER/REPO/releases/download/{tag}` when [project.urls] names a GitHub "
        "repository",
        help=(
            "Where each release is published, for `drill`: a directory or an https:// URL with `{tag}` (and "
            "`{version}`) in it, holding SHA256SUMS, its `.sigstore.json` bundle and the files it lists."
        ),
    ),
    Option(
        table="promote",
        key="drill-signers",
        layered=False,
        kind="entries",
        default=None,
        default_text="the `[sign]` signer policy",
        check=check_drill_signers,
        schema=RULES_SCHEMA["additionalProperties"]["properties"]["promoters"],
        example='["https://github.com/acme/widgets/.github/workflows/release.yml@refs/heads/main"]',
        help=(
            "Identities whose signed drill records count (the scheduled drill job's workflow identity), as "
            "`promoters` are written; plain strings need `drill-signer-issuer`."
        ),
    ),
    Option(
        table="promote",
        key="drill-signer-issuer",
        layered=False,
        kind="str",
        default=None,
        help="The OIDC issuer of the `drill-signers` written as plain strings.",
    ),
    Option(
        table="promote",
        key="drill-fresh",
        layered=False,
        kind="str",
        default="35d",
        help=(
            "How old a drill that found a release identical may be to satisfy a `reproduced` rule instead of a "
            'rebuild during `promote` (a duration: "30m", "24h", "35d").'
        ),
    ),
)
OPTIONS = (*OPTIONS, *DRILL_OPTIONS)


def _drill_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    fresh = values["promote.drill-fresh"]
    if not _SOAK.match(fresh):
        raise ConfigError(
            f"`promote.drill-fresh` = {fresh!r} is not a duration",
            hint='write a whole number and a unit: "24h", "35d" (s, m, h, d)',
        )
    issuer = values["promote.drill-signer-issuer"]
    signers = _entries(values["promote.drill-signers"] or ())
    if issuer is not None and not _is_issuer(issuer):
        raise ConfigError(
            f"`promote.drill-signer-issuer` = {issuer!r} is not an OIDC issuer's https:// URL",
            hint=f"e.g. {GITHUB_ACTIONS_ISSUER} for the drill workflow",
        )
    if any(isinstance(entry, str) for entry in signers) and not issuer:
        raise ConfigError(
            "`promote.drill-signers` names an identity without `drill-signer-issuer`",
            hint=f'add `drill-signer-issuer = "{GITHUB_ACTIONS_ISSUER}"`, or write entries as '
            '{ identity = "...", issuer = "..." }',
        )
    published = values["promote.published"]
    if published is not None and "{tag}" not in published and "{version}" not in published:
        raise ConfigError(
            f"`promote.published` = {published!r} names no `{{tag}}` or `{{version}}`",
            hint='every release is published in a place of its own, e.g. "https://example.com/releases/{tag}"',
        )
    return {"published": published or None, "drill_signers": signers, "drill_signer_issuer": issuer,
            "drill_fresh": fresh}  # fmt: skip


def resolve_config(root: Path, values: Mapping[str, Any]) -> PromoteConfig:
    """``PromoteConfig`` from the ``promote.*`` values of the committed settings file."""
    environments = check_environments(values["promote.environments"], "`promote.environments`")
    ledger = values["promote.ledger"]
    if not ledger.strip():
        raise ConfigError("`promote.ledger` is empty", hint='leave it out for "promotions", or name a directory')
    if (root / ledger).exists() and not (root / ledger).is_dir():
        raise ConfigError(
            f"`promote.ledger` = {ledger!r} is not a directory",
            hint='point it at the ledger\'s directory (default "promotions"); it is created on the first promotion',
        )
    policy = resolve(
        environments, root / ledger, values["promote.rules"] or {}, "`promote.rules`", values["promote.registry"]
    )
    return assemble(
        PromoteConfig,
        OPTIONS,
        values,
        environments=policy.environments,
        ledger=policy.ledger,
        registry=policy.registry,
        rules=policy.rules,
        **_drill_settings(values),
    )
