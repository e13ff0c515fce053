"""The generic option type of ``[tool.reprotasks]`` and its top-level keys.

Each domain declares its own keys in its ``options.py`` (``python``, ``go``, ``signing``,
``image``, ``audit``, ``promote``): key, kind, default, help, and a ``check`` for structured
values. config.py assembles those tables (``config.DOMAINS``); loading, the environment
variables, ``describe()``, the shipped JSON schema and the README's configuration reference
(``schema.reference_markdown()``) are all derived from them.
This module is a leaf: the domain tables import it, it imports no domain.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from reprotasks.errors import ConfigError

# "entries": structured TOML (arrays of tables, tables of tables), JSON in an environment variable,
# checked by the option's own ``check``.
Kind = Literal["str", "bool", "list", "choice", "entries"]
Rel = Callable[[Path], str]  # a path as messages and describe() show it (project-relative)


@dataclass(frozen=True, kw_only=True)
class Option:
    table: str  # "" for the top level, else the sub-table name ("python", "go", "sign")
    key: str
    kind: Kind
    default: str | bool | list[str] | None
    # What the key means, for users: the README's "meaning" cell and the JSON schema's description.
    help: str
    # The default in words, where ``default`` alone does not say it (None: resolved from the project;
    # a list that stands for globs or derived names); shown instead of ``default`` in the README.
    default_text: str | None = None
    choices: tuple[str, ...] = ()
    # False: read only from the committed settings file; an environment variable or an override
    # (invoke.yaml, flags) of it is refused (promotion policy is not up to whoever runs the command).
    layered: bool = True
    # kind "entries": check(value, where) validates one layer's value and returns it; ``schema`` is
    # its JSON schema and ``example`` a JSON value shown when the environment variable is not JSON.
    check: Callable[[Any, str], Any] | None = None
    schema: Mapping[str, Any] | None = None
    example: str = ""
    # False: left out of describe() (folded into another key's value, or not about what is built).
    described: bool = True
    # describe()'s form of this key, from the resolved section; default: its field (or ``extra``).
    show: Callable[[Any, Rel], Any] | None = None

    @property
    def dotted(self) -> str:
        return f"{self.table}.{self.key}" if self.table else self.key

    @property
    def field(self) -> str:
        return self.key.replace("-", "_")

    @property
    def env_var(self) -> str:
        return "REPROTASKS_" + self.dotted.replace(".", "_").replace("-", "_").upper()


TOP_OPTIONS: tuple[Option, ...] = (
    Option(
        table="",
        key="dist-dir",
        kind="str",
        default="dist",
        help="Directory (relative to the project) that receives release artifacts; `build` replaces it as a whole.",
    ),
    Option(
        table="",
        key="dirty-tree",
        kind="choice",
        default="refuse",
        choices=("refuse", "warn"),
        help=(
            "What `build` does when tracked files have uncommitted changes. It always builds the "
            "committed tree (a clean clone), so `refuse` stops you from releasing something other than "
            "what you see; `warn` builds the commit anyway."
        ),
    ),
    Option(
        table="",
        key="exclude-submodules",
        kind="list",
        default=[],
        help=(
            "Submodules that are not part of the release (test data, say), by their path from the project "
            "root: the build's clean copy leaves them out, so a clone without them builds (and reproduces). Each "
            "must be a submodule of the commit, and one the sdist and wheel would not ship: the build puts a "
            "placeholder file in its directory and fails if the backend packs it."
        ),
    ),
    Option(
        table="",
        key="version",
        kind="str",
        default=None,
        default_text="the static `[project] version`, else the commit's highest full version tag (`v1.2.3`, never "
        "a moving `v1`), else `git describe`",
        help="Release version in Go archive names, the manifest and the SBOM, and the `-X` version stamp.",
    ),
)

# Environment variables that start with REPROTASKS_ but are not config keys.
NON_CONFIG_ENV: frozenset[str] = frozenset(
    {
        "REPROTASKS_CACHE_DIR",
        "REPROTASKS_TOOLS_DIR",
        "REPROTASKS_LOCK_TIMEOUT",
        "REPROTASKS_FAULT",
    }  # see _cache, _guard, _journal
)


def type_name(value: object) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean", int: "an integer"}.get(
        type(value), f"a {type(value).__name__}"
    )


# The TOML types a key of an array-of-tables entry ([[images]], [[packages]]) may have.
_ENTRY_TYPES = {
    "str": "a string",
    "bool": "true or false",
    "list": "an array of strings",
    "table": "a table of strings",
}


def _is_entry_kind(value: Any, kind: str) -> bool:
    if kind in ("str", "bool"):
        return isinstance(value, str if kind == "str" else bool)
    if kind == "list":
        return isinstance(value, list) and all(isinstance(part, str) for part in value)
    return isinstance(value, Mapping) and all(isinstance(part, str) for part in value.values())


def check_entry_value(
    key: str, kind: str, value: Any, at: str, *, example: str, forbidden: tuple[str, str] = ("\x00", "a NUL character")
) -> None:
    """One key of an array-of-tables entry: its type ("str", "bool", "list" or "table" of strings)
    and none of ``forbidden``'s characters (which, as the message names them) in its strings."""
    if not _is_entry_kind(value, kind):
        parts = list(value.values()) if isinstance(value, Mapping) else value if isinstance(value, list) else []
        inner = next((part for part in parts if not isinstance(part, str)), value)
        what = type_name(value) if inner is value else f"one holding {type_name(inner)}"
        raise ConfigError(f"{at}: `{key}` must be {_ENTRY_TYPES[kind]}, not {what}", hint=example)
    if kind == "bool":
        return
    texts = [value] if kind == "str" else [*value, *(value.values() if kind == "table" else ())]
    characters, which = forbidden
    if any(char in text for text in texts for char in characters):
        raise ConfigError(f"{at}: `{key}` contains {which}", hint="remove it")


def suggest(word: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`? " if close else ""


Section = TypeVar("Section")


def assemble(cls: type[Section], options: Sequence[Option], values: Mapping[str, Any], **resolved: Any) -> Section:
    """A domain's resolved dataclass: ``resolved`` fields as given, every other option's layered value
    (lists as tuples) into its field of the same name, or into ``extra`` when the class has none."""
    fields = {field.name for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    given = dict(resolved)
    extra: dict[str, Any] = {}
    for option in options:
        if option.field in resolved:
            continue
        value = values[option.dotted]
        value = tuple(value) if isinstance(value, list) else value
        if option.field in fields:
            given[option.field] = value
        else:
            extra[option.key] = value
    given["extra"] = extra
    return cls(**given)


def plain(value: Any, rel: Rel) -> Any:
    """``value`` as JSON data: paths project-relative, tuples as lists."""
    if isinstance(value, Path):
        return rel(value)
    if isinstance(value, (list, tuple)):
        return [plain(item, rel) for item in value]
    if isinstance(value, Mapping):
        return {str(key): plain(item, rel) for key, item in value.items()}
    return value


def describe_section(options: Sequence[Option], section: Any, rel: Rel) -> dict[str, Any]:
    """describe()'s table of one resolved section, key by key in the order of ``options``."""
    described: dict[str, Any] = {}
    fields = {field.name for field in dataclasses.fields(section)}
    for option in options:
        if not option.described:
            continue
        if option.show is not None:
            described[option.key] = option.show(section, rel)
        elif option.field in fields:
            described[option.key] = plain(getattr(section, option.field), rel)
        else:
            described[option.key] = plain(section.extra[option.key], rel)
    return described
