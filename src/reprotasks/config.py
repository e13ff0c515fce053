"""Load ``[tool.reprotasks]`` into frozen dataclasses.

Each domain declares its keys, resolved dataclass and checks in its ``options.py`` (``DOMAINS``);
this module finds and reads the settings, layers them, type-checks every key generically and
composes the domains' dataclasses into ``Config`` (their names are re-exported here).

Layers, later wins: defaults (the option tables, ``DOMAINS``) <- pyproject.toml <- ``REPROTASKS_*``
environment variables <- explicit overrides (task-runner config, command-line flags).
Keys that are not ``layered`` (promotion policy) come from the settings file only: an environment
variable or an override of one is refused.
Every layer is validated the same way: unknown keys and wrong types fail with the key path,
where it came from, and a "did you mean".
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from reprotasks import discover
from reprotasks._options import NON_CONFIG_ENV, TOP_OPTIONS, Option, describe_section, suggest, type_name
from reprotasks.audit import options as audit_options
from reprotasks.audit.options import AuditConfig as AuditConfig
from reprotasks.errors import ConfigError
from reprotasks.go import options as go_options
from reprotasks.go.options import GoConfig as GoConfig
from reprotasks.image import options as image_options
from reprotasks.image.options import ImageConfig as ImageConfig
from reprotasks.packages import options as package_options
from reprotasks.packages.options import PackageConfig as PackageConfig
from reprotasks.promote import options as promote_options
from reprotasks.promote.options import PromoteConfig as PromoteConfig
from reprotasks.python import options as python_options
from reprotasks.python.options import BUILD_CONSTRAINTS as BUILD_CONSTRAINTS
from reprotasks.python.options import DEFAULT_BUILD_LOCK
from reprotasks.python.options import TOOL_LOCKS as TOOL_LOCKS
from reprotasks.python.options import LockSpec as LockSpec
from reprotasks.python.options import PythonConfig as PythonConfig
from reprotasks.signing import options as signing_options
from reprotasks.signing.options import SignConfig as SignConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

# describe()'s settings that change no byte a build writes and nothing its manifest records, left
# out of a build's inputs digest (so setting one between `build` and `sbom` rebuilds nothing):
# where the outputs go, what verify, build and release demand (gates), and what is done with the
# outputs after the build (signing, images). audit and promote are not in describe() at all.
_NOT_BUILD = (
    "dist-dir",
    "dirty-tree",
    "python.require-build-lock",
    "python.check-tool-locks",
    "python.version-pin",
    "go.toolchain-pin",
    "sign",
    "images",
    "packages",
)
# The option tables, one per domain: the one list of them. Each is read when used (never copied
# at import), so a test may extend a table with monkeypatch.
DOMAINS = (
    python_options,
    go_options,
    signing_options,
    audit_options,
    promote_options,
    image_options,
    package_options,
)
# The sub-tables describe() shows (audit and promote change nothing that is built), as Config attributes.
_DESCRIBED = (python_options, go_options, signing_options)


def all_options() -> tuple[Option, ...]:
    """Every key of ``[tool.reprotasks]``: the top-level ones, then each domain's table."""
    return (*TOP_OPTIONS, *(option for domain in DOMAINS for option in domain.OPTIONS))


def tables() -> tuple[str, ...]:
    """The sub-table names (``python``, ``go``, ...), in the order of ``DOMAINS``."""
    return tuple(dict.fromkeys(option.table for option in all_options() if option.table))


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True, kw_only=True)
class Config:
    root: Path
    pyproject: Path | None
    requires_python: str | None
    project_name: str | None
    project_version: str | None  # the static [project] version, if any
    # The repository URL [project.urls] gives (Source, Repository, Source Code, Code), if any.
    project_source: str | None = None
    dist_dir: Path
    dirty_tree: str
    exclude_submodules: tuple[str, ...] = ()  # submodule paths (project-relative) the build leaves out
    version: str | None
    python: PythonConfig
    go: GoConfig
    sign: SignConfig
    # Not part of describe(): what the audit accepts does not change what is built.
    audit: AuditConfig = dataclasses.field(default_factory=AuditConfig)
    # Not part of fingerprint() (nor is sign): images are made from the build's outputs, after it.
    images: tuple[ImageConfig, ...] = ()
    # Not part of fingerprint() either: packages are made from the build's outputs, after it.
    packages: tuple[PackageConfig, ...] = ()
    # Not part of describe(): where a release may go does not change what is built.
    promote: PromoteConfig = dataclasses.field(default_factory=PromoteConfig)
    # The file holding the settings, as messages name it (pyproject.toml or reprotasks.toml).
    settings_file: str = "pyproject.toml"
    # How this config was loaded (overrides, their source), to load the same layers elsewhere.
    loader: tuple[Mapping[str, Any] | None, str] = (None, "overrides")

    def reload_at(self, root: Path) -> Config:
        """The same layers (environment, overrides) over the project files found at ``root``."""
        overrides, source = self.loader
        return load_config(root, overrides=overrides, overrides_source=source)

    def fingerprint(self) -> dict[str, Any]:
        """Everything configuration contributes to a build's outputs and manifest: part of its inputs
        digest, and compared with the commit's. Settings that change neither are left out (``_NOT_BUILD``)."""
        described = self.describe()
        described.pop("promote")  # where a release may go changes nothing it is built from
        for dotted in _NOT_BUILD:
            table, _, key = dotted.rpartition(".")
            (described[table] if table else described).pop(key)
        return {
            **described,
            "project": {"name": self.project_name, "version": self.project_version},
            "build-system": None if self.python.build_lock is None else self.python.build_lock.generated,
        }

    def rel(self, path: Path) -> str:
        """``path`` relative to the project root, POSIX style (what messages show). A path in
        release's stage is shown by the step's ``DistDir.rel`` instead."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def describe(self) -> dict[str, Any]:
        """The resolved configuration as plain JSON data with project-relative paths."""
        return {
            "dist-dir": self.rel(self.dist_dir),
            "dirty-tree": self.dirty_tree,
            "exclude-submodules": list(self.exclude_submodules),
            "version": self.version,
            **{
                domain.TABLE: describe_section(domain.OPTIONS, getattr(self, domain.TABLE), self.rel)
                for domain in _DESCRIBED
            },
            "images": image_options.describe(self.images, self.rel),
            "packages": package_options.describe(self.packages, self.rel),
            "promote": {  # every environment's rules resolved, defaults included
                "environments": list(self.promote.environments),
                "ledger": None if self.promote.ledger is None else self.rel(self.promote.ledger),
                "registry": self.promote.registry,
                "rules": {name: self.promote.rules_for(name).as_json() for name in self.promote.environments},
            },
        }


# The settings without a pyproject.toml (a Go repository): the keys of [tool.reprotasks] at its top.
STANDALONE = "reprotasks.toml"


def load_config(
    root: Path | str = ".",
    *,
    overrides: Mapping[str, Any] | None = None,
    overrides_source: str = "overrides",
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Read and validate the project's configuration; resolve every default to a value."""
    root = discover.resolve_path(Path(root), str(root))
    if not root.is_dir():
        raise ConfigError(
            f"project directory {root} does not exist", hint="pass an existing directory with -C/--project"
        )
    pyproject = root / "pyproject.toml"
    document: dict[str, Any] = {}
    if pyproject.is_file():
        document = _read_toml(pyproject)
    tool = document.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(
            f"pyproject.toml: `tool` must be a table, not {type_name(tool)}",
            hint="write tool settings as tables, e.g. `[tool.reprotasks]` followed by `key = value` lines",
        )
    table = tool.get("reprotasks", {})
    if not isinstance(table, dict):
        raise ConfigError(
            f"pyproject.toml: [tool.reprotasks] must be a table, not {type_name(table)}",
            hint="write it as a table: `[tool.reprotasks]` followed by `key = value` lines",
        )
    source = "pyproject.toml [tool.reprotasks]"
    standalone = root / STANDALONE
    if standalone.exists() or standalone.is_symlink():
        if not standalone.is_file():
            raise ConfigError(f"{STANDALONE}: is not a regular file", hint="remove it, or make it a TOML file")
        if "reprotasks" in tool:
            raise ConfigError(
                f"the configuration is given twice: in {STANDALONE} and in [tool.reprotasks] of pyproject.toml",
                hint="keep one of them (the settings are the same keys in both)",
            )
        table, source = _read_toml(standalone), STANDALONE
    values: dict[str, Any] = {option.dotted: option.default for option in all_options()}
    values.update(_validate(table, source))
    values.update(_from_environ(os.environ if environ is None else environ))
    if overrides:
        values.update(_unlayered_refused(_validate(dict(overrides), overrides_source), overrides_source))
    python_dir, python_document = _python_project(root, document, values)
    if python_dir is not None:
        pyproject = python_dir / "pyproject.toml"
        document = python_document
        if values["python.build-lock"] == DEFAULT_BUILD_LOCK:
            values["python.build-lock"] = f"{python_dir.relative_to(root).as_posix()}/{DEFAULT_BUILD_LOCK}"
    config = _resolve(root, pyproject if pyproject.is_file() else None, document, values, python_dir)
    return dataclasses.replace(
        config,
        loader=(dict(overrides) if overrides else None, overrides_source),
        settings_file=STANDALONE if source == STANDALONE else "pyproject.toml",
    )


def _python_project(root: Path, document: dict[str, Any], values: dict[str, Any]) -> tuple[Path | None, dict[str, Any]]:
    """(directory, pyproject document) of ``python.project`` when it names a subdirectory."""
    relative = values["python.project"]
    if relative is None or Path(relative) == Path():
        return None, document
    directory = discover.inside(root, relative, "python.project")
    if directory == root:
        return None, document
    shown = directory.relative_to(root).as_posix()
    pyproject = directory / "pyproject.toml"
    if not pyproject.is_file():
        raise ConfigError(
            f"`python.project` = {relative!r}: {shown}/pyproject.toml does not exist",
            hint="point `python.project` at the directory holding the Python project's pyproject.toml",
        )
    for table in ("project", "build-system"):
        if table in document:
            raise ConfigError(
                f"`python.project` = {relative!r}, but pyproject.toml at the root has its own [{table}]: which "
                "Python project to build is ambiguous",
                hint="drop `python.project` to build the root's project, or move [project] and [build-system] "
                f"into {shown}/pyproject.toml",
            )
    python_document = _read_toml(pyproject)
    tool = python_document.get("tool")
    if isinstance(tool, dict) and "reprotasks" in tool:
        raise ConfigError(
            f"{shown}/pyproject.toml has a [tool.reprotasks] table, which is never read: the settings live at the "
            "project root",
            hint=f"move its keys into [tool.reprotasks] of the root's pyproject.toml or into {STANDALONE}",
        )
    return directory, python_document


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ConfigError(
            f"{path.name}: cannot be read ({exc.strerror or exc})", hint="check the file's permissions"
        ) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path.name}: line {line} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            hint=f"TOML files must be UTF-8: save {path.name} as UTF-8 (or fix that byte)",
        ) from None
    try:
        document: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path.name} is not valid TOML: {exc}",
            hint=f"fix the syntax at the position named above in {path.name}",
        ) from None
    except RecursionError:
        raise ConfigError(
            f"{path.name} is not valid TOML: arrays or inline tables are nested too deeply to read",
            hint=f"flatten the nesting in {path.name}",
        ) from None
    return document


def _short_toml(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _flatten(table: Mapping[str, Any], source: str) -> Iterator[tuple[str, Any]]:
    names = tables()
    for key, value in table.items():
        if key in names:
            if not isinstance(value, Mapping):
                raise ConfigError(
                    f"{source}: `{key}` must be a table, not {type_name(value)}",
                    hint=f"write it as `[tool.reprotasks.{key}]` with keys below it",
                )
            for sub_key, sub_value in value.items():
                yield f"{key}.{sub_key}", sub_value
        else:
            yield key, value


def _validate(table: Mapping[str, Any], source: str) -> dict[str, Any]:
    by_dotted = {option.dotted: option for option in all_options()}
    valid = sorted(by_dotted)
    result: dict[str, Any] = {}
    for dotted, value in _flatten(table, source):
        option = by_dotted.get(dotted)
        if option is None:
            raise ConfigError(
                f"{source}: unknown key `{dotted}`",
                hint=f"{suggest(dotted, valid)}valid keys are: {', '.join(valid)}",
            )
        result[dotted] = _check_type(option, value, source)
    return result


def _check_type(option: Option, value: Any, source: str) -> Any:
    where = f"{source}: `{option.dotted}`"
    strings = value if isinstance(value, list) else [value]
    if any(isinstance(item, str) and "\x00" in item for item in strings):
        raise ConfigError(f"{where} contains a NUL character (\\u0000)", hint="remove the NUL character")
    if value is None and option.default is None:
        return None  # only programmatic overrides can say "unset" (TOML has no null)
    if option.kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(
                f"{where} must be true or false, not {type_name(value)}", hint=f"e.g. `{option.key} = true`"
            )
        return value
    if option.kind == "entries":
        assert option.check is not None, option.dotted  # declared with its check
        return option.check(value, where)
    if option.kind == "list":
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(
                f"{where} must be an array of strings, not {type_name(value)}",
                hint=f'e.g. `{option.key} = ["..."]`',
            )
        return list(value)
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string, not {type_name(value)}", hint=f'e.g. `{option.key} = "..."`')
    if option.kind == "choice" and value not in option.choices:
        raise ConfigError(
            f"{where} is {value!r}, which is not one of: {', '.join(option.choices)}",
            hint=f"{suggest(value, list(option.choices))}pick one of the values listed",
        )
    return value


def _unlayered_refused(values: dict[str, Any], source: str) -> dict[str, Any]:
    """Overrides (invoke.yaml's `reprotasks:`, flags) never set a key read only from the committed file."""
    by_dotted = {option.dotted: option for option in all_options()}
    for dotted in values:
        if not by_dotted[dotted].layered:
            table = dotted.partition(".")[0]
            raise ConfigError(
                f"{source}: `{dotted}` is refused: it is promotion policy, which comes only from the committed "
                f"[tool.reprotasks.{table}] (pyproject.toml, or [{table}] of reprotasks.toml), never from whoever runs "
                "the command",
                hint=f"remove `{table}` from it (invoke.yaml: the `reprotasks:` mapping); to change the policy, edit "
                f"[tool.reprotasks.{table}] and commit it",
            )
    return values


def _env_list(name: str, raw: str) -> list[str]:
    """A list setting from the environment: whitespace-separated (like PIP_FIND_LINKS), or a JSON
    array of strings (as the TOML value is written)."""
    if not raw.lstrip().startswith("["):
        return raw.split()
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(
            f"environment variable {name}={raw!r} starts like a JSON array but is not one of strings",
            hint='separate the entries with spaces (`a b`), or write a JSON array of strings (`["a", "b"]`)',
        )
    return value


def _from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    by_env = {option.env_var: option for option in all_options()}
    result: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith("REPROTASKS_") or name in NON_CONFIG_ENV:
            continue
        option = by_env.get(name)
        if option is None:
            raise ConfigError(
                f"environment variable {name} is not a reprotasks setting",
                hint=f"{suggest(name, sorted(by_env))}unset it, or use one of: {', '.join(sorted(by_env))}",
            )
        if not option.layered:
            raise ConfigError(
                f"environment variable {name} is refused: `{option.dotted}` is promotion policy, which comes only "
                "from the committed [tool.reprotasks.promote] (pyproject.toml, or [promote] of reprotasks.toml), "
                "never from whoever runs the command",
                hint=f"unset {name}; to change the policy, edit [tool.reprotasks.promote] and commit it",
            )
        value: Any = raw
        if option.kind == "bool":
            lowered = raw.strip().lower()
            if lowered not in _TRUE | _FALSE:
                raise ConfigError(
                    f"environment variable {name}={raw!r} is not a boolean", hint="use 1/0, true/false or yes/no"
                )
            value = lowered in _TRUE
        elif option.kind == "list":
            value = _env_list(name, raw)
        elif option.kind == "entries":
            try:
                value = json.loads(raw)
            except RecursionError:
                raise ConfigError(
                    f"environment variable {name} is JSON nested too deeply", hint="pass a flat JSON value"
                ) from None
            except ValueError as exc:
                raise ConfigError(
                    f"environment variable {name} is not JSON ({exc})", hint=f"e.g. {option.example}"
                ) from None
        result[option.dotted] = _check_type(option, value, f"environment variable {name}")
    return result


def _text(table: Any, key: str) -> str | None:
    value = table.get(key) if isinstance(table, dict) else None
    return value if isinstance(value, str) else None


def _project_table(document: dict[str, Any]) -> dict[str, Any]:
    """``[project]``, with the keys reprotasks reads checked for their types."""
    project = document.get("project", {})
    if not isinstance(project, dict):
        raise ConfigError(
            f"pyproject.toml: `project` must be a table, not {type_name(project)}",
            hint='write it as `[project]` followed by `name = "..."`, `version = "..."` lines',
        )
    for key in ("name", "version", "requires-python"):
        if key in project and not isinstance(project[key], str):
            raise ConfigError(
                f"pyproject.toml: `[project] {key}` must be a string, not {type_name(project[key])}",
                hint=f'e.g. `{key} = "{ {"name": "my-package", "version": "1.0"}.get(key, ">=3.11") }"`',
            )
    dynamic = project.get("dynamic", [])
    if not isinstance(dynamic, list) or not all(isinstance(item, str) for item in dynamic):
        what = type_name(dynamic) if not isinstance(dynamic, list) else _short_toml(dynamic)
        raise ConfigError(
            f"pyproject.toml: `[project] dynamic` must be an array of strings, not {what}",
            hint='e.g. `dynamic = ["version"]`',
        )
    return project


def _resolve(
    root: Path, pyproject: Path | None, document: dict[str, Any], values: dict[str, Any], python_dir: Path | None
) -> Config:
    project = _project_table(document)
    python = python_options.resolve(root, pyproject, document, project, values, python_dir)
    go = go_options.resolve(root, values)
    dist_dir = _dist_dir(root, values["dist-dir"])
    _check_controls_outside(root, dist_dir, values["dist-dir"], python, go)
    return Config(
        root=root,
        pyproject=pyproject,
        requires_python=_text(project, "requires-python"),
        project_name=_text(project, "name"),
        project_source=_source_url(project),
        project_version=None if "version" in project.get("dynamic", []) else _text(project, "version"),
        dist_dir=dist_dir,
        dirty_tree=values["dirty-tree"],
        exclude_submodules=_submodule_paths(values["exclude-submodules"]),
        version=values["version"],
        python=python,
        go=go,
        sign=signing_options.resolve(root, values),
        audit=audit_options.resolve(values),
        images=image_options.resolve(
            root, values["images"], go.platforms, python.locks[0].output if python.locks else None
        ),
        packages=package_options.resolve(
            root,
            values["packages"],
            package_options.Project(project, go.platforms, python.locks[0].output if python.locks else None),
        ),
        promote=promote_options.resolve_config(root, values),
    )


_SOURCE_KEYS = ("source", "repository", "source code", "code")


def _source_url(project: Mapping[str, Any]) -> str | None:
    """The repository's URL from [project.urls] (keys compared as PEP 753 normalises them)."""
    urls = project.get("urls")
    if not isinstance(urls, Mapping):
        return None
    named = {re.sub(r"[-_.\s]+", " ", str(key)).strip().lower(): value for key, value in urls.items()}
    for key in _SOURCE_KEYS:
        value = named.get(key)
        if isinstance(value, str) and value.startswith("https://"):
            return value
    return None


def _submodule_paths(entries: list[str]) -> tuple[str, ...]:
    paths = []
    for entry in entries:
        path = PurePosixPath(entry.replace("\\", "/"))
        if not entry.strip() or path.is_absolute() or ".." in path.parts or path.as_posix() in (".", ""):
            raise ConfigError(
                f"`exclude-submodules` entry {entry!r} is not a path inside the project",
                hint="name each submodule by its path from the project root, e.g. "
                '`exclude-submodules = ["tests/data"]`',
            )
        paths.append(path.as_posix())
    return tuple(sorted(set(paths)))


def _check_controls_outside(root: Path, dist_dir: Path, relative: str, python: PythonConfig, go: GoConfig) -> None:
    """dist-dir is replaced as a whole: it must hold none of the files the release steps read."""
    controls = [root / name for name in _CONTROL_FILES]
    controls += [path for lock in python.locks for path in (lock.input, lock.output)]
    if python.build_lock is not None:
        controls.append(python.build_lock.output)
    for each in go.modules:
        controls += [each / "go.mod", each / "go.sum"]
    for control in controls:
        if control.is_relative_to(dist_dir) and (control.exists() or control.is_symlink()):
            raise ConfigError(
                f"`dist-dir` = {relative!r} holds {control.relative_to(root).as_posix()}, which the "
                "release steps read; build, assemble and release replace that directory as a whole",
                hint='point `dist-dir` at a directory of its own, e.g. `dist-dir = "dist"`',
            )


# Files a project's release depends on; dist-dir (replaced as a whole) must never hold one.
_CONTROL_FILES = (
    "pyproject.toml",
    "reprotasks.toml",
    ".python-version",
    "noxfile.py",
    "tasks.py",
    "invoke.yaml",
    ".gitignore",
)


def _dist_dir(root: Path, relative: str) -> Path:
    # The parent is resolved, dist-dir itself is not: a symlink there is reported as one, never followed.
    lexical = Path(os.path.normpath(root / relative))
    if lexical == root or lexical.name in ("", ".", ".."):
        path = discover.inside(root, relative, "dist-dir")
    else:
        path = discover.resolve_path(lexical.parent, f"`dist-dir` = {relative!r}") / lexical.name
        if not path.is_relative_to(root):
            raise ConfigError(
                f"`dist-dir` = {relative!r} points outside the project ({root})",
                hint="use a path inside the project for `dist-dir`",
            )
    if path == root:
        raise ConfigError(
            f"`dist-dir` = {relative!r} is the project directory itself, which `build` would replace and "
            "whose source the other steps would take for release files",
            hint='point `dist-dir` at a build output directory of its own, e.g. `dist-dir = "dist"`, then run '
            "`reprotasks build`",
        )
    shown = path.relative_to(root).as_posix()
    nested = [ancestor for ancestor in (path, *path.parents) if ancestor != root and ancestor.is_relative_to(root)]
    if any(part.lower() == ".git" for part in path.relative_to(root).parts) or any(
        (ancestor / ".git").exists() for ancestor in nested
    ):
        raise ConfigError(
            f"`dist-dir` = {relative!r} ({shown}) is a git directory, inside one, or inside a nested repository; "
            "build, assemble and release replace that directory as a whole",
            hint='use a plain directory of its own, e.g. `dist-dir = "dist"`',
        )
    return path
