"""promote / rollback / status / verify-promotion end to end, with the local Sigstore instance.

examples/hybrid is released twice (0.3.0 and 0.4.0), both signed; 0.3.0 goes dev -> staging ->
prod, 0.4.0 dev -> staging -> prod, and prod is rolled back and forth. Every refusal the issue
names is tried: a skipped environment, a tampered artifact, the wrong release signer, a promoter
the policy does not allow, a failed reproduction, an edited ledger, and a second 0.3.0.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.browser import load
from tests.conftest import commit_all, git, run_cli
from tests.registry import crane
from tests.sigstack import SigstoreStack
from tests.standards import check_statement
from tests.test_sign_e2e import SIGNER, signed  # noqa: F401 - the fixture

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.sigstack]

PROMOTER = "release-manager@example.test"


def cli(root: Path, *args: str, token: str | None = None, env: dict[str, str] | None = None) -> tuple[int, str]:
    env = {**(env or {}), **({"SIGSTORE_ID_TOKEN": token} if token else {})}
    result = run_cli(*args, cwd=root, env=env)
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    return result.returncode, output


def release(root: Path, target: Path) -> Path:
    for step in ("build", "image", "sbom", "checksum", "provenance", "sign"):
        code, output = cli(root, step)
        assert code == 0, f"{step}:\n{output}"
    shutil.copytree(root / "dist", target)
    return target


def bump(root: Path, version: str) -> None:
    for name in ("pyproject.toml", "src/hybrid_orchestrator/__init__.py"):
        path = root / name
        path.write_text(path.read_text(encoding="utf-8").replace('"0.3.0"', f'"{version}"'), encoding="utf-8")
    commit_all(root, f"release {version}")


def ledger_lines(root: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (root / "promotions" / "ledger.jsonl").read_text().splitlines()]


def test_two_releases_through_three_environments_with_every_refusal(
    signed: Path,  # noqa: F811 - the fixture
    stack: SigstoreStack,
    tmp_path: Path,
) -> None:
    root = signed
    issuer = stack.issuer.url
    with (root / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write(
            "\n[tool.reprotasks.promote.rules.staging]\nreproduced = true\n"
            f"\n[tool.reprotasks.promote.rules.prod]\npromoters = [{PROMOTER!r}]\npromoter-issuer = {issuer!r}\n"
        )
    commit_all(root, "promotion policy")
    v1 = release(root, tmp_path / "v1")
    promoter = stack.issuer.token(PROMOTER)

    # Environments are never skipped.
    code, output = cli(root, "promote", "0.3.0", "--to", "staging", "--release", str(v1))
    assert code != 0
    assert "dev does not hold 0.3.0 (it holds nothing)" in output and "promote it to dev first" in output
    assert not (root / "promotions" / "ledger.jsonl").exists()

    # A token Fulcio refuses (signed by a key its issuer never published): one paragraph, nothing recorded.
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    claims = jwt.decode(stack.issuer.token(SIGNER), options={"verify_signature": False})
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, foreign, algorithm="RS256", headers={"kid": "test"})
    code, output = cli(root, "promote", "0.3.0", "--to", "dev", "--release", str(v1), token=forged)
    assert code == 2 and "promote: the certificate authority (Fulcio) refused or failed: " in output, output
    assert "nothing was recorded" in output and not (root / "promotions" / "ledger.jsonl").exists()

    code, output = cli(root, "promote", "0.3.0", "--to", "dev", "--release", str(v1))
    assert code == 0, output
    assert "0.3.0 promoted (entry 0" in output
    # Idempotent: the same release again is nothing to do, and nothing is recorded.
    code, output = cli(root, "promote", "0.3.0", "--to", "dev", "--release", str(v1))
    assert code == 0 and "already there" in output, output

    # staging requires a proven reproduction: the rebuild here differs (other ldflags), so it is refused.
    result = run_cli(
        "promote",
        "0.3.0",
        "--to",
        "staging",
        "--release",
        str(v1),
        cwd=root,
        env={"REPROTASKS_GO_LDFLAGS": "-X main.extra=1"},
    )
    assert result.returncode != 0
    assert "was not reproduced from commit" in result.stdout + result.stderr
    code, output = cli(root, "promote", "0.3.0", "--to", "staging", "--release", str(v1))
    assert code == 0, output
    assert "REPROTASKS_REPRODUCED" in output

    # prod: only the release manager may promote.
    code, output = cli(root, "promote", "0.3.0", "--to", "prod", "--release", str(v1))
    assert code != 0 and f"{SIGNER} (issuer {issuer}) may not promote to prod" in output, output
    code, output = cli(root, "promote", "0.3.0", "--to", "prod", "--release", str(v1), token=promoter)
    assert code == 0, output

    # The VSA: a SLSA verification summary over every file, naming its policy and the chain.
    entries = ledger_lines(root)
    assert [(e["action"], e["environment"], e["version"]) for e in entries] == [
        ("promote", "dev", "0.3.0"),
        ("promote", "staging", "0.3.0"),
        ("promote", "prod", "0.3.0"),
    ]
    assert entries[2]["who"] == PROMOTER and entries[0]["who"] == SIGNER
    bundle = json.loads((root / "promotions" / "vsa" / f"{entries[1]['vsa']}.sigstore.json").read_text())
    import base64

    statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
    check_statement(statement)  # in-toto Statement v1 with a SLSA VSA v1 predicate, field for field
    assert statement["predicateType"] == "https://slsa.dev/verification_summary/v1"
    predicate = statement["predicate"]
    assert predicate["verificationResult"] == "PASSED"
    assert predicate["resourceUri"] == "pkg:generic/hybrid-orchestrator@0.3.0"
    assert "REPROTASKS_REPRODUCED" in predicate["verifiedLevels"]
    assert {"uri": "ledger.jsonl#0", "digest": {"sha256": entries[1]["prev"]}} in predicate["inputAttestations"]
    assert {s["name"] for s in statement["subject"]} == set(entries[1]["artifacts"])  # type: ignore[call-overload]

    # The second release; a second, different 0.3.0 is refused (no overwrite).
    worker = root / "go" / "cmd" / "worker" / "main.go"
    worker.write_text(worker.read_text(encoding="utf-8") + "\n// 0.4.0\n", encoding="utf-8")
    commit_all(root, "worker change")
    other = release(root, tmp_path / "other-0.3.0")
    code, output = cli(root, "promote", "0.3.0", "--to", "dev", "--release", str(other))
    assert code != 0 and "a release is never replaced under the same version" in output, output
    bump(root, "0.4.0")
    v2 = release(root, tmp_path / "v2")
    for environment in ("dev", "staging"):
        code, output = cli(root, "promote", "0.4.0", "--to", environment, "--release", str(v2))
        assert code == 0, output

    # The previous environment must hold the release now: dev moved on to 0.4.0.
    code, output = cli(root, "promote", "0.3.0", "--to", "staging", "--release", str(v1))
    assert code != 0 and "dev does not hold 0.3.0 (it holds 0.4.0" in output, output

    # A tampered artifact is refused by promote, and by verify-promotion.
    tampered = tmp_path / "tampered"
    shutil.copytree(v2, tampered)
    wheel = next(tampered.glob("*.whl"))
    data = bytearray(wheel.read_bytes())
    data[len(data) // 2] ^= 1
    wheel.write_bytes(bytes(data))
    code, output = cli(root, "promote", "0.4.0", "--to", "prod", "--release", str(tampered), token=promoter)
    assert code != 0 and f"{wheel.name}' was modified" in output, output
    code, output = cli(root, "verify-promotion", "staging", str(wheel))
    assert code != 0 and "no promotion ever named it" in output, output

    # The wrong release signer.
    result = run_cli(
        "promote",
        "0.4.0",
        "--to",
        "prod",
        "--release",
        str(v2),
        cwd=root,
        env={"SIGSTORE_ID_TOKEN": promoter, "REPROTASKS_SIGN_IDENTITY": "someone-else@example.test"},
    )
    assert result.returncode != 0 and "someone-else@example.test" in result.stdout + result.stderr

    code, output = cli(root, "promote", "0.4.0", "--to", "prod", "--release", str(v2), token=promoter)
    assert code == 0, output
    good_wheel = next(v2.glob("*.whl"))
    old_wheel = next(v1.glob("*.whl"))
    code, output = cli(root, "verify-promotion", "prod", str(good_wheel))
    assert code == 0 and "0.4.0" in output, output
    code, output = cli(root, "verify-promotion", "prod", str(old_wheel))
    assert code != 0 and "it belongs to 0.3.0" in output, output

    # Rollback and forth.
    code, output = cli(root, "rollback", "--to", "prod", token=promoter)
    assert code == 0 and "back at 0.3.0" in output, output
    code, output = cli(root, "verify-promotion", "prod", str(old_wheel))
    assert code == 0, output
    code, output = cli(root, "rollback", "--to", "prod", "0.4.0", token=promoter)
    assert code == 0 and "back at 0.4.0" in output, output
    code, output = cli(root, "rollback", "--to", "prod", "9.9.9", token=promoter)
    assert code != 0 and "9.9.9 was never promoted to prod" in output
    code, output = cli(root, "status")
    assert code == 0, output
    assert "prod" in output and "0.4.0 (rolled back to" in output and "staging  0.4.0" in output
    assert len(ledger_lines(root)) == 8

    # Each VSA's verification is kept by its bytes, the trust config and the policy (one record per
    # entry); what a record says is still held against the entry it stands for.
    records = sorted((Path(os.environ["REPROTASKS_CACHE_DIR"]) / "vsa-verified").iterdir())
    assert len(records) == 8, records
    kept = {record: record.read_text(encoding="utf-8") for record in records}
    for record, text in kept.items():
        record.write_text(text.replace('"environment": "', '"environment": "x-'), encoding="utf-8")
    code, output = cli(root, "status")
    assert code != 0 and "its VSA says environment 'x-" in output, output
    for record, text in kept.items():
        record.write_text(text, encoding="utf-8")

    # The dashboard: a static page, loaded in headless Chromium without a console message.
    code, output = cli(root, "report")
    assert code == 0 and "8 ledger entries" in output, output
    shot = tmp_path / "dashboard.png"
    page = load(root / "promotions" / "index.html", screenshot=shot)
    print(f"dashboard screenshot: {shot}")
    assert page.console == []
    assert 'data-rendered="8"' in page.dom and page.dom.count("<circle") == 8
    for env, version in (("dev", "0.4.0"), ("staging", "0.4.0"), ("prod", "0.4.0")):
        card = page.dom.split(f'data-env="{env}"', 1)[1].split("</div>", 1)[0]
        assert f'<p class="version">{version}</p>' in card, card
    prod = page.dom.split('data-env="prod"', 1)[1].split("</div>", 1)[0]
    assert "rolled back here from 0.3.0" in prod and " ago (" in prod  # what the rollback replaced; its age
    assert "yes (rebuilt, same bytes)" in page.dom and 'class="ok"' in page.dom

    # The deploy gate with --require-anchor: entries not committed yet are refused, then pass once committed.
    code, output = cli(root, "verify-promotion", "--require-anchor", "prod", str(good_wheel))
    assert code == 1 and "is not anchored in git (all " in output and "; 5 entries are not committed yet)" in output, (
        output
    )

    # Entries cut off the end leave a valid chain: the ledger's committed history catches it.
    commit_all(root, "ledger")
    ledger = root / "promotions" / "ledger.jsonl"
    pristine = ledger.read_bytes()
    ledger.write_bytes(b"".join(pristine.splitlines(keepends=True)[:6]))
    code, output = cli(root, "verify-promotion", "prod", str(good_wheel))
    assert code != 0 and "is not an extension of a version committed to git" in output, output
    ledger.write_bytes(pristine)

    # An edited ledger: every command that reads it refuses, naming the line.
    ledger.write_bytes(pristine.replace(b'"who":"' + PROMOTER.encode(), b'"who":"mallory@example.test', 1))
    code, output = cli(root, "verify-promotion", "prod", str(good_wheel))
    assert code != 0 and "ledger.jsonl:3" in output, output
    code, output = cli(root, "report")
    assert code != 0 and "shows the ledger as broken" in output, output
    assert "Ledger BROKEN" in load(root / "promotions" / "index.html").dom
    lines = pristine.splitlines(keepends=True)
    ledger.write_bytes(b"".join(lines[:2] + lines[3:]))  # an entry removed
    code, output = cli(root, "status")
    assert code != 0 and "sequence number" in output, output
    ledger.write_bytes(pristine)
    vsa = root / "promotions" / "vsa" / f"{entries[0]['vsa']}.sigstore.json"
    vsa_bytes = vsa.read_bytes()
    vsa.write_bytes(vsa_bytes.replace(b'"', b'"', 1) + b" ")
    code, output = cli(root, "status")
    assert code != 0 and "was changed" in output, output
    vsa.write_bytes(vsa_bytes)
    code, output = cli(root, "verify-promotion", "--require-anchor", "prod", str(good_wheel))
    assert code == 0 and "versions committed to git are prefixes of it" in output, output

    # Every promotion is re-checked against the committed policy, not the one its promoter ran with:
    # a stricter policy, once committed, shows the entries that break it (before that it is refused).
    pyproject = root / "pyproject.toml"
    honest = pyproject.read_text(encoding="utf-8")
    stricter = honest.replace(
        "[tool.reprotasks.promote.rules.prod]\n", '[tool.reprotasks.promote.rules.prod]\nsoak = "1d"\n'
    )
    pyproject.write_text(stricter + "\n[tool.reprotasks.promote.rules.dev]\nreproduced = true\n", encoding="utf-8")
    code, output = cli(root, "status")
    assert code == 2 and "pyproject.toml: [tool.reprotasks.promote] differs from the one committed at HEAD" in output
    commit_all(root, "a stricter policy")
    code, output = cli(root, "status")
    assert (
        code == 1
        and "ledger.jsonl:3: entry 2 (promote 0.3.0 to prod) breaks the committed policy, rule `soak`: signed "
        in output
    ), output
    assert (
        "entry 0 (promote 0.3.0 to dev) breaks the committed policy, rule `reproduced`: its VSA records no "
        "REPROTASKS_REPRODUCED" in output
    ), output
    code, output = cli(root, "verify-promotion", "--require-anchor", "prod", str(good_wheel))
    assert code == 1 and "rule `soak`" in output and "entry 5 (promote 0.4.0 to prod)" in output, output
    # Another order and other promoters: staging came first, and prod's entries were signed by someone else.
    reordered = honest.replace(PROMOTER, "someone-else@example.test")
    pyproject.write_text(reordered + '\n[tool.reprotasks.promote]\nenvironments = ["dev", "prod", "staging"]\n')
    commit_all(root, "another order, other promoters")
    code, output = cli(root, "status")
    assert (
        code == 1
        and "entry 1 (promote 0.3.0 to staging) breaks the committed policy, rule `order`: prod held nothing, not 0.3.0"
        in output
    ), output
    assert f"entry 2 (promote 0.3.0 to prod): breaks the committed policy, rule `promoters`: signed by {PROMOTER}" in (
        output
    ), output


def test_a_ledger_kept_in_a_registry_is_pulled_checked_and_never_forked(
    signed: Path,  # noqa: F811 - the fixture
    stack: SigstoreStack,
    registry: str,
    crane_on_path: str,
    tmp_path: Path,
) -> None:
    root = signed
    worker = f"{registry}/acme/worker"
    repository = f"{registry}/acme/ledger"
    with (root / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write(f'\n[[tool.reprotasks.images]]\nname = "worker"\nbinary = "worker"\nrepository = "{worker}"\n')
        handle.write(f'\n[tool.reprotasks.promote]\nregistry = "{repository}"\n')
    commit_all(root, "the worker image, the ledger in a registry")
    v1 = release(root, tmp_path / "v1")
    wheel = next(v1.glob("*.whl"))
    artifacts = json.loads((v1 / "manifest.json").read_text())["artifacts"]
    image = next(item["image"] for item in artifacts if item.get("image"))
    # The image must be in its registry before an environment tag can name it.
    code, output = cli(root, "promote", "0.3.0", "--to", "dev", "--release", str(v1))
    assert code != 0 and "is not in the registry" in output and "reprotasks publish" in output, output
    code, output = cli(root, "publish")
    assert code == 0, output
    code, output = cli(root, "status")
    assert code == 0 and "(none yet)" in output, output
    code, output = cli(root, "promote", "0.3.0", "--to", "dev", "--release", str(v1))
    assert code == 0, output
    assert crane("digest", f"{worker}:dev").decode().strip() == image  # the environment tag
    code, output = cli(root, "verify-promotion", "dev", f"{worker}@{image}")
    assert code == 0, output
    artifact = json.loads(crane("manifest", f"{registry}/acme/ledger:ledger"))
    assert artifact["artifactType"] == "application/vnd.reprotasks.promotion-ledger.v1+json"
    titles = [layer["annotations"]["org.opencontainers.image.title"] for layer in artifact["layers"]]
    assert titles[0] == "ledger.jsonl" and len(titles) == 2 and titles[1].startswith("vsa/")

    # A deploy job elsewhere has no ledger of its own: it pulls it, then checks it like a local one.
    deploy = tmp_path / "deploy"
    git("clone", "-q", str(root), str(deploy), cwd=tmp_path)
    assert not (deploy / "promotions").exists()
    code, output = cli(deploy, "verify-promotion", "dev", str(wheel))
    assert code == 0 and "0.3.0" in output, output
    # A second promoter records staging there; the first one sees it on its next command.
    code, output = cli(deploy, "promote", "0.3.0", "--to", "staging", "--release", str(v1))
    assert code == 0, output
    code, output = cli(root, "status")
    assert code == 0 and re.search(r"staging +0.3.0", output), output

    # A hostile registry serves the honest ledger plus a forged line (and a secret beside the VSAs):
    # the extension does not verify, so it is not taken, and the local copy stays good.
    from reprotasks._run import Runner
    from reprotasks.promote import remote as promote_remote
    from reprotasks.promote.ledger import read_ledger

    honest = crane("digest", f"{repository}:ledger").decode().strip()
    forged = tmp_path / "forged"
    shutil.copytree(deploy / "promotions", forged)
    (forged / "vsa" / f"{'e' * 64}.sigstore.json").symlink_to(root / "pyproject.toml")
    forged_ledger = read_ledger(forged, "forged")
    with (forged / "ledger.jsonl").open("ab") as handle:
        handle.write(b'{"seq":2}\n')
    promote_remote.push(repository, forged_ledger, Runner(root, log=lambda _line: None))
    pushed = json.loads(crane("manifest", f"{repository}:ledger"))
    assert len(pushed["layers"]) == 3  # ledger.jsonl and the two entries' VSAs: never the symlink
    before = (deploy / "promotions" / "ledger.jsonl").read_bytes()
    code, output = cli(deploy, "status")
    assert code != 0 and "does not verify, so it was not taken" in output, output
    assert (deploy / "promotions" / "ledger.jsonl").read_bytes() == before
    crane("tag", f"{repository}@{honest}", "ledger")
    code, output = cli(deploy, "status")
    assert code == 0, output

    # A fork: an entry recorded without the registry (a commit of the policy without it, undone after),
    # then another one pushed from elsewhere.
    settings = deploy / "pyproject.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace(f'registry = "{repository}"', ""))
    git("commit", "--quiet", "-m", "no registry", "--", "pyproject.toml", cwd=deploy)  # the ledger stays untracked
    code, output = cli(deploy, "promote", "0.3.0", "--to", "prod", "--release", str(v1))
    assert code == 0, output
    git("checkout", "-q", "HEAD~1", cwd=deploy)
    code, output = cli(root, "promote", "0.3.0", "--to", "prod", "--release", str(v1))
    assert code == 0, output
    code, output = cli(deploy, "verify-promotion", "prod", str(wheel))
    assert code != 0 and "have forked" in output, output
