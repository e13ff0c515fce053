"""JSON schema of ``[tool.reprotasks]`` and the README's configuration reference, both derived from
the option tables (``config.all_options()``).

The schema is also exposed to validate-pyproject through the ``validate_pyproject.tool_schema``
entry point; the reference table sits between ``README_BEGIN`` and ``README_END`` in README.md.
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
    if option.default_text is not None:
        schema["description"] += f" Default: {option.default_text}."
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


README_BEGIN = "<!-- options: begin (generated from the option tables; see docs/architecture.md, Options) -->"
README_END = "<!-- options: end -->"


def _env_cell(option: Option) -> str:
    if not option.layered:
        return "none: committed only"
    return f"`{option.env_var}`" + (" (JSON)" if option.kind == "entries" else "")


def _default_cell(option: Option) -> str:
    if option.default_text is not None:
        return option.default_text
    if option.default is None:
        return "none"
    return f"`{json.dumps(option.default)}`"


def reference_markdown() -> str:
    """The README's table of every key, in the order of ``all_options()``: key, env override, default, meaning."""
    lines = ["| key | env override | default | meaning |", "| --- | --- | --- | --- |"]
    for option in all_options():
        key = f"`[{option.table}]` `{option.key}`" if option.table else f"`{option.key}`"
        cells = (key, _env_cell(option), _default_cell(option), option.help)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def with_reference(readme: str) -> str:
    """``readme`` with the text between its markers replaced by ``reference_markdown()``."""
    head, begin, rest = readme.partition(README_BEGIN)
    _, end, tail = rest.partition(README_END)
    if not begin or not end:
        raise ValueError(f"README.md lacks the markers {README_BEGIN!r} and {README_END!r}")
    return f"{head}{README_BEGIN}\n\n{reference_markdown()}\n{README_END}{tail}"
