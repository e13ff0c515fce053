"""Nox sessions generated from the step registry, under the names you choose.

``from reprotasks.nox_sessions import register; register(prefix="release-", only=["verify"])``
registers a subset under other names. ``import reprotasks.nox`` registers every step under its
own name. Sessions run in nox's own interpreter (``python=False``): the tools come with
reprotasks, so no virtualenv is created per session. A session's posargs are parsed by the same
argparse builder as the CLI's options.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import nox

from reprotasks import _frontend, registry
from reprotasks.errors import ReprotasksError
from reprotasks.step import CommandSpec

__all__ = ["register"]

SessionFunc = Callable[[nox.Session], None]


def _parser(spec: CommandSpec[Any], prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=spec.summary, exit_on_error=False)
    _frontend.add_arguments(parser, spec)
    return parser


def _foreign(spec: CommandSpec[Any], unknown: list[str]) -> list[str]:
    """Arguments no other step accepts either.

    nox gives the same posargs to every session (``nox -s build checksum -- --platform X``), so
    an option meant for another selected step is not an error here.
    """
    remaining = unknown
    for other in registry.specs():
        if other.name != spec.name and remaining:
            try:
                _, remaining = _parser(other, other.name).parse_known_args(remaining)
            except (argparse.ArgumentError, SystemExit):  # e.g. verify-release's missing DIR
                continue
    return remaining


def _make_session(spec: CommandSpec[Any], name: str) -> SessionFunc:
    def session_function(session: nox.Session) -> None:
        from reprotasks._app import run_step
        from reprotasks._report import report_error

        parser = _parser(spec, f"nox -s {name} --")
        try:
            args, unknown = parser.parse_known_args(session.posargs)
        except argparse.ArgumentError as exc:
            session.error(f"{exc} (see `reprotasks {spec.name} --help`)")
        unknown = _foreign(spec, unknown)
        if unknown:
            session.error(f"unrecognized arguments: {' '.join(unknown)} (see `reprotasks {spec.name} --help`)")
        try:
            run_step(spec.name, _frontend.parse(spec, args), root=Path.cwd())
        except ReprotasksError as error:
            report_error(error)
            session.error(f"reprotasks {spec.name} failed (exit code {error.exit_code})")

    session_function.__doc__ = spec.summary
    session_function.__name__ = name.replace("-", "_")
    return session_function


def register(*, prefix: str = "", only: Iterable[str] | None = None) -> dict[str, SessionFunc]:
    """Register the sessions (optionally a subset, with a name prefix); returns them by name."""
    names = registry.names() if only is None else tuple(only)
    unknown = [step for step in names if step not in registry.names()]
    if unknown:
        raise ReprotasksError(
            f"unknown session(s): {', '.join(unknown)}", hint=f"choose from: {', '.join(registry.names())}"
        )
    registered: dict[str, SessionFunc] = {}
    for step in names:
        name = f"{prefix}{step}"
        function = _make_session(registry.get(step), name)
        nox.session(name=name, python=False, default=False)(function)
        registered[name] = function
    return registered
