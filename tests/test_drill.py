"""Reproducibility drills end to end, with the local Sigstore instance.

examples/hybrid is released twice (v0.3.0, v0.3.1), each published into a directory of its own.
A drill proves both and records signed attestations (checked by cosign too); a promotion whose
rule asks for a reproduction takes the drill's word; the dashboard shows the drill. A published
release whose artifact was replaced differs (a re-written SHA256SUMS fails its signature first),
and a tag whose toolchain pin cannot be fetched cannot be rebuilt, with that named.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import commit_all, git
from tests.registry import cosign
from tests.sigstack import SigstoreStack
from tests.test_promote_e2e import bump, cli, release
from tests.test_sign_e2e import SIGNER, signed  # noqa: F401 - the fixture

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.sigstack]

VSA = "https://slsa.dev/verification_summary/v1"


def _records(root: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """tag -> (bundle, statement) of each drill record."""
    found = {}
    for path in sorted((root / "promotions" / "drills").glob("*.sigstore.json")):
        envelope = json.loads(path.read_text())["dsseEnvelope"]
        statement = json.loads(base64.b64decode(envelope["payload"]))
        found[statement["predicate"]["reprotasks"]["tag"]] = (path, statement)
    return found


def test_drills_prove_record_and_catch_what_no_longer_reproduces(
    signed: Path,  # noqa: F811 - the fixture
    stack: SigstoreStack,
    tmp_path: Path,
) -> None:
    root = signed
    published = tmp_path / "published"
    git("tag", "v0.3.0", cwd=root)
    shutil.copytree(root / "dist", published / "v0.3.0")
    bump(root, "0.3.1")
    release(root, published / "v0.3.1")
    git("tag", "v0.3.1", cwd=root)
    with (root / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write(
            f"\n[tool.reprotasks.promote]\npublished = {str(published / '{tag}')!r}\n"
            "\n[tool.reprotasks.promote.rules.dev]\nreproduced = true\n"
        )
    commit_all(root, "where releases are published; dev wants a proven reproduction")

    # Both releases rebuild to the published bytes; each outcome is recorded, signed.
    code, output = cli(root, "drill", "--last", "2")
    assert code == 0, output
    assert "v0.3.1" in output and "v0.3.0" in output and output.count("identical:") == 2, output
    records = _records(root)
    assert sorted(records) == ["v0.3.0", "v0.3.1"]
    bundle, statement = records["v0.3.1"]
    predicate = statement["predicate"]
    assert statement["predicateType"] == VSA and predicate["verificationResult"] == "PASSED"
    assert predicate["verifiedLevels"] == ["REPROTASKS_REPRODUCED"]
    assert predicate["reprotasks"]["result"] == "identical" and predicate["reprotasks"]["commit"]
    subjects = {subject["name"] for subject in statement["subject"]}
    wheel = next((published / "v0.3.1").glob("*.whl"))
    assert wheel.name in subjects and "sbom.cdx.json" not in subjects  # only what the rebuild proved
    assert stack.trusted_root is not None
    verified = cosign(
        "verify-blob-attestation", "--bundle", bundle, "--trusted-root", stack.trusted_root,
        "--certificate-identity", SIGNER, "--certificate-oidc-issuer", stack.issuer.url, "--type", VSA, wheel,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stderr

    # dev requires a reproduction: the fresh drill stands for the rebuild.
    code, output = cli(root, "promote", "0.3.1", "--to", "dev", "--release", str(published / "v0.3.1"))
    assert code == 0, output
    assert "a drill reproduced 0.3.1" in output and "rebuilding" not in output, output
    code, output = cli(root, "report")
    assert code == 0, output
    page = (root / "promotions" / "index.html").read_text()
    assert "last independently reproduced" in page and "Reproducibility drills" in page

    # A replaced artifact differs; with SHA256SUMS re-written to match, the signature fails first.
    tampered = tmp_path / "tampered"
    shutil.copytree(published / "v0.3.0", tampered / "v0.3.0")
    archive = tampered / "v0.3.0" / "worker_0.3.0_linux_amd64.tar.gz"
    archive.write_bytes(archive.read_bytes() + b"\0")
    code, output = cli(root, "drill", "v0.3.0", "--published", str(tampered / "{tag}"), "--no-record")
    assert code != 0 and "does not reproduce" in output, output
    assert "the published worker_0.3.0_linux_amd64.tar.gz" in output and "is not the file SHA256SUMS lists" in output
    import hashlib

    sums = tampered / "v0.3.0" / "SHA256SUMS"
    lines = sums.read_text().splitlines()
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    sums.write_text("".join(f"{digest}  {archive.name}\n" if archive.name in ln else f"{ln}\n" for ln in lines))
    code, output = cli(root, "drill", "v0.3.0", "--published", str(tampered / "{tag}"), "--no-record")
    assert code != 0 and "is not what the release signer signed" in output, output

    # A tag whose toolchain pin can no longer be fetched: cannot be rebuilt, and says which.
    commit_all(root, "the ledger and its drills, as a team commits them")
    git("switch", "--quiet", "-c", "old-toolchain", cwd=root)
    gomod = root / "go" / "go.mod"
    gomod.write_text(gomod.read_text().replace("toolchain go1.26.8", "toolchain go1.99.0"))
    commit_all(root, "a toolchain that was never released")
    git("tag", "v0.3.2", cwd=root)
    git("switch", "--quiet", "-", cwd=root)
    shutil.copytree(published / "v0.3.1", published / "v0.3.2")
    code, output = cli(root, "drill", "v0.3.2", "--no-record", env={"GOTOOLCHAIN": "auto"})
    assert code != 0 and "cannot be rebuilt" in output, output
    assert "the Go toolchain go1.99.0 cannot be downloaded any more" in output, output
    assert sorted(_records(root)) == ["v0.3.0", "v0.3.1"]  # --no-record wrote nothing
