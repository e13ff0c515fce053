"""``dist/manifest.json``: what was built, from which commit, with which toolchains and flags.

Deterministic like the artifacts it lists: no wall-clock time, no absolute paths, sorted keys.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from reprotasks._files import sha256_file, write_atomic
from reprotasks.artifacts.layout import artifact_name_problem, kind_of, read_regular, shown
from reprotasks.errors import DriftError, Finding, ReprotasksError

MANIFEST_NAME = "manifest.json"
# 2: artifacts record the Go compiler of each binary; no `repacked` flag (not re-derivable).
MANIFEST_VERSION = 2
_KINDS = ("sdist", "wheel", "go-archive", "oci-image", "linux-package")
# Artifacts made after the build from its checked outputs, by kind -> the file names they may have.
DERIVED_KINDS: dict[str, tuple[str, ...]] = {"oci-image": (".oci.tar",), "linux-package": (".deb", ".rpm")}


@dataclass(frozen=True, kw_only=True)
class ArtifactRecord:
    name: str
    size: int
    sha256: str
    kind: str  # sdist | wheel | go-archive
    platform: str  # "any" for Python artifacts, else GOOS/GOARCH
    package: str | None = None  # the Go main package
    embedded: tuple[str, ...] = ()  # `go version -m` lines
    compiler: str | None = None  # the Go toolchain that compiled the binary (`go version -m`, first line)
    image: str | None = None  # an oci-image's index digest (sha256:...): what a registry names it

    @classmethod
    def of(cls, path: Path, **details: Any) -> ArtifactRecord:
        return cls(name=path.name, size=path.stat().st_size, sha256=sha256_file(path), **details)


@dataclass(frozen=True, kw_only=True)
class Manifest:
    project: dict[str, str | None]
    source: dict[str, Any]
    inputs_digest: str
    toolchains: dict[str, str]
    python: dict[str, Any] | None
    go: dict[str, Any] | None
    artifacts: tuple[ArtifactRecord, ...] = field(default=())

    def to_json(self) -> bytes:
        data = asdict(self)
        data["manifest_version"] = MANIFEST_VERSION
        for item in data["artifacts"]:
            if item["image"] is None:
                del item["image"]  # only images have one: older manifests stay byte-identical
        data["artifacts"] = sorted(data["artifacts"], key=lambda item: item["name"])
        return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()

    def write(self, directory: Path) -> Path:
        target = directory / MANIFEST_NAME
        write_atomic(target, self.to_json())
        return target


def recorded_lock(python_record: Any) -> str | None:
    """The build requirements a manifest's ``python`` part recorded because the commit had no
    build lock (as lock text), or None."""
    if not isinstance(python_record, dict):
        return None
    lock = python_record.get("build_lock")
    lines = lock.get("resolved") if isinstance(lock, dict) else None
    if not isinstance(lines, list) or not lines or not all(isinstance(line, str) for line in lines):
        return None
    return "\n".join(lines) + "\n"


REBUILD_HINT = "rebuild with `reprotasks build --force` (never edit manifest.json by hand), then run this step again"


def require_manifest(directory: Path, shown_dir: str, *, missing: str, hint: str, step: str) -> Path:
    """The path of ``directory``'s manifest.json, which must be a regular file: ``missing`` (with
    ``hint``) when there is none; a finding when it is a symlink or anything else, never followed."""
    path = directory / MANIFEST_NAME
    kind = kind_of(path)
    if kind == "missing":
        raise ReprotasksError(missing, hint=hint)
    if kind is not None:
        where = f"{shown_dir}/{MANIFEST_NAME}"
        raise DriftError([Finding(where, None, f"is {kind}: it is never followed or read", REBUILD_HINT)], step=step)
    return path


def read_manifest(path: Path, shown_path: str) -> Manifest:
    """Load a manifest written by ``build``; a clear error if it is not one.

    Never follows a symlink; every artifact name must pass the release name rule, so a
    manifest can never point a step outside its directory.
    """
    try:
        data = read_regular(path)
    except OSError as exc:
        raise ReprotasksError(
            f"{shown_path}: cannot be read ({exc.strerror or exc})",
            hint="rebuild with `reprotasks build` (it rewrites dist/ and its manifest)",
        ) from None
    try:
        return manifest_from_bytes(data)
    except (ValueError, TypeError) as exc:
        raise ReprotasksError(
            f"{shown_path} is not a reprotasks build manifest ({exc})",
            hint="rebuild with `reprotasks build` (it rewrites dist/ and its manifest)",
        ) from None


def manifest_from_bytes(data: bytes) -> Manifest:
    """A Manifest from the bytes of manifest.json; ValueError/TypeError saying what is wrong.

    Never anything else: not UTF-8, not JSON, nested too deeply, wrong types, missing keys.
    """
    try:
        parsed = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    return manifest_from_json(parsed)


def _check(value: Any, kinds: type | tuple[type, ...], what: str) -> None:
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        raise TypeError(f"{what} is a boolean")
    if not isinstance(value, kinds):
        raise TypeError(f"{what} is {_json_type(value)}")


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number"}
    return "null" if value is None else names.get(type(value), f"a {type(value).__name__}")


def manifest_from_json(data: Any) -> Manifest:
    """A Manifest from parsed JSON; ValueError/TypeError naming the first field that is wrong."""
    if not isinstance(data, dict):
        raise TypeError(f"the document is {_json_type(data)}, not a JSON object")
    if data.get("manifest_version") != MANIFEST_VERSION:
        raise ValueError(f"manifest_version {_short(data.get('manifest_version'))} is not {MANIFEST_VERSION}")
    for key in ("project", "source", "toolchains"):
        _check(data.get(key), dict, f"`{key}`")
    for key in ("python", "go"):
        _check(data.get(key), (dict, type(None)), f"`{key}`")
    _check(data.get("inputs_digest"), str, "`inputs_digest`")
    _check(data.get("artifacts"), list, "`artifacts`")
    for key, value in data["project"].items():
        _check(value, (str, type(None)), f"`project.{key}`")
    _check(data["source"].get("commit"), str, "`source.commit`")
    for key in ("tree", "path"):
        if key in data["source"]:
            _check(data["source"][key], str, f"`source.{key}`")
    if "source_date_epoch" in data["source"]:
        _check(data["source"]["source_date_epoch"], int, "`source.source_date_epoch`")
    for key, value in data["toolchains"].items():
        _check(value, str, f"`toolchains.{key}`")
    if data["go"] is not None and "platforms" in data["go"]:
        _check(data["go"]["platforms"], dict, "`go.platforms`")
    return Manifest(
        project=data["project"],
        source=data["source"],
        inputs_digest=data["inputs_digest"],
        toolchains=data["toolchains"],
        python=data["python"],
        go=data["go"],
        artifacts=tuple(_artifact(item) for item in data["artifacts"]),
    )


def _artifact(item: Any) -> ArtifactRecord:
    if not isinstance(item, dict):
        raise TypeError("an entry of `artifacts` is not an object")
    name = item.get("name")
    if not isinstance(name, str):
        raise TypeError("an artifact has no string `name`")
    problem = artifact_name_problem(name)
    if problem is not None:
        raise ValueError(f"artifact name {shown(name)} {problem}")
    checks = {"size": int, "sha256": str, "kind": str, "platform": str}
    for key, kind in checks.items():
        _check(item.get(key), kind, f"artifact {shown(name)}: `{key}`")
    if item["size"] < 0:
        raise ValueError(f"artifact {shown(name)}: `size` is negative")
    for key in ("package", "compiler", "image"):
        _check(item.get(key), (str, type(None)), f"artifact {shown(name)}: `{key}`")
    if item["kind"] not in _KINDS:
        raise ValueError(f"artifact {shown(name)}: unknown kind {_short(item['kind'])}")
    embedded = item.get("embedded", [])
    if not isinstance(embedded, list) or not all(isinstance(line, str) for line in embedded):
        raise TypeError(f"artifact {shown(name)}: `embedded` is not a list of strings")
    unknown = set(item) - {"name", "size", "sha256", "kind", "platform", "package", "embedded", "compiler", "image"}
    if unknown:
        raise ValueError(f"artifact {shown(name)}: unknown field `{sorted(unknown)[0]}`")
    return ArtifactRecord(**{**item, "embedded": tuple(embedded)})


def _short(value: Any) -> str:
    """A JSON value as a message shows it: at most 60 characters."""
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (ValueError, RecursionError):
        return _json_type(value)
    return text if len(text) <= 60 else text[:57] + "..."
