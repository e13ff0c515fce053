"""The images of a build: each `[[tool.reprotasks.images]]` entry as ``dist/NAME_VERSION.oci.tar``.

An image is made from the Go archives the build wrote (their binaries, checked against the
manifest the build recorded), on ``scratch`` or a base pinned by digest, for each of its linux
platforms, and recorded in manifest.json as an ``oci-image`` artifact carrying its index digest.
Everything comes from the commit and the build: the same dist/ gives the same image bytes, so
``sbom``/``provenance`` re-derive an image before attesting it and ``reproduce`` compares it.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from reprotasks._distdir import DistDir
from reprotasks._run import Runner
from reprotasks.artifacts.layout import IMAGE_SUFFIX
from reprotasks.artifacts.manifest import ArtifactRecord, Manifest
from reprotasks.artifacts.trusted import Derivations
from reprotasks.config import Config, ImageConfig
from reprotasks.errors import Finding, ReprotasksError
from reprotasks.image import oci
from reprotasks.image.base import fetch_base
from reprotasks.image.options import SCRATCH

IMAGE_KIND = "oci-image"
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
        if config.go.binary_names.get(record.package, record.package) == image.binary:
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


SITE = "/app/site-packages"


def _python_files(
    config: Config, dist: DistDir, manifest: Manifest, image: ImageConfig, platform: str, *, runner: Runner
) -> list[oci.LayerFile]:
    """The wheel this build made and its committed hashed lock, installed for ``platform`` in
    SITE; console scripts on PATH (/usr/local/bin) with the image's python3, not this machine's."""
    from reprotasks.artifacts.wheel_install import AppInstall, install_app, with_shebang

    assert image.requirements is not None
    app = AppInstall(f"image {image.name}", image.requirements, image.python_version)
    layer = []
    for item in install_app(config, dist, manifest, app, platform, runner=runner):
        if item.path.startswith("bin/"):
            data = with_shebang(item.data, b"/usr/bin/env python3")
            layer.append(oci.LayerFile(f"/usr/local/{item.path}", data, executable=True))
        else:
            layer.append(oci.LayerFile(f"{SITE}/{item.path}", item.data, executable=item.executable))
    return layer


def make_image(config: Config, dist: DistDir, manifest: Manifest, image: ImageConfig, *, runner: Runner) -> Made:
    """The image's layout tar, in memory, from the archives (or the wheel) in ``dist``."""
    from reprotasks.artifacts.trusted import extract_binary
    from reprotasks.go.binaries import executable_name, member_prefix

    version = str(manifest.project.get("version") or "")
    epoch = int(manifest.source.get("source_date_epoch") or 0)
    labels = {
        "org.opencontainers.image.created": oci.rfc3339(epoch),
        "org.opencontainers.image.revision": str(manifest.source.get("commit") or ""),
        # The repository, when [project.urls] names it: registries (GHCR) link the image to it.
        **({"org.opencontainers.image.source": config.project_source} if config.project_source else {}),
        "org.opencontainers.image.title": image.name,
        "org.opencontainers.image.version": version,
        **image.labels,
    }
    env = image.env
    if image.kind == "python" and not any(item.startswith("PYTHONPATH=") for item in env):
        env = (f"PYTHONPATH={SITE}", *env)
    settings = oci.Settings(
        entrypoint=image.entrypoint,
        cmd=image.cmd,
        user=image.user,
        env=env,
        workdir=image.workdir,
        labels=labels,
    )
    archives = _binary_archives(config, manifest, image) if image.kind == "go" else {}
    manifests: list[tuple[oci.Platform, oci.Blob]] = []
    blobs: list[oci.Blob] = []
    for text in image.platforms:
        platform = oci.Platform.parse(text)
        if image.kind == "python":
            files = _python_files(config, dist, manifest, image, text, runner=runner)
        else:
            with tempfile.TemporaryDirectory(prefix="reprotasks-image-") as scratch:
                binary = Path(scratch) / "binary"
                name = archives[text].name
                inside = member_prefix(config.go.archive_in_directory, name)
                members = {inside + PurePosixPath(relative).name for relative in config.go.archive_files}
                extract_binary(dist.path / name, binary, inside + executable_name(image.binary, text), members)
                files = [oci.LayerFile(f"/{image.binary}", binary.read_bytes(), executable=True)]
        base = None if image.base == SCRATCH else fetch_base(image.base, platform, runner=runner)
        manifest_blob, referenced = oci.image(platform, files, settings, epoch=epoch, base=base)
        manifests.append((platform, manifest_blob))
        blobs += [manifest_blob, *referenced]
    index = oci.image_index(manifests, annotations=labels)
    if image.kind == "python":
        package = next(record.name for record in manifest.artifacts if record.kind == "wheel")
    else:
        package = next(iter(archives.values())).package or image.binary
    return Made(image, oci.layout_tar(index, blobs, mtime=epoch, ref_name=version), index.digest, package)


def record_of(made: Made, version: str) -> ArtifactRecord:
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
        rows = [
            (f"{self.dist.name}/{record.name}", f"{record.platform}, {record.size:,} bytes, {record.image}")
            for record in self.images
        ]
        if not self.images:
            rows.append(("images", "none configured ([[tool.reprotasks.images]])"))
        return rows + [(f"{self.dist.name}/{name}", "removed: no longer configured") for name in self.removed]


def build_images(
    config: Config, dist: DistDir, *, runner: Runner, derived: Derivations, trust_cache: bool = True
) -> ImageResult:
    """Make every configured image into dist/, replacing the images recorded before, and record them.

    SHA256SUMS, the provenance, the SBOM and their bundles no longer describe dist/ afterwards:
    they are dropped (checksum, sbom, provenance and sign write them again)."""
    from reprotasks.artifacts import derived as _derived
    from reprotasks.artifacts.trusted import trusted_manifest

    previous = _derived.recorded(dist, IMAGE_KIND)
    if not config.images and not previous:
        return ImageResult(dist.path, (), ())
    # The Go archives (and everything else) checked against what git and the binaries say; the
    # image records are checked to name image files only (they name what this step removes).
    trusted = trusted_manifest(
        config, dist, runner=runner, step="image", derived=derived, replacing=IMAGE_KIND, trust_cache=trust_cache
    )
    _derived.require_committed_table(config, trusted.source, "images", runner=runner)
    built = trusted.manifest
    version = str(built.project.get("version") or "")
    made = [make_image(config, dist, built, image, runner=runner) for image in config.images]
    records = tuple(record_of(item, version) for item in made)
    pairs = [(record, item.data) for item, record in zip(made, records, strict=True)]
    removed = _derived.install(dist, built, pairs, previous, step="image", what="the image file", runner=runner)
    return ImageResult(dist.path, records, removed)


def derive_images(
    config: Config, dist: DistDir, built: Manifest, manifest: Manifest, runner: Runner, trust_cache: bool = True
) -> tuple[list[ArtifactRecord], list[Finding]]:
    """The configured images re-made from the (checked) archives of ``built``; each one ``manifest``
    (dist/'s) lists must be identical (``trusted_manifest``'s image check)."""
    from reprotasks.artifacts import derived as _derived
    from reprotasks.artifacts.layout import sha256_regular
    from reprotasks.artifacts.manifest import MANIFEST_NAME
    from reprotasks.artifacts.source import describe_source

    where = f"{dist.rel()}/{MANIFEST_NAME}"
    version = str(built.project.get("version") or "")
    listed = {record.name: record for record in manifest.artifacts if record.kind == "oci-image"}
    if config.images or listed:
        _derived.require_committed_table(config, describe_source(config.root, runner=runner), "images", runner=runner)
    expected = {image_file(image.name, version): image for image in config.images}
    findings = _derived.listing_findings(where, listed, expected, noun="image", key="images", hint=RERUN_HINT)
    records = []
    for name in sorted(expected.keys() & listed.keys()):
        record = record_of(make_image(config, dist, built, expected[name], runner=runner), version)
        if record != listed[name] or sha256_regular(dist.path / name) != record.sha256:
            findings.append(
                Finding(
                    f"{dist.rel()}/{name}",
                    None,
                    f"is not the image this build and configuration make (re-made: {record.image})",
                    RERUN_HINT,
                )
            )
        records.append(record)
    return records, findings
