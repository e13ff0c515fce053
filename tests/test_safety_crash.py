"""Catalogue: a kill, a SIGTERM or a second run at the wrong instant loses nothing and leaves nothing.

Each case runs the real CLI (and nox and invoke where they add something) on a copy of
examples/hybrid, and asserts the exit code, the message, no traceback and the outputs.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import PreparedHybrid, commit_all, run_cli, run_module
from .test_adapters import write_wiring


def snapshot(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def hidden_entries(*directories: Path) -> list[str]:
    """Names a run of ours may leave: dot-entries other than the project's own."""
    own = {".git", ".gitignore", ".python-version", ".github"}
    return sorted(
        f"{directory.name}/{path.name}"
        for directory in directories
        if directory.is_dir()
        for path in directory.iterdir()
        if path.name.startswith(".") and path.name not in own
    )


@pytest.fixture
def scratch_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A TMPDIR of the test's own, so leftovers there are the runs' and nobody else's."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setenv("TMPDIR", str(directory))
    return directory


def _go_built_then_changed(root: Path) -> None:
    assert run_cli("build", "--go-only", cwd=root).returncode == 0
    main = root / "go" / "cmd" / "worker" / "main.go"
    main.write_text(main.read_text(encoding="utf-8") + "\n// second release\n", encoding="utf-8")
    commit_all(root, "second")


@pytest.fixture
def built(prepared_hybrid: PreparedHybrid, scratch_tmp: Path) -> Path:
    """hybrid with a Go-only dist/ of its first commit, then a second commit that needs a rebuild."""
    return prepared_hybrid("go-built-then-changed", _go_built_then_changed)


def test_kill_between_the_two_renames_of_dist_then_the_next_step_restores_it(built: Path, scratch_tmp: Path) -> None:
    old = snapshot(built / "dist")
    killed = run_cli("build", "--go-only", cwd=built, env={"REPROTASKS_FAULT": "replace-directory:backed-up"})
    assert killed.returncode == -signal.SIGKILL
    assert not (built / "dist").exists()  # the instant the journal is for
    assert (built / ".dist.reprotasks-journal").is_file()

    after = run_cli("audit", cwd=built)  # any step recovers first
    assert after.returncode == 0, after.stderr
    assert "dist/: a killed run was replacing this; the previous content is back" in after.stderr
    assert "Traceback" not in after.stderr
    assert snapshot(built / "dist") == old
    assert hidden_entries(built, scratch_tmp) == []

    rebuilt = run_cli("build", "--go-only", cwd=built)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert snapshot(built / "dist") != old


def test_kill_after_dist_was_replaced_keeps_the_new_one(built: Path, scratch_tmp: Path) -> None:
    # A kill after both renames but before the journal is gone: the new dist/ stays, the backup goes.
    result = run_cli("build", "--go-only", cwd=built)
    assert result.returncode == 0
    new = snapshot(built / "dist")
    entry = '{"target": "dist", "new": ".dist-stage-abcd1234", "backup": ".dist.reprotasks-old"}'
    (built / ".dist.reprotasks-journal").write_text('{"version": 1, "entries": [' + entry + "]}")
    (built / ".dist.reprotasks-old").mkdir()
    after = run_cli("verify", cwd=built)
    assert "finished its clean-up" in after.stderr
    assert snapshot(built / "dist") == new
    assert hidden_entries(built) == []


def untidy_go_module(module: Path) -> tuple[bytes, bytes]:
    """Drop the uuid requirement from go.mod and go.sum: tidy puts both back."""
    go_mod, go_sum = module / "go.mod", module / "go.sum"
    go_mod.write_text(
        "".join(line for line in go_mod.read_text().splitlines(keepends=True) if "google/uuid" not in line)
    )
    go_sum.write_text("")
    return go_mod.read_bytes(), go_sum.read_bytes()


def test_kill_between_go_sum_and_go_mod_never_leaves_a_mixed_pair(hybrid_repo: Path, scratch_tmp: Path) -> None:
    module = hybrid_repo / "go"
    old_mod, old_sum = untidy_go_module(module)
    killed = run_cli("lock", "--go-only", cwd=hybrid_repo, env={"REPROTASKS_FAULT": "replace-files:moved-1"})
    assert killed.returncode == -signal.SIGKILL
    assert (module / "go.sum").read_bytes() != old_sum  # the new go.sum beside the old go.mod ...
    assert (module / "go.mod").read_bytes() == old_mod

    after = run_cli("audit", cwd=hybrid_repo)  # ... until any next step runs
    assert "go/go.mod and go.sum: a killed run was replacing this; the previous content is back" in after.stderr
    assert (module / "go.mod").read_bytes() == old_mod
    assert (module / "go.sum").read_bytes() == old_sum
    assert hidden_entries(module, scratch_tmp) == []

    relocked = run_cli("lock", "--go-only", cwd=hybrid_repo)
    assert relocked.returncode == 0, relocked.stderr
    assert b"google/uuid" in (module / "go.mod").read_bytes()
    assert b"google/uuid" in (module / "go.sum").read_bytes()


def wait_for(condition: object, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not callable(condition) or not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.005)


def start_cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "reprotasks", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigterm_cleans_up_like_ctrl_c(built: Path, scratch_tmp: Path) -> None:
    old = snapshot(built / "dist")
    process = start_cli("build", "--go-only", cwd=built)
    wait_for(lambda: any(path.name.startswith(".dist-stage-") for path in built.iterdir()))
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "SIGTERM: stopped" in err
    assert "Traceback" not in err
    assert snapshot(built / "dist") == old
    # Removed by the run itself, not by a later one: staging, temp files, scratch directories.
    assert hidden_entries(built, built / "dist", built / "go") == []
    assert list(scratch_tmp.iterdir()) == []


def test_leftovers_of_a_sigkill_are_removed_by_the_next_run_and_never_audited(
    built: Path, scratch_tmp: Path, tmp_path: Path
) -> None:
    stage = built / ".dist-stage-abcd1234"
    (stage / ".github" / "workflows").mkdir(parents=True)
    (stage / ".github" / "workflows" / "x.yml").write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n"
    )
    (built / ".dist-release-abcd1234").mkdir()
    (built / "dist" / ".SHA256SUMS.reprotasks-abcd1234.tmp").write_text("partial")
    (built / ".requirements.txt.reprotasks-abcd1234.tmp").write_text("partial")
    (built / "go" / ".reprotasks-tidy-abcd1234.mod").write_text("module x\n")
    dead = scratch_tmp / "reprotasks-run-deadbeef"
    (dead / "reprotasks-go-x").mkdir(parents=True)
    (dead / ".owner").touch()
    # A run killed while removing its scratch, after the owner file went: dead as well.
    (scratch_tmp / "reprotasks-run-cutshort" / "go-build1").mkdir(parents=True)
    alive = scratch_tmp / "reprotasks-run-alive123"
    alive.mkdir()
    with (alive / ".owner").open("w") as owner:
        fcntl.flock(owner, fcntl.LOCK_EX)
        # Look-alikes that are not ours stay.
        (built / ".cache-stage-abcd1234").mkdir()
        (built / "notes.reprotasks-abcd1234.tmp").write_text("mine")

        result = run_cli("audit", cwd=built)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "removed 5 leftover(s) of an interrupted run" in result.stderr
        assert "x.yml" not in result.stdout
        assert hidden_entries(built, built / "dist", built / "go") == [f"{built.name}/.cache-stage-abcd1234"]
        assert (built / "notes.reprotasks-abcd1234.tmp").exists()
        assert sorted(path.name for path in scratch_tmp.iterdir()) == ["reprotasks-run-alive123"]


@contextlib.contextmanager
def project_locked(root: Path, *, exclusive: bool = True) -> Iterator[None]:
    """Hold the project lock as another reprotasks run would."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def test_a_second_writer_fails_after_the_timeout_naming_the_holder(built: Path) -> None:
    old = snapshot(built / "dist")
    with project_locked(built):
        for argv in (
            [sys.executable, "-m", "reprotasks", "build", "--go-only"],
            [sys.executable, "-m", "nox", "-s", "build", "--", "--go-only"],
            [sys.executable, "-m", "invoke", "build", "--go-only"],
        ):
            if "reprotasks" not in argv:
                write_wiring(built)
            result = subprocess.run(
                argv,
                cwd=built,
                env={**os.environ, "REPROTASKS_LOCK_TIMEOUT": "0.5"},
                capture_output=True,
                text=True,
                check=False,
            )
            output = result.stdout + result.stderr
            assert result.returncode != 0, output
            assert f"another reprotasks run (pid {os.getpid()}:" in output
            assert "still holds the lock on" in output and "REPROTASKS_LOCK_TIMEOUT" in output
            assert "Traceback" not in output
    assert snapshot(built / "dist") == old


def test_a_second_writer_waits_with_a_message_then_runs(built: Path) -> None:
    with project_locked(built):
        process = start_cli("build", "--go-only", cwd=built)
        # Until it says it waits (a loaded machine may take seconds to start the interpreter).
        assert process.stderr is not None
        said = ""
        while "waiting for it to finish" not in said:
            line = process.stderr.readline()
            assert line, f"exited without waiting: {said}"
            said += line
        assert process.poll() is None  # waiting, not failing, not writing
        assert not any(path.name.startswith(".dist-stage-") for path in built.iterdir())
    _out, err = process.communicate(timeout=120)
    assert process.returncode == 0, said + err
    assert "is using" in said and "waiting for it to finish" in said


def test_readers_share_the_lock_writers_do_not(built: Path) -> None:
    with project_locked(built, exclusive=False):
        reader = run_cli("audit", cwd=built, env={"REPROTASKS_LOCK_TIMEOUT": "0"})
        assert reader.returncode == 0, reader.stderr
        assert "waiting" not in reader.stderr
        writer = run_cli("build", "--go-only", cwd=built, env={"REPROTASKS_LOCK_TIMEOUT": "0"})
        assert writer.returncode == 2 and "still holds the lock" in writer.stderr


def test_a_bad_lock_timeout_is_a_clean_error(built: Path) -> None:
    result = run_cli("build", "--go-only", cwd=built, env={"REPROTASKS_LOCK_TIMEOUT": "soon"})
    assert result.returncode == 2
    assert "REPROTASKS_LOCK_TIMEOUT='soon' is not a number of seconds" in result.stderr
    assert "Traceback" not in result.stderr


def test_nox_and_invoke_recover_a_killed_run_too(built: Path, scratch_tmp: Path) -> None:
    write_wiring(built)
    commit_all(built, "wiring")
    old = snapshot(built / "dist")
    for runner in (["nox", "-s", "audit"], ["invoke", "audit"]):
        killed = run_cli("build", "--go-only", cwd=built, env={"REPROTASKS_FAULT": "replace-directory:backed-up"})
        assert killed.returncode == -signal.SIGKILL
        result = run_module(*runner, cwd=built)
        assert "the previous content is back" in result.stdout + result.stderr, runner
        assert snapshot(built / "dist") == old
