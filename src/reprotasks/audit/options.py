"""The ``[tool.reprotasks.audit]`` options and their resolved form (``AuditConfig``).

A leaf module (see ``reprotasks._options``): config.py imports it, and so does the audit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reprotasks._options import Option, assemble, suggest, type_name
from reprotasks.errors import ConfigError

# Keys of one `[[tool.reprotasks.audit.allow]]` entry; `reason` is required.
ALLOW_KEYS: tuple[str, ...] = ("rule", "path", "match", "reason")
ALLOW_SCHEMA: Mapping[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["reason"],
        "properties": {key: {"type": "string"} for key in ALLOW_KEYS},
    },
}
_ALLOW_EXAMPLE = '[[tool.reprotasks.audit.allow]]\nrule = "RT-D001"\npath = "docker/dev/*"\nreason = "local only"'


def check_allow_list(value: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise ConfigError(f"{where} must be an array of tables, not {type_name(value)}", hint=f"e.g.\n{_ALLOW_EXAMPLE}")
    entries = []
    for number, item in enumerate(value, 1):
        unknown = sorted(set(item) - set(ALLOW_KEYS))
        if unknown:
            raise ConfigError(
                f"{where} entry {number}: unknown key `{unknown[0]}`",
                hint=f"{suggest(unknown[0], ALLOW_KEYS)}an entry has: {', '.join(ALLOW_KEYS)}",
            )
        if not all(isinstance(field_value, str) for field_value in item.values()):
            raise ConfigError(f"{where} entry {number}: every value must be a string", hint=f"e.g.\n{_ALLOW_EXAMPLE}")
        if not str(item.get("reason", "")).strip():
            raise ConfigError(
                f"{where} entry {number} has no `reason`",
                hint='say why this finding is acceptable (`reason = "..."`): the next reader needs to know',
            )
        if not any(key in item for key in ("rule", "path", "match")):
            raise ConfigError(
                f"{where} entry {number} would allow every finding", hint="give at least one of rule, path, match"
            )
        entries.append({key: str(item[key]) for key in ALLOW_KEYS if key in item})
    return entries


TABLE = "audit"

# Tests may extend this tuple (monkeypatch): everything reads it when it runs, never at import.
OPTIONS: tuple[Option, ...] = (
    Option(
        table="audit",
        key="enabled",
        kind="bool",
        default=True,
        help="Run the pinning audit as part of `verify` (`reprotasks audit` runs it on its own).",
    ),
    Option(
        table="audit",
        key="exclude",
        kind="list",
        # `[!.]*/vendor/*`: not .github/vendor/, whose scripts the workflows run
        default=["vendor/*", "[!.]*/vendor/*", "testdata/*", "*/testdata/*", "third_party/*", "*/third_party/*"],
        default_text="`vendor/` (not under `.github/`), `testdata/`, `third_party/` trees at any depth",
        help=(
            "Globs (project-relative, `*` crosses directories) of files the pinning audit skips, e.g. test fixtures; "
            "`[]` audits everything. dist/ and its staging directories are never audited."
        ),
    ),
    Option(
        table="audit",
        key="allow",
        kind="entries",
        default=[],
        check=check_allow_list,
        schema=ALLOW_SCHEMA,
        example='[{"rule": "RT-D001", "path": "docker/*", "reason": "local only"}]',
        help=(
            "Accepted findings, as `[[tool.reprotasks.audit.allow]]` entries with `rule` (id), `path` (glob), "
            "`match` (text the finding must contain) and a required `reason`; entries that match nothing are "
            "reported. Environment variable: a JSON array of such tables."
        ),
    ),
)


@dataclass(frozen=True, kw_only=True)
class AuditConfig:
    enabled: bool = True
    exclude: tuple[str, ...] = ()
    allow: tuple[Mapping[str, str], ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)  # options without a field of their own


def resolve(values: Mapping[str, Any]) -> AuditConfig:
    return assemble(AuditConfig, OPTIONS, values)
