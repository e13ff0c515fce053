"""JSON schema of ``[tool.reprotasks]``, derived from ``_options.OPTIONS``.

Also exposed to validate-pyproject through the ``validate_pyproject.tool_schema`` entry point.
"""

from __future__ import annotations

import json
from typing import Any

from reprotasks._options import ALLOW_KEYS, IMAGE_KEYS, OPTIONS, TABLES, Option

SCHEMA_ID = "https://reprotasks.invalid/schema/tool-reprotasks.json"
NOT_LAYERED = (
    "Read only from the settings file as committed: an environment variable or an override (invoke.yaml) is refused."
)


# The schema of each value type of an entry key (IMAGE_KEYS, RULE_KEYS).
_TYPES: dict[str, dict[str, Any]] = {
    "bool": {"type": "boolean"},
    "str": {"type": "string"},
    "list": {"type": "array", "items": {"type": "string"}},
    "table": {"type": "object", "additionalProperties": {"type": "string"}},
}


def _option_schema(option: Option) -> dict[str, Any]:
    schema: dict[str, Any]
    if option.kind == "bool":
        schema = {"type": "boolean"}
    elif option.kind == "list":
        schema = {"type": "array", "items": {"type": "string"}}
    elif option.kind == "allow-list":
        entry = {key: {"type": "string"} for key in ALLOW_KEYS}
        schema = {
            "type": "array",
            "items": {"type": "object", "additionalProperties": False, "required": ["reason"], "properties": entry},
        }
    elif option.kind == "image-list":
        schema = {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "binary"],
                "properties": {key: _TYPES[kind] for key, kind in IMAGE_KEYS.items()},
            },
        }
    elif option.kind == "rules-table":
        from reprotasks.promote.policy import RULE_KEYS

        schema = {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "properties": {key: _TYPES[kind] for key, kind in RULE_KEYS.items()},
            },
        }
    elif option.kind == "choice":
        schema = {"type": "string", "enum": list(option.choices)}
    else:
        schema = {"type": "string"}
    schema["description"] = option.help
    if not option.layered:
        schema["description"] += f" {NOT_LAYERED}"
    if option.default is not None:
        schema["default"] = option.default
    return schema


def get_schema(tool_name: str = "reprotasks") -> dict[str, Any]:
    """The schema as a dict (the signature validate-pyproject's plugin hook expects)."""
    del tool_name
    top: dict[str, Any] = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": SCHEMA_ID,
        "title": "[tool.reprotasks]",
        "type": "object",
        "additionalProperties": False,
        "properties": {},
    }
    for table in TABLES:
        top["properties"][table] = {"type": "object", "additionalProperties": False, "properties": {}}
    for option in OPTIONS:
        target = top if not option.table else top["properties"][option.table]
        target["properties"][option.key] = _option_schema(option)
    return top


def schema_json() -> str:
    return json.dumps(get_schema(), indent=2, sort_keys=True) + "\n"
