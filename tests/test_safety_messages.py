"""What a user reads when something fails: the tool's cause (not its traceback), and never a secret.

A catalogue, one test per case, all with the real tools: pip-compile and uv against the local
wheelhouse, `go build` on a broken file, `python -m build` with a failing hatchling hook, and a
real shell pipe for a closed stdout. Every case checks the exit code, the message, that no
traceback leaked, and that no secret reached stdout, stderr or a written file.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from reprotasks._run import EXCERPT_LINES, excerpt, mask, redact

from .conftest import MakeProject, commit_all, run_cli, run_module

GITHUB_TOKEN = "ghp_" + "A1b2C3d4" * 5  # 40 characters, a GitHub personal access token's shape
PYPI_TOKEN = "pypi-AgEIcHlwaS5vcmcCJGI0ZDYxNzA0LWE3YzEtNGU3"


def assert_clean(
    result: subprocess.CompletedProcess[str], secrets: Iterable[str] = (), files: Iterable[Path] = ()
) -> None:
    """No traceback and no secret in the output or in any written file."""
    output = result.stdout + result.stderr
    for noise in ("Traceback", "Exception ignored", "BrokenPipeError"):
        assert noise not in output, output
    texts = {"output": output} | {str(path): path.read_text() for path in files if path.is_file()}
    for secret in secrets:
        for where, text in texts.items():
            assert secret not in text, f"{secret!r} leaked into {where}"


def kept_log(stderr: str) -> Path:
    """The full output a failure message names: it must outlive the step."""
    found = re.search(r"\(full output: (\S+\.log)\)", stderr)
    assert found, stderr
    log = Path(found[1])
    assert log.is_file(), f"{log} is named but gone"
    return log


def wire_adapters(root: Path) -> None:
    (root / "noxfile.py").write_text("import reprotasks.nox  # noqa: F401\n")
    (root / "tasks.py").write_text("from reprotasks.invoke import ns  # noqa: F401\n")


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens there once the socket is closed


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def wheel_server(wheelhouse: Path) -> Iterator[int]:
    """The wheelhouse over HTTP on localhost (a URL with a password in it still downloads)."""
    handler = functools.partial(QuietHandler, directory=str(wheelhouse))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.fixture
def blocked_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every cache (reprotasks', pip-tools', uv's) under a path that is a file: nothing can be written."""
    blocked = tmp_path / "cache-is-a-file"
    blocked.write_text("")
    for name in ("PIP_TOOLS_CACHE_DIR", "UV_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    monkeypatch.setenv("REPROTASKS_CACHE_DIR", str(blocked / "reprotasks"))
    return blocked


# --- item 5: resolver, backend and compiler failures read like reprotasks errors --------------


def test_unsatisfiable_pin_shows_pip_tools_cause_not_its_traceback(make_project: MakeProject) -> None:
    root = make_project("alpha==9.9\n")
    result = run_cli("lock", cwd=root)
    assert result.returncode == 1
    assert (
        "error: cannot resolve requirements.in into requirements.txt (pip-tools): Could not find a version that "
        "satisfies the requirement alpha==9.9 (from versions: 1.0, 1.1)" in result.stderr
    )
    assert "DistributionNotFound: No matching distribution found for alpha==9.9" in result.stderr
    assert "hint: no release matches the version a requirement of requirements.in asks for" in result.stderr
    assert 'File "' not in result.stderr and "pip._internal" not in result.stderr
    assert_clean(result)
    assert "Traceback" in kept_log(result.stderr).read_text()  # everything pip-tools said, kept for later
    assert not (root / "requirements.txt").exists()


def test_unknown_package_says_no_index_offers_it(make_project: MakeProject) -> None:
    root = make_project("alpha\ndoes-not-exist\n")
    result = run_cli("lock", cwd=root)
    assert result.returncode == 1
    assert "the requirement does-not-exist (from versions: none)" in result.stderr
    assert "hint: a requirement of requirements.in names a package no index or find-links location offers" in (
        result.stderr
    )
    assert_clean(result)


def test_conflicting_pins_with_uv_show_its_explanation(make_project: MakeProject) -> None:
    root = make_project("alpha==1.0\nbeta<1\n")
    result = run_cli("lock", "--backend", "uv", cwd=root)
    assert result.returncode == 1
    assert (
        "error: cannot resolve requirements.in into requirements.txt (uv): No solution found when resolving "
        "dependencies" in result.stderr
    )
    assert "alpha<=1.0 depends on beta>=1 and you require alpha==1.0" in result.stderr
    assert "hint: the requirements of requirements.in named above cannot all be met at once" in result.stderr
    assert_clean(result)


def test_unsatisfiable_pin_through_nox_shows_the_same_cause(make_project: MakeProject) -> None:
    root = make_project("alpha==9.9\n")
    wire_adapters(root)
    result = run_module("nox", "-s", "lock", cwd=root)
    assert result.returncode == 1
    assert "error: cannot resolve requirements.in into requirements.txt (pip-tools)" in result.stderr
    assert "(from versions: 1.0, 1.1)" in result.stderr and "Session lock aborted" in result.stderr
    assert_clean(result)


def test_unreachable_index_is_an_index_error_not_lock_drift(make_project: MakeProject) -> None:
    root = make_project("alpha\n")
    assert run_cli("lock", cwd=root).returncode == 0
    pyproject = root / "pyproject.toml"
    index = f"http://bob:hunter2@127.0.0.1:{closed_port()}/simple"
    pyproject.write_text(
        f"[project]\nname = 'proj'\nversion = '1.0'\n\n[tool.reprotasks.python]\nindex-url = {index!r}\n"
    )
    result = run_cli("verify", cwd=root, env={"PIP_RETRIES": "1"})  # one retry: pip says why, quickly
    assert result.returncode == 1
    assert "error: cannot resolve requirements.in into requirements.txt (pip-tools)" in result.stderr
    assert "Connection refused" in result.stderr
    assert "hint: the package index could not be reached" in result.stderr
    assert "verify found" not in result.stderr and "out of date" not in result.stderr
    assert "https://***@127.0.0.1" in result.stderr or "http://***@127.0.0.1" in result.stderr
    assert_clean(result, ["hunter2"], [root / "requirements.txt"])


@pytest.mark.network
def test_backend_failure_shows_the_error_lines_and_keeps_the_full_log(hybrid_repo: Path) -> None:
    (hybrid_repo / "hatch_build.py").write_text(
        "from hatchling.builders.hooks.plugin.interface import BuildHookInterface\n\n\n"
        "class CustomBuildHook(BuildHookInterface):\n"
        "    def initialize(self, version, build_data):\n"
        "        for step in range(60):\n"
        "            print(f'preparing part {step}', flush=True)\n"
        f"        raise RuntimeError('upload needs PYPI_API_TOKEN={PYPI_TOKEN} first')\n"
    )
    pyproject = hybrid_repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n[tool.hatch.build.hooks.custom]\n")
    commit_all(hybrid_repo, "a build hook that fails")
    result = run_cli("build", "--python-only", cwd=hybrid_repo)
    assert result.returncode == 1
    error = result.stderr[result.stderr.index("error:") :]
    assert "error: `python -m build --no-isolation` failed with exit code 1: the build backend could not" in error
    assert "RuntimeError: upload needs PYPI_API_TOKEN=*** first" in error
    assert 'File "hatch_build.py", line 8, in initialize' in error  # the last frame, project-relative
    assert "preparing part 30" not in error  # the noise stays in the log
    assert "reprotasks-src-" not in error  # no path of the removed clean copy
    assert len(error.splitlines()) <= 45
    log = kept_log(error)
    assert "preparing part 30" in log.read_text()
    assert_clean(result, [PYPI_TOKEN], [log])
    assert not (hybrid_repo / "dist").exists()


def test_go_compile_errors_show_their_positions(hybrid_repo: Path, tmp_path: Path) -> None:
    (hybrid_repo / "go" / "cmd" / "worker" / "main.go").write_text(
        'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println(undefinedThing)\n'
        f'\tvar n int = "{GITHUB_TOKEN}"\n}}\n'
    )
    commit_all(hybrid_repo, "break the worker")
    summary = tmp_path / "summary.md"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    result = run_cli("build", "--go-only", "--platform", "linux/amd64", cwd=hybrid_repo, env=env)
    assert result.returncode == 1
    error = result.stderr[result.stderr.index("error:") :]
    assert "error: `go build` of ./cmd/worker for linux/amd64 failed with exit code 1 (in a clean copy" in error
    assert "cmd/worker/main.go:6:14: undefined: undefinedThing" in error
    assert 'cannot use "***" (untyped string constant) as int value' in error
    assert "hint: fix the errors above (file:line:column, relative to the Go module)" in error
    assert "reprotasks-src-" not in error
    assert "::error::`go build` of ./cmd/worker for linux/amd64 failed" in result.stdout
    assert_clean(result, [GITHUB_TOKEN], [summary])


def test_excerpt_keeps_the_error_lines_and_stays_bounded() -> None:
    noise = [f"compiling unit {number}" for number in range(200)]
    noise[120] = "pkg/a.go:3:4: undefined: helper"
    shown = excerpt("\n".join(noise)).splitlines()
    assert "    pkg/a.go:3:4: undefined: helper" in shown and "    compiling unit 119" in shown
    assert "    compiling unit 60" not in shown and shown[-1] == "    compiling unit 199"
    every_line_an_error = excerpt("\n".join(f"error {number}" for number in range(500))).splitlines()
    assert len(every_line_an_error) <= EXCERPT_LINES and "    error 0" in every_line_an_error


# --- item 7: an unwritable cache is a cache problem, never lock drift -------------------------


@pytest.mark.parametrize("backend", ["pip-tools", "uv"])
def test_verify_and_lock_work_without_a_writable_cache(
    make_project: MakeProject, blocked_cache: Path, backend: str
) -> None:
    root = make_project()
    env = {"REPROTASKS_PYTHON_LOCK_BACKEND": backend}
    assert run_cli("lock", cwd=root, env=env).returncode == 0
    locked = (root / "requirements.txt").read_bytes()
    verified = run_cli("verify", cwd=root, env=env)
    assert verified.returncode == 0, verified.stderr
    # verify asks uv first whatever the backend (pip-compile only when uv disagrees): uv's cache is named.
    assert (
        f"lock: WARNING: cache directory {blocked_cache}/uv is not writable (Not a directory); resolving "
        "without a cache" in verified.stderr
    )
    assert "out of date" not in verified.stderr and "could not be re-resolved" not in verified.stderr
    relocked = run_cli("lock", cwd=root, env=env)
    assert relocked.returncode == 0
    assert (root / "requirements.txt").read_bytes() == locked
    assert_clean(verified)


def test_verify_without_a_writable_cache_through_invoke(make_project: MakeProject, blocked_cache: Path) -> None:
    root = make_project()
    wire_adapters(root)
    assert run_cli("lock", cwd=root).returncode == 0
    result = run_module("invoke", "verify", cwd=root)
    assert result.returncode == 0, result.stderr
    assert f"cache directory {blocked_cache}/uv is not writable" in result.stderr  # uv confirms the lock first
    assert "out of date" not in result.stderr
    assert_clean(result)


def test_build_with_an_unwritable_cache_names_the_directory(hybrid_repo: Path, blocked_cache: Path) -> None:
    result = run_cli("build", "--python-only", cwd=hybrid_repo)
    assert result.returncode == 2
    assert (
        f"error: build: {blocked_cache}/reprotasks/build-env: cache directory {blocked_cache}/reprotasks is not "
        "writable (Not a directory), so the build environment cannot be kept" in result.stderr
    )
    assert "set REPROTASKS_CACHE_DIR (or XDG_CACHE_HOME) to a writable directory" in result.stderr
    assert_clean(result)
    assert not (hybrid_repo / "dist").exists()


# --- item 6: secrets are never printed, recorded or written -----------------------------------


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        ("https://user:p@ss@host.example/simple", "p@ss", "https://***@host.example/simple"),
        ("https://__token__:s3cret@h.example:8443/x", "s3cret", "https://***@h.example:8443/x"),
        (f"https://host.example/{GITHUB_TOKEN}/repo.git", GITHUB_TOKEN, "https://host.example/***/repo.git"),
        ("https://x.example/raw?token=abc123&ref=main", "abc123", "?token=***&ref=main"),
        ("https://x.example/api?access_token=zz9zz9", "zz9zz9", "?access_token=***"),
        ("https://x.example/login?user=me&password=pa55", "pa55", "&password=***"),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "11ABCDEFG0123456789", "***"),
        ("gho_abcdefghijklmnopqrstuvwxyz0123456789", "gho_abcdef", "***"),
        ("glpat-abcdefghij0123456789", "glpat-abc", "***"),
        (f"upload with {PYPI_TOKEN} now", PYPI_TOKEN, "upload with *** now"),
        ("key AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE", "key *** here"),
        ("hook xoxb-123456789012-abcdefghij", "xoxb-1234", "hook ***"),
        ("token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtZSJ9.c2lnbmF0dXJl", "eyJzdWIiOiJtZSJ9", "token ***"),
        ("Authorization: Bearer abcdefghijk123", "abcdefghijk123", "Authorization: Bearer ***"),
        ("curl -H 'authorization: Basic dXNlcjpwYXNz'", "dXNlcjpwYXNz", "authorization: Basic ***"),
        ("GITHUB_TOKEN=plain-value-1 make", "plain-value-1", "GITHUB_TOKEN=*** make"),
        ("--password hunter2 --token=abc", "hunter2", "--password *** --token=***"),
    ],
)
def test_mask_hides_every_credential_shape(text: str, secret: str, kept: str) -> None:
    masked = mask(text)
    assert secret not in masked
    assert kept in masked


@pytest.mark.parametrize(
    "text",
    [
        "https://pypi.org/simple",
        "alpha==1.0 --hash=sha256:bc99cb973ddceb8ce5f782ffee25b97b7da6d64413bf74613750a36780ad6a50",
        "https://github.com/acme/x/.github/workflows/release.yml@refs/tags/v1",
        "https://proxy.golang.org/github.com/google/uuid/@v/v1.6.0.zip",
        "mail bot@example.com about https://example.com/a",
        '["https://example.com","a@b"]',
        "tokenizer=fast keyring=on",
    ],
)
def test_mask_leaves_ordinary_text_alone(text: str) -> None:
    assert mask(text) == text


def test_redact_masks_flag_values_and_every_word() -> None:
    argv = ["tool", "-p", "hunter2", f"--url=https://u:{GITHUB_TOKEN}@h/x", "--identity-token", "eyJx", "ok"]
    assert redact(argv) == ["tool", "-p", "***", "--url=https://***@h/x", "--identity-token", "***", "ok"]


def test_config_masks_index_credentials_from_pyproject_and_environment(make_project: MakeProject) -> None:
    root = make_project(extra_config="index-url = 'https://alice:p@ss@word@pypi.example.com/simple'\n")
    env = {
        "REPROTASKS_PYTHON_EXTRA_INDEX_URLS": (
            f"https://__token__:{PYPI_TOKEN}@upload.example.com/simple https://mirror.example.com/simple?token=t0k3n"
        )
    }
    result = run_cli("config", cwd=root, env=env)
    assert result.returncode == 0
    python = json.loads(result.stdout)["python"]
    assert python["index-url"] == "https://***@pypi.example.com/simple"
    assert python["extra-index-urls"] == [
        "https://***@upload.example.com/simple",
        "https://mirror.example.com/simple?token=***",
    ]
    # The same settings through a lock (no-index: never contacted): not in its log nor in the lock.
    locked = run_cli("lock", cwd=root, env=env)
    assert locked.returncode == 0, locked.stderr
    assert "--index-url 'https://***@pypi.example.com/simple'" in locked.stderr
    assert_clean(result, ["p@ss", "word@", PYPI_TOKEN, "t0k3n"])
    assert_clean(locked, ["p@ss", "word@", PYPI_TOKEN, "t0k3n"], [root / "requirements.txt"])


def test_a_lock_that_would_carry_a_credential_is_not_written(make_project: MakeProject, wheel_server: int) -> None:
    url = f"http://bob:hunter2@127.0.0.1:{wheel_server}/alpha-1.0-py3-none-any.whl"
    root = make_project(f"alpha @ {url}\n")
    result = run_cli("lock", cwd=root)
    assert result.returncode == 2
    assert (
        f"error: requirements.txt:7: the new lock would carry a credential (alpha @ http://***@127.0.0.1:{wheel_server}"
        in result.stderr
    )
    assert "hint: keep credentials out of requirements.in and [tool.reprotasks]" in result.stderr
    assert not (root / "requirements.txt").exists()
    assert_clean(result, ["hunter2"])


def test_provenance_and_job_summary_never_carry_server_url_credentials(hybrid_repo: Path, tmp_path: Path) -> None:
    for step in (["build", "--go-only", "--platform", "linux/amd64"], ["sbom"], ["checksum"]):
        done = run_cli(*step, cwd=hybrid_repo)
        assert done.returncode == 0, done.stderr
    summary = tmp_path / "summary.md"
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_SERVER_URL": "https://ci-bot:p@ss@word@ghe.example.com",
        "GITHUB_WORKFLOW_REF": "acme/hybrid/.github/workflows/release.yml@refs/tags/v0.3.0",
        "GITHUB_REPOSITORY": "acme/hybrid",
        "GITHUB_RUN_ID": "42",
        "GITHUB_TOKEN": GITHUB_TOKEN,
    }
    result = run_cli("provenance", cwd=hybrid_repo, env=env)
    assert result.returncode == 0, result.stderr
    statement = json.loads((hybrid_repo / "dist" / "provenance.intoto.json").read_text())
    run = statement["predicate"]["runDetails"]
    builder = "https://***@ghe.example.com/acme/hybrid/.github/workflows/release.yml@refs/tags/v0.3.0"
    assert run["builder"]["id"] == builder
    assert run["metadata"]["invocationId"].startswith("https://***@ghe.example.com/acme/hybrid/actions/runs/42")
    assert f"builder {builder}" in result.stdout and f"builder {builder}" in summary.read_text()
    written = [hybrid_repo / "dist" / name for name in ("provenance.intoto.json", "sbom.cdx.json")]
    assert_clean(result, ["ci-bot", "p@ss", "word@", GITHUB_TOKEN], [*written, summary])


# --- a closed stdout (`| head`) ends quietly --------------------------------------------------


@pytest.mark.parametrize(
    ("command", "reader"),
    [
        ("config", "head -1"),
        ("schema", "head -1"),
        ("audit --format json", "head -c 10"),
        ("config", "true"),
        ("schema", "true"),
        ("audit --format json", "true"),
        ("lock", "true"),
    ],
)
def test_closed_stdout_exits_quietly(make_project: MakeProject, tmp_path: Path, command: str, reader: str) -> None:
    root = make_project()
    errors = tmp_path / "stderr.txt"
    script = f'"$PYTHON" -m reprotasks {command} 2>"$ERRORS" | {reader} >/dev/null; echo "${{PIPESTATUS[0]}}"'
    shell = subprocess.run(
        ["bash", "-c", script],
        cwd=root,
        env={**os.environ, "PYTHON": sys.executable, "ERRORS": str(errors)},
        capture_output=True,
        text=True,
        check=True,
    )
    code = int(shell.stdout.strip())
    # `true` never reads: the write meets a closed pipe (141 = 128 + SIGPIPE, as for any Unix tool);
    # `head` may exit before or after everything was written.
    assert code == 141 if reader == "true" else code in (0, 141)
    text = errors.read_text()
    for noise in ("Traceback", "Exception ignored", "BrokenPipeError", "error:"):
        assert noise not in text, text
    if command == "lock":
        assert (root / "requirements.txt").is_file()  # the step's work was done
