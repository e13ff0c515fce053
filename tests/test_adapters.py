"""The CLI, nox sessions and invoke tasks are thin adapters over the same core steps."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import MakeProject, run_cli, run_module


def test_core_imports_neither_nox_nor_invoke() -> None:
    code = (
        "import sys, reprotasks, reprotasks.cli, reprotasks._app, reprotasks.inputs.lock, reprotasks.inputs.verify\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'nox', 'invoke'})\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_help_explains_commands() -> None:
    result = run_cli("--help", cwd=Path.cwd())
    assert result.returncode == 0
    for word in ("lock", "verify", "REPROTASKS_PYTHON_LOCK_BACKEND", "examples:"):
        assert word in result.stdout
    lock_help = run_cli("lock", "--help", cwd=Path.cwd()).stdout
    assert "--upgrade-package" in lock_help and "--backend" in lock_help


def write_wiring(root: Path) -> None:
    (root / "noxfile.py").write_text("import reprotasks.nox  # noqa: F401\n")
    (root / "tasks.py").write_text("from reprotasks.invoke import ns  # noqa: F401\n")


@pytest.mark.e2e
def test_nox_invoke_and_cli_agree(make_project: MakeProject) -> None:
    root = make_project()
    write_wiring(root)
    assert run_module("nox", "-s", "lock", cwd=root).returncode == 0
    locked = (root / "requirements.txt").read_bytes()
    assert run_module("invoke", "lock", cwd=root).returncode == 0
    assert run_cli("lock", cwd=root).returncode == 0
    assert (root / "requirements.txt").read_bytes() == locked
    for runner in (["nox", "-s", "verify"], ["invoke", "verify"]):
        assert run_module(*runner, cwd=root).returncode == 0
    assert run_cli("verify", cwd=root).returncode == 0

    (root / "requirements.in").write_text("alpha\n")
    expected = "requirements.txt:"
    outputs = [
        run_module("nox", "-s", "verify", cwd=root),
        run_module("invoke", "verify", cwd=root),
        run_cli("verify", cwd=root),
    ]
    for result in outputs:
        assert result.returncode == 1, result.stderr
        assert (
            expected in result.stderr
            and "out of date with requirements.in (re-resolving gives: -gamma==0.2)" in result.stderr
        )
        assert "Traceback" not in result.stderr
    assert "Session verify aborted" in outputs[0].stderr


def test_nox_lists_sessions_with_descriptions_and_passes_posargs(make_project: MakeProject) -> None:
    root = make_project()
    write_wiring(root)
    listing = run_module("nox", "-l", cwd=root).stdout
    assert "- lock -> Lock Python requirements with hashes" in listing
    assert "- verify -> Fail on drift" in listing
    result = run_module("nox", "-s", "lock", "--", "--backend", "uv", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "+ uv pip compile" in result.stderr
    bad = run_module("nox", "-s", "lock", "--", "--bogus", cwd=root)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "unrecognized arguments: --bogus (see `reprotasks lock --help`)" in bad.stderr


def test_nox_register_with_prefix_replaces_default_names(make_project: MakeProject) -> None:
    root = make_project()
    (root / "noxfile.py").write_text(
        'from reprotasks.nox_sessions import register\n\nregister(prefix="release-", only=["verify"])\n'
    )
    listing = run_module("nox", "-l", cwd=root).stdout
    assert "- release-verify ->" in listing
    assert "- lock ->" not in listing and "- verify ->" not in listing


def test_invoke_configuration_overrides_pyproject(make_project: MakeProject) -> None:
    root = make_project()
    write_wiring(root)
    (root / "invoke.yaml").write_text("reprotasks:\n  python:\n    lock-backend: uv\n")
    result = run_module("invoke", "lock", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "+ uv pip compile" in result.stderr
    (root / "invoke.yaml").write_text("reprotasks:\n  python:\n    lockbackend: uv\n")
    result = run_module("invoke", "lock", cwd=root)
    assert result.returncode == 2
    assert "invoke configuration `reprotasks`: unknown key `python.lockbackend`" in result.stderr


def test_github_actions_annotations_and_summary(make_project: MakeProject, tmp_path: Path) -> None:
    root = make_project("alpha\n")
    assert run_cli("lock", cwd=root).returncode == 0
    summary = tmp_path / "summary.md"
    ok = run_cli("verify", cwd=root, env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    assert ok.returncode == 0
    assert "| `lock requirements.txt` | ok |" in summary.read_text()
    (root / "requirements.in").write_text("alpha\ngamma\n")
    failed = run_cli("verify", cwd=root, env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    assert failed.returncode == 1
    assert "::error file=requirements.txt,line=" in failed.stdout


@pytest.mark.network
def test_example_hybrid_drift_is_named_by_every_front_end(hybrid: Path, go_env: dict[str, str]) -> None:
    """The issue's done-when: a locked example verifies; editing requirements.in or go.sum fails verify."""
    assert run_module("nox", "-s", "lock", "verify", cwd=hybrid, env=go_env).returncode == 0
    requirements_in = hybrid / "requirements.in"
    original = requirements_in.read_text()
    requirements_in.write_text(original + "tomli-w<1.1\n")
    for result in (
        run_module("nox", "-s", "verify", cwd=hybrid, env=go_env),
        run_module("invoke", "verify", cwd=hybrid, env=go_env),
        run_cli("verify", cwd=hybrid, env=go_env),
    ):
        assert result.returncode == 1
        assert "requirements.txt:" in result.stderr and "out of date with requirements.in" in result.stderr
    requirements_in.write_text(original)
    go_sum = hybrid / "go" / "go.sum"
    go_sum.write_text(go_sum.read_text().replace("h1:NIva", "h1:NIvb"))
    for result in (
        run_module("nox", "-s", "verify", cwd=hybrid, env=go_env),
        run_module("invoke", "verify", cwd=hybrid, env=go_env),
        run_cli("verify", cwd=hybrid, env=go_env),
    ):
        assert result.returncode == 1
        assert "go/go.sum:1: checksum of github.com/google/uuid v1.6.0 does not match" in result.stderr
