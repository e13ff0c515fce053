"""Publishing images: push each recorded image by digest, then tag it with the version, never moving a tag.

What is pushed is exactly what dist/ records: the layout tar must have the sha256 manifest.json
lists, every blob in it must match its name, and its ``index.json`` must name the recorded image
(by its digest), before ``crane`` uploads anything. The version tag is set only when it is absent; one
that already names this digest is left as it is; one that names another image is an error (a
release tag is never moved). Credentials are crane's: ``~/.docker/config.json`` (``DOCKER_CONFIG``),
credential helpers, or ``crane auth login``.
"""

from __future__ import annotations

import json
import re
import tarfile
import tempfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from reprotasks._distdir import DistDir
from reprotasks._run import Runner
from reprotasks.artifacts.layout import sha256_regular, shown
from reprotasks.artifacts.manifest import MANIFEST_NAME, REBUILD_HINT, ArtifactRecord, read_manifest, require_manifest
from reprotasks.config import Config, ImageConfig
from reprotasks.errors import ReprotasksError
from reprotasks.image.build import IMAGE_KIND, RERUN_HINT, image_file
from reprotasks.image.oci import INDEX, sha256_digest

_BLOB_NAME = re.compile(r"^blobs/sha256/[0-9a-f]{64}$")
_LAYOUT_NAMES = frozenset({"blobs", "blobs/sha256", "index.json", "oci-layout"})
_MAX_LAYOUT = 16 << 30


@dataclass(frozen=True)
class Pushed:
    reference: str  # repository:version
    digest: str
    tag: str  # what happened to the tag: "set", "already there", "not set (--no-tag)"


@dataclass(frozen=True)
class PublishResult:
    pushed: tuple[Pushed, ...]

    def rows(self) -> list[tuple[str, str]]:
        return [(item.reference, f"{item.digest} (tag {item.tag})") for item in self.pushed]


class ImageSigner(Protocol):
    """Signs image digests and pushes each signature next to its image (``publish --sign`` passes
    reprotasks.signing.images.ReferrerSigner; image/ itself knows nothing of Sigstore)."""

    def sign_digests(self, images: Mapping[str, str]) -> tuple[dict[str, bytes], str]:
        """(digest -> signature bundle, the signer) for each image (digest -> its repository)."""
        ...

    def push_signature(
        self, runner: Runner, root: Path, repository: str, subject: Mapping[str, Any], bundle: bytes
    ) -> str:
        """Push ``bundle`` for the image ``subject`` describes; returns the digest it is pushed as."""
        ...

    def attestations(self, directory: Path, digests: Collection[str]) -> tuple[dict[str, bytes], str]:
        """(digest -> the release's signed provenance, for each image it attests; why none is attached)."""
        ...

    def push_attestation(
        self, runner: Runner, root: Path, repository: str, subject: Mapping[str, Any], bundle: bytes
    ) -> str:
        """Push an attestation bundle for the image; returns the digest it is pushed as."""
        ...


def publish(
    config: Config, dist: DistDir, *, runner: Runner, tag: bool = True, signer: ImageSigner | None = None
) -> PublishResult:
    """Push, check and tag each image with a `repository`; with ``signer``, sign all digests first."""
    shown_dist = dist.rel()
    version, records = _recorded_images(dist.path, shown_dist)
    targets = _targets(config)
    # Signed before anything is pushed: a refused token leaves the registry untouched.
    signatures, signed_by = _sign_all(signer, targets, records, version) if signer is not None else ({}, "")
    attestations, no_attestation = signer.attestations(dist.path, signatures) if signer is not None else ({}, "")
    if no_attestation:
        runner.log(f"publish: no provenance attached to the images: {no_attestation}")
    pushed = []
    for image in targets:
        assert image.repository is not None
        name = image_file(image.name, version)
        record = records.get(name)
        if record is None or record.image is None:
            raise ReprotasksError(
                f"{shown_dist}/{MANIFEST_NAME} records no image {shown(name)}: it was not made for this build",
                hint=RERUN_HINT,
            )
        subject = _push_checked(config.root, runner, image.repository, dist / name, record, f"{shown_dist}/{name}")
        state = _tag(runner, config.root, image.repository, version, record.image) if tag else "not set (--no-tag)"
        if signer is not None and record.image in signatures:
            where = signer.push_signature(runner, config.root, image.repository, subject, signatures[record.image])
            state += f"; signed by {signed_by}, signature {image.repository}@{where} (an OCI referrer)"
        if signer is not None and record.image in attestations:
            where = signer.push_attestation(runner, config.root, image.repository, subject, attestations[record.image])
            state += f"; provenance {image.repository}@{where}"
        runner.log(f"publish: {image.repository}:{version}  {record.image}  (tag {state})")
        pushed.append(Pushed(f"{image.repository}:{version}", record.image, state))
    return PublishResult(tuple(pushed))


def _sign_all(
    signer: ImageSigner, targets: list[ImageConfig], records: Mapping[str, ArtifactRecord], version: str
) -> tuple[dict[str, bytes], str]:
    images: dict[str, str] = {}  # digest -> the repository it is pushed to (the statement's subject name)
    for image in targets:
        record = records.get(image_file(image.name, version))
        if record is not None and record.image and image.repository:
            images.setdefault(record.image, image.repository)
    return signer.sign_digests(images)


def _recorded_images(dist: Path, shown_dist: str) -> tuple[str, dict[str, ArtifactRecord]]:
    """(the release version, image file name -> its record) from dist/'s manifest."""
    path = require_manifest(
        dist,
        shown_dist,
        missing=f"{shown_dist}/{MANIFEST_NAME} is missing: there is no build to publish",
        hint="run `reprotasks build` and `reprotasks image` first (or `nox -s build image publish`)",
        step="publish",
    )
    manifest = read_manifest(path, f"{shown_dist}/{MANIFEST_NAME}")
    version = str(manifest.project.get("version") or "")
    return version, {record.name: record for record in manifest.artifacts if record.kind == IMAGE_KIND}


def _targets(config: Config) -> list[ImageConfig]:
    targets = [image for image in config.images if image.repository]
    if not targets:
        raise ReprotasksError(
            "no image to publish: no [[tool.reprotasks.images]] entry has a `repository`",
            hint='add e.g. `repository = "ghcr.io/OWNER/worker"` to each image to push',
        )
    return targets


def _push_checked(
    root: Path, runner: Runner, repository: str, file: Path, record: ArtifactRecord, where: str
) -> dict[str, Any]:
    """Push the checked layout by digest and confirm the registry serves that digest; returns the image's
    descriptor (the subject of a signature)."""
    assert record.image is not None
    with tempfile.TemporaryDirectory(prefix="reprotasks-publish-") as scratch:
        layout = Path(scratch) / "layout"
        _checked_layout(file, record, layout, where)
        size = (layout / "blobs" / "sha256" / record.image.removeprefix("sha256:")).stat().st_size
        subject = {"mediaType": INDEX, "digest": record.image, "size": size}
        reference = f"{repository}@{record.image}"
        runner.run(["crane", "push", str(layout), reference], cwd=root, purpose=f"push {file.name}")
    served = _digest(runner, root, reference)
    if served != record.image:
        raise ReprotasksError(
            f"{reference}: the registry reports {served} after the push",
            hint="the registry does not serve what was pushed: do not use it",
        )
    return subject


def _checked_layout(tar_path: Path, record: ArtifactRecord, target: Path, where: str) -> None:
    """Unpack the layout tar into ``target`` after checking that it is exactly the recorded image."""
    try:
        digest = sha256_regular(tar_path)
    except OSError as exc:
        raise ReprotasksError(f"{where}: cannot be read ({exc.strerror or exc})", hint=RERUN_HINT) from None
    if digest != record.sha256:
        raise ReprotasksError(
            f"{where}: its sha256 is {digest}, but {MANIFEST_NAME} records {record.sha256}", hint=REBUILD_HINT
        )
    bad = ReprotasksError(f"{where} is not an OCI layout reprotasks wrote", hint=RERUN_HINT)
    target.mkdir()
    (target / "blobs" / "sha256").mkdir(parents=True)
    try:
        with tarfile.open(tar_path, mode="r:") as archive:
            for member in archive:
                if member.name in ("blobs", "blobs/sha256") and member.isdir():
                    continue
                if not member.isfile() or member.size > _MAX_LAYOUT:
                    raise bad
                if member.name not in _LAYOUT_NAMES and not _BLOB_NAME.match(member.name):
                    raise bad
                handle = archive.extractfile(member)
                if handle is None:
                    raise bad
                with handle:
                    data = handle.read()
                if member.name.startswith("blobs/") and sha256_digest(data) != "sha256:" + member.name[-64:]:
                    raise bad
                (target / member.name).write_bytes(data)
    except (OSError, EOFError, tarfile.TarError):
        raise bad from None
    if _layout_image(target) != record.image:
        raise ReprotasksError(
            f"{where}: its index.json does not name the recorded image {record.image}", hint=RERUN_HINT
        )


def _layout_image(layout: Path) -> str | None:
    """The digest of the one image index the layout's index.json names (its blob present), if so."""
    try:
        document = json.loads((layout / "index.json").read_bytes())
    except (OSError, ValueError):
        return None
    manifests = document.get("manifests") if isinstance(document, dict) else None
    if not isinstance(manifests, list) or len(manifests) != 1 or not isinstance(manifests[0], dict):
        return None
    digest = str(manifests[0].get("digest"))
    if manifests[0].get("mediaType") != INDEX or not _BLOB_NAME.match(f"blobs/sha256/{digest.removeprefix('sha256:')}"):
        return None
    return digest if (layout / "blobs" / "sha256" / digest.removeprefix("sha256:")).is_file() else None


def _digest(runner: Runner, root: Path, reference: str) -> str | None:
    """The digest ``reference`` names in its registry, or None when it names nothing."""
    result = runner.run(["crane", "digest", reference], cwd=root, check=False, purpose="read a digest", quiet=True)
    if result.returncode == 0:
        return result.stdout.strip()
    if "MANIFEST_UNKNOWN" in result.stderr or "NAME_UNKNOWN" in result.stderr or " 404 " in result.stderr:
        return None
    raise ReprotasksError(
        f"cannot read {reference} from its registry: {(result.stderr.strip().splitlines() or ['no output'])[-1]}",
        hint="check the registry address and your credentials (`crane auth login REGISTRY`, or ~/.docker/config.json)",
    )


def _tag(runner: Runner, root: Path, repository: str, version: str, digest: str) -> str:
    current = _digest(runner, root, f"{repository}:{version}")
    if current == digest:
        return "already there"
    if current is not None:
        raise ReprotasksError(
            f"{repository}:{version} already names {current}, not this release's {digest}: "
            "a release tag is never moved",
            hint=f"the image was pushed by digest ({repository}@{digest}); publish a new version to tag it, or "
            "delete the old tag in the registry if it was a mistake",
        )
    runner.run(["crane", "tag", f"{repository}@{digest}", version], cwd=root, purpose=f"tag {repository}:{version}")
    return "set"
