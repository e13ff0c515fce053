"""``release --dry-run`` prints exactly the commands the build runs: argv, directory and environment."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from reprotasks._command import PLACEHOLDERS, Command
from reprotasks._run import Runner, Started, watching
from reprotasks.cli import main

pytestmark = [pytest.mark.network, pytest.mark.slow]

# The placeholders, the inherited PATH, and the run's own temporary directory (set by every step).
_VARIABLE = re.compile(r"\$(" + "|".join([*PLACEHOLDERS, "PATH", "TMPDIR"]) + r")(?![A-Za-z0-9_])")


@dataclass
class Planned:
    """One printed plan line: ``cd DIR && [env -u NAME ...] NAME=VALUE ... argv  # note``."""

    line: str
    cwd: str
    unset: list[str]
    env: dict[str, str]
    argv: list[str]


def parse(line: str) -> Planned:
    words = shlex.split(line, comments=True)
    assert words[0] == "cd" and words[2] == "&&", line
    cwd, rest, unset, env = words[1], words[3:], [], {}
    if rest[0] == "env":
        rest = rest[1:]
        while rest[0] == "-u":
            unset.append(rest[1])
            rest = rest[2:]
    while "=" in rest[0]:
        name, _, value = rest[0].partition("=")
        env[name] = value
        rest = rest[1:]
    return Planned(line, cwd, unset, env, rest)


def build_section(output: str) -> list[str]:
    lines = output.splitlines()
    start = lines.index("[build]") + 1
    end = lines.index("", start)
    return [line.strip() for line in lines[start:end]]


def unify(pattern: str, actual: str, bindings: dict[str, str]) -> bool:
    """Does ``actual`` read as ``pattern`` with each $VARIABLE replaced by one value throughout?"""
    pieces = _VARIABLE.split(pattern)
    regex, fresh = "", set()
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            regex += re.escape(piece)
        elif piece in bindings:
            regex += re.escape(bindings[piece])
        elif piece in fresh:
            regex += f"(?P={piece})"
        else:
            regex += f"(?P<{piece}>.+)"
            fresh.add(piece)
    match = re.fullmatch(regex, actual)
    if match is None:
        return False
    bindings.update(match.groupdict())
    return True


def same(planned: Planned, started: Started, bindings: dict[str, str], base: dict[str, str]) -> bool:
    """``started`` is ``planned`` with its placeholders filled (binding them), in the environment
    the plan names: the inherited one, less what it unsets, plus what it sets, nothing else."""
    trial = dict(bindings)
    expected_env = {name: value for name, value in base.items() if name not in planned.unset}
    if set(started.env) != set(expected_env) | set(planned.env) or len(started.argv) != len(planned.argv):
        return False
    pairs = [(planned.cwd, str(started.cwd)), *zip(planned.argv, started.argv, strict=True)]
    pairs += [(value, started.env[name]) for name, value in planned.env.items()]
    pairs += [(value, started.env[name]) for name, value in expected_env.items() if name not in planned.env]
    if not all(unify(pattern, actual, trial) for pattern, actual in pairs):
        return False
    bindings.update(trial)
    return True


def is_build_command(argv: tuple[str, ...]) -> bool:
    return (
        argv[:2] in (("git", "clone"), ("go", "build"))
        or (argv[0] == "git" and "checkout" in argv and "--detach" in argv)
        or argv[1:3] == ("-m", "build")
    )


def test_the_dry_run_prints_exactly_the_commands_the_build_runs(
    hybrid_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-C", str(hybrid_repo), "release", "--dry-run", "--skip", "sign"]) == 0
    printed = build_section(capsys.readouterr().out)
    planned = [parse(line) for line in printed if not line.startswith("#")]
    assert [line for line in printed if line.startswith("# $")] == [
        f"# ${name}: {text}" for name, text in sorted(PLACEHOLDERS.items())
    ]

    started: list[Started] = []
    with watching(started.append):
        assert main(["-C", str(hybrid_repo), "build"]) == 0
    ran = [command for command in started if is_build_command(command.argv)]
    assert len(ran) == len(planned) == 7  # clone, checkout, python -m build, go build for 4 platforms

    base = {**Runner(hybrid_repo).environment(), "TMPDIR": "$TMPDIR"}
    bindings = {"PATH": base["PATH"]}
    # The clean copy first, in order; then the Python build and each platform's Go build (run in
    # parallel, so in any order), each exactly one planned line.
    for plan, command in zip(planned[:2], ran[:2], strict=True):
        assert same(plan, command, bindings, base), (plan.line, command)
    remaining = ran[2:]
    for plan in planned[2:]:
        matching = [command for command in remaining if same(plan, command, dict(bindings), base)]
        assert len(matching) == 1, (plan.line, remaining)
        assert same(plan, matching[0], bindings, base)
        remaining.remove(matching[0])
    assert not remaining
    assert set(bindings) == {"PATH", "TMPDIR", *PLACEHOLDERS}
    assert Path(bindings["SCRATCH"]).name.startswith("reprotasks-src-")
    assert Path(bindings["SCRATCH"]).parent == Path(bindings["TMPDIR"])
    assert not Path(bindings["SCRATCH"]).exists()  # removed after the build
    assert "build-env" in Path(bindings["BUILD_ENV"]).parts


def test_a_command_prints_as_a_shell_line_with_placeholders_and_masked_secrets() -> None:
    command = Command(
        ("go", "build", "-ldflags=-X main.v=1 -X main.t=ghp_" + "a" * 36, "-o", "$SCRATCH/bin/x y", "./cmd/x"),
        cwd="$SCRATCH/src",
        description="build",
        env={"GOOS": "linux", "API_TOKEN": "hunter2", "GOFLAGS": "-tags=a b"},
        unset=("PYTHONPATH",),
        path_first=("$BUILD_ENV/venv/bin",),
    )
    line = str(command)
    assert line == (
        "cd $SCRATCH/src && env -u PYTHONPATH GOOS=linux 'API_TOKEN=***' 'GOFLAGS=-tags=a b' "
        "PATH=$BUILD_ENV/venv/bin:$PATH go build '-ldflags=-X main.v=1 -X main.t=***' -o \"$SCRATCH/bin/x y\" ./cmd/x"
    )
    assert "hunter2" not in line and "ghp_" not in line
    assert command.placeholders() == {"SCRATCH", "BUILD_ENV"}
    filled = command.filled({"SCRATCH": "/tmp/s", "BUILD_ENV": "/c/e"})
    assert filled.argv[4] == "/tmp/s/bin/x y" and filled.cwd == "/tmp/s/src" and not filled.placeholders()
    env = filled.environment(Runner(Path.cwd()))
    assert env["PATH"].startswith("/c/e/venv/bin:") and "PYTHONPATH" not in env and env["GOOS"] == "linux"
