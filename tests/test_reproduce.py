"""The reproduce step: an independent rebuild under varied conditions must match, and a planted
non-determinism must be caught and named."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import commit_all, git, run_cli

pytestmark = [pytest.mark.network, pytest.mark.slow]

WHEEL = "hybrid_orchestrator-0.3.0-py3-none-any.whl"

# A hatchling build hook that stamps the wall-clock time into the wheel: the classic mistake.
CLOCK_HOOK = """\
import tempfile
import time

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version, build_data):
        stamp = tempfile.NamedTemporaryFile("w", suffix=".py", delete=False)
        stamp.write(f"BUILT_AT = {time.time_ns()}\\n")
        stamp.close()
        build_data["force_include"][stamp.name] = "hybrid_orchestrator/_built_at.py"
"""


def test_nox_build_checksum_reproduce_passes(hybrid_repo: Path) -> None:
    """The issue's done-when, through nox as a user runs it."""
    result = subprocess.run(
        [sys.executable, "-m", "nox", "-s", "build", "checksum", "reproduce"],
        cwd=hybrid_repo,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    words = " ".join(result.stdout.split())
    assert "umask 077" in words and "TZ=Pacific/Kiritimati" in words
    for name in (WHEEL, "worker_0.3.0_windows_amd64.zip", "worker_0.3.0_darwin_arm64.tar.gz", "manifest.json"):
        assert f"{name} identical" in words


def test_planted_clock_stamp_is_caught_and_named(hybrid_repo: Path) -> None:
    (hybrid_repo / "hatch_build.py").write_text(CLOCK_HOOK)
    pyproject = hybrid_repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n[tool.hatch.build.targets.wheel.hooks.custom]\n")
    commit_all(hybrid_repo, "stamp the build time")
    assert run_cli("build", "--python-only", cwd=hybrid_repo).returncode == 0
    result = run_cli("reproduce", cwd=hybrid_repo)
    assert result.returncode == 1, result.stderr
    assert f"dist/{WHEEL}: differs when rebuilt" in result.stderr
    assert "member hybrid_orchestrator/_built_at.py: contents differ" in result.stderr
    assert "-BUILT_AT = " in result.stderr and "+BUILT_AT = " in result.stderr
    assert "dist/hybrid_orchestrator-0.3.0.tar.gz" not in result.stderr  # the sdist is unaffected
    assert "Traceback" not in result.stderr


def test_reproduce_needs_a_first_build_of_head(hybrid_repo: Path) -> None:
    missing = run_cli("reproduce", cwd=hybrid_repo)
    assert missing.returncode == 2 and "dist/manifest.json is missing" in missing.stderr
    assert run_cli("build", "--python-only", cwd=hybrid_repo).returncode == 0
    (hybrid_repo / "dist" / WHEEL).unlink()
    gone = run_cli("reproduce", cwd=hybrid_repo)
    assert gone.returncode == 2 and f"dist/ lacks {WHEEL}, listed in its manifest.json" in gone.stderr
    (hybrid_repo / "README.md").write_text("newer\n")
    commit_all(hybrid_repo, "newer")
    stale = run_cli("reproduce", cwd=hybrid_repo)
    assert stale.returncode == 2 and "but HEAD is" in stale.stderr and "reprotasks build" in stale.stderr


def test_reproduce_an_older_tag_against_its_published_sums(hybrid_repo: Path, tmp_path: Path) -> None:
    git("tag", "v0.3.0", cwd=hybrid_repo)
    assert run_cli("build", cwd=hybrid_repo).returncode == 0
    assert run_cli("checksum", cwd=hybrid_repo).returncode == 0
    published = tmp_path / "SHA256SUMS"
    published.write_bytes((hybrid_repo / "dist" / "SHA256SUMS").read_bytes())
    (hybrid_repo / "README.md").write_text("work after the release\n")
    commit_all(hybrid_repo, "later work")

    ok = run_cli("reproduce", "--ref", "v0.3.0", "--sums", str(published), cwd=hybrid_repo)
    assert ok.returncode == 0, ok.stderr
    assert f"{WHEEL}  identical" in ok.stdout and f"compared with {published} (v0.3.0)" in " ".join(ok.stdout.split())

    lines = published.read_text().splitlines()
    tampered = [("0" * 64 + line[64:]) if WHEEL in line else line for line in lines]
    published.write_text("\n".join(tampered) + "\n")
    bad = run_cli("reproduce", "--ref", "v0.3.0", "--sums", str(published), cwd=hybrid_repo)
    assert bad.returncode == 1
    assert f"dist/{WHEEL}: differs when rebuilt: sha256 {'0' * 64} (first)" in bad.stderr

    no_sums = run_cli("reproduce", "--ref", "v0.3.0", cwd=hybrid_repo)
    assert no_sums.returncode == 2 and "--sums FILE" in no_sums.stderr
    unknown = run_cli("reproduce", "--ref", "v9.9.9", "--sums", str(published), cwd=hybrid_repo)
    assert unknown.returncode == 2 and "resolve v9.9.9" in unknown.stderr
