"""Nox sessions over the core steps.

``import reprotasks.nox`` in a noxfile registers one session per step (``lock``, ``verify``,
``build``, ``checksum``, ``sbom``, ``provenance``, ``sign``, ``verify-signatures``,
``verify-release``, ``reproduce``);
``from reprotasks.nox import register; register(prefix="release-")`` registers them under
other names (and drops the default names). Sessions run in nox's own interpreter
(``python=False``): the tools come with reprotasks, so no virtualenv is created per session.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from pathlib import Path

import nox

from reprotasks._app import STEPS, report_error, run_step
from reprotasks.cli import add_step_arguments, options_from
from reprotasks.errors import ReprotasksError

__all__ = ["register"]

SessionFunc = Callable[[nox.Session], None]
_auto_registered: dict[str, SessionFunc] = {}


def _parser(step: str, prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=STEPS[step], exit_on_error=False)
    add_step_arguments(parser, step)
    return parser


def _foreign(step: str, unknown: list[str]) -> list[str]:
    """Arguments no other step accepts either.

    nox gives the same posargs to every session (``nox -s build checksum -- --platform X``), so
    an option meant for another selected step is not an error here.
    """
    remaining = unknown
    for other in STEPS:
        if other != step and remaining:
            try:
                _, remaining = _parser(other, other).parse_known_args(remaining)
            except (argparse.ArgumentError, SystemExit):  # e.g. verify-release's missing DIR
                continue
    return remaining


def _make_session(step: str, name: str) -> SessionFunc:
    def session_function(session: nox.Session) -> None:
        parser = _parser(step, f"nox -s {name} --")
        try:
            args, unknown = parser.parse_known_args(session.posargs)
        except argparse.ArgumentError as exc:
            session.error(f"{exc} (see `reprotasks {step} --help`)")
        unknown = _foreign(step, unknown)
        if unknown:
            session.error(f"unrecognized arguments: {' '.join(unknown)} (see `reprotasks {step} --help`)")
        try:
            run_step(step, options_from(args), root=Path.cwd())
        except ReprotasksError as error:
            report_error(error)
            session.error(f"reprotasks {step} failed (exit code {error.exit_code})")

    session_function.__doc__ = STEPS[step]
    session_function.__name__ = name.replace("-", "_")
    return session_function


def register(*, prefix: str = "", only: Iterable[str] | None = None) -> dict[str, SessionFunc]:
    """Register the sessions (optionally a subset, with a name prefix); returns them by name."""
    steps = list(STEPS) if only is None else list(only)
    unknown = [step for step in steps if step not in STEPS]
    if unknown:
        raise ReprotasksError(f"unknown session(s): {', '.join(unknown)}", hint=f"choose from: {', '.join(STEPS)}")
    _drop_auto_registered()
    registered: dict[str, SessionFunc] = {}
    for step in steps:
        name = f"{prefix}{step}"
        function = _make_session(step, name)
        nox.session(name=name, python=False, default=False)(function)
        registered[name] = function
    return registered


def _drop_auto_registered() -> None:
    # nox has no public "unregister"; remove only the sessions this module added on import.
    registry = getattr(nox.registry, "_REGISTRY", None)
    if isinstance(registry, dict):
        for name, function in _auto_registered.items():
            if registry.get(name) is not None and getattr(registry[name], "func", None) is function:
                del registry[name]
    _auto_registered.clear()


_auto_registered.update(register())
