"""reprotasks' own sessions: it locks and verifies itself with its own steps (dogfood).

nox -s lock verify     # reprotasks' sessions, over requirements/dev.in
nox -s lint tests      # project checks, in the current interpreter (.ci/run installs it)
nox -s docs            # the documentation site into site/ (mkdocs --strict)
"""

from __future__ import annotations

import sys

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


@nox.session(python=False, default=False)
def docs(session: nox.Session) -> None:
    """The documentation site into site/ (mkdocs, strict: a warning fails), its generated pages checked first."""
    python = sys.executable  # nox's own interpreter, which has the dev lock installed
    session.run(python, "-m", "pytest", "-n0", "-q", "-p", "no:cacheprovider", "tests/test_docs.py", "-k",
                "generated or entry or link")  # fmt: skip
    session.run(python, "-m", "mkdocs", "build", "--strict", env={"NO_MKDOCS_2_WARNING": "1"})
