"""release (staged, --dry-run, --skip, summary) and assemble, through real processes on examples/hybrid."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from reprotasks.errors import ReprotasksError
from reprotasks.registry import release_names, skipped_steps

from .conftest import commit_all, run_cli

pytestmark = pytest.mark.network  # verify re-resolves examples/hybrid's lock against PyPI

# No signing identity of any kind: sign must fail (no token, no CI credential, no terminal).
NO_IDENTITY = {"SIGSTORE_ID_TOKEN": "", "GITHUB_ACTIONS": "", "ACTIONS_ID_TOKEN_REQUEST_URL": ""}


def run_tool(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def tree(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())} if directory.exists() else {}


def test_nox_invoke_cli_and_release_give_the_same_sha256sums(hybrid_repo: Path) -> None:
    dist = hybrid_repo / "dist"
    results: dict[str, dict[str, bytes]] = {}
    for label, commands in {
        # An option reaches its step through each front end (nox gives its posargs to every session).
        "nox": [["nox", "-s", "build", "sbom", "checksum", "--", "--force"]],
        "invoke": [["invoke", "build", "--force", "sbom", "checksum"]],
        "cli": [["reprotasks", "build", "--force"], ["reprotasks", "sbom"], ["reprotasks", "checksum"]],
        "release": [["reprotasks", "release", "--skip", "provenance", "--skip", "sign"]],
    }.items():
        shutil.rmtree(dist, ignore_errors=True)
        for command in commands:
            result = run_tool(*command, cwd=hybrid_repo)
            assert result.returncode == 0, f"{label}: {result.stdout}\n{result.stderr}"
        results[label] = tree(dist)
    sums = {label: files["SHA256SUMS"] for label, files in results.items()}
    assert len(set(sums.values())) == 1, sums
    assert results["nox"] == results["invoke"] == results["cli"] == results["release"]
    listed = {line.split("  ")[1] for line in sums["cli"].decode().splitlines()}
    assert {"manifest.json", "sbom.cdx.json", "worker_0.3.0_linux_amd64.tar.gz"} <= listed


def test_release_failing_at_sign_leaves_dist_exactly_as_before(hybrid_repo: Path, tmp_path: Path) -> None:
    first = run_cli("release", "--skip", "sign", cwd=hybrid_repo)
    assert first.returncode == 0, first.stderr
    assert "release: done" in first.stdout and "skipped (sign skipped)" in first.stdout
    before = tree(hybrid_repo / "dist")
    inodes = {path.name: path.stat().st_ino for path in (hybrid_repo / "dist").iterdir()}
    assert {"SHA256SUMS", "provenance.intoto.json", "sbom.cdx.json"} <= before.keys()

    # A new commit: this release would rebuild every artifact, then fails at sign.
    main_go = hybrid_repo / "go" / "cmd" / "worker" / "main.go"
    main_go.write_text(main_go.read_text() + "\n// a change\n")
    commit_all(hybrid_repo, "change")
    summary = tmp_path / "summary.md"
    failed = run_cli(
        "release",
        cwd=hybrid_repo,
        env={**NO_IDENTITY, "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert failed.returncode != 0
    assert "Traceback" not in failed.stderr
    assert "release: FAILED, dist/ left unchanged" in failed.stdout
    assert "::error::" in failed.stdout  # no token here, and (offline) no TUF refresh either
    rows = {line.split()[0]: line for line in failed.stdout.splitlines()[-10:] if line.startswith("  ")}
    assert "failed" in rows["sign"] and "not run" in rows["verify-signatures"]
    assert "ok" in rows["build"] and "worker_0.3.0_linux_amd64.tar.gz" in rows["build"]
    assert "| sign | failed |" in summary.read_text()

    assert tree(hybrid_repo / "dist") == before
    assert {path.name: path.stat().st_ino for path in (hybrid_repo / "dist").iterdir()} == inodes
    leftovers = [path.name for path in hybrid_repo.iterdir() if path.name.startswith(".dist-")]
    assert not leftovers


def test_release_dry_run_prints_every_command_and_runs_nothing(hybrid_repo: Path) -> None:
    result = run_tool("invoke", "release", "--dry-run", "--skip", "sign", cwd=hybrid_repo)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in ("[verify]", "[build]", "python -m build", "GOOS=windows GOARCH=amd64", "go build -trimpath"):
        assert expected in out
    assert "[sign]" not in out and "skipped (--skip)" in out and "skipped (sign skipped)" in out
    assert not (hybrid_repo / "dist").exists()


def test_release_rejects_unknown_steps_to_skip(hybrid_repo: Path) -> None:
    with pytest.raises(ReprotasksError, match="not a release step"):
        skipped_steps(["sing"])
    assert skipped_steps(["sign"]) == {"sign": "--skip", "verify-signatures": "sign skipped"}
    result = run_cli("release", "--skip", "sing", cwd=hybrid_repo)
    assert result.returncode == 2 and "invalid choice: 'sing'" in result.stderr
    # The order is the registry's; what it must respect: verify first, images before what describes
    # dist/, the SBOM under SHA256SUMS, signing after the provenance, verification of signatures last.
    order = release_names()
    assert order[0] == "verify" and order[-1] == "verify-signatures"
    for before, after in [("build", "image"), ("image", "sbom"), ("sbom", "checksum"), ("checksum", "provenance"),
                          ("provenance", "sign")]:  # fmt: skip
        assert order.index(before) < order.index(after), (before, after)


def test_assembled_matrix_parts_equal_one_full_build(hybrid_repo: Path, tmp_path: Path) -> None:
    parts = tmp_path / "parts"
    for name, args in {
        "python": ["--python-only"],
        "linux-amd64": ["--go-only", "--platform", "linux/amd64"],
        "linux-arm64": ["--go-only", "--platform", "linux/arm64"],
        "darwin-arm64": ["--go-only", "--platform", "darwin/arm64"],
        "windows-amd64": ["--go-only", "--platform", "windows/amd64"],
    }.items():
        result = run_cli("build", *args, cwd=hybrid_repo)
        assert result.returncode == 0, result.stderr
        shutil.move(hybrid_repo / "dist", parts / name)
    assembled = run_cli("assemble", *sorted(str(part) for part in parts.iterdir()), cwd=hybrid_repo)
    assert assembled.returncode == 0, assembled.stderr
    assert "merged from 5 part(s)" in assembled.stdout
    # Built on other machines: nothing is attested until an independent rebuild reproduced it.
    refused = run_cli("sbom", cwd=hybrid_repo)
    assert refused.returncode == 1 and "has no evidence that a build made these bytes" in refused.stderr
    shutil.copytree(hybrid_repo / "dist", tmp_path / "assembled")
    rebuilt = run_cli("build", cwd=hybrid_repo)  # never reused as if built here
    assert rebuilt.returncode == 0 and "reused" not in rebuilt.stdout, rebuilt.stdout
    shutil.rmtree(hybrid_repo / "dist")
    shutil.copytree(tmp_path / "assembled", hybrid_repo / "dist")
    shutil.rmtree(Path(os.environ["REPROTASKS_CACHE_DIR"]) / "witnessed-builds")  # that build's record
    assert run_cli("reproduce", cwd=hybrid_repo).returncode == 0
    for step in ("sbom", "checksum"):
        assert run_cli(step, cwd=hybrid_repo).returncode == 0
    merged = tree(hybrid_repo / "dist")

    # A single full build elsewhere (what reproduce did) gives the same bytes.
    shutil.rmtree(hybrid_repo / "dist")
    for step in ("build", "sbom", "checksum"):
        assert run_cli(step, cwd=hybrid_repo).returncode == 0
    assert tree(hybrid_repo / "dist") == merged

    # A tampered part and a part of another commit are refused, naming the file.
    archive = parts / "linux-arm64" / "worker_0.3.0_linux_arm64.tar.gz"
    archive.write_bytes(archive.read_bytes() + b"\0")
    tampered = run_cli("assemble", *sorted(str(part) for part in parts.iterdir()), cwd=hybrid_repo)
    assert tampered.returncode == 1 and "Traceback" not in tampered.stderr
    assert f"{archive}: does not match the sha256 its manifest records" in tampered.stderr
    assert tree(hybrid_repo / "dist") == merged
    manifest = parts / "python" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["source"]["commit"] = "0" * 40
    manifest.write_text(json.dumps(data))
    other = run_cli("assemble", str(parts / "python"), str(parts / "linux-amd64"), cwd=hybrid_repo)
    assert other.returncode == 2 and "the parts disagree on the source commit" in other.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_release_shows_how_far_it_got_and_leaves_dist(hybrid_repo: Path, signum: int) -> None:
    assert run_cli("build", cwd=hybrid_repo).returncode == 0
    before = tree(hybrid_repo / "dist")
    process = subprocess.Popen(
        [sys.executable, "-m", "reprotasks", "release", "--skip", "sign"],
        cwd=hybrid_repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:  # interrupt while build runs
        if line.startswith("release: build"):
            break
    process.send_signal(signum)
    stdout, rest = process.communicate(timeout=120)
    assert process.returncode == 128 + signum, rest
    assert "release: FAILED, dist/ left unchanged" in stdout
    rows = {line.split()[0]: line.split()[1] for line in stdout.splitlines()[-10:] if line.startswith("  ")}
    assert rows["verify"] == "ok" and rows["build"] == "failed" and rows["sbom"] == "not"
    assert f"{signal.Signals(signum).name}: stopped" in rest
    assert tree(hybrid_repo / "dist") == before
    assert not [path.name for path in hybrid_repo.iterdir() if path.name.startswith(".dist-")]


def test_release_dry_run_tells_whether_it_would_reuse_the_build(hybrid_repo: Path) -> None:
    """A release rebuilds unless --trust-cache: the plan must say what the release would do."""
    assert run_cli("build", cwd=hybrid_repo).returncode == 0
    plan = run_cli("release", "--dry-run", "--skip", "sign", cwd=hybrid_repo).stdout
    assert "python -m build" in plan and "reuse dist/" not in plan
    trusting = run_cli("release", "--dry-run", "--skip", "sign", "--trust-cache", cwd=hybrid_repo).stdout
    assert "# inputs unchanged since the last build: reuse dist/ after checking every digest" in trusting


def test_a_release_stopped_before_its_first_step_reports_without_crashing(capsys: pytest.CaptureFixture[str]) -> None:
    """A signal during release's first git call leaves an empty report: shown as failed, never a traceback."""
    from reprotasks._report import ReleaseReport, print_release

    print_release(ReleaseReport("dist"))
    assert "release: FAILED, dist/ left unchanged" in capsys.readouterr().out
