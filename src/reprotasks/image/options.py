"""The ``[[tool.reprotasks.images]]`` option, its resolved form (``ImageConfig``) and the entry checks.

A leaf module (see ``reprotasks._options``): config.py imports it, and so do the image modules
for the defaults (``SCRATCH``, ``IMAGE_USER``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprotasks import discover
from reprotasks._options import Option, Rel, check_entry_value, suggest, type_name
from reprotasks.errors import ConfigError

SCRATCH = "scratch"  # the empty base: the Go binary alone
IMAGE_USER = "65532:65532"  # the default user: not root

# Keys of one `[[tool.reprotasks.images]]` entry (`name` and `binary` are required), with their
# TOML types: "str", "list" (of strings) or "table" (of strings).
IMAGE_KEYS: dict[str, str] = {
    "name": "str",
    "kind": "str",
    "binary": "str",
    "requirements": "str",
    "python-version": "str",
    "base": "str",
    "entrypoint": "list",
    "cmd": "list",
    "user": "str",
    "env": "list",
    "workdir": "str",
    "labels": "table",
    "platforms": "list",
    "repository": "str",
}
IMAGE_EXAMPLE = '[[tool.reprotasks.images]]\nname = "worker"\nbinary = "worker"'
_KEY_SCHEMAS: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "list": {"type": "array", "items": {"type": "string"}},
    "table": {"type": "object", "additionalProperties": {"type": "string"}},
}
IMAGES_SCHEMA: Mapping[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "binary"],
        "properties": {key: _KEY_SCHEMAS[kind] for key, kind in IMAGE_KEYS.items()},
    },
}
_IMAGE_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_PINNED_IMAGE = re.compile(r"^[^\s@]+@sha256:[0-9a-f]{64}$")
_REPOSITORY = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::\d+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)


def check_image_list(value: Any, where: str) -> list[dict[str, Any]]:
    """Every `[[tool.reprotasks.images]]` entry checked: keys, types, names, base pinned, linux platforms."""
    if not isinstance(value, list):
        raise ConfigError(f"{where} must be an array of tables, not {type_name(value)}", hint=f"e.g.\n{IMAGE_EXAMPLE}")
    for number, item in enumerate(value, 1):
        if not isinstance(item, Mapping):
            raise ConfigError(
                f"{where} entry {number} must be a table, not {type_name(item)}", hint=f"e.g.\n{IMAGE_EXAMPLE}"
            )
    names: set[str] = set()
    for number, item in enumerate(value, 1):
        at = f"{where} entry {number}"
        _check_keys(item, at)
        kind = _check_kind(item, at)
        _check_name(item["name"], names, at)
        _check_kind_keys(item, kind, at)
        _check_image_fields(item, at)
        _check_base(item.get("base", SCRATCH if kind == "go" else ""), kind, at)
        _check_env_and_platforms(item, at)
    return [dict(item) for item in value]


def _check_keys(item: Mapping[str, Any], at: str) -> None:
    unknown = sorted(set(item) - set(IMAGE_KEYS))
    if unknown:
        raise ConfigError(
            f"{at}: unknown key `{unknown[0]}`",
            hint=f"{suggest(unknown[0], list(IMAGE_KEYS))}an entry has: {', '.join(IMAGE_KEYS)}",
        )
    for key, kind in IMAGE_KEYS.items():
        if key in item:
            _check_value(key, kind, item[key], at)


def _check_value(key: str, kind: str, value: Any, at: str) -> None:
    check_entry_value(key, kind, value, at, example=IMAGE_EXAMPLE, forbidden=("\x00", "a NUL character (\\u0000)"))
    if kind == "list" and key in ("platforms", "entrypoint") and not value:
        raise ConfigError(f"{at}: `{key}` is empty", hint=f"leave `{key}` out for the default, or list values")


def _check_kind(item: Mapping[str, Any], at: str) -> str:
    kind = item.get("kind", "go")
    if kind not in ("go", "python"):
        raise ConfigError(f'{at}: `kind` {kind!r} is not "go" or "python"', hint=IMAGE_EXAMPLE)
    for key in ("name", "binary") if kind == "go" else ("name", "entrypoint"):
        if not item.get(key):
            raise ConfigError(
                f"{at} has no `{key}`", hint=f"every image names itself and its Go binary:\n{IMAGE_EXAMPLE}"
            )
    return str(kind)


def _check_name(name: str, names: set[str], at: str) -> None:
    if not _IMAGE_NAME.match(name) or len(name) > 128:
        raise ConfigError(
            f"{at}: `name` {name!r} is not an image name (lower-case letters, digits and . _ - between them)",
            hint='e.g. `name = "worker"`; the image file is dist/NAME_VERSION.oci.tar',
        )
    if name in names:
        raise ConfigError(f"{at}: `name` {name!r} is given twice", hint="give each image its own name")
    names.add(name)


def _check_kind_keys(item: Mapping[str, Any], kind: str, at: str) -> None:
    if kind == "python" and "binary" in item:
        raise ConfigError(f"{at}: `binary` is for Go images", hint='drop it, or set `kind = "go"`')
    if kind == "go" and ("requirements" in item or "python-version" in item):
        raise ConfigError(
            f"{at}: `requirements` and `python-version` are for Python images", hint='set `kind = "python"`'
        )
    if "python-version" in item and not re.match(r"^3\.\d+$", item["python-version"]):
        raise ConfigError(f"{at}: `python-version` {item['python-version']!r} is not 3.N", hint='e.g. "3.12"')


def _check_image_fields(item: Mapping[str, Any], at: str) -> None:
    """The values a runtime or registry would refuse, or that would not do what they seem to."""
    platforms = item.get("platforms", [])
    if len(set(platforms)) != len(platforms):
        raise ConfigError(f"{at}: `platforms` lists a platform twice", hint="list each platform once")
    if "user" in item and not item["user"].strip():
        raise ConfigError(
            f"{at}: `user` is empty, which runs the image as root",
            hint=f'leave it out (non-root {IMAGE_USER}), or write `user = "0"` to run as root on purpose',
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


def _check_base(base: str, kind: str, at: str) -> None:
    if kind == "python" and base in ("", SCRATCH):
        raise ConfigError(
            f"{at}: a Python image needs a `base` with a Python interpreter, pinned by digest",
            hint='e.g. `base = "python@sha256:<digest of python:3.12-slim>"` (`crane digest python:3.12-slim`)',
        )
    if base == SCRATCH or _PINNED_IMAGE.match(base):
        return
    image = base.split("@")[0]
    if "@" in base:
        raise ConfigError(
            f"{at}: `base` {base!r} is not pinned by a sha256 digest (`@sha256:` and 64 lower-case hex digits)",
            hint=f'copy it exactly: `base = "{image}@sha256:<digest>"` (`crane digest` shows it)',
        )
    raise ConfigError(
        f"{at}: `base` {base!r} is not pinned by digest: a tag is whatever it points to today",
        hint=f'pin it: `base = "{image}@sha256:<digest>"` (`crane digest {image}` shows it), '
        f'or use `base = "{SCRATCH}"`',
    )


def _check_env_and_platforms(item: Mapping[str, Any], at: str) -> None:
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


# Tests may extend this tuple (monkeypatch): everything reads it when it runs, never at import.
OPTIONS: tuple[Option, ...] = (
    Option(
        table="",
        key="images",
        kind="entries",
        default=[],
        check=check_image_list,
        schema=IMAGES_SCHEMA,
        example='[{"name": "worker", "binary": "worker"}]',
        help=(
            'OCI images, as `[[tool.reprotasks.images]]` entries: `name`, `kind` ("go", the default: `binary`, a '
            'built Go binary; "python": the wheel and its hashed `requirements` lock installed for '
            f'`python-version`), `base` ("{SCRATCH}", Go only, or an image pinned by `@sha256:` digest), '
            f'`entrypoint` (default ["/BINARY"]; required for Python), `cmd`, `user` (default "{IMAGE_USER}", '
            'non-root), `env` (["K=V"]), `workdir`, `labels`, `platforms` (default: the linux ones of '
            "go.platforms, else linux/amd64), `repository` (where `publish` pushes). Environment variable: a JSON "
            "array of such tables."
        ),
    ),
)


@dataclass(frozen=True, kw_only=True)
class ImageConfig:
    """One `[[tool.reprotasks.images]]` entry, checked (the base pinned, the platforms linux)."""

    name: str
    kind: str = "go"  # go | python
    binary: str = ""  # go: the Go binary in the image
    requirements: Path | None = None  # python: the hashed runtime lock installed with the wheel
    python_version: str = ""  # python: the base image's Python (X.Y), for which wheels are chosen
    base: str = SCRATCH
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    user: str = IMAGE_USER
    env: tuple[str, ...] = ()
    workdir: str = "/"
    labels: Mapping[str, str] = field(default_factory=dict)
    platforms: tuple[str, ...] = ()
    repository: str | None = None


def resolve(
    root: Path, entries: list[dict[str, Any]], go_platforms: tuple[str, ...], default_requirements: Path | None
) -> tuple[ImageConfig, ...]:
    """The checked entries resolved: platforms from go.platforms, a Python image's lock and Python version."""
    linux = tuple(platform for platform in go_platforms if platform.startswith("linux/"))
    return tuple(_resolve_one(root, entry, linux, default_requirements) for entry in entries)


def _resolve_one(
    root: Path, entry: dict[str, Any], linux: tuple[str, ...], default_requirements: Path | None
) -> ImageConfig:
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
        requirements = _requirements(root, entry, default_requirements)
        python_version = entry.get("python-version") or discover.python_version_file(root)
        if not python_version:
            raise ConfigError(
                f"image {entry['name']}: which Python does the base image run?",
                hint='set `python-version = "3.12"` on the image (or commit a .python-version file)',
            )
    return ImageConfig(
        name=entry["name"],
        kind=kind,
        binary=binary,
        requirements=requirements,
        python_version=python_version,
        base=entry.get("base", SCRATCH),
        entrypoint=tuple(entry.get("entrypoint") or [f"/{binary}"]),
        cmd=tuple(entry.get("cmd", [])),
        user=entry.get("user", IMAGE_USER),
        env=tuple(entry.get("env", [])),
        workdir=entry.get("workdir", "/"),
        labels=dict(entry.get("labels", {})),
        platforms=tuple(entry.get("platforms") or linux or ("linux/amd64",)),  # Python without Go: amd64
        repository=entry.get("repository"),
    )


def _requirements(root: Path, entry: Mapping[str, Any], default: Path | None) -> Path:
    if "requirements" in entry:
        return discover.inside(root, entry["requirements"], "images.requirements")
    if default is None:
        raise ConfigError(
            f"image {entry['name']}: no hashed lock to install: the project has no requirements lock",
            hint="set `requirements` to the hashed runtime lock (e.g. requirements.txt from `reprotasks lock`)",
        )
    return default


def describe(images: tuple[ImageConfig, ...], rel: Rel) -> list[dict[str, Any]]:
    """describe()'s `images`: every entry with its defaults filled in."""
    return [
        {
            "name": image.name,
            "kind": image.kind,
            "binary": image.binary,
            "requirements": None if image.requirements is None else rel(image.requirements),
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
        for image in images
    ]
