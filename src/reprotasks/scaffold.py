"""``reprotasks init``: wire a repository up in one command, idempotently.

- ``[tool.reprotasks]`` goes into pyproject.toml with the detected layout. The new table is
  rendered with tomlkit and appended, so every byte of the user's file outside it (comments,
  order, odd formatting) stays as it was; a file that already has the table is left alone.
- noxfile.py / tasks.py get the one import line (created when absent).
- ``.github/workflows/release.yml`` is written from the template; an existing, different
  file is kept unless ``force``.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit

from reprotasks import discover
from reprotasks._files import write_atomic
from reprotasks._run import Runner
from reprotasks.config import STANDALONE, Config, load_config
from reprotasks.errors import ReprotasksError
from reprotasks.github.workflow import DEFAULT_INSTALL, LEDGER_BRANCH, MARKER, RELEASE_LOCK, render_workflow
from reprotasks.promote.options import GITHUB_ACTIONS_ISSUER

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

WORKFLOW = ".github/workflows/release.yml"
_NOX_LINE = "import reprotasks.nox  # noqa: F401  (sessions: lock, verify, build, ..., release)"
_NOXFILE = f'''"""Release sessions: `nox -s lock verify build checksum`, `nox -s release`."""

{_NOX_LINE}
'''
_TASKS = '''"""Release tasks: `invoke lock verify build checksum`, `invoke release`."""

from reprotasks.invoke import ns  # noqa: F401  (invoke picks up `ns`)
'''
_TASKS_APPEND = """
# reprotasks tasks (added by `reprotasks init`): lock, verify, build, ..., release, beside your own.
from reprotasks.invoke import extend_namespace  # noqa: E402

ns = extend_namespace(globals())
"""
_GITHUB_REMOTE = re.compile(r"github\.com[:/](?P<repo>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?)(?:\.git)?/?$")


@dataclass
class InitResult:
    changes: list[tuple[str, str]] = field(default_factory=list)  # (file, what happened)
    next_steps: list[str] = field(default_factory=list)

    def rows(self) -> list[tuple[str, str]]:
        return self.changes + [("next", step) for step in self.next_steps]


def init(
    root: Path,
    *,
    runner: Runner,
    force: bool = False,
    install: Sequence[str] = (),
    nox: bool = True,
    invoke: bool = True,
) -> InitResult:
    """``install``: the workflow's commands that install reprotasks (default: from requirements-release.txt).

    A release workflow that ``init`` did not write is never replaced: the new one gets a free
    name, and the signer policy names it. ``nox``/``invoke``: write those files too."""
    root = root.resolve()
    if not root.is_dir():
        raise ReprotasksError(f"{root} is not a directory", hint="run `reprotasks init` in the repository (or -C DIR)")
    pyproject = root / "pyproject.toml"
    standalone = root / STANDALONE
    result = InitResult()
    subprojects = _python_subprojects(root)
    config = _initial_config(root, subprojects)
    had_table = standalone.exists() or (pyproject.is_file() and _has_table(pyproject))
    workflow = (config.sign.github_workflow or WORKFLOW) if had_table else _free_workflow(root)
    if pyproject.is_file() and not standalone.exists():
        result.changes.append(("pyproject.toml", _add_table(pyproject, config, runner, workflow)))
    else:  # no pyproject.toml (a Go repository): the same keys in reprotasks.toml
        result.changes.append((STANDALONE, _write_standalone(standalone, config, runner, workflow)))
    config = load_config(root)
    if nox:
        result.changes.append(("noxfile.py", _add_nox(root / "noxfile.py")))
    if invoke:
        result.changes.append(("tasks.py", _add_invoke(root / "tasks.py")))
    pin = _add_python_pin(config, runner)
    if pin:
        result.changes.append((".python-version", pin))
    ignored = _add_dist_ignore(config, runner)
    if ignored:
        result.changes.append((".gitignore", ignored))
    tags = _tag_pattern(root, runner)
    if _is_foreign(root / workflow):
        result.changes.append((workflow, "kept: not written by reprotasks init (never replaced)"))
        result.next_steps.append(
            f"{workflow} is your own workflow and [tool.reprotasks] names it as the signer: set "
            f'`github-workflow = "{_free_workflow(root)}"` under [tool.reprotasks.sign] and run init again'
        )
    else:
        result.changes.append((workflow, _write_workflow(root / workflow, config, force, tuple(install), tags)))
    if not install and not (root / RELEASE_LOCK).is_file():
        result.next_steps.append(
            f"{workflow} installs reprotasks from {RELEASE_LOCK}: put `reprotasks[nox,invoke]` in "
            f"{RELEASE_LOCK.replace('.txt', '.in')}"
            + (" (`reprotasks[nox,invoke,pypi]` if it publishes to PyPI: twine uploads)" if config.python.build else "")
            + ", run `reprotasks lock` and commit both"
        )
    left_out = _left_out(root, config, subprojects)
    if left_out:
        result.next_steps.append(left_out)
    if not _is_foreign(root / workflow):
        result.next_steps.append(_promotion_steps(config, runner))
    then = (
        "`nox -s lock verify build checksum`" if nox else "`reprotasks lock`, `reprotasks verify`, `reprotasks build`"
    )
    result.next_steps.append(f"review the changes, commit them, then {then}")
    return result


def _promotion_steps(config: Config, runner: Runner) -> str:
    """What the workflow's promote job needs that init cannot make: the ledger branch, the GitHub
    environments (the last one protected), and who may promote to it."""
    environments = config.promote.environments
    last = environments[-1]
    return (
        f"to promote releases ({' -> '.join(environments)}) with the workflow: create the `{LEDGER_BRANCH}` "
        f"branch once (`git switch --orphan {LEDGER_BRANCH} && git commit --allow-empty -m ledger && git push "
        f"origin {LEDGER_BRANCH}`), create the GitHub environments {', '.join(environments)} and protect {last} "
        f"(required reviewers, tags only), and list who may promote to {last} as `promoters` under "
        f"[tool.reprotasks.promote.rules.{last}] (the workflow itself: {_workflow_promoter(config, runner)}; without "
        f"`promoters`, the workflow's preflight refuses {last} unless its GitHub environment has required reviewers)"
    )


def _workflow_promoter(config: Config, runner: Runner) -> str:
    """The promoters entry naming this repository's release workflow, run from any tag."""
    repository = config.sign.github_repository or _github_repository(config.root, runner) or "OWNER/REPO"
    workflow = config.sign.github_workflow.lstrip("/")
    return (
        f'{{ identity = "https://github.com/{repository}/{workflow}@refs/tags/*", issuer = "{GITHUB_ACTIONS_ISSUER}" }}'
    )


def _initial_config(root: Path, subprojects: list[str]) -> Config:
    """The configuration as found (which also validates it); with Go at the root and one Python
    project in a subdirectory, that project released with it."""
    config = load_config(root)
    unset = not (root / "pyproject.toml").is_file() and not (root / STANDALONE).exists()
    if unset and config.python.project is None and len(subprojects) == 1:
        config = load_config(root, overrides={"python": {"project": subprojects[0]}}, overrides_source="init")
    return config


def _left_out(root: Path, config: Config, subprojects: list[str]) -> str | None:
    """Which Python projects the written configuration does not release, and how to choose one:
    never silent (receptor has Go at the root and two Python projects in subdirectories)."""
    chosen = None if config.python.project is None else config.python.project.relative_to(root).as_posix()
    released_at_root = chosen is None and (root / "pyproject.toml").is_file() and config.python.build
    skipped = [path for path in subprojects if path != chosen]
    if not skipped:
        return None
    listed = ", ".join(f"{path}/" for path in skipped)
    what = "the Python project at the root" if released_at_root else None
    what = what or (f"{chosen}/" if chosen else "no Python project")
    return (
        f"left out: the Python project(s) {listed} (each with [build-system]); this release builds {what}"
        + (" and the Go module" if config.go.module is not None else "")
        + '. Set `project = "DIR"` under [tool.reprotasks.python] to release another one with it; each further '
        "project needs a release of its own (run `reprotasks init` in its directory)"
    )


def _python_subprojects(root: Path) -> list[str]:
    """The subdirectories (at most two levels down) holding a Python project that builds (a
    pyproject.toml with [build-system]; else, if none has one, with [project]), root-relative."""
    found: list[str] = []
    buildable: list[str] = []
    for directory in sorted(root.glob("*/")) + sorted(root.glob("*/*/")):
        relative = directory.relative_to(root)
        if any(part.startswith((".", "_")) or part in discover.SKIP_DIRS for part in relative.parts):
            continue
        pyproject = directory / "pyproject.toml"
        try:
            document = tomllib.loads(pyproject.read_text(encoding="utf-8")) if pyproject.is_file() else {}
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
        if "build-system" in document or "project" in document:
            found.append(relative.as_posix())
        if "build-system" in document:
            buildable.append(relative.as_posix())
    return buildable if buildable else found


def _has_table(pyproject: Path) -> bool:
    return "reprotasks" in tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {})


def _is_foreign(path: Path) -> bool:
    """A file there that ``init`` did not write (its first line is not the marker)."""
    if not path.is_file():
        return path.exists() or path.is_symlink()
    with path.open(encoding="utf-8", errors="replace") as handle:
        return not handle.readline().startswith(MARKER)


def _free_workflow(root: Path) -> str:
    """release.yml, unless a workflow of the user's own has that name: then reprotasks-release.yml, ..."""
    for candidate in (WORKFLOW, ".github/workflows/reprotasks-release.yml"):
        if not _is_foreign(root / candidate):
            return candidate
    number = 2
    while _is_foreign(root / f".github/workflows/reprotasks-release-{number}.yml"):
        number += 1
    return f".github/workflows/reprotasks-release-{number}.yml"


def _tag_pattern(root: Path, runner: Runner) -> str:
    """``v*``, or ``[0-9]*`` when the repository's tags are bare versions (1.2.3)."""
    try:
        tags = runner.run(["git", "tag", "--list"], cwd=root, purpose="list the tags", quiet=True).stdout.split()
    except ReprotasksError:
        return "v*"
    prefixed = sum(1 for tag in tags if re.match(r"^v\d", tag))
    bare = sum(1 for tag in tags if re.match(r"^\d", tag))
    return "[0-9]*" if bare > prefixed else "v*"


def detected_settings(config: Config, runner: Runner, workflow: str = WORKFLOW) -> dict[str, Any]:
    """What ``init`` writes: the layout as reprotasks sees it, spelled out."""
    table: dict[str, Any] = {"dist-dir": config.rel(config.dist_dir)}
    # The [project] dependencies lock is found again without a setting (its input is no `.in` file).
    inputs = [config.rel(lock.input) for lock in config.python.locks if lock.label is None]
    python: dict[str, Any] = {"locks": inputs} if inputs else {}
    if config.python.project is not None:
        python["project"] = config.rel(config.python.project)
    go: dict[str, Any] = {"enabled": False}
    if config.go.module is not None:
        go = {"module": config.rel(config.go.module), "platforms": list(config.go.platforms)}
    elif config.go.modules:  # commands in several modules: build asks which one to release
        go = {"platforms": list(config.go.platforms)}
    if len(config.go.modules) > 1:
        go["modules"] = [config.rel(module) for module in config.go.modules]
    sign: dict[str, Any] = {}
    repository = _github_repository(config.root, runner)
    if repository:
        sign = {"github-repository": repository, "github-workflow": workflow}
    elif workflow != WORKFLOW:  # the signer policy must name the workflow init writes, GitHub origin or not
        sign = {"github-workflow": workflow}
    for name, values in (("python", python), ("go", go), ("sign", sign)):
        if values:
            table[name] = values
    return table


def _github_repository(root: Path, runner: Runner) -> str | None:
    try:
        remote = runner.run(
            ["git", "remote", "get-url", "origin"], cwd=root, purpose="read the GitHub repository", quiet=True
        ).stdout.strip()
    except ReprotasksError:
        return None
    match = _GITHUB_REMOTE.search(remote)
    return match.group("repo") if match else None


def _add_table(pyproject: Path, config: Config, runner: Runner, workflow: str) -> str:
    text = pyproject.read_text(encoding="utf-8")
    if "reprotasks" in tomllib.loads(text).get("tool", {}):
        return "unchanged ([tool.reprotasks] already there)"
    settings = detected_settings(config, runner, workflow)
    document = tomlkit.document()
    tool = tomlkit.table(is_super_table=True)
    reprotasks = tomlkit.table()
    reprotasks.comment("written by `reprotasks init`; keys: `reprotasks schema`")
    _fill(reprotasks, settings)
    tool.add("reprotasks", reprotasks)
    document.add("tool", tool)
    separator = "" if text.endswith("\n\n") or not text else ("\n" if text.endswith("\n") else "\n\n")
    new_text = text + separator + tomlkit.dumps(document)
    merged = tomllib.loads(new_text)  # must still be valid TOML, with exactly the table added
    if merged["tool"]["reprotasks"] != settings:
        raise ReprotasksError(
            f"{pyproject}: could not add [tool.reprotasks] cleanly",
            hint="add the table by hand (see `reprotasks schema`); the file was not changed",
        )
    write_atomic(pyproject, new_text.encode("utf-8"))
    return "added [tool.reprotasks] (" + ", ".join(sorted(_flat_keys(settings))) + ")"


def _fill(container: Any, settings: dict[str, Any]) -> None:
    """Add ``settings`` to a tomlkit document or table: plain keys, then one table per sub-table."""
    for key, value in settings.items():
        if isinstance(value, dict):
            table = tomlkit.table()
            for sub_key, sub_value in value.items():
                table.add(sub_key, sub_value)
            container.add(key, table)
        else:
            container.add(key, value)


def _write_standalone(path: Path, config: Config, runner: Runner, workflow: str) -> str:
    if path.exists():
        return f"unchanged ({STANDALONE} already there)"
    settings = detected_settings(config, runner, workflow)
    document = tomlkit.document()
    document.add(tomlkit.comment("reprotasks settings (the keys of [tool.reprotasks]), written by `reprotasks init`"))
    document.add(tomlkit.comment("keys: `reprotasks schema`"))
    _fill(document, settings)
    text = tomlkit.dumps(document)
    if tomllib.loads(text) != settings:
        raise ReprotasksError(
            f"{path}: could not be written cleanly", hint="write it by hand (see `reprotasks schema`)"
        )
    write_atomic(path, text.encode("utf-8"))
    return "created (" + ", ".join(sorted(_flat_keys(settings))) + ")"


def _flat_keys(settings: dict[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for key, value in settings.items():
        if isinstance(value, dict):
            keys += _flat_keys(value, f"{prefix}{key}.")
        else:
            keys.append(prefix + key)
    return keys


def _add_nox(path: Path) -> str:
    if not path.exists():
        write_atomic(path, _NOXFILE.encode())
        return "created (imports reprotasks.nox)"
    text = path.read_text(encoding="utf-8")
    if "reprotasks.nox" in text:
        return "unchanged (already imports reprotasks.nox)"
    write_atomic(path, _insert_after_imports(text, _NOX_LINE, path).encode())
    return "added `import reprotasks.nox`"


def _add_invoke(path: Path) -> str:
    if not path.exists():
        write_atomic(path, _TASKS.encode())
        return "created (from reprotasks.invoke import ns)"
    text = path.read_text(encoding="utf-8")
    if "reprotasks.invoke" in text:
        return "unchanged (already uses reprotasks.invoke)"
    write_atomic(path, (text.rstrip("\n") + "\n" + _TASKS_APPEND).encode())
    return "added the reprotasks tasks beside yours (extend_namespace)"


def _insert_after_imports(text: str, line: str, path: Path) -> str:
    try:
        module = ast.parse(text)
    except SyntaxError as exc:
        raise ReprotasksError(
            f"{path}: not valid Python ({exc.msg}, line {exc.lineno})", hint=f"fix it, or add `{line}` by hand"
        ) from None
    after = 0
    for node in module.body:
        is_docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and node is module.body[0]
        if isinstance(node, (ast.Import, ast.ImportFrom)) or is_docstring:
            after = node.end_lineno or after
        else:
            break
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return "".join(lines[:after]) + line + "\n" + "".join(lines[after:])


def _add_python_pin(config: Config, runner: Runner) -> str:
    """A project with Python and no pin gets the running Python's version (verify asks for it)."""
    from reprotasks.inputs.pins import allows_python, has_python, ignored_by_git, running_python

    path = config.root / ".python-version"
    if config.python.version_pin != "python-version-file" or not has_python(config) or path.exists():
        return ""
    running = running_python()
    if config.requires_python is not None and not allows_python(config.requires_python, running):
        return (
            f"not written: `requires-python = {config.requires_python!r}` excludes the running Python {running}; "
            "write the version you release with into .python-version and run reprotasks with it"
        )
    write_atomic(path, f"{running}\n".encode())
    created = f"created: pins Python {running} (commit it: CI reads the pin from the checkout)"
    if ignored_by_git(path, runner=runner):
        _append_gitignore(config.root, "!/.python-version", "the Python pin is part of the release inputs")
        created += "; .gitignore ignored it: `!/.python-version` added there"
    return created


def _add_dist_ignore(config: Config, runner: Runner) -> str:
    """dist/ is replaced by every build: it must never be committed (build refuses tracked outputs)."""
    from reprotasks.inputs.pins import ignored_by_git

    dist = config.dist_dir
    if not (config.root / ".git").exists() or ignored_by_git(dist / "x", runner=runner):
        return ""
    relative = config.rel(dist)
    _append_gitignore(config.root, f"/{relative}/", "build outputs, replaced by every `reprotasks build`")
    return f"added `/{relative}/`"


def _append_gitignore(root: Path, pattern: str, why: str) -> None:
    path = root / ".gitignore"
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if pattern in text.splitlines():
        return
    separator = "" if not text or text.endswith("\n") else "\n"
    write_atomic(path, f"{text}{separator}# {why} (reprotasks init)\n{pattern}\n".encode())


def _write_workflow(path: Path, config: Config, force: bool, install: tuple[str, ...], tags: str) -> str:
    rendered = render_workflow(config, install or DEFAULT_INSTALL, tag_pattern=tags)
    if path.is_file():
        if path.read_text(encoding="utf-8") == rendered:
            return "unchanged (matches the template)"
        if not force:
            return "kept: it differs from the template (`reprotasks init --force` replaces it)"
    existed = path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, rendered.encode())
    return "replaced (--force)" if existed else "created from the template"
