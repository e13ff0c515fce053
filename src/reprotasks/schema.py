"""JSON schema of ``[tool.reprotasks]``, derived from the option tables (``config.all_options()``).

Also exposed to validate-pyproject through the ``validate_pyproject.tool_schema`` entry point.
"""

from __future__ import annotations

import json
from typing import Any

from reprotasks._options import Option
from reprotasks.config import all_options, tables

SCHEMA_ID = "https://reprotasks.invalid/schema/tool-reprotasks.json"
NOT_LAYERED = (
    "Read only from the settings file as committed: an environment variable or an override (invoke.yaml) is refused."
)


def _option_schema(option: Option) -> dict[str, Any]:
    schema: dict[str, Any]
    if option.kind == "bool":
        schema = {"type": "boolean"}
    elif option.kind == "list":
        schema = {"type": "array", "items": {"type": "string"}}
    elif option.kind == "entries":
        assert option.schema is not None, option.dotted  # declared with its schema
        schema = json.loads(json.dumps(option.schema))  # a copy the description is added to
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
    for table in tables():
        top["properties"][table] = {"type": "object", "additionalProperties": False, "properties": {}}
    for option in all_options():
        target = top if not option.table else top["properties"][option.table]
        target["properties"][option.key] = _option_schema(option)
    return top


def schema_json() -> str:
    return json.dumps(get_schema(), indent=2, sort_keys=True) + "\n"
