"""Toolchain pins: the Python and Go versions a release is built with are written down and used."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from reprotasks._run import Runner
from reprotasks.config import Config
from reprotasks.errors import Finding, ReprotasksError
from reprotasks.go import mod as _gomod
from reprotasks.python.lockfile import read_text

_PYTHON_VERSION = re.compile(r"^(?:cpython[-@]?)?(?P<version>\d+\.\d+(?:\.\d+)?)$")


def running_python() -> str:
    return ".".join(str(part) for part in sys.version_info[:3])


def has_python(config: Config) -> bool:
    """Does the project hold Python: a [project] table, a build system or a lock? A Go repository
    whose pyproject.toml only carries [tool.reprotasks] has no Python version to pin."""
    return config.project_name is not None or bool(config.python.all_locks)


def python_findings(config: Config, *, runner: Runner | None = None) -> list[Finding]:
    policy = config.python.version_pin
    if policy == "none":
        return []
    if policy == "python-version-file":
        path = config.root / ".python-version"
        findings = _python_version_file(path, config.requires_python)
        if not findings and runner is not None:
            findings = _committed(path, runner=runner)
        return findings
    return _requires_python(config)


def ignored_by_git(path: Path, *, runner: Runner) -> bool:
    """Does .gitignore (or git's other exclude files) hide ``path``? False outside a git checkout.
    ``path`` need not exist (dist/x of a fresh clone): git is asked from its nearest existing directory."""
    base = path.parent
    while not base.is_dir() and base != base.parent:
        base = base.parent
    try:
        found = runner.run(
            ["git", "check-ignore", "-q", "--", path.relative_to(base).as_posix()],
            cwd=base,
            check=False,
            purpose="ask git",
            quiet=True,
        )
    except ReprotasksError:  # no git
        return False
    return found.returncode == 0


def not_committed(path: Path, shown: str, consequence: str, *, runner: Runner) -> list[Finding]:
    """A finding when ``path`` exists but git does not track it (in a git work tree): a fresh
    checkout (CI) and the build, which uses only committed files, never see it."""

    def git(*args: str) -> int:
        result = runner.run(["git", *args], cwd=path.parent, check=False, purpose="ask git", quiet=True)
        return result.returncode

    if not path.exists() or git("rev-parse", "--is-inside-work-tree") != 0:
        return []  # not a git checkout: nothing to compare with
    if git("cat-file", "-e", f"HEAD:./{path.name}") == 0:
        return []  # in the last commit (what build and CI check out)
    ignored = ignored_by_git(path, runner=runner)
    staged = not ignored and git("ls-files", "--error-unmatch", "--", path.name) == 0
    why = "is ignored by git" if ignored else "is staged but not committed" if staged else "is not tracked by git"
    fix = f"git add {shown} and commit it" + (" (and remove it from .gitignore)" if ignored else "")
    return [Finding(shown, None, f"{why}: {consequence}", fix)]


def _committed(path: Path, *, runner: Runner) -> list[Finding]:
    """A pin CI never sees is no pin: .python-version must be tracked by git (when in a git work tree)."""
    return not_committed(path, ".python-version", "a fresh checkout (CI) has no Python pin", runner=runner)


def _python_version_file(path: Path, requires_python: str | None = None) -> list[Finding]:
    running = running_python()
    if not path.is_file():
        fix = f'create .python-version containing "{running}" (or set `version-pin` under [tool.reprotasks.python])'
        if requires_python is not None and not allows_python(requires_python, running):
            fix = (
                f"`requires-python = {requires_python!r}` excludes the running Python {running}: run reprotasks with a "
                "Python it allows and write that version into .python-version (or set `version-pin`)"
            )
        return [Finding(".python-version", None, "missing: the Python version is not pinned", fix)]
    text = read_text(path, ".python-version", fix=f'write the Python version as plain text, e.g. "{running}"')
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _PYTHON_VERSION.match(line)
        if match is None:
            return [
                Finding(
                    ".python-version",
                    number,
                    f"{line!r} is not a Python version",
                    f'write a version such as "{running}"',
                )
            ]
        pinned = match["version"]
        if running.split(".")[: len(pinned.split("."))] != pinned.split("."):
            return [
                Finding(
                    ".python-version",
                    number,
                    f"pins Python {pinned} but reprotasks is running on Python {running}",
                    f"run with Python {pinned} (e.g. `uv python install {pinned}` or pyenv), "
                    "or change the pin deliberately and re-lock",
                )
            ]
        return []
    return [Finding(".python-version", None, "is empty", f'write the Python version, e.g. "{running}"')]


def allows_python(requires_python: str, version: str) -> bool:
    """Does ``requires-python`` admit ``version``? (An invalid specifier is reported where it is checked.)"""
    try:
        return SpecifierSet(requires_python).contains(version, prereleases=True)
    except InvalidSpecifier:
        return True  # the specifier itself is reported where it is checked


def _requires_python(config: Config) -> list[Finding]:
    running = running_python()
    line = _line_of(config.pyproject, "requires-python") if config.pyproject else None
    where = config.rel(config.pyproject) if config.pyproject else "pyproject.toml"
    fix_exact = f'set `requires-python = "=={".".join(running.split(".")[:2])}.*"` in [project]'
    if config.requires_python is None:
        return [Finding(where, None, "`requires-python` is missing", fix_exact)]
    try:
        specifiers = list(SpecifierSet(config.requires_python))
    except InvalidSpecifier:
        return [Finding(where, line, f"`requires-python = {config.requires_python!r}` is not valid", fix_exact)]
    if len(specifiers) != 1 or specifiers[0].operator not in {"==", "==="}:
        return [
            Finding(
                where,
                line,
                f"`requires-python = {config.requires_python!r}` does not pin one Python version",
                fix_exact + ' (version-pin = "requires-python" needs an exact pin)',
            )
        ]
    if not specifiers[0].contains(running, prereleases=True):
        return [
            Finding(
                where,
                line,
                f"`requires-python = {config.requires_python!r}` does not match the running Python {running}",
                "run with a matching Python, or change the pin deliberately and re-lock",
            )
        ]
    return []


def _line_of(path: Path, key: str) -> int | None:
    for number, line in enumerate(read_text(path, "pyproject.toml").splitlines(), start=1):
        if line.strip().startswith(key):
            return number
    return None


def go_findings(config: Config, module: Path, *, runner: Runner) -> list[Finding]:
    go_mod = f"{config.rel(module)}/go.mod".removeprefix("./")
    pins = _gomod.read_pins(module, go_mod)
    findings: list[Finding] = []
    pinned = pins.pinned
    if pinned is None and config.go.toolchain_pin == "required":
        findings.append(
            Finding(
                go_mod,
                pins.go_line,
                f"the Go toolchain is not pinned (`go {pins.go_version or '?'}` without a `toolchain` line)",
                "pin it with `go mod edit -toolchain=goX.Y.Z` (the version you release with), "
                "or write the full `go X.Y.Z`",
            )
        )
    # Asked as build asks: GOTOOLCHAIN=<pin> (go fetches it through GOPROXY), unless the caller's
    # environment says GOTOOLCHAIN=local; a local go newer than the pin is then no obstacle.
    asked = "local" if pinned is None or os.environ.get("GOTOOLCHAIN") == "local" else pinned
    running, refusal = _gomod.running_version(module, runner=runner, toolchain=asked)
    # A pin written in `.go-version` is named there (line 1), else go.mod's line.
    from_file = pins.version_file if pins.from_version_file else None
    where, line = (config.rel(from_file), 1) if from_file else (go_mod, None)
    if running is None:
        findings.append(
            Finding(
                where,
                line or pins.toolchain_line or pins.go_line,
                f"the go command refuses this module: {refusal}",
                f"install {pinned or 'the Go version go.mod asks for'}, or let go fetch it through GOPROXY "
                "(build does, unless GOTOOLCHAIN=local)",
            )
        )
    elif pinned is not None and running != pinned:
        findings.append(
            Finding(
                where,
                line or pins.toolchain_line or pins.go_line,
                f"pins {pinned} but the go command runs {running}",
                f"install {pinned} and put it first on PATH, or set GOTOOLCHAIN={pinned} so go fetches it "
                f"(or update the pin deliberately: `go mod edit -toolchain={running}`)",
            )
        )
    return findings
