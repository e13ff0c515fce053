"""verify-signatures against real bundles from the public Sigstore instances (offline)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

DATA = REPO.parent / "shared" / "testdata" / "sigstore"
GITHUB_WHEEL_IDENTITY = "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2"
ACTIONS_ISSUER = "https://token.actions.githubusercontent.com"
GITHUB_LOGIN = "https://github.com/login/oauth"

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/testdata/sigstore is not beside the repository")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A copy of the test data with bundles renamed to FILE.sigstore.json."""
    target = tmp_path / "data"
    target.mkdir()
    for path in DATA.iterdir():
        name = path.name
        if name.endswith(".sigstore"):
            name += ".json"
        shutil.copyfile(path, target / name)
    return target


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An empty HOME: only the trust roots shipped inside sigstore are used."""
    home = tmp_path / "home"
    home.mkdir()
    return {"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), "XDG_DATA_HOME": str(home / ".data")}


def verify(data: Path, env: dict[str, str], *args: str) -> tuple[int, str]:
    result = run_cli("verify-signatures", "--offline", *args, cwd=data, env=env)
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    return result.returncode, output


GOOD = [
    ("bundle_v3_github.whl", [], GITHUB_WHEEL_IDENTITY, ACTIONS_ISSUER),
    ("bundle_v3.txt", ["--staging"], "william@yossarian.net", GITHUB_LOGIN),
    ("staging-rekor-v2.txt", ["--staging"], "jku@goto.fi", GITHUB_LOGIN),
]


@pytest.mark.parametrize(("name", "instance", "identity", "issuer"), GOOD)
def test_real_bundles_verify_offline(
    data: Path, env: dict[str, str], name: str, instance: list[str], identity: str, issuer: str
) -> None:
    code, output = verify(data, env, *instance, "--identity", identity, "--issuer", issuer, name)
    assert code == 0, output
    assert f"signed by {identity}" in output


def test_github_workflow_policy(data: Path, env: dict[str, str]) -> None:
    name = "bundle_v3_github.whl"
    base = ["--github-repository", "trailofbits/rfc8785.py", "--github-workflow", ".github/workflows/release.yml"]
    code, output = verify(data, env, *base, "--github-ref", "refs/tags/v*", name)
    assert code == 0, output
    code, output = verify(data, env, *base, "--github-ref", "refs/heads/*", name)
    assert code == 1
    assert (
        "expected a match for https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/heads/*"
        in output
    )
    code, output = verify(data, env, "--github-repository", "evil/rfc8785.py", name)
    assert code == 1
    assert f"signed by {GITHUB_WHEEL_IDENTITY}" in output


def test_wrong_identity(data: Path, env: dict[str, str]) -> None:
    code, output = verify(
        data, env, "--staging", "--identity", "mallory@example.com", "--issuer", GITHUB_LOGIN, "bundle_v3.txt"
    )
    assert code == 1
    assert "bundle_v3.txt.sigstore.json: signed by william@yossarian.net, expected mallory@example.com" in output


def test_wrong_issuer(data: Path, env: dict[str, str]) -> None:
    code, output = verify(
        data,
        env,
        "--identity",
        GITHUB_WHEEL_IDENTITY,
        "--issuer",
        "https://accounts.google.com",
        "bundle_v3_github.whl",
    )
    assert code == 1
    assert f"signed through OIDC issuer {ACTIONS_ISSUER!r}, expected 'https://accounts.google.com'" in output


def test_staging_bundle_is_not_production(data: Path, env: dict[str, str]) -> None:
    code, output = verify(data, env, "--identity", "william@yossarian.net", "--issuer", GITHUB_LOGIN, "bundle_v3.txt")
    assert code == 1
    assert "was not issued by this Sigstore instance's certificate authority" in output


@pytest.mark.parametrize("change", ["flip", "append"])
@pytest.mark.parametrize(("name", "instance", "identity", "issuer"), GOOD)
def test_one_changed_byte_fails(
    data: Path, env: dict[str, str], change: str, name: str, instance: list[str], identity: str, issuer: str
) -> None:
    path = data / name
    content = bytearray(path.read_bytes())
    if change == "flip":
        content[len(content) // 2] ^= 0x01
    else:
        content += b"\n"
    path.write_bytes(bytes(content))
    code, output = verify(data, env, *instance, "--identity", identity, "--issuer", issuer, name)
    assert code == 1
    assert f"{name}.sigstore.json: does not sign this file's content" in output


def test_inconsistent_log_entry_fails(data: Path, env: dict[str, str]) -> None:
    code, output = verify(
        data,
        env,
        "--staging",
        "--identity",
        "william@yossarian.net",
        "--issuer",
        GITHUB_LOGIN,
        "bundle_cve_2022_36056.txt",
    )
    assert code == 1
    assert "bundle_cve_2022_36056.txt.sigstore.json:" in output
    assert "inconsistent with its transparency log entry" in output


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("bundle_no_cert_v1.txt", "expected non-empty certificate chain"),
        ("bundle_no_log_entry.txt", "expected exactly one log entry"),
        ("bundle_invalid_version.txt", "failed to load bundle: 1 validation error for Bundle: field `mediaType`"),
    ],
)
def test_malformed_bundles_fail_to_load(data: Path, env: dict[str, str], name: str, reason: str) -> None:
    code, output = verify(data, env, "--staging", "--identity", "x@example.com", "--issuer", GITHUB_LOGIN, name)
    assert code == 1
    assert f"{name}.sigstore.json: is not a valid Sigstore bundle" in output
    assert reason in output
    assert max(len(line) for line in output.splitlines()) < 700  # the detail, never a dump


def test_missing_bundle_and_missing_policy(data: Path, env: dict[str, str]) -> None:
    (data / "lonely.txt").write_text("no bundle\n")
    code, output = verify(data, env, "--identity", "x@example.com", "--issuer", GITHUB_LOGIN, "lonely.txt")
    assert code == 1
    assert "lonely.txt.sigstore.json: missing" in output
    code, output = verify(data, env, "bundle_v3.txt")
    assert code == 2
    assert "no signer identity to verify against" in output
    code, output = verify(data, env, "--identity", "x@example.com", "bundle_v3.txt")
    assert code == 2
    assert "`sign.identity` is set without `sign.issuer`" in output


def test_dsse_bundle_verifies_and_names_its_statement(
    data: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The DSSE test bundle signs an in-toto statement; the envelope and the identity are checked."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    from sigstore.models import Bundle
    from sigstore.verify import Verifier

    from reprotasks.config import load_config
    from reprotasks.signing import sigstore as _sigstore

    config = load_config(
        data,
        overrides={
            "sign": {
                "instance": "staging",
                "github-repository": "sigstore-conformance/extremely-dangerous-public-oidc-beacon",
                "github-workflow": ".github/workflows/extremely-dangerous-oidc-beacon.yml",
                "github-ref": "refs/heads/main",
            }
        },
    )
    bundle = Bundle.from_json((data / "a.dsse.staging-rekor-v2.txt.sigstore.json").read_bytes())
    verifier = Verifier.staging(offline=True)
    payload_type, payload = _sigstore.verify_dsse(verifier, _sigstore.SignerPolicy(config.sign), bundle)
    assert payload_type == "application/vnd.in-toto+json"
    assert b'"name":"a.txt"' in payload


DSSE_POLICY = [
    "--staging",
    "--github-repository",
    "sigstore-conformance/extremely-dangerous-public-oidc-beacon",
    "--github-workflow",
    ".github/workflows/extremely-dangerous-oidc-beacon.yml",
    "--github-ref",
    "refs/heads/main",
]


def test_dsse_bundle_for_a_file_that_is_not_its_subject(data: Path, env: dict[str, str]) -> None:
    """The public DSSE bundle verifies (signature, identity), but its statement's only subject is
    `a.txt` (not in the test data): the file next to it is not covered, and the message says why.
    The passing case (a file that is a subject) runs against the local instance in test_sign_e2e."""
    code, output = verify(data, env, *DSSE_POLICY, "a.dsse.staging-rekor-v2.txt")
    assert code == 1
    assert "signs an in-toto statement that neither is this file nor has a subject with its sha256" in output


def test_a_log_entry_kind_sigstore_python_cannot_check_says_so(data: Path, env: dict[str, str]) -> None:
    """A bundle logged as a Rekor `intoto` entry (older cosign attestations) is refused for that
    reason, with the verifier that can check it, never as "changed: re-download"."""
    bundle = data / "bundle_v3.txt.sigstore.json"
    document = json.loads(bundle.read_text())
    document["verificationMaterial"]["tlogEntries"][0]["kindVersion"] = {"kind": "intoto", "version": "0.0.2"}
    bundle.write_text(json.dumps(document))
    code, output = verify(
        data, env, "--staging", "--identity", "william@yossarian.net", "--issuer", GITHUB_LOGIN, "bundle_v3.txt"
    )
    assert code == 1, output
    assert "is logged as a Rekor `intoto` 0.0.2 entry, a kind this verifier (sigstore-python) cannot check" in output
    assert "verify it with cosign" in output and "re-download" not in output


def test_a_trust_config_whose_content_is_refused_names_the_field(data: Path, env: dict[str, str]) -> None:
    """All three parts present but a log without `validFor.start`: the message names that field,
    not parts the file has."""
    import sigstore

    store = Path(sigstore.__file__).parent / "_store" / "https%3A%2F%2Ftuf-repo-cdn.sigstage.dev"
    root = json.loads((store / "trusted_root.json").read_text())
    del root["tlogs"][0]["publicKey"]["validFor"]["start"]
    trust = data / "trust.json"
    trust.write_text(
        json.dumps(
            {
                "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
                "trustedRoot": root,
                "signingConfig": json.loads((store / "signing_config.v0.2.json").read_text()),
            }
        )
    )
    args = ("--trust-config", str(trust), "--identity", "william@yossarian.net", "--issuer", GITHUB_LOGIN)
    code, output = verify(data, env, *args, "bundle_v3.txt")
    assert code == 2, output
    assert "has a mediaType, trustedRoot and signingConfig, but sigstore refuses their content" in output
    assert "trustedRoot.tlogs.0.publicKey.validFor.start" in output
    trust.write_text(json.dumps({"trustedRoot": root}))
    code, output = verify(data, env, *args, "bundle_v3.txt")
    assert code == 2 and "it has no mediaType, signingConfig" in output, output
