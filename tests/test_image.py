"""OCI images against real components: the `distribution` registry on 127.0.0.1, crane as the
independent reader, the worker binary run from the exported root file system."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from reprotasks.image import oci

from .conftest import commit_all, run_cli
from .registry import crane, tool
from .standards import check_cyclonedx, check_statement

pytestmark = [pytest.mark.slow]


def enable_images(project: Path, **settings: object) -> None:
    lines = ["", "[[tool.reprotasks.images]]", 'name = "worker"', 'binary = "worker"']
    lines += [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    with (project / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    commit_all(project, "images")


def ok(step: str, project: Path, *args: str, umask: int = 0o022, env: dict[str, str] | None = None) -> str:
    result = run_cli(step, *args, cwd=project, umask=umask, env=env)
    assert result.returncode == 0, f"{step}:\n{result.stdout}{result.stderr}"
    assert "Traceback" not in result.stderr
    return result.stdout + result.stderr


def image_record(project: Path) -> dict[str, object]:
    manifest = json.loads((project / "dist" / "manifest.json").read_text())
    (record,) = [item for item in manifest["artifacts"] if item["kind"] == "oci-image"]
    return dict(record)


def push_layout(layout_tar: Path, reference: str, scratch: Path) -> str:
    """crane pushes the layout as written (an independent reader of it); returns the registry's digest."""
    layout = scratch / "layout"
    shutil.rmtree(layout, ignore_errors=True)
    layout.mkdir(parents=True)
    with tarfile.open(layout_tar) as archive:
        archive.extractall(layout, filter="data")
    crane("push", str(layout), reference)
    return crane("digest", reference).decode().strip()


def skopeo(*args: str) -> str:
    done = subprocess.run([tool("skopeo"), "--insecure-policy", *args], capture_output=True, text=True)
    assert done.returncode == 0, f"skopeo {' '.join(args)}: {done.stderr}"
    return done.stdout


def skopeo_reads(layout_tar: Path, digest: str, version: str, scratch: Path) -> None:
    """skopeo (what podman is built on) reads the layout as one image named by its version, keeps its
    digest when copied, and converts it to the docker-archive `docker load` / `podman load` take."""
    raw = skopeo("inspect", "--raw", f"oci-archive:{layout_tar}")
    assert oci.sha256_digest(raw.encode()) == digest
    assert skopeo("inspect", "--raw", f"oci-archive:{layout_tar}:{version}") == raw
    copied = scratch / f"skopeo-copy-{layout_tar.name}"
    skopeo("copy", "--all", "--preserve-digests", f"oci-archive:{layout_tar}", f"oci:{copied}:{version}")
    (entry,) = json.loads((copied / "index.json").read_text())["manifests"]
    assert entry["digest"] == digest and entry["annotations"]["org.opencontainers.image.ref.name"] == version
    for platform in ("amd64", "arm64"):
        target = scratch / f"docker-{platform}-{layout_tar.name}.tar"
        skopeo("--override-arch", platform, "copy", f"oci-archive:{layout_tar}", f"docker-archive:{target}:w:1")
        with tarfile.open(target) as archive:
            assert "manifest.json" in archive.getnames()


def exported_rootfs(reference: str, platform: str, target: Path) -> Path:
    data = crane("export", "--platform", platform, reference, "-")
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(target, filter="data")
    return target


def test_worker_image_is_reproducible_pushed_by_digest_and_runs(
    hybrid_repo: Path, registry: str, crane_on_path: str, tmp_path: Path
) -> None:
    with (hybrid_repo / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write('\n[project.urls]\nHomepage = "https://acme.example"\nSource = "https://github.com/acme/hybrid"\n')
    enable_images(hybrid_repo)
    ok("build", hybrid_repo)
    started = time.perf_counter()
    output = ok("image", hybrid_repo)
    print(f"image step: {time.perf_counter() - started:.2f}s")  # numbers for the issue note (pytest -s)
    record = image_record(hybrid_repo)
    layout_tar = hybrid_repo / "dist" / "worker_0.3.0.oci.tar"
    assert record["name"] == layout_tar.name and record["platform"] == "linux/amd64,linux/arm64"
    assert str(record["image"]) in output
    # The same commit elsewhere (another path, umask 077) gives the same bytes.
    other = tmp_path / "an" / "other" / "path"
    shutil.copytree(hybrid_repo, other, ignore=shutil.ignore_patterns("dist"))
    ok("build", other, umask=0o077)
    ok("image", other, umask=0o077)
    assert (other / "dist" / layout_tar.name).read_bytes() == layout_tar.read_bytes()
    skopeo_reads(layout_tar, str(record["image"]), "0.3.0", tmp_path)
    # crane reads the layout and pushes it: the registry's digest is the one recorded.
    reference = f"{registry}/worker:0.3.0"
    assert push_layout(layout_tar, reference, tmp_path) == record["image"]
    crane("validate", "--remote", reference)
    # The linux/amd64 image's file system runs the worker, which reports the released version.
    rootfs = exported_rootfs(f"{registry}/worker@{record['image']}", "linux/amd64", tmp_path / "rootfs")
    assert sorted(path.name for path in rootfs.iterdir()) == ["worker"]
    ran = subprocess.run([rootfs / "worker"], input=b"deploy\n", capture_output=True, check=True)
    assert ran.stdout.decode().startswith("worker 0.3.0: job ")
    config = json.loads(crane("config", "--platform", "linux/amd64", reference))
    epoch = json.loads((hybrid_repo / "dist" / "manifest.json").read_text())["source"]["source_date_epoch"]
    assert config["config"]["User"] == "65532:65532" and config["config"]["Entrypoint"] == ["/worker"]
    assert config["created"] == oci.rfc3339(epoch)
    assert config["config"]["Labels"]["org.opencontainers.image.version"] == "0.3.0"
    # The repository [project.urls] names: what registries link an image to.
    assert config["config"]["Labels"]["org.opencontainers.image.source"] == "https://github.com/acme/hybrid"
    # The provenance attests the image; reproduce remakes it from the rebuilt archives.
    ok("sbom", hybrid_repo)
    components = json.loads((hybrid_repo / "dist" / "sbom.cdx.json").read_text())["components"]
    assert {"type": "container", "purl": f"pkg:oci/worker@{record['image']}"}.items() <= next(
        item for item in components if item["type"] == "container"
    ).items()
    ok("checksum", hybrid_repo)
    ok("provenance", hybrid_repo)
    statement = json.loads((hybrid_repo / "dist" / "provenance.intoto.json").read_text())
    check_statement(statement)
    check_cyclonedx(hybrid_repo / "dist" / "sbom.cdx.json")
    assert layout_tar.name in {subject["name"] for subject in statement["subject"]}
    # The image itself is a subject, by its registry digest (what `cosign verify-attestation` matches).
    assert {"name": "pkg:oci/worker", "digest": {"sha256": str(record["image"])[7:]}} in statement["subject"]
    byproducts = statement["predicate"]["runDetails"]["byproducts"]
    assert {"name": f"image {layout_tar.name}", "digest": {"sha256": str(record["image"])[7:]}}.items() <= next(
        item for item in byproducts if item["name"].startswith("image ")
    ).items()
    reproduced = ok("reproduce", hybrid_repo)
    assert any(line.split()[:2] == [layout_tar.name, "identical"] for line in reproduced.splitlines()), reproduced


def _base_layout(target: Path, epoch: int) -> None:
    """A two-platform base image built here (no public registry is reachable)."""
    manifests, blobs = [], []
    for text in ("linux/amd64", "linux/arm64"):
        platform = oci.Platform.parse(text)
        files = [oci.LayerFile("/etc/base-release", f"base for {text}\n".encode())]
        settings = oci.Settings(entrypoint=("/bin/false",), env=("PATH=/usr/bin:/bin", "LOG=debug"), user="0")
        manifest, referenced = oci.image(platform, files, settings, epoch=epoch, base=None)
        manifests.append((platform, manifest))
        blobs += [manifest, *referenced]
    index = oci.image_index(manifests, annotations={})
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(oci.layout_tar(index, blobs, mtime=epoch))) as archive:
        archive.extractall(target, filter="data")


def pushed_base(registry: str, reference: str, scratch: Path) -> str:
    """A two-platform base image (``_base_layout``) pushed as REGISTRY/REFERENCE; its digest."""
    _base_layout(scratch / "base", 1_700_000_000)
    crane("push", str(scratch / "base"), f"{registry}/{reference}")
    return crane("digest", f"{registry}/{reference}").decode().strip()


def test_image_on_a_base_pinned_by_digest_and_a_tag_is_refused(
    hybrid_repo: Path, registry: str, crane_on_path: str, tmp_path: Path
) -> None:
    digest = pushed_base(registry, "base:1", tmp_path)
    enable_images(hybrid_repo, base=f"{registry}/base@{digest}", env=["LOG=info"])
    ok("build", hybrid_repo)
    ok("image", hybrid_repo)
    record = image_record(hybrid_repo)
    reference = f"{registry}/worker:0.3.0-base"
    assert push_layout(hybrid_repo / "dist" / "worker_0.3.0.oci.tar", reference, tmp_path) == record["image"]
    skopeo_reads(hybrid_repo / "dist" / "worker_0.3.0.oci.tar", str(record["image"]), "0.3.0", tmp_path)
    rootfs = exported_rootfs(reference, "linux/arm64", tmp_path / "rootfs")
    assert (rootfs / "etc" / "base-release").read_text() == "base for linux/arm64\n"
    assert (rootfs / "worker").stat().st_mode & 0o111
    config = json.loads(crane("config", "--platform", "linux/arm64", reference))
    assert config["config"]["Env"] == ["PATH=/usr/bin:/bin", "LOG=info"]  # the image's own value wins
    assert len(config["rootfs"]["diff_ids"]) == 2 and config["config"]["User"] == "65532:65532"
    # The base is named in the standard annotations, by the platform's manifest digest.
    annotations = json.loads(crane("manifest", "--platform", "linux/arm64", reference))["annotations"]
    base_index = json.loads(crane("manifest", f"{registry}/base@{digest}"))
    (arm64,) = [item["digest"] for item in base_index["manifests"] if item["platform"]["architecture"] == "arm64"]
    assert annotations["org.opencontainers.image.base.name"] == f"{registry}/base"
    assert annotations["org.opencontainers.image.base.digest"] == arm64
    for step in ("sbom", "checksum", "provenance"):
        ok(step, hybrid_repo)
    statement = json.loads((hybrid_repo / "dist" / "provenance.intoto.json").read_text())
    dependencies = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
    assert {"name": "image worker: base", "uri": f"oci://{registry}/base", "digest": {"sha256": digest[7:]}} in (
        dependencies
    )
    # An index offering linux/amd64/v3 before plain linux/amd64: the plain one is taken.
    variants = []
    for text, marker in (("linux/amd64/v3", b"v3"), ("linux/amd64", b"plain"), ("linux/arm64/v8", b"v8")):
        platform = oci.Platform.parse(text)
        files = [oci.LayerFile("/etc/which", marker)]
        manifest, referenced = oci.image(platform, files, oci.Settings(entrypoint=("/x",)), epoch=1, base=None)
        variants.append((platform, manifest, referenced))
    index = oci.Blob(
        oci.INDEX,
        oci.canonical_json(
            {
                "schemaVersion": 2,
                "mediaType": oci.INDEX,
                "manifests": [m.descriptor(platform=p.as_json()) for p, m, _ in variants],
            }
        ),
    )
    layout = tmp_path / "variants"
    layout.mkdir()
    blobs = [blob for _, manifest, referenced in variants for blob in (manifest, *referenced)]
    with tarfile.open(fileobj=io.BytesIO(oci.layout_tar(index, blobs, mtime=1))) as archive:
        archive.extractall(layout, filter="data")
    crane("push", str(layout), f"{registry}/variants:1")
    variant_digest = crane("digest", f"{registry}/variants:1").decode().strip()
    text = (hybrid_repo / "pyproject.toml").read_text()
    (hybrid_repo / "pyproject.toml").write_text(text.replace(f"base@{digest}", f"variants@{variant_digest}"))
    commit_all(hybrid_repo, "a base with variants")
    ok("build", hybrid_repo)
    ok("image", hybrid_repo)
    reference = f"{registry}/worker:variants"
    push_layout(hybrid_repo / "dist" / "worker_0.3.0.oci.tar", reference, tmp_path)
    assert (exported_rootfs(reference, "linux/amd64", tmp_path / "amd64") / "etc" / "which").read_bytes() == b"plain"
    assert (exported_rootfs(reference, "linux/arm64", tmp_path / "arm64") / "etc" / "which").read_bytes() == b"v8"
    (hybrid_repo / "pyproject.toml").write_text(text)
    # A base whose config does not describe its layers would make an invalid image: refused.
    broken = json.loads(crane("config", "--platform", "linux/amd64", f"{registry}/base@{digest}"))
    broken["rootfs"]["diff_ids"] = []
    platform = oci.Platform.parse("linux/amd64")
    config_blob = oci.Blob(oci.CONFIG, oci.canonical_json({**broken, "architecture": "amd64", "os": "linux"}))
    good_manifest = json.loads(crane("manifest", "--platform", "linux/amd64", f"{registry}/base@{digest}"))
    bad_manifest = oci.Blob(oci.MANIFEST, oci.canonical_json({**good_manifest, "config": config_blob.descriptor()}))
    layers = [
        oci.Blob(oci.LAYER, crane("blob", f"{registry}/base@{item['digest']}")) for item in good_manifest["layers"]
    ]
    bad_index = oci.image_index([(platform, bad_manifest)], annotations={})
    layout = tmp_path / "broken"
    layout.mkdir()
    with tarfile.open(
        fileobj=io.BytesIO(oci.layout_tar(bad_index, [bad_manifest, config_blob, *layers], mtime=1))
    ) as archive:
        archive.extractall(layout, filter="data")
    crane("push", str(layout), f"{registry}/broken:1")
    broken_digest = crane("digest", f"{registry}/broken:1").decode().strip()
    (hybrid_repo / "pyproject.toml").write_text(
        text.replace(f"base@{digest}", f"broken@{broken_digest}") + 'platforms = ["linux/amd64"]\n'
    )
    commit_all(hybrid_repo, "a broken base")
    ok("build", hybrid_repo)
    refused = run_cli("image", cwd=hybrid_repo)
    assert refused.returncode == 2 and "its config lists 0 diff_ids for 1 layers" in refused.stderr, refused.stderr
    (hybrid_repo / "pyproject.toml").write_text(text)
    # A base named by tag is whatever the tag points to today: refused before anything is fetched.
    text = (hybrid_repo / "pyproject.toml").read_text().replace(f"base@{digest}", "base:1")
    (hybrid_repo / "pyproject.toml").write_text(text)
    refused = run_cli("image", cwd=hybrid_repo)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "is not pinned by digest" in refused.stderr and "crane digest" in refused.stderr


def test_tampered_stale_and_misconfigured_images_are_refused(hybrid_repo: Path, crane_on_path: str) -> None:
    enable_images(hybrid_repo)
    ok("build", hybrid_repo)
    ok("image", hybrid_repo)
    layout_tar = hybrid_repo / "dist" / "worker_0.3.0.oci.tar"
    original = layout_tar.read_bytes()
    tampered = bytearray(original)
    tampered[len(tampered) // 2] ^= 1  # one bit inside the amd64 layer
    layout_tar.write_bytes(bytes(tampered))
    refused = run_cli("sbom", cwd=hybrid_repo)  # provenance reads the same re-derived manifest
    assert refused.returncode == 1, refused.stderr
    assert "worker_0.3.0.oci.tar: is not the image this build and configuration make" in refused.stderr
    assert "reprotasks image" in refused.stderr and "Traceback" not in refused.stderr
    checksum = run_cli("checksum", cwd=hybrid_repo)
    assert checksum.returncode == 1 and "worker_0.3.0.oci.tar" in checksum.stderr
    ok("image", hybrid_repo)
    assert layout_tar.read_bytes() == original
    # Another entrypoint: the recorded image is stale until `image` runs again.
    text = (hybrid_repo / "pyproject.toml").read_text()
    (hybrid_repo / "pyproject.toml").write_text(text + 'entrypoint = ["/worker", "--serve"]\n')
    commit_all(hybrid_repo, "entrypoint")
    ok("build", hybrid_repo)
    stale = run_cli("sbom", cwd=hybrid_repo)
    assert stale.returncode == 1 and "the image" in stale.stderr and "reprotasks image" in stale.stderr
    ok("image", hybrid_repo)
    ok("sbom", hybrid_repo)
    # A record forged to name another dist/ file is refused: the image step removes only image files.
    manifest_path = hybrid_repo / "dist" / "manifest.json"
    genuine = manifest_path.read_bytes()
    forged = json.loads(genuine)
    forged["artifacts"].append(dict(image_record(hybrid_repo), name="manifest.json"))
    manifest_path.write_text(json.dumps(forged, indent=2, sort_keys=True) + "\n")
    refused = run_cli("image", cwd=hybrid_repo)
    assert refused.returncode == 1 and "records 'manifest.json' as an image" in refused.stderr, refused.stderr
    assert manifest_path.is_file()
    manifest_path.write_bytes(genuine)
    # An image configured but not committed (or set in the environment) is refused: images are made as
    # the release commit configures them.
    refused = run_cli("image", cwd=hybrid_repo, env={"REPROTASKS_IMAGES": "[]"})
    assert refused.returncode != 0 and "REPROTASKS_IMAGES is set" in refused.stderr, refused.stderr
    (hybrid_repo / "pyproject.toml").write_text(text.split("[[tool.reprotasks.images]]")[0])
    refused = run_cli("image", cwd=hybrid_repo)
    assert refused.returncode != 0 and "`images` differs from the one in commit" in refused.stderr, refused.stderr
    commit_all(hybrid_repo, "no image")
    # No image configured any more: the recorded one is removed, with what described it.
    ok("build", hybrid_repo)
    ok("image", hybrid_repo)
    assert not list((hybrid_repo / "dist").glob("*.oci.tar")) and not (hybrid_repo / "dist" / "sbom.cdx.json").exists()
    ok("sbom", hybrid_repo)
    # Misconfigured entries: one paragraph naming the key and the fix, exit 2, no traceback.
    (hybrid_repo / "pyproject.toml").write_text(text.replace('binary = "worker"', 'binary = "nope"'))
    commit_all(hybrid_repo, "no such binary")
    ok("build", hybrid_repo)
    result = run_cli("image", cwd=hybrid_repo)
    assert result.returncode in (1, 2)
    assert "the build made no `nope` binary for linux/amd64, linux/arm64" in result.stderr
    for old, new, expected in (
        ('binary = "worker"', 'binary = "worker"\nplatforms = ["darwin/arm64"]', "is not linux/ARCH[/VARIANT]"),
        ('name = "worker"', 'name = "Worker!"', "is not an image name"),
        ('binary = "worker"', 'binary = "worker"\nbase = "alpine:3.20"', "is not pinned by digest"),
        ('binary = "worker"', 'binary = "worker"\ncolour = "blue"', "unknown key `colour`"),
    ):
        (hybrid_repo / "pyproject.toml").write_text(text.replace(old, new))
        result = run_cli("image", cwd=hybrid_repo)
        assert result.returncode in (1, 2) and expected in result.stderr, (new, result.stderr)
        assert "Traceback" not in result.stderr


def test_publish_pushes_by_digest_tags_once_and_never_moves_a_tag(
    hybrid_repo: Path, registry: str, crane_on_path: str, tmp_path: Path
) -> None:
    repository = f"{registry}/team/worker"
    enable_images(hybrid_repo, repository=repository)
    ok("build", hybrid_repo)
    ok("image", hybrid_repo)
    digest = str(image_record(hybrid_repo)["image"])
    output = ok("publish", hybrid_repo)
    assert f"{repository}:0.3.0" in output and digest in output and "tag set" in output
    assert crane("digest", f"{repository}:0.3.0").decode().strip() == digest
    assert "tag already there" in ok("publish", hybrid_repo)  # idempotent
    # The tag names another image: never moved, and the error says what it names.
    _base_layout(tmp_path / "other", 1_600_000_000)
    crane("push", str(tmp_path / "other"), f"{repository}:0.3.1")
    other = crane("digest", f"{repository}:0.3.1").decode().strip()
    text = (hybrid_repo / "pyproject.toml").read_text()
    (hybrid_repo / "pyproject.toml").write_text(text.replace('version = "0.3.0"', 'version = "0.3.1"'))
    commit_all(hybrid_repo, "0.3.1")
    ok("build", hybrid_repo)
    ok("image", hybrid_repo)
    moved = run_cli("publish", cwd=hybrid_repo)
    assert moved.returncode == 2 and "Traceback" not in moved.stderr
    assert f"{repository}:0.3.1 already names {other}" in moved.stderr and "never moved" in moved.stderr
    assert crane("digest", f"{repository}:0.3.1").decode().strip() == other
    # --no-tag pushes by digest only; what is pushed must be what dist/ records.
    assert "not set (--no-tag)" in ok("publish", hybrid_repo, "--no-tag")
    layout_tar = hybrid_repo / "dist" / "worker_0.3.1.oci.tar"
    layout_tar.write_bytes(layout_tar.read_bytes() + b"\0" * 512)
    tampered = run_cli("publish", cwd=hybrid_repo)
    assert tampered.returncode == 2 and "worker_0.3.1.oci.tar: its sha256 is" in tampered.stderr


def test_python_app_image_installs_the_wheel_and_its_hashed_lock(
    hybrid_repo: Path, registry: str, crane_on_path: str, tmp_path: Path
) -> None:
    digest = pushed_base(registry, "python:3.11", tmp_path)  # stands in for python:3.11-slim (no public registry)
    with (hybrid_repo / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write(
            f'\n[[tool.reprotasks.images]]\nname = "orchestrator"\nkind = "python"\n'
            f'base = "{registry}/python@{digest}"\nentrypoint = ["hybrid"]\n'
        )
    commit_all(hybrid_repo, "python image")
    ok("build", hybrid_repo)
    ok("image", hybrid_repo)
    manifest = json.loads((hybrid_repo / "dist" / "manifest.json").read_text())
    (record,) = [item for item in manifest["artifacts"] if item["name"] == "orchestrator_0.3.0.oci.tar"]
    assert record["package"] == "hybrid_orchestrator-0.3.0-py3-none-any.whl"
    reference = f"{registry}/orchestrator:0.3.0"
    assert push_layout(hybrid_repo / "dist" / record["name"], reference, tmp_path) == record["image"]
    skopeo_reads(hybrid_repo / "dist" / record["name"], record["image"], "0.3.0", tmp_path)
    rootfs = exported_rootfs(reference, "linux/arm64", tmp_path / "rootfs")
    site = rootfs / "app" / "site-packages"
    assert (site / "hybrid_orchestrator" / "cli.py").is_file() and (site / "click" / "core.py").is_file()
    assert not list(rootfs.rglob("*.pyc")) and not list(rootfs.rglob("direct_url.json"))
    script = rootfs / "usr" / "local" / "bin" / "hybrid"
    assert script.read_text().startswith("#!/usr/bin/env python3\n")
    # The installed application runs (the host's Python 3.11 stands in for the base's).
    ran = subprocess.run(
        [sys.executable, str(script), "--help"], env={"PYTHONPATH": str(site)}, capture_output=True, check=False
    )
    assert ran.returncode == 0 and b"Orchestrate Linux automation jobs" in ran.stdout, ran.stderr
    config = json.loads(crane("config", "--platform", "linux/arm64", reference))
    assert "PYTHONPATH=/app/site-packages" in config["config"]["Env"] and config["config"]["Entrypoint"] == ["hybrid"]
    reproduced = ok("reproduce", hybrid_repo)
    assert any(line.split()[:2] == [record["name"], "identical"] for line in reproduced.splitlines()), reproduced
