"""Deterministic OCI images: canonical JSON, canonical layer tars, gzip without time or name.

The same files, base and settings give the same digests on any machine, path, umask or day:
layer members are sorted, owned by 0:0 with empty names, stamped with SOURCE_DATE_EPOCH and
given fixed modes (0755 directories and executables, 0644 the rest); gzip headers carry mtime 0
and no file name; JSON is sorted and compact; ``created`` is SOURCE_DATE_EPOCH, as ko does.

An image layout (``oci-layout``, ``index.json``, ``blobs/sha256/...``) is written as one tar,
itself canonical. Its ``index.json`` names one image, the multi-platform image index stored as a
blob, with ``org.opencontainers.image.ref.name`` (the version): the form skopeo, podman, umoci
and crane read as one image. The digest of that blob is the digest the image has in a registry
once pushed.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reprotasks.image.options import IMAGE_USER

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
LAYOUT_VERSION = b'{"imageLayoutVersion":"1.0.0"}'


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Blob:
    media_type: str
    data: bytes

    @property
    def digest(self) -> str:
        return sha256_digest(self.data)

    def descriptor(self, **extra: Any) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data), **extra}


@dataclass(frozen=True)
class LayerFile:
    path: str  # absolute path inside the image, e.g. "/worker"
    data: bytes
    executable: bool = False


def rfc3339(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def layer(files: Sequence[LayerFile], *, mtime: int) -> tuple[Blob, str]:
    """(the gzipped layer blob, its diff_id: the digest of the uncompressed tar)."""
    members: dict[str, LayerFile | None] = {}
    for item in files:
        parts = item.path.strip("/").split("/")
        if not item.path.startswith("/") or any(part in ("", ".", "..") for part in parts):
            raise ValueError(f"{item.path!r} is not an absolute path inside the image")
        for depth in range(1, len(parts)):
            members.setdefault("/".join(parts[:depth]) + "/", None)  # parent directories, explicitly
        name = "/".join(parts)
        if name in members:
            raise ValueError(f"{item.path!r} is given twice")
        members[name] = item
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in sorted(members, key=lambda text: text.encode()):
            member = members[name]
            info = tarfile.TarInfo(name.rstrip("/"))
            info.mtime = mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if member is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                archive.addfile(info)
            else:
                info.type = tarfile.REGTYPE
                info.mode = 0o755 if member.executable else 0o644
                info.size = len(member.data)
                archive.addfile(info, io.BytesIO(member.data))
    tar_bytes = raw.getvalue()
    return Blob(LAYER, gzip_bytes(tar_bytes)), sha256_digest(tar_bytes)


def gzip_bytes(data: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=6) as compressed:
        compressed.write(data)
    return out.getvalue()


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"{text!r} is not OS/ARCH[/VARIANT]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def as_json(self) -> dict[str, str]:
        data = {"os": self.os, "architecture": self.architecture}
        if self.variant:
            data["variant"] = self.variant
        return data

    def __str__(self) -> str:
        return "/".join(part for part in (self.os, self.architecture, self.variant) if part)


@dataclass(frozen=True)
class Base:
    """A base image for one platform: its config JSON and its layers (already verified by digest)."""

    config: Mapping[str, Any]
    layers: tuple[Blob, ...]
    name: str = ""  # the reference it was configured as, without its digest
    digest: str = ""  # of the platform's manifest (what `org.opencontainers.image.base.digest` names)


@dataclass(frozen=True)
class Settings:
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...] = ()
    user: str = IMAGE_USER
    env: tuple[str, ...] = ()
    workdir: str = "/"
    labels: Mapping[str, str] | None = None


def image(
    platform: Platform, files: Sequence[LayerFile], settings: Settings, *, epoch: int, base: Base | None
) -> tuple[Blob, list[Blob]]:
    """(the platform's image manifest, every blob it references: config and layers)."""
    top, diff_id = layer(files, mtime=epoch)
    base_config = dict(base.config) if base is not None else {}
    base_diff_ids = list((base_config.get("rootfs") or {}).get("diff_ids") or []) if base is not None else []
    created = rfc3339(epoch)
    history = [entry for entry in base_config.get("history") or [] if isinstance(entry, dict)]
    config = {
        **platform.as_json(),
        "created": created,
        "config": _runtime(base_config, settings),
        "rootfs": {"type": "layers", "diff_ids": [*base_diff_ids, diff_id]},
        "history": [*history, {"created": created, "created_by": "reprotasks image"}],
    }
    config_blob = Blob(CONFIG, canonical_json(config))
    layers = [*(base.layers if base is not None else ()), top]
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": config_blob.descriptor(),
        "layers": [_as_oci_layer(blob).descriptor() for blob in layers],
        "annotations": {
            **{key: value for key, value in (settings.labels or {}).items() if key.startswith("org.opencontainers.")},
            **_base_annotations(base),
        },
    }
    return Blob(MANIFEST, canonical_json(manifest)), [config_blob, *layers]


def _base_annotations(base: Base | None) -> dict[str, str]:
    """The base image in the standard annotations (as ko records it), for scanners and policy."""
    if base is None or not base.digest:
        return {}
    return {"org.opencontainers.image.base.digest": base.digest, "org.opencontainers.image.base.name": base.name}


def _runtime(base_config: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """The image config's `config`: the settings over the base's labels and environment."""
    base_runtime: dict[str, Any] = base_config["config"] if isinstance(base_config.get("config"), dict) else {}
    env = [item for item in base_runtime.get("Env") or [] if isinstance(item, str)]
    names = {item.split("=", 1)[0] for item in settings.env}
    env = [item for item in env if item.split("=", 1)[0] not in names] + list(settings.env)
    runtime: dict[str, Any] = {
        "Entrypoint": list(settings.entrypoint),
        "User": settings.user,
        "WorkingDir": settings.workdir,
        "Labels": {**(base_runtime.get("Labels") or {}), **dict(settings.labels or {})},
    }
    if settings.cmd:
        runtime["Cmd"] = list(settings.cmd)
    if env:
        runtime["Env"] = env
    return runtime


def _as_oci_layer(blob: Blob) -> Blob:
    # A Docker v2 gzip layer is byte-for-byte an OCI gzip layer; only the media type differs.
    return Blob(LAYER, blob.data) if blob.media_type == DOCKER_LAYER else blob


def image_index(manifests: Sequence[tuple[Platform, Blob]], annotations: Mapping[str, str]) -> Blob:
    entries = sorted(manifests, key=lambda item: str(item[0]))
    data = {
        "schemaVersion": 2,
        "mediaType": INDEX,
        "manifests": [blob.descriptor(platform=platform.as_json()) for platform, blob in entries],
        "annotations": dict(annotations),
    }
    return Blob(INDEX, canonical_json(data))


REF_NAME = "org.opencontainers.image.ref.name"


def layout_index(image: Blob, ref_name: str | None) -> Blob:
    """A layout's ``index.json``: one descriptor, of ``image`` (an image index or manifest), named
    ``ref_name`` (what ``skopeo copy oci-archive:FILE:REF`` and ``podman load`` call it)."""
    annotations = {REF_NAME: ref_name} if ref_name else {}
    descriptor = image.descriptor(**({"annotations": annotations} if annotations else {}))
    return Blob(INDEX, canonical_json({"schemaVersion": 2, "mediaType": INDEX, "manifests": [descriptor]}))


def layout_tar(image: Blob, blobs: Sequence[Blob], *, mtime: int, ref_name: str | None = None) -> bytes:
    """The OCI image layout of ``image`` as one canonical tar: `oci-layout`, `index.json` (naming
    ``image`` only), `blobs/sha256/...` (``image`` and ``blobs``)."""
    unique = {blob.digest: blob for blob in (image, *blobs)}
    entries: list[tuple[str, bytes | None]] = [
        ("blobs", None),
        ("blobs/sha256", None),
        ("index.json", layout_index(image, ref_name).data),
        ("oci-layout", LAYOUT_VERSION),
    ]
    entries += [(f"blobs/sha256/{digest.removeprefix('sha256:')}", blob.data) for digest, blob in unique.items()]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in sorted(entries, key=lambda entry: entry[0].encode()):
            info = tarfile.TarInfo(name)
            info.mtime = mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                archive.addfile(info)
            else:
                info.type, info.mode, info.size = tarfile.REGTYPE, 0o644, len(data)
                archive.addfile(info, io.BytesIO(data))
    return raw.getvalue()
