"""``dist/manifest.json``: what was built, from which commit, with which toolchains and flags.

Deterministic like the artifacts it lists: no wall-clock time, no absolute paths, sorted keys.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from reprotasks._files import sha256_file, write_atomic
from reprotasks.errors import ReprotasksError

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class ArtifactRecord:
    name: str
    size: int
    sha256: str
    kind: str  # sdist | wheel | go-archive
    platform: str  # "any" for Python artifacts, else GOOS/GOARCH
    package: str | None = None  # the Go main package
    embedded: tuple[str, ...] = ()  # `go version -m` lines
    repacked: bool = False  # the backend's sdist was re-packed deterministically

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
        data["artifacts"] = sorted(data["artifacts"], key=lambda item: item["name"])
        return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()

    def write(self, directory: Path) -> Path:
        target = directory / MANIFEST_NAME
        write_atomic(target, self.to_json())
        return target


def read_manifest(path: Path, shown: str) -> Manifest:
    """Load a manifest written by ``build``; a clear error if it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("manifest_version") != MANIFEST_VERSION:
            raise ValueError(f"manifest_version {data.get('manifest_version')!r} is not {MANIFEST_VERSION}")
        artifacts = tuple(
            ArtifactRecord(**{**item, "embedded": tuple(item.get("embedded", ()))}) for item in data["artifacts"]
        )
        return Manifest(
            project=data["project"],
            source=data["source"],
            inputs_digest=data["inputs_digest"],
            toolchains=data["toolchains"],
            python=data["python"],
            go=data["go"],
            artifacts=artifacts,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReprotasksError(
            f"{shown} is not a reprotasks build manifest ({exc})",
            hint="rebuild with `reprotasks build` (it rewrites dist/ and its manifest)",
        ) from None
