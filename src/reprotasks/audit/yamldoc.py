"""Workflow YAML as plain dicts, lists and strings, each string knowing where it was written.

PyYAML's ``compose`` with the libyaml-backed ``CSafeLoader`` gives every node its line and column
at C speed (about 40x the pure-Python round-trip loader on real workflows); the nodes are then
turned into ordinary containers. Only scalars carry a position: every finding points at one.
"""

from __future__ import annotations

from typing import Any

import yaml

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the pure-Python loader where libyaml is missing
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"

YAMLError = yaml.YAMLError


class Scalar(str):
    """A string with the 1-based line and column of its first character, and its YAML style
    (``|`` or ``>`` for a block scalar, whose text starts on the next line)."""

    line: int
    col: int
    style: str | None

    def __new__(cls, value: str, node: yaml.ScalarNode) -> Scalar:
        scalar = super().__new__(cls, value)
        scalar.line = node.start_mark.line + 1
        scalar.col = node.start_mark.column + 1
        scalar.style = node.style
        return scalar

    def __reduce__(self) -> tuple[type[str], tuple[str]]:
        return str, (str(self),)  # a copy or a pickle (to another process) is the plain text


class DuplicateKeyError(yaml.YAMLError):
    """A key written twice in one mapping: GitHub refuses the workflow, and which value counts is unclear."""

    def __init__(self, key: str, node: yaml.Node) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.problem = f"the key {key!r} is given twice in one mapping"
        self.problem_mark = node.start_mark


def load(text: str) -> Any:
    """The document of ``text`` (None when empty); raises YAMLError (with ``problem_mark``) when invalid.

    Aliases resolve to the same container (a recursive anchor stays a cycle, not an endless copy),
    and merge keys (``<<: *defaults``) are merged, as a YAML loader does.
    """
    node = yaml.compose(text, Loader=_LOADER)
    return None if node is None else _value(node, {})


def _value(node: yaml.Node, seen: dict[int, Any]) -> Any:
    if id(node) in seen:
        return seen[id(node)]
    if isinstance(node, yaml.ScalarNode):
        return None if node.tag == _NULL else Scalar(node.value, node)
    if isinstance(node, yaml.SequenceNode):
        items: list[Any] = []
        seen[id(node)] = items
        items.extend(_value(item, seen) for item in node.value)
        return items
    mapping: dict[Any, Any] = {}
    seen[id(node)] = mapping
    merged: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE:
            for source in value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]:
                if isinstance(source, yaml.MappingNode):
                    merged = {**_value(source, seen), **merged}  # the first source wins, as YAML says
            continue
        key = _value(key_node, seen)
        key = "" if key is None else str(key)  # a sequence or mapping as a key names nothing the audit reads
        if key in mapping:
            raise DuplicateKeyError(key, key_node)
        mapping[key] = _value(value_node, seen)
    for key, value in merged.items():
        mapping.setdefault(key, value)  # keys written in the mapping itself win over merged ones
    return mapping
