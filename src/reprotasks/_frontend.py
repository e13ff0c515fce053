"""What the front ends derive from a step's spec: argparse arguments (the CLI and nox's
posargs), the invoke task signature, and the options object built from either.

No nox or invoke import here, and no import of the CLI module: each adapter calls these.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from reprotasks.step import CommandSpec, Param, is_given

TYPE_CHECKING = False
if TYPE_CHECKING:
    import inspect
    from typing import Any


def add_arguments(parser: argparse.ArgumentParser, spec: CommandSpec[Any]) -> None:
    """The step's options as argparse arguments (dest = the options field)."""
    groups: dict[str, argparse._MutuallyExclusiveGroup] = {}
    for item in spec.params:
        target: Any = parser
        if item.group is not None:
            if item.group not in groups:
                groups[item.group] = parser.add_mutually_exclusive_group()
            target = groups[item.group]
        target.add_argument(*_names(item), **_argparse_kwargs(item))


def _names(item: Param) -> tuple[str, ...]:
    return item.flags if item.kind in ("flag", "value", "list") else (item.dest,)


def _argparse_kwargs(item: Param) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"help": item.help}
    if item.kind == "flag":
        kwargs["action"] = "store_true"
    elif item.kind == "list":
        kwargs |= {"action": "append", "default": [], "dest": item.dest}
    elif item.kind == "value":
        kwargs["dest"] = item.dest
        if _typed(item):
            kwargs["type"] = type(item.default)
    elif item.kind == "positionals":
        kwargs["nargs"] = "+" if item.required else "*"
    elif not item.required:
        kwargs["nargs"] = "?"
    if item.kind == "flag" and item.long_flag != "--" + item.dest.replace("_", "-"):
        kwargs["dest"] = item.dest
    if item.kind != "flag":
        if item.metavar:
            kwargs["metavar"] = item.metavar
        if item.allowed:
            kwargs["choices"] = item.allowed
            if item.metavar:  # argparse then shows the metavar, not the choices
                kwargs["help"] = f"{item.help}; one of: {', '.join(item.allowed)}"
    return kwargs


def _typed(item: Param) -> bool:
    """A value option whose default is a number: parsed as one (argparse ``type=``)."""
    return isinstance(item.default, (int, float)) and not isinstance(item.default, bool)


def parse(spec: CommandSpec[Any], namespace: argparse.Namespace) -> Any:
    """The options object of a parsed command line."""
    return spec.make_options(vars(namespace))


def task_signature(spec: CommandSpec[Any]) -> inspect.Signature:
    """An invoke task signature: the context, then one parameter per option, same defaults.

    A required positional comes first (invoke takes it positionally too); repeatable options
    and positional lists are iterable flags (``--platform X --platform Y``, ``--file F``).
    """
    import inspect

    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    parameters = [inspect.Parameter("c", kind)]
    ordered = sorted(spec.params, key=lambda item: not (item.kind == "positional" and item.required))
    for item in ordered:
        if item.kind == "positional" and item.required:
            parameters.append(inspect.Parameter(item.task_name, kind))
        else:
            # Numbers are converted by from_task (a clean error, not invoke's ValueError).
            default = None if item.kind in ("list", "positionals") or _typed(item) else item.default
            parameters.append(inspect.Parameter(item.task_name, kind, default=default))
    return inspect.Signature(parameters)


def task_help(spec: CommandSpec[Any]) -> dict[str, str]:
    return {item.task_name.replace("_", "-"): item.help for item in spec.params}


def task_short_flags(spec: CommandSpec[Any]) -> dict[str, str]:
    """Task parameter -> the one-letter flag the CLI gives it (``-P``), without the dash."""
    return {
        item.task_name: flag[1:]
        for item in spec.params
        for flag in item.flags
        if len(flag) == 2 and flag.startswith("-") and flag[1] != "-"
    }


def task_iterables(spec: CommandSpec[Any]) -> list[str]:
    return [item.task_name for item in spec.params if item.kind in ("list", "positionals")]


def task_positionals(spec: CommandSpec[Any]) -> list[str]:
    """Required positionals only: invoke requires every positional, so an optional one is a flag."""
    return [item.task_name for item in spec.params if item.kind == "positional" and item.required]


def from_task(spec: CommandSpec[Any], arguments: Mapping[str, Any]) -> tuple[Any, list[str]]:
    """The options object of an invoke call, and the problems (e.g. two exclusive flags)."""
    values = {item.dest: arguments.get(item.task_name) for item in spec.params}
    problems = _exclusive_problems(spec.params, values)
    for item in spec.params:
        converted, problem = _converted(item, values[item.dest])
        values[item.dest] = converted
        problems += [problem] if problem else []
        problems += _value_problems(item, converted)
    return spec.make_options(values), problems


def _exclusive_problems(params: tuple[Param, ...], values: Mapping[str, Any]) -> list[str]:
    """Two or more given options of one mutually exclusive group."""
    groups: dict[str, list[Param]] = {}
    for item in params:
        if item.group is not None and is_given(values[item.dest]):
            groups.setdefault(item.group, []).append(item)
    return [
        f"{' and '.join(item.long_flag for item in given)} cannot be combined"
        for given in groups.values()
        if len(given) > 1
    ]


def _converted(item: Param, value: Any) -> tuple[Any, str | None]:
    """A number option's value as a number (invoke passes strings), or None and the problem."""
    if not _typed(item) or value is None:
        return value, None
    try:
        return type(item.default)(value), None
    except (TypeError, ValueError):
        return None, f"{item.long_flag}: invalid {type(item.default).__name__} value {value!r}"


def _value_problems(item: Param, value: Any) -> list[str]:
    """Values outside the option's choices; a required positional list left empty."""
    entries: list[Any] = []
    if item.kind == "value" and value is not None:
        entries = [value]
    elif item.kind == "list":
        entries = list(value or ())
    allowed = item.allowed
    problems = [
        f"{item.long_flag}: invalid choice {entry!r} (choose from {', '.join(allowed)})"
        for entry in entries
        if allowed and entry not in allowed
    ]
    if item.kind == "positionals" and item.required and not value:
        problems.append(f"--{item.task_name.replace('_', '-')} is required (at least one)")
    return problems
