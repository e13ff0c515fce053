"""sign -> verify end to end against a real local Sigstore instance (tests/sigstack.py).

Fulcio, a CT log, Rekor v2 and a timestamp authority run on 127.0.0.1; .ci/run builds them
with .ci/install-sigstack. examples/hybrid is built, given an SBOM, checksummed, given
provenance and signed; then every tampering case must be rejected by verify-release.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reprotasks.config import load_config
from reprotasks.github.workflow import render_workflow
from tests.conftest import Prepare, PreparedHybrid, commit_all, run_cli, run_steps
from tests.registry import cosign, crane
from tests.sigstack import SigstoreStack
from tests.standards import check_statement
from tests.upload_index import Upload, upload_index

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.sigstack]

SIGNER = "release@example.test"
SECRETS = {
    "GITHUB_TOKEN": "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "MY_SERVICE_PASSWORD": "hunter2-but-longer",
}


def sign_settings(stack: SigstoreStack, signer: str = SIGNER) -> str:
    """[tool.reprotasks.sign] for the local instance: its trust config, the signer and its issuer."""
    assert stack.trust_config is not None
    return (
        f"\n[tool.reprotasks.sign]\ntrust-config = {str(stack.trust_config)!r}\n"
        f"identity = {signer!r}\nissuer = {stack.issuer.url!r}\n"
    )


def _sign_with(stack: SigstoreStack) -> Prepare:
    def prepare(root: Path) -> None:
        with (root / "pyproject.toml").open("a", encoding="utf-8") as handle:
            handle.write(sign_settings(stack))
        commit_all(root, "sign with the local instance")
        run_steps(root, "build", "sbom", "checksum", "provenance", "sign")

    return prepare


@pytest.fixture
def signed(prepared_hybrid: PreparedHybrid, stack: SigstoreStack, monkeypatch: pytest.MonkeyPatch) -> Path:
    """examples/hybrid built, SBOM'd, checksummed, with provenance, signed; secrets in the environment
    (they were there for every step, too: the signed state is made once per session, with them set)."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SIGSTORE_ID_TOKEN", stack.issuer.token(SIGNER))
    return prepared_hybrid("signed", _sign_with(stack))


def release_copy(project: Path, tmp_path: Path) -> Path:
    target = tmp_path / "download"
    shutil.copytree(project / "dist", target)
    return target


def verify_release(directory: Path, *args: str, cwd: Path) -> tuple[int, str]:
    result = run_cli("verify-release", str(directory), *args, cwd=cwd)
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    return result.returncode, output


def test_sign_then_verify_end_to_end(signed: Path, stack: SigstoreStack) -> None:
    dist = signed / "dist"
    assert (dist / "SHA256SUMS.sigstore.json").is_file()
    assert (dist / "provenance.intoto.json.sigstore.json").is_file()
    bundle = json.loads((dist / "SHA256SUMS.sigstore.json").read_text())
    assert bundle["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["version"] == "0.0.2"  # Rekor v2
    assert bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]

    # The signed statement follows in-toto Statement v1 and SLSA provenance v1, field for field.
    check_statement(json.loads((dist / "provenance.intoto.json").read_text()))

    result = run_cli("verify-signatures", cwd=signed)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"signed by {SIGNER}" in result.stdout
    assert "subjects match SHA256SUMS" in result.stdout

    # cosign (sigstore-go) accepts what a consumer downloads: SHA256SUMS' bundle, the provenance
    # for each file it names, and refuses another identity.
    assert stack.trusted_root is not None
    policy = ("--trusted-root", stack.trusted_root, "--certificate-oidc-issuer", stack.issuer.url)
    blob = cosign(
        "verify-blob", "--bundle", dist / "SHA256SUMS.sigstore.json", *policy,
        "--certificate-identity", SIGNER, dist / "SHA256SUMS",
    )  # fmt: skip
    assert blob.returncode == 0, blob.stderr
    wheel = next(dist.glob("*.whl"))
    attested = cosign(
        "verify-blob-attestation", "--bundle", dist / "provenance.intoto.json.sigstore.json", *policy,
        "--certificate-identity", SIGNER, "--type", "https://slsa.dev/provenance/v1", wheel,
    )  # fmt: skip
    assert attested.returncode == 0, attested.stderr
    other = cosign(
        "verify-blob", "--bundle", dist / "SHA256SUMS.sigstore.json", *policy,
        "--certificate-identity", "mallory@example.test", dist / "SHA256SUMS",
    )  # fmt: skip
    assert other.returncode != 0 and "mallory@example.test" in other.stderr, other.stderr

    # Idempotent: a second sign verifies the existing bundles and writes nothing.
    before = {path.name: path.read_bytes() for path in dist.glob("*.sigstore.json")}
    again = run_cli("sign", cwd=signed)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("already signed") == 2
    assert before == {path.name: path.read_bytes() for path in dist.glob("*.sigstore.json")}

    # Any file, with explicit flags instead of config:
    files = run_cli(
        "verify-signatures",
        "--trust-config",
        str(stack.trust_config),
        "--identity",
        SIGNER,
        "--issuer",
        stack.issuer.url,
        str(dist / "SHA256SUMS"),
        cwd=signed.parent,
    )
    assert files.returncode == 0, files.stdout + files.stderr


def test_no_secret_reaches_any_output(signed: Path) -> None:
    for path in (signed / "dist").iterdir():
        data = path.read_bytes()
        for name, value in SECRETS.items():
            assert value.encode() not in data, f"{name} leaked into {path.name}"
    statement = json.loads((signed / "dist" / "provenance.intoto.json").read_text())
    recorded = statement["predicate"]["runDetails"]["byproducts"][0]["annotations"]
    assert not set(recorded) & set(SECRETS)


def test_verify_release_accepts_the_download(signed: Path, tmp_path: Path) -> None:
    download = release_copy(signed, tmp_path)
    code, output = verify_release(download, cwd=signed)
    assert code == 0, output
    assert "subjects match SHA256SUMS" in output


def test_verify_release_rejects_a_changed_artifact_byte(signed: Path, tmp_path: Path) -> None:
    download = release_copy(signed, tmp_path)
    wheel = next(download.glob("*.whl"))
    data = bytearray(wheel.read_bytes())
    data[100] ^= 0xFF
    wheel.write_bytes(bytes(data))
    code, output = verify_release(download, cwd=signed)
    assert code == 1
    assert f"{wheel.name!r} was modified" in output


def test_verify_release_rejects_a_changed_sums_line(signed: Path, tmp_path: Path) -> None:
    download = release_copy(signed, tmp_path)
    sums = download / "SHA256SUMS"
    lines = sums.read_text().splitlines(keepends=True)
    digest, name = lines[0].split("  ", 1)
    replacement = b"replaced by an attacker\n"
    (download / name.strip()).write_bytes(replacement)
    forged = "".join([f"{hashlib.sha256(replacement).hexdigest()}  {name}", *lines[1:]])
    assert digest not in forged
    sums.write_text(forged)
    code, output = verify_release(download, cwd=signed)
    assert code == 1
    assert "SHA256SUMS.sigstore.json: does not sign this file's content" in output


def test_verify_release_rejects_another_signer(signed: Path, stack: SigstoreStack, tmp_path: Path) -> None:
    download = release_copy(signed, tmp_path)
    other = run_cli(
        "sign",
        "--identity-token",
        stack.issuer.token("mallory@example.test"),
        cwd=signed,
        env={"REPROTASKS_SIGN_IDENTITY": "mallory@example.test", "SIGSTORE_ID_TOKEN": ""},
    )
    assert other.returncode == 0, other.stdout + other.stderr
    shutil.copyfile(signed / "dist" / "SHA256SUMS.sigstore.json", download / "SHA256SUMS.sigstore.json")
    code, output = verify_release(download, cwd=signed)
    assert code == 1
    assert "SHA256SUMS.sigstore.json: signed by mallory@example.test, expected release@example.test" in output


def test_verify_release_rejects_provenance_subject_mismatch(signed: Path, tmp_path: Path) -> None:
    # A validly signed SHA256SUMS that no longer lists a file the (validly signed) provenance names.
    # `sign` refuses to sign such a pair, so the SHA256SUMS is signed in a copy without provenance.
    dist = signed / "dist"
    other = tmp_path / "other"
    shutil.copytree(signed, other, symlinks=True)
    for name in ("provenance.intoto.json", "provenance.intoto.json.sigstore.json", "sbom.cdx.json"):
        (other / "dist" / name).unlink(missing_ok=True)
    sbom_line = next(line for line in (dist / "SHA256SUMS").read_text().splitlines() if "sbom.cdx.json" in line)
    (other / "dist" / "SHA256SUMS").write_text(
        "".join(line + "\n" for line in (dist / "SHA256SUMS").read_text().splitlines() if line != sbom_line)
    )
    resign = run_cli("sign", cwd=other)
    assert resign.returncode == 0, resign.stdout + resign.stderr
    (dist / "sbom.cdx.json").unlink()
    for name in ("SHA256SUMS", "SHA256SUMS.sigstore.json"):
        shutil.copyfile(other / "dist" / name, dist / name)
    refused = run_cli("sign", cwd=signed)  # the pair as it now is in dist/: never signed by reprotasks
    assert refused.returncode == 1
    assert "has subject 'sbom.cdx.json', which SHA256SUMS does not list" in refused.stdout + refused.stderr
    download = release_copy(signed, tmp_path)
    code, output = verify_release(download, cwd=signed)
    assert code == 1
    assert "provenance.intoto.json: has subject 'sbom.cdx.json', which SHA256SUMS does not list" in output


def test_sign_without_token_or_terminal_says_how(signed: Path) -> None:
    dist = signed / "dist"
    for bundle in dist.glob("*.sigstore.json"):
        bundle.unlink()
    result = run_cli("sign", cwd=signed, env={"SIGSTORE_ID_TOKEN": ""})
    assert result.returncode == 2
    assert "sign: no identity token (no terminal for a browser sign-in)" in result.stderr
    assert "SIGSTORE_ID_TOKEN" in result.stderr
    assert not list(dist.glob("*.sigstore.json"))


def test_sign_refuses_a_tampered_dist(signed: Path) -> None:
    wheel = next((signed / "dist").glob("*.whl"))
    wheel.write_bytes(wheel.read_bytes() + b"x")
    result = run_cli("sign", cwd=signed)
    assert result.returncode == 1
    assert f"{wheel.name!r} was modified" in result.stderr


def test_verify_step_checks_signatures_in_dist(signed: Path, stack: SigstoreStack) -> None:
    ok = run_cli("verify", cwd=signed)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "checksums and signatures" in ok.stdout
    # The same bundles, checked for another signer: verify names the bundle and the mismatch.
    other = run_cli("verify", cwd=signed, env={"REPROTASKS_SIGN_IDENTITY": "someone-else@example.test"})
    assert other.returncode == 1
    assert "dist/SHA256SUMS.sigstore.json: signed by release@example.test, expected someone-else@example.test" in (
        other.stderr
    )


# Release integrity on a real signed release (issue: nothing unverified enters a release).


@pytest.mark.parametrize(
    ("plant", "expected"),
    [
        (lambda d: (d / ".hidden").write_text("x"), "download/.hidden: file name '.hidden' is a hidden file"),
        (lambda d: (d / "SHA256SUMS.asc").write_text("x"), "download/SHA256SUMS.asc: is not part of a release"),
        (lambda d: (d / "sub").mkdir(), "download/sub: is a subdirectory"),
        (lambda d: (d / "payload.sh").write_text("x"), "download/payload.sh: is not listed in SHA256SUMS"),
        (
            lambda d: shutil.copyfile(d / "SHA256SUMS.sigstore.json", d / "payload.sh.sigstore.json"),
            "download/payload.sh.sigstore.json: is a bundle for 'payload.sh', which SHA256SUMS does not list",
        ),
    ],
    ids=["hidden", "other-sums", "subdirectory", "unlisted", "orphan-bundle"],
)
def test_verify_release_accepts_nothing_beyond_the_layout(
    signed: Path, tmp_path: Path, plant: object, expected: str
) -> None:
    download = release_copy(signed, tmp_path)
    assert callable(plant)
    plant(download)
    code, output = verify_release(download, cwd=signed)
    assert code == 1 and expected in output


def test_verify_release_refuses_symlinks_and_never_reads_through_them(signed: Path, tmp_path: Path) -> None:
    download = release_copy(signed, tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    for name in ("provenance.intoto.json", "manifest.json"):
        shutil.move(download / name, outside / name)
        (download / name).symlink_to(outside / name)
    code, output = verify_release(download, cwd=signed)
    assert code == 1
    assert "download/provenance.intoto.json: is a symlink" in output
    assert "'manifest.json' is a symlink: release files must be regular files" in output


def test_provenance_is_required_by_the_default_policy(signed: Path, tmp_path: Path) -> None:
    download = release_copy(signed, tmp_path)
    (download / "provenance.intoto.json").unlink()
    (download / "provenance.intoto.json.sigstore.json").unlink()
    code, output = verify_release(download, cwd=signed)
    assert code == 1 and "provenance.intoto.json: missing: the release policy requires signed provenance" in output
    relaxed = run_cli("verify-release", str(download), cwd=signed, env={"REPROTASKS_SIGN_REQUIRE_PROVENANCE": "0"})
    assert relaxed.returncode == 0, relaxed.stdout + relaxed.stderr


def test_a_file_covered_as_a_subject_of_the_signed_provenance(signed: Path, tmp_path: Path) -> None:
    """verify-signatures FILE with a DSSE bundle: FILE's sha256 is a subject of the signed statement."""
    download = release_copy(signed, tmp_path)
    wheel = next(download.glob("*.whl"))
    loose = tmp_path / wheel.name
    shutil.copyfile(wheel, loose)
    shutil.copyfile(download / "provenance.intoto.json.sigstore.json", tmp_path / f"{wheel.name}.sigstore.json")
    ok = run_cli("verify-signatures", str(loose), cwd=signed)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"subject '{wheel.name}' of a statement signed by {SIGNER} (DSSE)" in ok.stdout
    loose.write_bytes(loose.read_bytes() + b"\0")
    bad = run_cli("verify-signatures", str(loose), cwd=signed)
    assert bad.returncode == 1
    assert "neither is this file nor has a subject with its sha256" in bad.stderr


def test_published_image_is_signed_by_digest_and_verified_from_the_registry(
    hybrid_repo: Path,
    stack: SigstoreStack,
    registry: str,
    referrers_registry: str,
    crane_on_path: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """publish --sign: a bundle over the image digest, pushed as an OCI referrer; verify-signatures --image."""
    assert stack.trust_config is not None
    repository = f"{registry}/signed/worker"
    with (hybrid_repo / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write(
            sign_settings(stack)
            + f'\n[[tool.reprotasks.images]]\nname = "worker"\nbinary = "worker"\nrepository = "{repository}"\n'
        )
    commit_all(hybrid_repo, "sign and publish images")
    monkeypatch.setenv("SIGSTORE_ID_TOKEN", stack.issuer.token(SIGNER))
    for step in ("build", "image", "sbom", "checksum", "provenance", "sign"):
        done = run_cli(step, cwd=hybrid_repo)
        assert done.returncode == 0, done.stderr
    manifest = json.loads((hybrid_repo / "dist" / "manifest.json").read_text())
    digest = next(item["image"] for item in manifest["artifacts"] if item["kind"] == "oci-image")
    # The signed provenance names the image by its registry digest (what the attestation is about).
    statement = json.loads((hybrid_repo / "dist" / "provenance.intoto.json").read_text())
    assert {"name": "pkg:oci/worker", "digest": {"sha256": digest[7:]}} in statement["subject"]
    published = run_cli("publish", "--sign", cwd=hybrid_repo)
    assert published.returncode == 0, published.stderr
    assert f"signed by {SIGNER}" in published.stdout + published.stderr
    assert "; provenance " in published.stdout + published.stderr
    monkeypatch.delenv("SIGSTORE_ID_TOKEN")
    # The referrer names the image as its subject; this registry has no referrers API, so it is
    # listed in the fallback index `sha256-<hex>` (the OCI 1.1 tag schema cosign and oras read).
    listed = json.loads(crane("manifest", f"{repository}:{digest.replace(':', '-')}"))["manifests"]
    assert {item["artifactType"] for item in listed} == {"application/vnd.dev.sigstore.bundle.v0.3+json"}
    predicates = set()
    for item in listed:
        referrer = json.loads(crane("manifest", f"{repository}@{item['digest']}"))
        assert referrer["subject"]["digest"] == digest
        predicates.add(referrer["annotations"]["dev.sigstore.bundle.predicateType"])
    assert predicates == {"https://sigstore.dev/cosign/sign/v1", "https://slsa.dev/provenance/v1"}
    # cosign verifies the image signature, by digest and by tag, and refuses another identity.
    assert stack.trusted_root is not None
    policy = ("--trusted-root", stack.trusted_root, "--certificate-oidc-issuer", stack.issuer.url)
    for reference in (f"{repository}@{digest}", f"{repository}:0.3.0"):
        checked = cosign("verify", "--allow-http-registry", *policy, "--certificate-identity", SIGNER, reference)
        assert checked.returncode == 0, checked.stderr
    refused = cosign(
        "verify", "--allow-http-registry", *policy, "--certificate-identity", "x@example.test", f"{repository}@{digest}"
    )
    assert refused.returncode != 0, refused.stderr
    # ... and finds the release's provenance as the image's SLSA attestation.
    attested = cosign(
        "verify-attestation", "--allow-http-registry", *policy, "--certificate-identity", SIGNER,
        "--type", "slsaprovenance1", f"{repository}:0.3.0",
    )  # fmt: skip
    assert attested.returncode == 0, attested.stderr
    for reference in (f"{repository}@{digest}", f"{repository}:0.3.0"):
        verified = run_cli("verify-signatures", "--image", reference, cwd=hybrid_repo)
        assert verified.returncode == 0, verified.stderr
        assert f"signed by {SIGNER}" in verified.stdout + verified.stderr
    other = run_cli(
        "verify-signatures", "--image", f"{repository}@{digest}", "--identity", "x@example.test", cwd=hybrid_repo
    )
    assert other.returncode == 1 and "Traceback" not in other.stderr, other.stderr
    # An image cosign signed (not reprotasks): verify-signatures --image accepts it too.
    crane("copy", f"{repository}@{digest}", f"{registry}/cosigned/worker:1")
    assert stack.signing_config is not None
    signed_by_cosign = cosign(
        "sign", "--yes", "--allow-http-registry", "--identity-token", stack.issuer.token(SIGNER),
        "--trusted-root", stack.trusted_root, "--signing-config", stack.signing_config,
        f"{registry}/cosigned/worker@{digest}",
    )  # fmt: skip
    assert signed_by_cosign.returncode == 0, signed_by_cosign.stderr
    cosigned = run_cli("verify-signatures", "--image", f"{registry}/cosigned/worker:1", cwd=hybrid_repo)
    assert cosigned.returncode == 0 and f"signed by {SIGNER}" in cosigned.stdout + cosigned.stderr, cosigned.stderr
    # On a registry with the referrers API, cosign writes no fallback tag: found through the API.
    api = f"{referrers_registry}/worker"
    crane("copy", f"{repository}@{digest}", f"{api}:1")
    signed_there = cosign(
        "sign", "--yes", "--allow-http-registry", "--identity-token", stack.issuer.token(SIGNER),
        "--trusted-root", stack.trusted_root, "--signing-config", stack.signing_config, f"{api}@{digest}",
    )  # fmt: skip
    assert signed_there.returncode == 0, signed_there.stderr
    assert crane("ls", api).decode().split() == ["1"]  # no `sha256-<hex>` tag: only the API lists it
    through_api = run_cli("verify-signatures", "--image", f"{api}:1", cwd=hybrid_repo)
    assert through_api.returncode == 0 and f"signed by {SIGNER}" in through_api.stdout + through_api.stderr, (
        through_api.stderr
    )
    # An image nobody signed: refused, saying so.
    crane("copy", f"{repository}@{digest}", f"{registry}/unsigned/worker:1")
    unsigned = run_cli("verify-signatures", "--image", f"{registry}/unsigned/worker:1", cwd=hybrid_repo)
    assert unsigned.returncode == 1 and "has no signature" in unsigned.stderr, unsigned.stderr


def _run_pypi_job(project: Path, tmp_path: Path) -> list[Upload]:
    """The `select` and `twine upload` steps of the rendered workflow's PyPI job, run by bash with
    twine pointed at a local upload endpoint (a token instead of trusted publishing)."""
    job = yaml.safe_load(render_workflow(load_config(project)))["jobs"]["pypi"]
    scripts = [step["run"] for step in job["steps"] if step.get("name", "").startswith(("select ", "twine upload"))]
    assert len(scripts) == 2, job["steps"]
    work = tmp_path / "pypi-job"
    shutil.copytree(project / "dist", work / "signed")
    with upload_index() as index:
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "TWINE_REPOSITORY_URL": index.url,
            "TWINE_USERNAME": "__token__",
            "TWINE_PASSWORD": "pypi-local-test",
        }
        for script in scripts:
            result = subprocess.run(["bash", "-e", "-c", script], cwd=work, env=env, capture_output=True, text=True)
            assert result.returncode == 0, result.stdout + result.stderr
    return index.uploads


def test_pep740_attestations_verify_as_pypi_checks_them(
    signed: Path, stack: SigstoreStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`sign.pypi-attestations`: each wheel and sdist gets `<file>.publish.attestation`, signed through
    the instance's Rekor v1 log. pypi-attestations (the library PyPI and `pypi-attestations verify`
    use) accepts them for the signer and refuses another identity and another file; verify-release
    checks them too. pypi-attestations verifies only against the public instances, so its verifier
    is pointed at this instance's trusted root (its own checks all run)."""
    import pypi_attestations
    from sigstore.models import TrustedRoot
    from sigstore.verify import Verifier, policy

    with (signed / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write("pypi-attestations = true\n")  # the [tool.reprotasks.sign] table is the last one
    first = run_cli("sign", cwd=signed)
    assert first.returncode == 0, first.stderr
    dist = signed / "dist"
    distributions = [dist / "hybrid_orchestrator-0.3.0-py3-none-any.whl", dist / "hybrid_orchestrator-0.3.0.tar.gz"]
    # Only the wheel and the sdist: a Go archive is a .tar.gz as well, but not a Python distribution.
    assert sorted(path.name for path in dist.glob("*.publish.attestation")) == [
        f"{path.name}.publish.attestation" for path in distributions
    ]
    for distribution in distributions:
        attestation = json.loads((dist / f"{distribution.name}.publish.attestation").read_text())
        [entry] = attestation["verification_material"]["transparency_entries"]
        assert entry["kindVersion"] == {"kind": "dsse", "version": "0.0.1"}  # Rekor v1
        assert entry["inclusionPromise"]["signedEntryTimestamp"] and entry["integratedTime"]
    assert "already signed (bundle verifies), skipped" in first.stdout, first.stdout  # SHA256SUMS was signed

    trusted = Verifier(trusted_root=TrustedRoot.from_file(str(stack.trusted_root)))
    monkeypatch.setattr(Verifier, "production", classmethod(lambda cls, offline=False: trusted))
    signer = policy.Identity(identity=SIGNER, issuer=stack.issuer.url)
    for distribution in distributions:
        data = (dist / f"{distribution.name}.publish.attestation").read_bytes()
        parsed = pypi_attestations.Attestation.model_validate_json(data)
        predicate_type, _predicate = parsed.verify(signer, pypi_attestations.Distribution.from_file(distribution))
        assert predicate_type == "https://docs.pypi.org/attestations/publish/v1"
        with pytest.raises(pypi_attestations.VerificationError):
            parsed.verify(
                policy.Identity(identity="someone-else@example.test", issuer=stack.issuer.url),
                pypi_attestations.Distribution.from_file(distribution),
            )
    wheel, sdist = distributions
    wheel_attestation = pypi_attestations.Attestation.model_validate_json(
        (dist / f"{wheel.name}.publish.attestation").read_bytes()
    )
    with pytest.raises(pypi_attestations.VerificationError, match="subject does not match"):
        wheel_attestation.verify(signer, pypi_attestations.Distribution(name=wheel.name, digest="0" * 64))

    again = run_cli("sign", cwd=signed)
    assert again.returncode == 0 and "already attested (verifies), skipped" in again.stdout, again.stdout

    # The release workflow's PyPI job, its shell steps run as written: twine sends the wheel and the
    # sdist, each with its attestation, and the attestation verifies against the bytes sent.
    uploads = _run_pypi_job(signed, tmp_path)
    assert sorted(upload.filename for upload in uploads) == sorted(path.name for path in distributions)
    for upload in uploads:
        [sent] = json.loads(upload.fields["attestations"])
        sent_digest = hashlib.sha256(upload.content).hexdigest()
        pypi_attestations.Attestation.model_validate(sent).verify(
            signer, pypi_attestations.Distribution(name=upload.filename, digest=sent_digest)
        )

    download = release_copy(signed, tmp_path)
    code, output = verify_release(download, cwd=signed)
    assert code == 0, output
    assert f"PEP 740 attestation of {wheel.name}, signed by {SIGNER}" in output
    # The sdist's attestation under the wheel's name: it belongs to another file.
    shutil.copyfile(download / f"{sdist.name}.publish.attestation", download / f"{wheel.name}.publish.attestation")
    code, output = verify_release(download, cwd=signed)
    assert code == 1 and f"belongs to '{sdist.name}', not to '{wheel.name}'" in output, output
    # An attestation for a file SHA256SUMS does not list is outside the layout.
    (download / f"{wheel.name}.publish.attestation").unlink()
    (download / "other-1.0.tar.gz.publish.attestation").write_bytes(b"{}")
    code, output = verify_release(download, cwd=signed)
    assert code == 1 and "is a PEP 740 attestation for 'other-1.0.tar.gz', which SHA256SUMS does not list" in output

    # An instance without a Rekor v1 log cannot make them: said in one paragraph, nothing written.
    config = json.loads(Path(str(stack.trust_config)).read_text())
    config["signingConfig"]["rekorTlogUrls"] = [
        url for url in config["signingConfig"]["rekorTlogUrls"] if url["majorApiVersion"] == 2
    ]
    only_v2 = tmp_path / "trust-v2-only.json"
    only_v2.write_text(json.dumps(config))
    for distribution in distributions:
        (dist / f"{distribution.name}.publish.attestation").unlink()
    refused = run_cli("sign", cwd=signed, env={"REPROTASKS_SIGN_TRUST_CONFIG": str(only_v2)})
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "offers no Rekor v1 log, and PEP 740 attestations can carry only Rekor v1 entries" in refused.stderr
    assert not list(dist.glob("*.publish.attestation"))
