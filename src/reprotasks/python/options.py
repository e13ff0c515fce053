"""The ``[tool.reprotasks.python]`` options, their resolved form (``PythonConfig``) and the locks they name.

A leaf module (see ``reprotasks._options``): config.py imports it, and so do the Python modules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprotasks import discover
from reprotasks._options import Option, assemble
from reprotasks.errors import ConfigError

DEFAULT_BUILD_LOCK = "build-requirements.txt"
# Where the [project] dependencies are locked when the project has no requirements*.in and
# no lock of its own tool (python/toollocks.py).
DEPENDENCIES_LOCK = "requirements.lock.txt"
PYLOCK = "pylock.toml"
TOOL_LOCKS = ("uv.lock", "poetry.lock", "pdm.lock")
# The name python.build-constraints gets beside the generated build-system input.
BUILD_CONSTRAINTS = "build-constraints.txt"
# The build front end runs inside the build environment, so it is locked with the backend.
BUILD_FRONTEND = "build"

TABLE = "python"

# Tests may extend this tuple (monkeypatch): everything reads it when it runs, never at import.
OPTIONS: tuple[Option, ...] = (
    Option(
        table="python",
        key="locks",
        kind="list",
        default=None,
        show=lambda python, rel: [rel(lock.input) for lock in python.locks],
        default_text="`requirements*.in` at the project root and `requirements/*.in`",
        help="Lock inputs (`*.in`): each `X.in` is locked into the `X.txt` beside it.",
    ),
    Option(
        table="python",
        key="lock-dependencies",
        kind="bool",
        default=True,
        described=False,  # resolves into python.locks (requirements.lock.txt)
        help=(
            "Without `requirements*.in` and without `locks`, lock `[project] dependencies` and every "
            "optional-dependency group (`--all-extras`) of pyproject.toml into `requirements.lock.txt` beside it: "
            "the runtime dependencies the SBOM lists (skipped when `dependencies` is dynamic)."
        ),
    ),
    Option(
        table="python",
        key="lock-backend",
        kind="choice",
        default="pip-tools",
        choices=("pip-tools", "uv"),
        help=(
            "Resolver that writes the locks: `pip-tools` (pip-compile) or `uv` (uv pip compile; needs the `uv` "
            "extra); both write the same lock body."
        ),
    ),
    Option(
        table="python",
        key="lock-format",
        kind="choice",
        default="auto",
        choices=("auto", "requirements", "pylock"),
        help=(
            "How the locks are written: `requirements` (a hashed `NAME.txt` beside each `NAME.in`) or `pylock` "
            "(PEP 751, written by uv whatever `lock-backend` says: `requirements.in` and the dependencies lock "
            "-> `pylock.toml`, `requirements-dev.in` or `requirements/dev.in` -> `pylock.dev.toml`); `auto`: "
            "`pylock` for an input whose pylock file exists and whose `.txt` does not. pip (`pip install -r "
            "pylock.toml`) and uv install from both. The build lock stays a requirements file."
        ),
    ),
    Option(
        table="python",
        key="index-url",
        kind="str",
        default=None,
        default_text="none (pip's default)",
        help="Package index to resolve from (never written into a lock).",
    ),
    Option(
        table="python",
        key="extra-index-urls",
        kind="list",
        default=[],
        help="Extra package indexes used to resolve (never written into a lock).",
    ),
    Option(
        table="python",
        key="find-links",
        kind="list",
        default=[],
        help=(
            "Local directories (relative to the project) or pages of distributions to resolve from (never written "
            "into a lock)."
        ),
    ),
    Option(
        table="python",
        key="no-index",
        kind="bool",
        default=False,
        help="Resolve only from `find-links`, without any index.",
    ),
    Option(
        table="python",
        key="version-pin",
        kind="choice",
        default="python-version-file",
        choices=("python-version-file", "requires-python", "none"),
        help=(
            "Where the Python version is pinned: a `.python-version` file, an exact "
            "`requires-python` (`==3.X.*` or `==3.X.Y`), or `none` to skip the check."
        ),
    ),
    Option(
        table="python",
        key="build",
        kind="bool",
        default=True,
        help="Build an sdist and a wheel with `python -m build` (skipped when pyproject.toml has no [build-system]).",
    ),
    Option(
        table="python",
        key="build-lock",
        kind="str",
        default=DEFAULT_BUILD_LOCK,
        show=lambda python, rel: None if python.build_lock is None else rel(python.build_lock.output),
        help=(
            "Hashed lock of the build backend (`[build-system] requires` plus the `build` front end), "
            "written by `lock`, checked by `verify` and installed into the isolated build environment."
        ),
    ),
    Option(
        table="python",
        key="project",
        kind="str",
        default=None,
        default_text="none (the root)",
        help=(
            "Directory of the Python project (the pyproject.toml with [build-system] and [project]), relative to "
            'the project root, when it is not the root: e.g. `"python"` when Go is at the root. Its '
            "`requirements*.in` are found there and the default build lock is `python/build-requirements.txt`; a "
            "root pyproject.toml with its own `[project]` is then an error."
        ),
    ),
    Option(
        table="python",
        key="require-build-lock",
        kind="bool",
        default=True,
        help=(
            "`verify` (and so `release`) fails while the build lock is not committed. `build` works without it "
            "anyway: it resolves the backend with hashes and records them in the manifest."
        ),
    ),
    Option(
        table="python",
        key="build-constraints",
        kind="str",
        default=None,
        show=lambda python, rel: (
            None
            if python.build_lock is None or python.build_lock.constraints is None
            else rel(python.build_lock.constraints)
        ),
        help=(
            "A constraints file (pip `-c`) applied when locking `[build-system] requires`, e.g. "
            "`hatchling==1.21.1` to keep the backend (and so the wheel metadata) of the last release."
        ),
    ),
    Option(
        table="python",
        key="check-tool-locks",
        kind="bool",
        default=True,
        help=(
            "`verify` runs `uv lock --check` / `poetry check --lock` / `pdm lock --check` on the tool lock "
            "(`uv.lock`, `poetry.lock`, `pdm.lock`) beside pyproject.toml (a missing tool is a finding); the SBOM "
            "lists their packages."
        ),
    ),
)


@dataclass(frozen=True, kw_only=True)
class LockSpec:
    """One Python lock: ``input`` (``*.in``) resolved into ``output`` (``*.txt``)."""

    input: Path
    output: Path
    # Content of a generated input (the build-system lock): ``input`` is then only its name.
    generated: str | None = None
    label: str | None = None  # how messages name the input, when it is not a file
    resolver_args: tuple[str, ...] = ()  # extra resolver arguments for this lock (e.g. --all-extras)
    universal: bool = False  # with uv: one lock for every Python and platform (`--universal`)
    # A constraints file a generated input applies (`-c`); copied beside it when resolving.
    constraints: Path | None = None

    def describe_input(self, root: Path) -> str:
        if self.label is not None:
            return self.label
        try:
            return self.input.relative_to(root).as_posix()
        except ValueError:
            return self.input.as_posix()


@dataclass(frozen=True, kw_only=True)
class PythonConfig:
    locks: tuple[LockSpec, ...]
    lock_backend: str
    lock_format: str  # auto | requirements | pylock (each lock's format: its output's name)
    index_url: str | None
    extra_index_urls: tuple[str, ...]
    find_links: tuple[str, ...]
    no_index: bool
    version_pin: str
    build: bool  # an sdist and a wheel are built (option on and a [build-system] table present)
    build_lock: LockSpec | None  # None when there is nothing to build
    require_build_lock: bool = True  # verify fails while the build lock is not committed
    project: Path | None = None  # the Python project's directory (pyproject.toml); None: the root
    check_tool_locks: bool = True  # verify runs uv/poetry/pdm's own check of their locks
    extra: Mapping[str, Any] = field(default_factory=dict)  # options without a field of their own

    @property
    def all_locks(self) -> tuple[LockSpec, ...]:
        """Every lock the project keeps: the configured ones, then the build lock."""
        return self.locks if self.build_lock is None else (*self.locks, self.build_lock)


def resolve(
    root: Path,
    pyproject: Path | None,
    document: Mapping[str, Any],
    project: Mapping[str, Any],
    values: Mapping[str, Any],
    python_dir: Path | None,
) -> PythonConfig:
    """``PythonConfig`` from the layered ``python.*`` values and the Python project's pyproject.toml."""
    lock_format = values["python.lock-format"]
    locks = tuple(
        LockSpec(input=path, output=_lock_output(path.with_suffix(".txt"), pylock_output(path), lock_format))
        for path in discover.lock_inputs(root, values["python.locks"], python_dir)
    )
    if not locks and values["python.locks"] is None and values["python.lock-dependencies"]:
        locks = _dependencies_lock(pyproject, project, lock_format)
    _require_distinct_outputs(root, locks)
    build_lock = _build_lock(root, document, values) if values["python.build"] else None
    return assemble(
        PythonConfig,
        OPTIONS,
        values,
        locks=locks,
        build=build_lock is not None,
        build_lock=build_lock,
        project=python_dir,
    )


def pylock_output(input_path: Path) -> Path:
    """The PEP 751 lock of a lock input, beside it: ``pylock.toml`` for ``requirements.in`` (or
    ``requirements/main.in``), else ``pylock.NAME.toml`` with NAME the input's name less its
    ``requirements`` prefix (``requirements-dev.in``, ``requirements/dev.in`` -> ``pylock.dev.toml``)."""
    name = input_path.stem
    if name.startswith("requirements"):
        name = name.removeprefix("requirements").lstrip("-_.")
    name = name.replace(".", "-")  # PEP 751: NAME holds no dot
    return input_path.with_name(PYLOCK if name in ("", "main") else f"pylock.{name}.toml")


def _lock_output(requirements: Path, pylock: Path, lock_format: str) -> Path:
    """Where an input is locked: ``auto`` keeps the format of the lock already there (a committed
    pylock.toml is the lock, unless the requirements file is there too)."""
    if lock_format == "pylock" or (lock_format == "auto" and pylock.is_file() and not requirements.exists()):
        return pylock
    return requirements


def _require_distinct_outputs(root: Path, locks: tuple[LockSpec, ...]) -> None:
    seen: dict[Path, Path] = {}
    for spec in locks:
        other = seen.setdefault(spec.output, spec.input)
        if other != spec.input:
            raise ConfigError(
                f"{other.relative_to(root).as_posix()} and {spec.input.relative_to(root).as_posix()} would both be "
                f"locked into {spec.output.relative_to(root).as_posix()}",
                hint="rename one of them, or list the inputs to lock in `python.locks`",
            )


def _dependencies_lock(pyproject: Path | None, project: Mapping[str, Any], lock_format: str) -> tuple[LockSpec, ...]:
    """The lock of ``[project] dependencies`` and every optional-dependency group (the package's
    runtime dependencies), when they are declared statically."""
    if pyproject is None or "dependencies" in project.get("dynamic", []):
        return ()
    if any((pyproject.parent / name).is_file() for name in TOOL_LOCKS):
        return ()  # uv, poetry or pdm locks them (verify asks that tool)
    declared = project.get("dependencies") or project.get("optional-dependencies")
    if not declared:
        return ()
    return (
        LockSpec(
            input=pyproject,
            output=_lock_output(
                pyproject.with_name(DEPENDENCIES_LOCK), pyproject.with_name("pylock.toml"), lock_format
            ),
            label=f"{pyproject.name} [project] dependencies",
            resolver_args=("--all-extras",),
            universal=True,
        ),
    )


def _build_lock(root: Path, document: Mapping[str, Any], values: Mapping[str, Any]) -> LockSpec | None:
    """The lock of ``[build-system] requires`` (plus ``build``), or None without a build system."""
    build_system = document.get("build-system")
    if build_system is None:
        return None
    requires = build_system.get("requires") if isinstance(build_system, dict) else None
    if not isinstance(requires, list) or not all(isinstance(item, str) for item in requires):
        raise ConfigError(
            "pyproject.toml: `[build-system] requires` must be an array of requirement strings",
            hint='e.g. `requires = ["hatchling"]`',
        )
    output = discover.inside(root, values["python.build-lock"], "python.build-lock")
    if output.suffix != ".txt":
        raise ConfigError(
            f"`python.build-lock` = {values['python.build-lock']!r} must name a `.txt` lock file",
            hint='e.g. `build-lock = "requirements/build.txt"`',
        )
    lines = ["# [build-system] requires of pyproject.toml, plus the build front end", *requires, BUILD_FRONTEND]
    constraints = None
    if values["python.build-constraints"] is not None:
        constraints = discover.inside(root, values["python.build-constraints"], "python.build-constraints")
        if not constraints.is_file() or constraints.is_symlink():
            raise ConfigError(
                f"`python.build-constraints` = {values['python.build-constraints']!r} is not a regular file",
                hint="create it with lines such as `hatchling==1.21.1` (pip constraints), or remove the setting",
            )
        lines.append(f"-c {BUILD_CONSTRAINTS}")
    return LockSpec(
        input=output.with_name("build-system.in"),
        output=output,
        generated="\n".join(lines) + "\n",
        label="pyproject.toml [build-system] requires",
        constraints=constraints,
    )
