"""Kill lock, build and release at random instants with SIGKILL and SIGTERM.

After every kill each output is the old or the new one (never a mix, never half-written) and
the next run leaves no leftover. The trials are bounded in time (KILL_BUDGET seconds, 20 by
default: every CI run tries a new seed; ``KILL_BUDGET=600`` searches longer) and seeded: a
failure prints the seed, and ``KILL_SEED=N`` replays it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from reprotasks.artifacts.manifest import read_manifest

from .conftest import commit_all, run_cli
from .test_safety_crash import hidden_entries, snapshot

State = dict[str, bytes]


def project_state(root: Path) -> State:
    """Every output the three steps write: dist/'s files, the locks, go.mod and go.sum."""
    state = {f"dist/{name}": data for name, data in snapshot(root / "dist").items()} if (root / "dist").is_dir() else {}
    if "dist/provenance.intoto.json" in state:
        # The one file with a time in it (when the run finished, in its metadata): compare the rest.
        statement = json.loads(state["dist/provenance.intoto.json"])
        del statement["predicate"]["runDetails"]["metadata"]
        state["dist/provenance.intoto.json"] = json.dumps(statement, sort_keys=True).encode()
    for name in ("requirements.txt", "build-requirements.txt", "go/go.mod", "go/go.sum"):
        state[name] = (root / name).read_bytes()
    return state


def restore(root: Path, state: State) -> None:
    for path in (root / "dist").iterdir() if (root / "dist").is_dir() else ():
        path.unlink()
    (root / "dist").mkdir(exist_ok=True)
    for name, data in state.items():  # provenance comes back without its times: parseable, unsigned
        (root / name).write_bytes(data)


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]
    old: State
    new: State
    seconds: float


def reference(root: Path, old: State, argv: tuple[str, ...]) -> Case:
    """Run ``argv`` to completion once: its outputs are the only 'new' a kill may leave."""
    restore(root, old)
    started = time.monotonic()
    result = run_cli(*argv, cwd=root)
    assert result.returncode == 0, result.stderr
    case = Case(argv, old, project_state(root), time.monotonic() - started)
    restore(root, old)
    return case


def parseable(root: Path) -> None:
    if (root / "dist" / "manifest.json").exists():
        read_manifest(root / "dist" / "manifest.json", "dist/manifest.json")


@pytest.mark.xdist_group("kill")
def test_random_sigkill_and_sigterm_leave_old_or_new_and_no_leftovers(
    hybrid_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    root = hybrid_repo
    assert run_cli("build", cwd=root).returncode == 0
    # The next commit changes the worker: build and release have work to do.
    main = root / "go" / "cmd" / "worker" / "main.go"
    main.write_text(main.read_text(encoding="utf-8") + "\n// next release\n", encoding="utf-8")
    commit_all(root, "next")
    tidy = project_state(root)
    untidy = {**tidy, "go/go.sum": b""}  # lock has to write go.sum back (and go.mod, as one change)
    cases = [
        reference(root, untidy, ("lock",)),
        reference(root, tidy, ("build",)),
        reference(root, tidy, ("release", "--skip", "sign")),
    ]

    seed = int(os.environ.get("KILL_SEED", random.SystemRandom().randrange(1 << 30)))
    rng = random.Random(seed)
    budget = float(os.environ.get("KILL_BUDGET", "20"))
    deadline = time.monotonic() + budget
    trials: list[str] = []
    while time.monotonic() < deadline or len(trials) < 6:
        case = cases[len(trials) % len(cases)]
        signum = rng.choice((signal.SIGKILL, signal.SIGTERM))
        delay = rng.uniform(0.0, case.seconds * 1.1)
        restore(root, case.old)
        trial = f"{' '.join(case.argv)} + {signum.name} after {delay:.3f}s (KILL_SEED={seed})"
        trials.append(trial)
        process = subprocess.Popen(
            [sys.executable, "-m", "reprotasks", *case.argv],
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(delay)
        process.send_signal(signum)
        _out, err = process.communicate(timeout=120)
        assert "Traceback" not in err, f"{trial}\n{err}"
        if signum == signal.SIGTERM:
            # Cleaned up by the run itself (0: it had finished; -15: before the handler was set).
            assert process.returncode in (0, 143, -signal.SIGTERM), f"{trial}\n{err}"
            assert hidden_entries(root, root / "dist", root / "go") == [], trial
            assert not list(scratch.iterdir()), trial
        # Whatever is on disk now is, file by file, old or new: nothing half-written.
        now = project_state(root)
        for name, data in now.items():
            assert data in (case.old.get(name), case.new.get(name)), f"{trial}: {name} is neither old nor new"

        nxt = run_cli("audit", cwd=root)  # any step recovers first
        assert "Traceback" not in nxt.stderr, f"{trial}\n{nxt.stderr}"
        after = project_state(root)
        assert after in (case.old, case.new), f"{trial}: a mix of old and new outputs"
        parseable(root)
        assert hidden_entries(root, root / "dist", root / "go") == [], trial
        assert not list(scratch.iterdir()), trial
        restore(root, tidy)
    print(f"{len(trials)} kill trials (KILL_SEED={seed})")
