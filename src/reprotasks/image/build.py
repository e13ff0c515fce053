"""The images of a build: each `[[tool.reprotasks.images]]` entry as ``dist/NAME_VERSION.oci.tar``.

An image is made from the Go archives the build wrote (their binaries, checked against the
manifest the build recorded), on ``scratch`` or a base pinned by digest, for each of its linux
platforms, and recorded in manifest.json as an ``oci-image`` artifact carrying its index digest.
Everything comes from the commit and the build: the same dist/ gives the same image bytes, so
``sbom``/``provenance`` re-derive an image before attesting it and ``reproduce`` compares it.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from reprotasks._files import write_atomic
from reprotasks._run import Runner
from reprotasks.config import Config, ImageConfig
from reprotasks.dist.manifest import ArtifactRecord, Manifest
from reprotasks.errors import ReprotasksError
from reprotasks.image import oci
from reprotasks.image.base import fetch_base

IMAGE_KIND = "oci-image"
IMAGE_SUFFIX = ".oci.tar"
RERUN_HINT = "run `reprotasks image` again (it remakes every image from dist/'s archives)"


def image_file(name: str, version: str) -> str:
    return f"{name}_{version}{IMAGE_SUFFIX}"


@dataclass(frozen=True)
class Made:
    config: ImageConfig
    data: bytes  # the layout tar
    digest: str  # of the image index: what a registry calls this image
    package: str


def _binary_archives(config: Config, manifest: Manifest, image: ImageConfig) -> dict[str, ArtifactRecord]:
    """platform -> the go-archive record holding ``image.binary`` for it; every platform must have one."""
    found: dict[str, ArtifactRecord] = {}
    for record in manifest.artifacts:
        if record.kind != "go-archive" or record.package is None:
            continue
        binary = config.go.binary_names.get(record.package) or PurePosixPath(record.package).name
        if binary == image.binary:
            found[record.platform] = record
    missing = [platform for platform in image.platforms if platform not in found]
    if not image.platforms:
        raise ReprotasksError(
            f"image {image.name}: no linux platform to build it for",
            hint="add linux platforms to go.platforms (e.g. linux/amd64), or set `platforms` on the image",
        )
    if missing:
        built = sorted({record.platform for record in found.values()})
        raise ReprotasksError(
            f"image {image.name}: the build made no `{image.binary}` binary for {', '.join(missing)}"
            + (f" (it did for {', '.join(built)})" if built else ""),
            hint="check the image's `binary` (a Go binary name of this build) and `platforms`, and that "
            "go.platforms builds them; then run build and image again",
        )
    return found


def make_image(config: Config, manifest: Manifest, image: ImageConfig, *, runner: Runner) -> Made:
    """The image's layout tar, in memory, from the archives in ``config.dist_dir``."""
    from reprotasks.dist.trusted import extract_binary
    from reprotasks.go.binaries import executable_name

    version = str(manifest.project.get("version") or "")
    epoch = int(manifest.source.get("source_date_epoch") or 0)
    labels = {
        "org.opencontainers.image.created": oci.rfc3339(epoch),
        "org.opencontainers.image.revision": str(manifest.source.get("commit") or ""),
        "org.opencontainers.image.title": image.name,
        "org.opencontainers.image.version": version,
        **image.labels,
    }
    settings = oci.Settings(
        entrypoint=image.entrypoint,
        cmd=image.cmd,
        user=image.user,
        env=image.env,
        workdir=image.workdir,
        labels=labels,
    )
    archives = _binary_archives(config, manifest, image)
    manifests: list[tuple[oci.Platform, oci.Blob]] = []
    blobs: list[oci.Blob] = []
    for text in image.platforms:
        platform = oci.Platform.parse(text)
        record = archives[text]
        with tempfile.TemporaryDirectory(prefix="reprotasks-image-") as scratch:
            binary = Path(scratch) / "binary"
            members = {PurePosixPath(relative).name for relative in config.go.archive_files}
            extract_binary(config.dist_dir / record.name, binary, executable_name(image.binary, text), members)
            data = binary.read_bytes()
        base = None if image.base == "scratch" else fetch_base(image.base, platform, runner=runner)
        files = [oci.LayerFile(f"/{image.binary}", data, executable=True)]
        manifest_blob, referenced = oci.image(platform, files, settings, epoch=epoch, base=base)
        manifests.append((platform, manifest_blob))
        blobs += [manifest_blob, *referenced]
    index = oci.image_index(manifests, annotations=labels)
    package = next(iter(archives.values())).package or image.binary
    return Made(image, oci.layout_tar(index, blobs, mtime=epoch), index.digest, package)


def record_of(made: Made, version: str) -> ArtifactRecord:
    import hashlib

    return ArtifactRecord(
        name=image_file(made.config.name, version),
        size=len(made.data),
        sha256=hashlib.sha256(made.data).hexdigest(),
        kind=IMAGE_KIND,
        platform=",".join(made.config.platforms),
        package=made.package,
        image=made.digest,
    )


@dataclass(frozen=True)
class ImageResult:
    dist: Path
    images: tuple[ArtifactRecord, ...]
    removed: tuple[str, ...]

    def rows(self) -> list[tuple[str, str]]:
        if not self.images:
            return [("images", "none configured ([[tool.reprotasks.images]])")]
        return [
            (f"{self.dist.name}/{record.name}", f"{record.platform}, {record.size:,} bytes, {record.image}")
            for record in self.images
        ]


def build_images(config: Config, *, runner: Runner) -> ImageResult:
    """Make every configured image into dist/, replacing the images recorded before, and record them."""
    from reprotasks.dist.build import remember_build
    from reprotasks.dist.trusted import trusted_manifest

    if not config.images:
        return ImageResult(config.dist_dir, (), ())
    # The Go archives (and everything else) checked against what git and the binaries say.
    built, _source = trusted_manifest(config, runner=runner, step="image", images=False)
    version = str(built.project.get("version") or "")
    made = [make_image(config, built, image, runner=runner) for image in config.images]
    records = tuple(record_of(item, version) for item in made)
    for item, record in zip(made, records, strict=True):
        write_atomic(config.dist_dir / record.name, item.data)
        runner.log(f"image: {config.rel(config.dist_dir)}/{record.name}  {record.image}  ({record.platform})")
    previous = _recorded_images(config)
    names = {record.name for record in records}
    removed = tuple(sorted(name for name in previous if name not in names))
    manifest = dataclasses.replace(built, artifacts=tuple(sorted((*built.artifacts, *records), key=_by_name)))
    manifest.write(config.dist_dir)
    for name in removed:
        (config.dist_dir / name).unlink(missing_ok=True)  # an image no longer configured
    remember_build(config, manifest)  # this machine wrote exactly this manifest: a later build may reuse it
    return ImageResult(config.dist_dir, records, removed)


def _by_name(record: ArtifactRecord) -> str:
    return record.name


def _recorded_images(config: Config) -> Sequence[str]:
    from reprotasks.dist.layout import read_regular
    from reprotasks.dist.manifest import MANIFEST_NAME, manifest_from_bytes

    try:
        manifest = manifest_from_bytes(read_regular(config.dist_dir / MANIFEST_NAME))
    except (OSError, ValueError, TypeError):
        return ()
    return [record.name for record in manifest.artifacts if record.kind == IMAGE_KIND]
