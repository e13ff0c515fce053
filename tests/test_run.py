"""The subprocess runner: logging, masking, environment, missing tools, atomic writes."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reprotasks._files import atomic_path, sha256_file
from reprotasks._run import Runner, redact
from reprotasks.errors import CommandFailedError, ReprotasksError, ToolMissingError

from .conftest import MakeProject


def quiet_runner(root: Path, lines: list[str] | None = None) -> Runner:
    return Runner(root, log=(lines.append if lines is not None else lambda _line: None))


def test_redact_masks_tokens_and_url_credentials() -> None:
    argv = ["x", "--identity-token", "eyJ.secret", "--token=abc", "https://u:p@host/simple", "plain"]
    assert redact(argv) == ["x", "--identity-token", "***", "--token=***", "https://***@host/simple", "plain"]


def test_commands_are_logged_recorded_and_normalized(tmp_path: Path) -> None:
    lines: list[str] = []
    runner = quiet_runner(tmp_path, lines)
    (tmp_path / "sub").mkdir()
    code = "import os; print(os.environ['TZ'], os.environ['LC_ALL'], oct(os.umask(0)))"
    result = runner.run([sys.executable, "-c", code], cwd=tmp_path / "sub")
    assert result.stdout.split() == ["UTC", "C.UTF-8", "0o22"]
    assert lines == [f"+ {shlex.join(['python', '-c', code])}    (in sub)"]
    [record] = runner.history
    assert record.argv[0] == "python" and record.cwd == "sub" and record.returncode == 0


def test_failure_shows_captured_output_and_missing_tool_says_what_to_install(tmp_path: Path) -> None:
    runner = quiet_runner(tmp_path)
    with pytest.raises(CommandFailedError) as caught:
        runner.run([sys.executable, "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"], cwd=tmp_path)
    assert "failed with exit code 3" in caught.value.message
    assert "boom" in caught.value.details
    with pytest.raises(ToolMissingError) as missing:
        runner.run(["uv", "--version"], cwd=tmp_path, env={"PATH": str(tmp_path)}, purpose="lock with uv")
    assert missing.value.message == "`uv` is needed to lock with uv but was not found on PATH"
    assert "pip install 'reprotasks[uv]'" in missing.value.hint


def test_source_date_epoch_comes_from_the_last_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    with pytest.raises(ReprotasksError, match="cannot take SOURCE_DATE_EPOCH from git"):
        quiet_runner(tmp_path).source_date_epoch()
    env = {
        **os.environ,
        "GIT_AUTHOR_DATE": "2024-02-03T04:05:06Z",
        "GIT_COMMITTER_DATE": "2024-02-03T04:05:06Z",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "commit", "-q", "--allow-empty", "-m", "x"], check=True, env=env)
    runner = quiet_runner(tmp_path)
    assert runner.source_date_epoch() == "1706933106"
    assert runner.deterministic_environment()["SOURCE_DATE_EPOCH"] == "1706933106"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(ReprotasksError, match="is not a whole number"):
        quiet_runner(tmp_path).source_date_epoch()


def test_atomic_path_keeps_the_old_file_on_error(tmp_path: Path) -> None:
    target = tmp_path / "lock.txt"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_path(target) as temp:
        assert temp.read_text() == "old\n"  # seeded with the previous content
        temp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["lock.txt"]
    with atomic_path(target) as temp:
        temp.write_text("new\n")
    assert target.read_text() == "new\n"
    assert sha256_file(target) == "7aa7a5359173d05b63cfd682e3c38487f3cb4f7f1d60659fe59fab1505977d4c"


def test_ctrl_c_during_lock_leaves_the_previous_lock(make_project: MakeProject) -> None:
    root = make_project()
    lock_file = root / "requirements.txt"
    lock_file.write_text("# previous lock\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "reprotasks", "lock"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not list(root.glob(".requirements.txt.*.tmp")):
        assert process.poll() is None, "lock finished before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "SIGINT: stopped; outputs are replaced atomically" in err
    assert "Traceback" not in err
    assert lock_file.read_text() == "# previous lock\n"
    assert list(root.glob(".requirements.txt.*")) == []
