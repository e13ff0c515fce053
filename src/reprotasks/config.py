"""Load ``[tool.reprotasks]`` into frozen dataclasses.

Layers, later wins: defaults (``_options.OPTIONS``) <- pyproject.toml <- ``REPROTASKS_*``
environment variables <- explicit overrides (task-runner config, command-line flags).
Keys that are not ``layered`` (promotion policy) come from the settings file only: an environment
variable or an override of one is refused.
Every layer is validated the same way: unknown keys and wrong types fail with the key path,
where it came from, and a "did you mean".
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from reprotasks import discover
from reprotasks._options import ALLOW_KEYS, DEFAULT_ARCHIVE_NAME, IMAGE_KEYS, NON_CONFIG_ENV, OPTIONS, TABLES, Option
from reprotasks.errors import ConfigError
from reprotasks.promote.policy import PromoteConfig

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
)
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


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

    @property
    def all_locks(self) -> tuple[LockSpec, ...]:
        """Every lock the project keeps: the configured ones, then the build lock."""
        return self.locks if self.build_lock is None else (*self.locks, self.build_lock)


@dataclass(frozen=True, kw_only=True)
class GoConfig:
    module: Path | None  # None: the project has no Go module (or Go is disabled)
    main_packages: tuple[str, ...]
    toolchain_pin: str
    platforms: tuple[str, ...]
    version_variable: str
    vcs_stamp: bool
    ldflags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    # What the version is stamped into: version_variable resolved ("auto": found in the sources).
    version_variables: tuple[str, ...] = ()
    binary_names: Mapping[str, str] = dataclasses.field(default_factory=dict)  # main package -> binary name
    archive_files: tuple[str, ...] = ()  # project-relative files added to every archive
    archive_name: str = DEFAULT_ARCHIVE_NAME
    exclude_packages: tuple[str, ...] = ()
    modules: tuple[Path, ...] = ()  # every module lock tidies and verify checks (module among them)
    unchosen: tuple[Path, ...] = ()  # several modules with commands, none configured: build asks which


GITHUB_ACTIONS_ISSUER = "https://token.actions.githubusercontent.com"


@dataclass(frozen=True, kw_only=True)
class SignConfig:
    instance: str  # "production", "staging" or "custom" (trust_config set)
    trust_config: Path | None
    artifacts: bool
    identity: str | None
    issuer: str | None  # resolved: GitHub's issuer by default with a GitHub policy
    github_repository: str | None
    github_workflow: str
    github_ref: str
    offline: bool
    require_provenance: bool = True

    @property
    def has_policy(self) -> bool:
        return self.identity is not None or self.github_repository is not None


@dataclass(frozen=True, kw_only=True)
class AuditConfig:
    enabled: bool = True
    exclude: tuple[str, ...] = ()
    allow: tuple[Mapping[str, str], ...] = ()


@dataclass(frozen=True, kw_only=True)
class ImageConfig:
    """One `[[tool.reprotasks.images]]` entry, checked (the base pinned, the platforms linux)."""

    name: str
    kind: str = "go"  # go | python
    binary: str = ""  # go: the Go binary in the image
    requirements: Path | None = None  # python: the hashed runtime lock installed with the wheel
    python_version: str = ""  # python: the base image's Python (X.Y), for which wheels are chosen
    base: str = "scratch"
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    user: str = "65532:65532"
    env: tuple[str, ...] = ()
    workdir: str = "/"
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    platforms: tuple[str, ...] = ()
    repository: str | None = None


@dataclass(frozen=True, kw_only=True)
class Config:
    root: Path
    pyproject: Path | None
    requires_python: str | None
    project_name: str | None
    project_version: str | None  # the static [project] version, if any
    dist_dir: Path
    dirty_tree: str
    version: str | None
    python: PythonConfig
    go: GoConfig
    sign: SignConfig
    # Not part of describe(): what the audit accepts does not change what is built.
    audit: AuditConfig = AuditConfig()
    # Not part of fingerprint() (nor is sign): images are made from the build's outputs, after it.
    images: tuple[ImageConfig, ...] = ()
    # Not part of describe(): where a release may go does not change what is built.
    promote: PromoteConfig = dataclasses.field(default_factory=PromoteConfig)
    # Set while `release` stages its outputs in ``dist_dir``: the dist/ they will replace. Paths
    # inside the stage are shown (and recorded in manifests/provenance) as paths in this one.
    staged_for: Path | None = None
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
        for dotted in _NOT_BUILD:
            table, _, key = dotted.rpartition(".")
            (described[table] if table else described).pop(key)
        return {
            **described,
            "project": {"name": self.project_name, "version": self.project_version},
            "build-system": None if self.python.build_lock is None else self.python.build_lock.generated,
        }

    def staged(self, stage: Path) -> Config:
        """This config writing into ``stage`` instead of dist/, with identical recorded settings."""
        return dataclasses.replace(self, dist_dir=stage, staged_for=self.staged_for or self.dist_dir)

    def rel(self, path: Path) -> str:
        """``path`` relative to the project root, POSIX style (what messages show)."""
        if self.staged_for is not None and path.is_relative_to(self.dist_dir):
            path = self.staged_for / path.relative_to(self.dist_dir)
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    def describe(self) -> dict[str, Any]:
        """The resolved configuration as plain JSON data with project-relative paths."""
        return {
            "dist-dir": self.rel(self.dist_dir),
            "dirty-tree": self.dirty_tree,
            "version": self.version,
            "python": {
                "locks": [self.rel(lock.input) for lock in self.python.locks],
                "lock-backend": self.python.lock_backend,
                "index-url": self.python.index_url,
                "extra-index-urls": list(self.python.extra_index_urls),
                "find-links": list(self.python.find_links),
                "no-index": self.python.no_index,
                "version-pin": self.python.version_pin,
                "build": self.python.build,
                "build-lock": None if self.python.build_lock is None else self.rel(self.python.build_lock.output),
                "project": None if self.python.project is None else self.rel(self.python.project),
                "require-build-lock": self.python.require_build_lock,
                "build-constraints": (
                    None
                    if self.python.build_lock is None or self.python.build_lock.constraints is None
                    else self.rel(self.python.build_lock.constraints)
                ),
                "check-tool-locks": self.python.check_tool_locks,
            },
            "go": {
                "module": None if self.go.module is None else self.rel(self.go.module),
                "modules": [self.rel(module) for module in self.go.modules],
                "main-packages": list(self.go.main_packages),
                "toolchain-pin": self.go.toolchain_pin,
                "platforms": list(self.go.platforms),
                "version-variable": self.go.version_variable,
                "vcs-stamp": self.go.vcs_stamp,
                "ldflags": list(self.go.ldflags),
                "tags": list(self.go.tags),
                "exclude-packages": list(self.go.exclude_packages),
                "binary-names": [f"{package}={name}" for package, name in sorted(self.go.binary_names.items())],
                "archive-files": list(self.go.archive_files),
                "archive-name": self.go.archive_name,
            },
            "sign": {
                "instance": self.sign.instance,
                "trust-config": None if self.sign.trust_config is None else self.rel(self.sign.trust_config),
                "artifacts": self.sign.artifacts,
                "identity": self.sign.identity,
                "issuer": self.sign.issuer,
                "github-repository": self.sign.github_repository,
                "github-workflow": self.sign.github_workflow,
                "github-ref": self.sign.github_ref,
                "offline": self.sign.offline,
                "require-provenance": self.sign.require_provenance,
            },
            "images": [
                {
                    "name": image.name,
                    "kind": image.kind,
                    "binary": image.binary,
                    "requirements": None if image.requirements is None else self.rel(image.requirements),
                    "python-version": image.python_version,
                    "base": image.base,
                    "entrypoint": list(image.entrypoint),
                    "cmd": list(image.cmd),
                    "user": image.user,
                    "env": list(image.env),
                    "workdir": image.workdir,
                    "labels": dict(sorted(image.labels.items())),
                    "platforms": list(image.platforms),
                    "repository": image.repository,
                }
                for image in self.images
            ],
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
            f"pyproject.toml: `tool` must be a table, not {_type_name(tool)}",
            hint="write tool settings as tables, e.g. `[tool.reprotasks]` followed by `key = value` lines",
        )
    table = tool.get("reprotasks", {})
    if not isinstance(table, dict):
        raise ConfigError(
            f"pyproject.toml: [tool.reprotasks] must be a table, not {_type_name(table)}",
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
    values: dict[str, Any] = {option.dotted: option.default for option in OPTIONS}
    values.update(_validate(table, source))
    values.update(_from_environ(os.environ if environ is None else environ))
    if overrides:
        values.update(_unlayered_refused(_validate(dict(overrides), overrides_source), overrides_source))
    python_dir, python_document = _python_project(root, document, values)
    if python_dir is not None:
        pyproject = python_dir / "pyproject.toml"
        document = python_document
        default_lock = next(option.default for option in OPTIONS if option.dotted == "python.build-lock")
        if values["python.build-lock"] == default_lock:
            values["python.build-lock"] = f"{python_dir.relative_to(root).as_posix()}/{default_lock}"
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


def _type_name(value: object) -> str:
    return {dict: "a table", list: "an array", str: "a string", bool: "a boolean", int: "an integer"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _short_toml(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _suggest(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    if close:
        return f"did you mean `{close[0]}`? "
    return ""


def _flatten(table: Mapping[str, Any], source: str) -> Iterator[tuple[str, Any]]:
    for key, value in table.items():
        if key in TABLES:
            if not isinstance(value, Mapping):
                raise ConfigError(
                    f"{source}: `{key}` must be a table, not {_type_name(value)}",
                    hint=f"write it as `[tool.reprotasks.{key}]` with keys below it",
                )
            for sub_key, sub_value in value.items():
                yield f"{key}.{sub_key}", sub_value
        else:
            yield key, value


def _validate(table: Mapping[str, Any], source: str) -> dict[str, Any]:
    by_dotted = {option.dotted: option for option in OPTIONS}
    valid = sorted(by_dotted)
    result: dict[str, Any] = {}
    for dotted, value in _flatten(table, source):
        option = by_dotted.get(dotted)
        if option is None:
            raise ConfigError(
                f"{source}: unknown key `{dotted}`",
                hint=f"{_suggest(dotted, valid)}valid keys are: {', '.join(valid)}",
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
                f"{where} must be true or false, not {_type_name(value)}", hint=f"e.g. `{option.key} = true`"
            )
        return value
    if option.kind == "allow-list":
        return _check_allow_list(value, where)
    if option.kind == "image-list":
        return _check_image_list(value, where)
    if option.kind == "rules-table":
        from reprotasks.promote.policy import check_rules

        return check_rules(value, where)
    if option.kind == "list":
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(
                f"{where} must be an array of strings, not {_type_name(value)}",
                hint=f'e.g. `{option.key} = ["..."]`',
            )
        return list(value)
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string, not {_type_name(value)}", hint=f'e.g. `{option.key} = "..."`')
    if option.kind == "choice" and value not in option.choices:
        raise ConfigError(
            f"{where} is {value!r}, which is not one of: {', '.join(option.choices)}",
            hint=f"{_suggest(value, list(option.choices))}pick one of the values listed",
        )
    return value


def _check_allow_list(value: Any, where: str) -> list[dict[str, str]]:
    example = '[[tool.reprotasks.audit.allow]]\nrule = "RT-D001"\npath = "docker/dev/*"\nreason = "local only"'
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise ConfigError(f"{where} must be an array of tables, not {_type_name(value)}", hint=f"e.g.\n{example}")
    entries = []
    for number, item in enumerate(value, 1):
        unknown = sorted(set(item) - set(ALLOW_KEYS))
        if unknown:
            raise ConfigError(
                f"{where} entry {number}: unknown key `{unknown[0]}`",
                hint=f"{_suggest(unknown[0], list(ALLOW_KEYS))}an entry has: {', '.join(ALLOW_KEYS)}",
            )
        if not all(isinstance(field_value, str) for field_value in item.values()):
            raise ConfigError(f"{where} entry {number}: every value must be a string", hint=f"e.g.\n{example}")
        if not str(item.get("reason", "")).strip():
            raise ConfigError(
                f"{where} entry {number} has no `reason`",
                hint='say why this finding is acceptable (`reason = "..."`): the next reader needs to know',
            )
        if not any(key in item for key in ("rule", "path", "match")):
            raise ConfigError(
                f"{where} entry {number} would allow every finding", hint="give at least one of rule, path, match"
            )
        entries.append({key: str(item[key]) for key in ALLOW_KEYS if key in item})
    return entries


_IMAGE_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_PINNED_IMAGE = re.compile(r"^[^\s@]+@sha256:[0-9a-f]{64}$")
IMAGE_EXAMPLE = '[[tool.reprotasks.images]]\nname = "worker"\nbinary = "worker"'


def _check_image_list(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ConfigError(f"{where} must be an array of tables, not {_type_name(value)}", hint=f"e.g.\n{IMAGE_EXAMPLE}")
    for number, item in enumerate(value, 1):
        if not isinstance(item, Mapping):
            raise ConfigError(
                f"{where} entry {number} must be a table, not {_type_name(item)}", hint=f"e.g.\n{IMAGE_EXAMPLE}"
            )
    entries: list[dict[str, Any]] = []
    names: set[str] = set()
    for number, item in enumerate(value, 1):
        at = f"{where} entry {number}"
        unknown = sorted(set(item) - set(IMAGE_KEYS))
        if unknown:
            raise ConfigError(
                f"{at}: unknown key `{unknown[0]}`",
                hint=f"{_suggest(unknown[0], list(IMAGE_KEYS))}an entry has: {', '.join(IMAGE_KEYS)}",
            )
        for key, kind in IMAGE_KEYS.items():
            if key not in item:
                continue
            field_value = item[key]
            good = (
                isinstance(field_value, str)
                if kind == "str"
                else isinstance(field_value, list) and all(isinstance(part, str) for part in field_value)
                if kind == "list"
                else isinstance(field_value, Mapping) and all(isinstance(part, str) for part in field_value.values())
            )
            if not good:
                wanted = {"str": "a string", "list": "an array of strings", "table": "a table of strings"}[kind]
                parts = list(field_value.values()) if isinstance(field_value, Mapping) else field_value
                inner = next((part for part in parts if not isinstance(part, str)), field_value)
                what = _type_name(field_value) if inner is field_value else f"one holding {_type_name(inner)}"
                raise ConfigError(f"{at}: `{key}` must be {wanted}, not {what}", hint=IMAGE_EXAMPLE)
            texts = [field_value] if kind == "str" else [*field_value, *(field_value if kind == "table" else ())]
            if any("\x00" in text for text in texts):
                raise ConfigError(f"{at}: `{key}` contains a NUL character (\\u0000)", hint="remove the NUL character")
            if kind == "list" and key in ("platforms", "entrypoint") and not field_value:
                raise ConfigError(f"{at}: `{key}` is empty", hint=f"leave `{key}` out for the default, or list values")
        kind = item.get("kind", "go")
        if kind not in ("go", "python"):
            raise ConfigError(f'{at}: `kind` {kind!r} is not "go" or "python"', hint=IMAGE_EXAMPLE)
        for key in ("name", "binary") if kind == "go" else ("name", "entrypoint"):
            if not item.get(key):
                raise ConfigError(
                    f"{at} has no `{key}`", hint=f"every image names itself and its Go binary:\n{IMAGE_EXAMPLE}"
                )
        name = item["name"]
        if not _IMAGE_NAME.match(name) or len(name) > 128:
            raise ConfigError(
                f"{at}: `name` {name!r} is not an image name (lower-case letters, digits and . _ - between them)",
                hint='e.g. `name = "worker"`; the image file is dist/NAME_VERSION.oci.tar',
            )
        if name in names:
            raise ConfigError(f"{at}: `name` {name!r} is given twice", hint="give each image its own name")
        names.add(name)
        if kind == "python" and "binary" in item:
            raise ConfigError(f"{at}: `binary` is for Go images", hint='drop it, or set `kind = "go"`')
        if kind == "go" and ("requirements" in item or "python-version" in item):
            raise ConfigError(
                f"{at}: `requirements` and `python-version` are for Python images", hint='set `kind = "python"`'
            )
        if "python-version" in item and not re.match(r"^3\.\d+$", item["python-version"]):
            raise ConfigError(f"{at}: `python-version` {item['python-version']!r} is not 3.N", hint='e.g. "3.12"')
        _check_image_fields(item, at)
        base = item.get("base", "scratch" if kind == "go" else "")
        if kind == "python" and base in ("", "scratch"):
            raise ConfigError(
                f"{at}: a Python image needs a `base` with a Python interpreter, pinned by digest",
                hint='e.g. `base = "python@sha256:<digest of python:3.12-slim>"` (`crane digest python:3.12-slim`)',
            )
        if base != "scratch" and "@" in base and not _PINNED_IMAGE.match(base):
            raise ConfigError(
                f"{at}: `base` {base!r} is not pinned by a sha256 digest (`@sha256:` and 64 lower-case hex digits)",
                hint=f'copy it exactly: `base = "{base.split("@")[0]}@sha256:<digest>"` (`crane digest` shows it)',
            )
        if base != "scratch" and not _PINNED_IMAGE.match(base):
            raise ConfigError(
                f"{at}: `base` {base!r} is not pinned by digest: a tag is whatever it points to today",
                hint=f'pin it: `base = "{base.split("@")[0]}@sha256:<digest>"` (`crane digest {base.split("@")[0]}` '
                'shows it), or use `base = "scratch"`',
            )
        for variable in item.get("env", []):
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", variable):
                raise ConfigError(f"{at}: `env` entry {variable!r} is not NAME=value", hint='e.g. `env = ["LOG=info"]`')
        for platform in item.get("platforms", []):
            parts = platform.split("/")
            if parts[0] != "linux" or len(parts) not in (2, 3) or not all(parts):
                raise ConfigError(
                    f"{at}: platform {platform!r} is not linux/ARCH[/VARIANT]",
                    hint="images run on Linux: list platforms like `linux/amd64` (built by go.platforms)",
                )
        entries.append(dict(item))
    return entries


_REPOSITORY = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::\d+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)


def _check_image_fields(item: Mapping[str, Any], at: str) -> None:
    """The values a runtime or registry would refuse, or that would not do what they seem to."""
    platforms = item.get("platforms", [])
    if len(set(platforms)) != len(platforms):
        raise ConfigError(f"{at}: `platforms` lists a platform twice", hint="list each platform once")
    if "user" in item and not item["user"].strip():
        raise ConfigError(
            f"{at}: `user` is empty, which runs the image as root",
            hint='leave it out (non-root 65532:65532), or write `user = "0"` to run as root on purpose',
        )
    if "workdir" in item and not item["workdir"].startswith("/"):
        raise ConfigError(f"{at}: `workdir` {item['workdir']!r} is not an absolute path", hint='e.g. `workdir = "/"`')
    names = [variable.split("=", 1)[0] for variable in item.get("env", [])]
    if len(set(names)) != len(names):
        raise ConfigError(f"{at}: `env` sets a variable twice", hint="keep one NAME=value per variable")
    if any(not key.strip() for key in item.get("labels", {})):
        raise ConfigError(f"{at}: `labels` has an empty key", hint='e.g. `labels = { "team" = "ops" }`')
    if "repository" in item and not _REPOSITORY.match(item["repository"]):
        raise ConfigError(
            f"{at}: `repository` {item['repository']!r} is not an image repository (no scheme, tag or digest)",
            hint='e.g. `repository = "ghcr.io/acme/worker"` (publish pushes by digest and tags the version itself)',
        )


def _resolve_images(
    root: Path, entries: list[dict[str, Any]], go_platforms: tuple[str, ...], locks: tuple[LockSpec, ...]
) -> tuple[ImageConfig, ...]:
    linux = tuple(platform for platform in go_platforms if platform.startswith("linux/"))
    images = []
    for entry in entries:
        kind = entry.get("kind", "go")
        binary = entry.get("binary", "")
        if not entry.get("platforms") and not linux and kind == "go":
            raise ConfigError(
                f"image {entry['name']}: go.platforms builds no linux platform to put in it",
                hint="add e.g. linux/amd64 to go.platforms",
            )
        requirements = None
        python_version = ""
        if kind == "python":
            if "requirements" in entry:
                requirements = discover.inside(root, entry["requirements"], "images.requirements")
            elif locks:
                requirements = locks[0].output
            else:
                raise ConfigError(
                    f"image {entry['name']}: no hashed lock to install: the project has no requirements lock",
                    hint="set `requirements` to the hashed runtime lock (e.g. requirements.txt from `reprotasks lock`)",
                )
            python_version = entry.get("python-version") or _python_version_file(root)
            if not python_version:
                raise ConfigError(
                    f"image {entry['name']}: which Python does the base image run?",
                    hint='set `python-version = "3.12"` on the image (or commit a .python-version file)',
                )
        platforms = tuple(entry.get("platforms") or linux or ("linux/amd64",))  # Python without Go: amd64
        images.append(
            ImageConfig(
                name=entry["name"],
                kind=kind,
                binary=binary,
                requirements=requirements,
                python_version=python_version,
                base=entry.get("base", "scratch"),
                entrypoint=tuple(entry.get("entrypoint") or [f"/{binary}"]),
                cmd=tuple(entry.get("cmd", [])),
                user=entry.get("user", "65532:65532"),
                env=tuple(entry.get("env", [])),
                workdir=entry.get("workdir", "/"),
                labels=dict(entry.get("labels", {})),
                platforms=platforms,
                repository=entry.get("repository"),
            )
        )
    return tuple(images)


def _python_version_file(root: Path) -> str:
    """X.Y from the project's committed ``.python-version`` (pyenv, uv), or ""."""
    try:
        text = (root / ".python-version").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
    match = re.match(r"^\s*(3\.\d+)", text)
    return match.group(1) if match else ""


def _unlayered_refused(values: dict[str, Any], source: str) -> dict[str, Any]:
    """Overrides (invoke.yaml's `reprotasks:`, flags) never set a key read only from the committed file."""
    by_dotted = {option.dotted: option for option in OPTIONS}
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


def _from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    by_env = {option.env_var: option for option in OPTIONS}
    result: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith("REPROTASKS_") or name in NON_CONFIG_ENV:
            continue
        option = by_env.get(name)
        if option is None:
            raise ConfigError(
                f"environment variable {name} is not a reprotasks setting",
                hint=f"{_suggest(name, sorted(by_env))}unset it, or use one of: {', '.join(sorted(by_env))}",
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
            value = raw.split()  # whitespace-separated, like PIP_FIND_LINKS
        elif option.kind in ("allow-list", "image-list", "rules-table"):
            try:
                value = json.loads(raw)
            except RecursionError:
                raise ConfigError(
                    f"environment variable {name} is JSON nested too deeply", hint="pass a flat JSON value"
                ) from None
            except ValueError as exc:
                example = {
                    "image-list": '[{"name": "worker", "binary": "worker"}]',
                    "rules-table": '{"prod": {"reproduced": true, "soak": "24h"}}',
                }.get(option.kind, '[{"rule": "RT-D001", "path": "docker/*", "reason": "local only"}]')
                raise ConfigError(f"environment variable {name} is not JSON ({exc})", hint=f"e.g. {example}") from None
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
            f"pyproject.toml: `project` must be a table, not {_type_name(project)}",
            hint='write it as `[project]` followed by `name = "..."`, `version = "..."` lines',
        )
    for key in ("name", "version", "requires-python"):
        if key in project and not isinstance(project[key], str):
            raise ConfigError(
                f"pyproject.toml: `[project] {key}` must be a string, not {_type_name(project[key])}",
                hint=f'e.g. `{key} = "{ {"name": "my-package", "version": "1.0"}.get(key, ">=3.11") }"`',
            )
    dynamic = project.get("dynamic", [])
    if not isinstance(dynamic, list) or not all(isinstance(item, str) for item in dynamic):
        what = _type_name(dynamic) if not isinstance(dynamic, list) else _short_toml(dynamic)
        raise ConfigError(
            f"pyproject.toml: `[project] dynamic` must be an array of strings, not {what}",
            hint='e.g. `dynamic = ["version"]`',
        )
    return project


def _resolve(
    root: Path, pyproject: Path | None, document: dict[str, Any], values: dict[str, Any], python_dir: Path | None
) -> Config:
    project = _project_table(document)
    dynamic = project.get("dynamic", [])
    locks = tuple(
        LockSpec(input=path, output=path.with_suffix(".txt"))
        for path in discover.lock_inputs(root, values["python.locks"], python_dir)
    )
    if not locks and values["python.locks"] is None and values["python.lock-dependencies"]:
        locks = _dependencies_lock(pyproject, project, dynamic)
    build_lock = _resolve_build_lock(root, document, values) if values["python.build"] else None
    platforms = tuple(values["go.platforms"])
    for platform in platforms:
        goos, sep, goarch = platform.partition("/")
        if not sep or not goos or not goarch or "/" in goarch:
            raise ConfigError(
                f"`go.platforms` entry {platform!r} is not OS/ARCH", hint="write platforms like `linux/amd64`"
            )
    modules: tuple[Path, ...] = ()
    module: Path | None = None
    unchosen: tuple[Path, ...] = ()
    if values["go.enabled"]:
        modules = discover.go_modules(root, values["go.modules"])
        module, unchosen = discover.go_module(root, values["go.module"], modules)
        if module is not None and module not in modules:
            modules = (*modules, module)
    main_packages: tuple[str, ...] = ()
    go_outputs = GoOutputs()
    if module is not None:
        configured = values["go.main-packages"]
        main_packages = tuple(configured) if configured is not None else discover.main_packages(module)
        main_packages = _without_excluded(main_packages, values["go.exclude-packages"])
        go_outputs = _go_outputs(root, module, main_packages, values)
    dist_dir = _dist_dir(root, values["dist-dir"])
    controls = [root / name for name in _CONTROL_FILES] + [path for lock in locks for path in (lock.input, lock.output)]
    if build_lock is not None:
        controls.append(build_lock.output)
    for each in modules:
        controls += [each / "go.mod", each / "go.sum"]
    for control in controls:
        if control.is_relative_to(dist_dir) and (control.exists() or control.is_symlink()):
            raise ConfigError(
                f"`dist-dir` = {values['dist-dir']!r} holds {control.relative_to(root).as_posix()}, which the "
                "release steps read; build, assemble and release replace that directory as a whole",
                hint='point `dist-dir` at a directory of its own, e.g. `dist-dir = "dist"`',
            )
    return Config(
        root=root,
        pyproject=pyproject,
        requires_python=_text(project, "requires-python"),
        project_name=_text(project, "name"),
        project_version=None if "version" in dynamic else _text(project, "version"),
        dist_dir=dist_dir,
        dirty_tree=values["dirty-tree"],
        version=values["version"],
        python=PythonConfig(
            locks=locks,
            lock_backend=values["python.lock-backend"],
            index_url=values["python.index-url"],
            extra_index_urls=tuple(values["python.extra-index-urls"]),
            find_links=tuple(values["python.find-links"]),
            no_index=values["python.no-index"],
            version_pin=values["python.version-pin"],
            build=build_lock is not None,
            build_lock=build_lock,
            require_build_lock=values["python.require-build-lock"],
            project=python_dir,
            check_tool_locks=values["python.check-tool-locks"],
        ),
        go=GoConfig(
            module=module,
            main_packages=main_packages,
            toolchain_pin=values["go.toolchain-pin"],
            platforms=platforms,
            version_variable=values["go.version-variable"],
            vcs_stamp=values["go.vcs-stamp"],
            ldflags=_go_ldflags(values["go.ldflags"]),
            tags=_go_tags(values["go.tags"]),
            version_variables=go_outputs.version_variables,
            binary_names=go_outputs.binary_names,
            archive_files=go_outputs.archive_files,
            archive_name=go_outputs.archive_name,
            exclude_packages=tuple(values["go.exclude-packages"]),
            modules=modules,
            unchosen=unchosen,
        ),
        sign=_resolve_sign(root, values),
        audit=AuditConfig(
            enabled=values["audit.enabled"],
            exclude=tuple(values["audit.exclude"]),
            allow=tuple(values["audit.allow"]),
        ),
        images=_resolve_images(root, values["images"], platforms, locks),
        promote=_resolve_promote(root, values),
    )


def _resolve_promote(root: Path, values: dict[str, Any]) -> PromoteConfig:
    from reprotasks.promote.policy import check_environments, resolve

    environments = check_environments(values["promote.environments"], "`promote.environments`")
    ledger = values["promote.ledger"]
    if not ledger.strip():
        raise ConfigError("`promote.ledger` is empty", hint='leave it out for "promotions", or name a directory')
    if (root / ledger).exists() and not (root / ledger).is_dir():
        raise ConfigError(
            f"`promote.ledger` = {ledger!r} is not a directory",
            hint='point it at the ledger\'s directory (default "promotions"); it is created on the first promotion',
        )
    return resolve(
        environments, root / ledger, values["promote.rules"] or {}, "`promote.rules`", values["promote.registry"]
    )


_GO_TAG = re.compile(r"^[A-Za-z0-9_.]+$")


@dataclass(frozen=True)
class GoOutputs:
    version_variables: tuple[str, ...] = ()
    binary_names: Mapping[str, str] = dataclasses.field(default_factory=dict)
    archive_files: tuple[str, ...] = ()
    archive_name: str = DEFAULT_ARCHIVE_NAME


_BINARY_NAME = re.compile(r"^[A-Za-z0-9_+-][A-Za-z0-9._+-]*$")
_ARCHIVE_FIELDS = ("binary", "version", "os", "arch", "variant")


def _without_excluded(packages: tuple[str, ...], excluded: list[str]) -> tuple[str, ...]:
    for entry in excluded:
        if entry not in packages:
            raise ConfigError(
                f"`go.exclude-packages` entry {entry!r} is not one of the main packages "
                f"({', '.join(packages) or 'none'})",
                hint="name a main package exactly as listed (e.g. `./cmd/devtool`), or remove the entry",
            )
    return tuple(package for package in packages if package not in excluded)


def _go_outputs(root: Path, module: Path, packages: tuple[str, ...], values: dict[str, Any]) -> GoOutputs:
    """Binary names, version variables, archive names and files, validated against the packages."""
    module_path = discover.go_module_path(module)
    names = {package: discover.default_binary_name(package, module_path) for package in packages}
    for entry in values["go.binary-names"]:
        package, sep, name = entry.partition("=")
        if not sep or package not in names or not _BINARY_NAME.match(name):
            raise ConfigError(
                f"`go.binary-names` entry {entry!r} is not PACKAGE=NAME for a main package "
                f"({', '.join(packages) or 'none'}) and a file name of letters, digits, `.`, `_`, `+`, `-`",
                hint='e.g. `binary-names = ["./cmd/server=acme-server"]` under [tool.reprotasks.go]',
            )
        names[package] = name
    clashing = sorted({name for name in names.values() if list(names.values()).count(name) > 1})
    if clashing:
        raise ConfigError(
            f"two main packages make a binary named {clashing[0]!r}",
            hint="give one of them another name with `binary-names` under [tool.reprotasks.go]",
        )
    template = values["go.archive-name"]
    fields = re.findall(r"\{([^{}]*)\}", template)
    literal = re.sub(r"\{[^{}]*\}", "", template)
    usable = (
        all(field in _ARCHIVE_FIELDS for field in fields)
        and {"os", "arch"} <= set(fields)
        and ("binary" in fields or len(packages) <= 1)
        and re.fullmatch(r"[A-Za-z0-9._+-]*", literal) is not None
        and not template.startswith((".", "{variant}"))
    )
    if not usable:
        raise ConfigError(
            f"`go.archive-name` = {template!r} is not a usable archive name",
            hint="use the fields {binary} {version} {os} {arch} {variant} ({os} and {arch} always, {binary} with "
            "several main packages) and letters, digits, `.`, `_`, `+`, `-`, e.g. "
            '`archive-name = "{binary}-{version}-{os}-{arch}"`',
        )
    files = []
    for entry in values["go.archive-files"]:
        discover.inside(root, entry, "go.archive-files")  # never outside the project, even through a link
        relative = PurePosixPath(os.path.normpath(entry).replace(os.sep, "/"))
        lexical = root / relative
        if (
            relative.is_absolute()
            or ".." in relative.parts
            or any(part.lower() == ".git" for part in relative.parts)
            or any(ancestor.is_symlink() for ancestor in (lexical, *lexical.parents) if ancestor.is_relative_to(root))
            or not lexical.is_file()
        ):
            raise ConfigError(
                f"`go.archive-files` entry {entry!r} is not a regular file of the project (a symlink, a directory, "
                "or a path into .git is not one)",
                hint="list committed files such as LICENSE or README.md, relative to the project root",
            )
        files.append(relative.as_posix())
    basenames = [PurePosixPath(name).name for name in files]
    taken = set(names.values()) | {f"{name}.exe" for name in names.values()}
    if len(set(basenames)) != len(basenames) or taken & set(basenames):
        raise ConfigError(
            "`go.archive-files` puts two files with the same name (or a binary's name) into the archives",
            hint="list files whose base names differ from each other and from the binaries",
        )
    variable = values["go.version-variable"]
    variables: tuple[str, ...] = (variable,) if variable else ()
    if variable == "auto":
        variables = discover.version_variables(module, packages)
    return GoOutputs(variables, names, tuple(files), template)


def _go_ldflags(flags: list[str]) -> tuple[str, ...]:
    for flag in flags:
        if not flag.strip() or any(char.isspace() for char in flag) or flag.startswith(("-buildid", "--buildid")):
            raise ConfigError(
                f"`go.ldflags` entry {flag!r}: each entry is one linker flag without spaces, and not -buildid",
                hint='write e.g. `ldflags = ["-s", "-w", "-X", "main.commit=abc"]` under [tool.reprotasks.go]; '
                "reprotasks sets -buildid= itself",
            )
    return tuple(flags)


def _go_tags(tags: list[str]) -> tuple[str, ...]:
    for tag in tags:
        if not _GO_TAG.match(tag):
            raise ConfigError(
                f"`go.tags` entry {tag!r} is not a Go build tag",
                hint='build tags are words of letters, digits, `_` and `.`, e.g. `tags = ["netgo", "osusergo"]`',
            )
    return tuple(tags)


def _resolve_sign(root: Path, values: dict[str, Any]) -> SignConfig:
    identity, repository = values["sign.identity"], values["sign.github-repository"]
    if identity is not None and repository is not None:
        raise ConfigError(
            "`sign.identity` and `sign.github-repository` are both set; a signer policy is one or the other",
            hint="keep `sign.identity` (+ `sign.issuer`) for a person or service account, or "
            "`sign.github-repository` for a GitHub Actions workflow",
        )
    issuer = values["sign.issuer"]
    if repository is not None:
        if repository.count("/") != 1 or repository.startswith("/") or repository.endswith("/"):
            raise ConfigError(
                f"`sign.github-repository` = {repository!r} is not OWNER/REPO", hint='e.g. `"acme/widgets"`'
            )
        issuer = issuer or GITHUB_ACTIONS_ISSUER
    elif identity is not None and issuer is None:
        raise ConfigError(
            "`sign.identity` is set without `sign.issuer`: an identity is only meaningful with the OIDC "
            "issuer that vouched for it",
            hint='add e.g. `issuer = "https://github.com/login/oauth"` (GitHub login) or '
            '`"https://accounts.google.com"` to [tool.reprotasks.sign]',
        )
    trust_config = values["sign.trust-config"]
    path = (
        None
        if trust_config is None
        else discover.resolve_path(root / trust_config, f"`sign.trust-config` = {trust_config!r}")
    )
    return SignConfig(
        instance="custom" if path is not None else values["sign.instance"],
        trust_config=path,
        artifacts=values["sign.artifacts"],
        identity=identity,
        issuer=issuer,
        github_repository=repository,
        github_workflow=values["sign.github-workflow"],
        github_ref=values["sign.github-ref"],
        offline=values["sign.offline"],
        require_provenance=values["sign.require-provenance"],
    )


# Where the [project] dependencies are locked when the project has no requirements*.in and
# no lock of its own tool (python/toollocks.py).
DEPENDENCIES_LOCK = "requirements.lock.txt"
TOOL_LOCKS = ("uv.lock", "poetry.lock", "pdm.lock")


def _dependencies_lock(pyproject: Path | None, project: dict[str, Any], dynamic: Any) -> tuple[LockSpec, ...]:
    """The lock of ``[project] dependencies`` and every optional-dependency group (the package's
    runtime dependencies), when they are declared statically."""
    if pyproject is None or "dependencies" in dynamic:
        return ()
    if any((pyproject.parent / name).is_file() for name in TOOL_LOCKS):
        return ()  # uv, poetry or pdm locks them (verify asks that tool)
    declared = project.get("dependencies") or project.get("optional-dependencies")
    if not declared:
        return ()
    return (
        LockSpec(
            input=pyproject,
            output=pyproject.with_name(DEPENDENCIES_LOCK),
            label=f"{pyproject.name} [project] dependencies",
            resolver_args=("--all-extras",),
            universal=True,
        ),
    )


# The name python.build-constraints gets beside the generated build-system input.
BUILD_CONSTRAINTS = "build-constraints.txt"

# The build front end runs inside the build environment, so it is locked with the backend.
BUILD_FRONTEND = "build"


def _resolve_build_lock(root: Path, document: dict[str, Any], values: dict[str, Any]) -> LockSpec | None:
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
