"""Invoke tasks generated from the step registry: ``from reprotasks.invoke import ns`` in tasks.py.

Each task's signature, flags, help and defaults come from the step's spec (invoke reads the
generated ``__signature__``). Settings come from [tool.reprotasks]; invoke's own configuration
(``reprotasks:`` in invoke.yaml, same keys) overrides them, and task flags override both.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import Task

from reprotasks import _frontend, registry
from reprotasks.errors import ReprotasksError
from reprotasks.step import CommandSpec

__all__ = ["extend_namespace", "namespace", "ns"]


def _run(c: Context, spec: CommandSpec[Any], arguments: Mapping[str, Any]) -> None:
    from reprotasks._app import run_step
    from reprotasks._report import report_error

    options, problems = _frontend.from_task(spec, arguments)
    if problems:
        raise Exit(f"invoke {spec.name}: {'; '.join(problems)} (see `invoke --help {spec.name}`)", code=2)
    overrides = c.config.get("reprotasks", None)
    if overrides is not None and not isinstance(overrides, Mapping):
        raise Exit("invoke configuration `reprotasks` must be a mapping of [tool.reprotasks] keys", code=2)
    plain: dict[str, Any] | None = _plain(overrides) if overrides else None
    try:
        run_step(
            spec.name, options, root=Path.cwd(), overrides=plain, overrides_source="invoke configuration `reprotasks`"
        )
    except ReprotasksError as error:
        report_error(error)
        raise Exit(code=error.exit_code) from None


def _plain(value: Any) -> Any:
    """invoke's DataProxy -> plain dicts/lists, so config validation sees ordinary types."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


class _StepTask(Task[Any]):
    """A task whose short flags are the CLI's (``-P`` for ``--upgrade-package``) and never ``-h``,
    which stays invoke's help; the other short flags invoke picks as usual."""

    def __init__(self, body: Any, *, short: dict[str, str], **kwargs: Any) -> None:
        self.short = short  # task parameter -> its CLI short flag (without "-")
        super().__init__(body, **kwargs)

    def arg_opts(self, name: str, default: str, taken_names: set[str]) -> dict[str, Any]:
        reserved = {"h", *(flag for parameter, flag in self.short.items() if parameter != name)}
        opts = super().arg_opts(name, default, taken_names | reserved)
        if name in self.short:
            opts["names"] = [opts["names"][0], self.short[name]]
        return opts


def make_task(spec: CommandSpec[Any]) -> Task[Any]:
    """One invoke task for one step, with the step's options as its flags."""

    signature = _frontend.task_signature(spec)

    def body(c: Context, *args: Any, **arguments: Any) -> None:
        bound = signature.bind(c, *args, **arguments)
        bound.apply_defaults()
        _run(c, spec, {key: value for key, value in bound.arguments.items() if key != "c"})

    body.__signature__ = signature  # type: ignore[attr-defined]
    body.__name__ = spec.name.replace("-", "_")
    body.__qualname__ = body.__name__
    body.__doc__ = spec.summary
    return _StepTask(
        body,
        short=_frontend.task_short_flags(spec),
        help=_frontend.task_help(spec),
        iterable=_frontend.task_iterables(spec),
        positional=_frontend.task_positionals(spec),
    )


def namespace() -> Collection:
    """A collection of every registered step's task (read from the registry when called)."""
    collection = Collection()
    for spec in registry.specs():
        collection.add_task(make_task(spec))
    return collection


ns = namespace()


def extend_namespace(module_globals: Mapping[str, Any]) -> Collection:
    """Your tasks.py's tasks plus reprotasks' (``ns = extend_namespace(globals())``).

    Uses your ``ns``/``namespace`` collection if tasks.py defines one, else collects its tasks;
    a task of yours with the same name as a reprotasks task wins.
    """
    existing = module_globals.get("ns", module_globals.get("namespace"))
    if isinstance(existing, Collection) and existing is not ns:
        collection = existing
    else:
        collection = Collection()
        for value in module_globals.values():
            if isinstance(value, Task):
                collection.add_task(value)
    for name, reprotasks_task in ns.tasks.items():
        if name not in collection.tasks:
            collection.add_task(reprotasks_task, name=name)
    return collection
