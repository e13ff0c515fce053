"""reprotasks' own sessions: it locks and verifies itself with its own steps (dogfood).

nox -s lock verify     # reprotasks' sessions, over requirements/dev.in
nox -s lint tests      # project checks, in the current interpreter (.ci/run installs it)
"""

from __future__ import annotations

import nox

import reprotasks.nox  # noqa: F401  (registers lock and verify)

nox.options.default_venv_backend = "none"


@nox.session(python=False, default=False)
def lint(session: nox.Session) -> None:
    """ruff (lint + format check) and mypy --strict."""
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session(python=False, default=False)
def tests(session: nox.Session) -> None:
    """The whole test suite (pass pytest options after --)."""
    session.run("python", "-m", "pytest", "-n", "2", *session.posargs)
