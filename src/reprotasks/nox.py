"""``import reprotasks.nox`` in a noxfile registers one session per step, under the step's name.

For other names or a subset, import ``reprotasks.nox_sessions`` instead and call its
``register(prefix=..., only=[...])``: this module registers the defaults as it is imported.
"""

from __future__ import annotations

from reprotasks import nox_sessions as _sessions

SESSIONS: dict[str, _sessions.SessionFunc] = _sessions.register()


def __getattr__(name: str) -> object:
    if name == "register":
        raise ImportError(
            "reprotasks.nox registers every session under its default name as it is imported; for other names "
            "or a subset use `from reprotasks.nox_sessions import register` (and do not import reprotasks.nox)"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
