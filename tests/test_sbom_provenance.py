"""sbom and provenance on a real build of examples/hybrid."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from reprotasks._distdir import DistDir
from reprotasks.artifacts.checksum import read_sums
from reprotasks.artifacts.provenance import ENVIRONMENT_ALLOW_LIST, looks_secret, scrub, statement
from reprotasks.config import load_config
from reprotasks.python.lockfile import parse_lock
from reprotasks.steps._derived import derivations
from tests.conftest import PreparedHybrid, run_cli, run_steps

pytestmark = pytest.mark.slow


@pytest.fixture
def built(prepared_hybrid: PreparedHybrid) -> Path:
    return prepared_hybrid("built-sbom-checksum", lambda root: run_steps(root, "build", "sbom", "checksum"))


def test_sbom_is_valid_complete_and_deterministic(built: Path) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    dist = built / "dist"
    text = (dist / "sbom.cdx.json").read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    bom = json.loads(text)
    assert bom["specVersion"] == "1.6"
    manifest = json.loads((dist / "manifest.json").read_text())
    epoch = manifest["source"]["source_date_epoch"]
    assert bom["metadata"]["timestamp"].startswith("2024-02-03T04:05:06")  # the commit time
    assert epoch == 1706933106
    purls = {component["purl"]: component for component in bom["components"]}
    for lock in ("requirements.txt", "build-requirements.txt"):
        pins = parse_lock(built / lock).pins
        assert pins
        for pin in pins:
            component = purls[f"pkg:pypi/{pin.name}@{pin.version}"]
            hashes = {item["content"] for item in component["hashes"]}
            assert hashes == {h.split(":", 1)[1] for h in pin.hashes}
    uuid_component = purls["pkg:golang/github.com/google/uuid@v1.6.0"]
    properties = {(p["name"], p["value"]) for p in uuid_component["properties"]}
    assert ("reprotasks:go-sum", "h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=") in properties
    assert any(name == "reprotasks:seen-in" and value.endswith(".tar.gz") for name, value in properties)
    # Listed in SHA256SUMS, and the same bytes when written again.
    _problems, listed = read_sums(dist / "SHA256SUMS", "SHA256SUMS")
    assert "sbom.cdx.json" in listed
    again = run_cli("sbom", cwd=built)
    assert again.returncode == 0
    assert (dist / "sbom.cdx.json").read_text() == text
    assert bom["serialNumber"].startswith("urn:uuid:")


def test_provenance_subjects_match_sha256sums(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_" + "Z" * 36)
    monkeypatch.setenv("RUNNER_OS", "Linux")
    result = run_cli("provenance", cwd=built)
    assert result.returncode == 0, result.stderr
    dist = built / "dist"
    text = (dist / "provenance.intoto.json").read_text()
    assert "ghp_" not in text
    data = json.loads(text)
    assert data["_type"] == "https://in-toto.io/Statement/v1"
    assert data["predicateType"] == "https://slsa.dev/provenance/v1"
    _problems, listed = read_sums(dist / "SHA256SUMS", "SHA256SUMS")
    subjects = {item["name"]: item["digest"]["sha256"] for item in data["subject"]}
    assert subjects == {name: digest for name, (digest, _line) in listed.items()}
    deps = {item["name"]: item for item in data["predicate"]["buildDefinition"]["resolvedDependencies"]}
    assert deps["source"]["digest"]["gitCommit"] == json.loads((dist / "manifest.json").read_text())["source"]["commit"]
    assert {"requirements.txt", "build-requirements.txt", "go/go.mod", "go/go.sum"} <= deps.keys()
    recorded = data["predicate"]["runDetails"]["byproducts"][0]["annotations"]
    assert recorded["RUNNER_OS"] == "Linux"
    assert set(recorded) <= set(ENVIRONMENT_ALLOW_LIST)  # never GITHUB_TOKEN, HOME, PATH, ...
    # Not listed in SHA256SUMS: checksum --check still passes with it present.
    check = run_cli("checksum", "--check", cwd=built)
    assert check.returncode == 0, check.stderr


def test_provenance_in_github_actions_names_the_workflow(built: Path) -> None:
    environ = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/widgets",
        "GITHUB_WORKFLOW_REF": "acme/widgets/.github/workflows/release.yml@refs/tags/v1.0.0",
        "GITHUB_RUN_ID": "42",
        "GITHUB_RUN_ATTEMPT": "2",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvIn0.c2lnbmF0dXJlc2lnbmF0dXJl",
    }
    config = load_config(built)
    data = statement(config, DistDir.of(config.dist_dir, config.root), environ, derived=derivations())
    run = data["predicate"]["runDetails"]
    assert run["builder"]["id"] == "https://github.com/acme/widgets/.github/workflows/release.yml@refs/tags/v1.0.0"
    assert run["metadata"]["invocationId"] == "https://github.com/acme/widgets/actions/runs/42/attempts/2"
    assert "ACTIONS_ID_TOKEN_REQUEST_TOKEN" not in json.dumps(data)


def test_provenance_needs_matching_checksums(built: Path) -> None:
    (built / "dist" / "SHA256SUMS").unlink()
    result = run_cli("provenance", cwd=built)
    assert result.returncode == 1
    assert "dist/SHA256SUMS: missing" in result.stderr
    assert not (built / "dist" / "provenance.intoto.json").exists()


def test_scrub_and_secret_detection() -> None:
    environ = {"DEPLOY_TOKEN": "s3cr3t-value-123", "HOME": "/home/me", "PLAIN": "s3cr3t-value-123"}
    assert looks_secret("AWS_SECRET_ACCESS_KEY", "x")
    assert looks_secret("ANYTHING", "AKIAIOSFODNN7EXAMPLE")
    assert not looks_secret("RUNNER_OS", "Linux")
    text = scrub('{"a": "s3cr3t-value-123", "b": "/home/me", "c": "github_pat_' + "x" * 30 + '"}', environ)
    assert "s3cr3t" not in text
    assert "/home/me" in text
    assert "github_pat_" not in text


def test_image_subjects_must_be_the_layouts_digest_and_may_be_absent() -> None:
    """A `pkg:oci/NAME` subject is checked against the digest the .oci.tar's layout names; a
    statement from before images were subjects (none named) still verifies by its file subjects."""
    from reprotasks.artifacts.provenance import PREDICATE_TYPE, STATEMENT_TYPE, subject_problems

    listed = {"worker_0.3.0.oci.tar": "aa" * 32, "manifest.json": "bb" * 32}
    images = {"pkg:oci/worker": "cc" * 32}

    def statement(*extra: Mapping[str, object]) -> bytes:
        files = [{"name": name, "digest": {"sha256": digest}} for name, digest in listed.items()]
        return json.dumps(
            {"_type": STATEMENT_TYPE, "predicateType": PREDICATE_TYPE, "subject": files + list(extra)}
        ).encode()

    named = {"name": "pkg:oci/worker", "digest": {"sha256": "cc" * 32}}
    assert subject_problems(statement(named), listed, images) == []
    assert subject_problems(statement(), listed, images) == []  # an older release's statement
    wrong = {"name": "pkg:oci/worker", "digest": {"sha256": "dd" * 32}}
    assert subject_problems(statement(wrong), listed, images) == [
        f"says the image 'pkg:oci/worker' is sha256 {'dd' * 32}, its layout says {'cc' * 32}"
    ]
    stranger = {"name": "pkg:oci/other", "digest": {"sha256": "cc" * 32}}
    assert subject_problems(statement(stranger), listed, images) == [
        "has subject 'pkg:oci/other', an image the release does not hold"
    ]
