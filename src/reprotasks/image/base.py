"""Base images, fetched by digest through ``crane`` and checked byte for byte against that digest.

Every manifest and blob is verified against the digest that names it before it is used, and kept
in the cache directory under that digest (re-verified on every read), so a base is downloaded
once and a registry or cache that serves other bytes is an error, never an input.
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from typing import Any

from reprotasks import _cache
from reprotasks._files import write_atomic
from reprotasks._run import Runner
from reprotasks.errors import ReprotasksError
from reprotasks.image.oci import DOCKER_LIST, INDEX, Base, Blob, Platform, sha256_digest

_SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")
_FIX = "check the `base` of [[tool.reprotasks.images]]: pin the digest the registry serves (`crane digest REF`)"


def fetch_base(reference: str, platform: Platform, *, runner: Runner) -> Base:
    """The base image ``repository@sha256:...`` for ``platform`` (from a multi-platform index if it is one)."""
    repository, _, digest = reference.partition("@")
    document = _json(_fetch(runner, repository, digest, manifest=True), f"{reference}")
    if document.get("mediaType") in (INDEX, DOCKER_LIST) or "manifests" in document:
        digest = _platform_digest(reference, document, platform)
        document = _json(_fetch(runner, repository, digest, manifest=True), f"{repository}@{digest}")
    config_ref = document.get("config")
    layers = document.get("layers")
    if not isinstance(config_ref, dict) or not isinstance(layers, list):
        raise ReprotasksError(f"base image {reference} is not an image manifest", hint=_FIX)
    config = _json(_fetch(runner, repository, str(config_ref.get("digest"))), f"the config of {reference}")
    _check_platform(reference, config, platform)
    blobs = []
    for entry in layers:
        if not isinstance(entry, dict) or not str(entry.get("mediaType", "")).endswith(("tar+gzip", "tar.gzip")):
            raise ReprotasksError(f"base image {reference} has a layer that is not a gzip tar", hint=_FIX)
        blobs.append(Blob(str(entry["mediaType"]), _fetch(runner, repository, str(entry.get("digest")))))
    _check_config(reference, config, blobs)
    return Base(config, tuple(blobs), name=repository, digest=digest)


def _platform_digest(reference: str, index: dict[str, Any], platform: Platform) -> str:
    """The digest of ``platform``'s manifest in a multi-platform index."""
    entries = [entry for entry in index.get("manifests") or [] if isinstance(entry, dict)]
    # The exact variant first (none for none): linux/amd64 must not get a linux/amd64/v3 image.
    chosen = [entry for entry in entries if _matches(entry.get("platform"), platform, exact=True)]
    chosen = chosen or [entry for entry in entries if _matches(entry.get("platform"), platform, exact=False)]
    if not chosen:
        raise ReprotasksError(
            f"base image {reference} has no image for {platform}",
            hint=f"pick a base that is built for {platform}, or drop that platform from the image's `platforms`",
        )
    return str(chosen[0].get("digest"))


def _check_platform(reference: str, config: dict[str, Any], platform: Platform) -> None:
    """The base's config states the platform asked for (a variant only when both name one)."""
    found = Platform(str(config.get("os", "")), str(config.get("architecture", "")), config.get("variant") or None)
    if (found.os, found.architecture) != (platform.os, platform.architecture) or (
        platform.variant and found.variant and platform.variant != found.variant
    ):
        stated = (
            str(found) if found.os and found.architecture else "no stated platform (its config has no os/architecture)"
        )
        raise ReprotasksError(
            f"base image {reference} is for {stated}, not {platform}",
            hint=f"use a multi-platform base, or one built for {platform}",
        )


def _check_config(reference: str, config: dict[str, Any], layers: list[Blob]) -> None:
    """A base whose config does not describe its layers, or holds values no runtime accepts, would
    make an invalid image: refused here, before anything is built on it."""
    rootfs = config.get("rootfs")
    diff_ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    if not isinstance(diff_ids, list) or len(diff_ids) != len(layers):
        raise ReprotasksError(
            f"base image {reference}: its config lists {len(diff_ids) if isinstance(diff_ids, list) else 'no'} "
            f"diff_ids for {len(layers)} layers",
            hint="it is not a valid image: pin another base",
        )
    for layer, diff_id in zip(layers, diff_ids, strict=True):
        try:
            uncompressed = sha256_digest(gzip.decompress(layer.data))
        except (OSError, EOFError, zlib.error):
            uncompressed = "not gzip"
        if uncompressed != diff_id:
            raise ReprotasksError(
                f"base image {reference}: layer {layer.digest} is not the diff_id {diff_id} its config names",
                hint="it is not a valid image: pin another base",
            )
    runtime = config.get("config") or {}
    env = runtime.get("Env") if isinstance(runtime, dict) else None
    labels = runtime.get("Labels") if isinstance(runtime, dict) else None
    good_env = env is None or (isinstance(env, list) and all(isinstance(item, str) for item in env))
    good_labels = labels is None or (
        isinstance(labels, dict) and all(isinstance(value, str) for value in labels.values())
    )
    if not isinstance(runtime, dict) or not good_env or not good_labels:
        raise ReprotasksError(
            f"base image {reference}: its config's Env or Labels are not strings", hint="pin another base"
        )


def _matches(described: Any, platform: Platform, *, exact: bool) -> bool:
    if not isinstance(described, dict):
        return False
    if (described.get("os"), described.get("architecture")) != (platform.os, platform.architecture):
        return False
    if exact:
        return described.get("variant") == platform.variant
    # arm64's only variant is v8 (indexes write linux/arm64/v8 or linux/arm64 for the same thing).
    return platform.architecture == "arm64" and not platform.variant and described.get("variant") == "v8"


def _json(data: bytes, what: str) -> dict[str, Any]:
    try:
        document = json.loads(data)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise ReprotasksError(f"{what} is not an OCI/Docker JSON document", hint=_FIX)
    return document


def _fetch(runner: Runner, repository: str, digest: str, *, manifest: bool = False) -> bytes:
    """The bytes named by ``digest`` (sha256 only), from the cache or the registry, verified."""
    hex_digest = digest.removeprefix("sha256:")
    if (
        not digest.startswith("sha256:")
        or len(hex_digest) != 64
        or not all(c in "0123456789abcdef" for c in hex_digest)
    ):
        raise ReprotasksError(f"{repository}: {digest!r} is not a sha256 digest", hint=_FIX)
    cached = _cache.cache_dir() / "oci-blobs" / "sha256" / hex_digest
    try:
        data = cached.read_bytes()
    except OSError:
        data = None
    if data is not None and sha256_digest(data) == digest:
        return data
    what = "manifest" if manifest else "blob"
    data = runner.output_bytes(
        ["crane", what, f"{repository}@{digest}"], cwd=runner.root, purpose=f"fetch the base image {what} {digest}"
    )
    if sha256_digest(data) != digest:
        raise ReprotasksError(
            f"{repository}@{digest}: the registry served bytes whose digest is {sha256_digest(data)}",
            hint="the registry (or something between) is not serving what the digest names: do not use it",
        )
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(cached, data)
    except OSError:
        pass  # a read-only cache only costs a download next time
    return data
