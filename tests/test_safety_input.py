"""No traceback on any input: every reader of user data turns bad data into a named error.

A catalogue of hostile or broken inputs (bytes that are not UTF-8, wrong TOML types, symlink
loops, directories where files belong, malformed manifests, YAML nested hundreds of levels,
a 10 MB SHA256SUMS line, a dist/ that is a file), each run through the real CLI and asserted
on the exit code, the message (which file, what is wrong), the absence of a traceback and
outputs left byte for byte as they were. One case each also runs through nox and invoke.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import RUNNING_PYTHON, commit_all, run_cli, run_module

GOOD_PYPROJECT = "[project]\nname = 'proj'\nversion = '1.0'\n"
IDENTITY = ("--identity", "dev@example.com", "--issuer", "https://accounts.example.com")


def fails(root: Path, *args: str, code: int | None = None) -> str:
    """Run the CLI; assert a non-zero exit (``code`` if given) and no traceback; return stderr+stdout."""
    result = run_cli(*args, cwd=root)
    output = result.stderr + result.stdout
    assert "Traceback" not in output, output
    assert result.returncode != 0, output
    if code is not None:
        assert result.returncode == code, output
    return output


def snapshot(root: Path) -> dict[str, bytes]:
    """Every regular file under ``root`` (outside .git) and its bytes."""
    found = {}
    for directory, dirnames, files in os.walk(root):
        dirnames[:] = [name for name in dirnames if name != ".git"]
        for name in files:
            path = Path(directory, name)
            if path.is_file() and not path.is_symlink():
                found[str(path.relative_to(root))] = path.read_bytes()
    return found


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The cheapest project: a pyproject.toml and a Python pin, nothing to lock or build."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text(GOOD_PYPROJECT + "\n[tool.reprotasks]\naudit.enabled = false\n")
    (root / ".python-version").write_text(RUNNING_PYTHON + "\n")
    return root


def released(root: Path, files: dict[str, bytes]) -> Path:
    """A dist/ holding ``files`` and a matching SHA256SUMS."""
    dist = root / "dist"
    dist.mkdir()
    for name, data in files.items():
        (dist / name).write_bytes(data)
    assert run_cli("checksum", cwd=root).returncode == 0
    return dist


# --- pyproject.toml -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"[project]\nname = 'caf\xe9'\n", "pyproject.toml: line 2 is not UTF-8 text (byte 0xe9"),
        (b"\xff\xfe[project]\n", "pyproject.toml: line 1 is not UTF-8 text (byte 0xff"),
        (b"tool = 'x'\n", "pyproject.toml: `tool` must be a table, not a string"),
        (b"[tool]\nreprotasks = 5\n", "pyproject.toml: [tool.reprotasks] must be a table, not an integer"),
        (
            b"[project]\ndynamic = 5\n",
            "pyproject.toml: `[project] dynamic` must be an array of strings, not an integer",
        ),
        (b"[project]\ndynamic = [1]\n", "pyproject.toml: `[project] dynamic` must be an array of strings, not [1]"),
        (b"[project]\nname = 5\n", "pyproject.toml: `[project] name` must be a string, not an integer"),
        (b"[project]\nversion = []\n", "pyproject.toml: `[project] version` must be a string, not an array"),
        (
            b"[project]\nrequires-python = {a = 1}\n",
            "pyproject.toml: `[project] requires-python` must be a string, not a table",
        ),
        (b"project = 5\n", "pyproject.toml: `project` must be a table, not an integer"),
        (
            b"[build-system]\nrequires = 'x'\n",
            "pyproject.toml: `[build-system] requires` must be an array of requirement strings",
        ),
        (b"a = " + b"[" * 3000 + b"]" * 3000 + b"\n", "pyproject.toml is not valid TOML: arrays or inline tables"),
    ],
    ids=[
        "latin1",
        "bom16",
        "tool-string",
        "reprotasks-int",
        "dynamic-int",
        "dynamic-ints",
        "name-int",
        "version-list",
        "requires-python-table",
        "project-int",
        "requires-string",
        "deep-arrays",
    ],
)
def test_bad_pyproject_is_named(project: Path, body: bytes, expected: str) -> None:
    (project / "pyproject.toml").write_bytes(body)
    for step in ("config", "verify", "checksum"):
        output = fails(project, step, code=2)
        assert f"error: {expected}" in output and "hint: " in output
    assert (project / "pyproject.toml").read_bytes() == body


# --- locks, lock inputs, go.mod, go.sum -----------------------------------------------------


def test_non_utf8_lock_is_named_and_kept(make_project: Callable[..., Path]) -> None:
    root = make_project("alpha\n")
    lock = b"alpha==1.0 \\\n    --hash=sha256:" + b"0" * 64 + b"\n# caf\xe9\n"
    (root / "requirements.txt").write_bytes(lock)
    for step in ("verify", "lock"):
        output = fails(root, step, code=2)
        assert "error: requirements.txt: line 3 is not UTF-8 text (byte 0xe9 at offset" in output
        assert "hint: " in output
    assert (root / "requirements.txt").read_bytes() == lock


@pytest.mark.parametrize("where", ["requirements.in", "requirements/base.in"])
def test_non_utf8_lock_input_is_named(make_project: Callable[..., Path], where: str) -> None:
    root = make_project("alpha\n")
    (root / "requirements").mkdir()
    if where != "requirements.in":
        (root / "requirements.in").write_text("-r requirements/base.in\n")
    (root / where).write_bytes(b"alpha\n# \xff\n")
    assert run_cli("lock", cwd=root).returncode != 0
    output = fails(root, "lock", code=2)
    assert f"error: {where}: line 2 is not UTF-8 text (byte 0xff" in output
    assert not (root / "requirements.txt").exists()


def test_non_utf8_lock_input_file_name(make_project: Callable[..., Path]) -> None:
    root = make_project("alpha\n")
    (root / "requirements-\udcff.in").write_text("gamma\n")
    output = fails(root, "lock", code=2)
    assert "error: requirements-\\xff.in: the file name is not valid UTF-8" in output
    assert not (root / "requirements.txt").exists()


@pytest.mark.parametrize("kind", ["directory", "broken-symlink", "loop"])
def test_lock_input_that_is_not_a_file(make_project: Callable[..., Path], kind: str) -> None:
    root = make_project("alpha\n")
    odd = root / "requirements-dev.in"
    if kind == "directory":
        odd.mkdir()
    elif kind == "broken-symlink":
        odd.symlink_to("nowhere.in")
    else:
        odd.symlink_to("requirements-dev.in")
    output = fails(root, "lock", code=2)
    assert "error: requirements-dev.in: is " in output and "its name makes it a lock input" in output


def go_project(root: Path, go_mod: bytes = b"module example.com/x\n\ngo 1.22.0\n") -> Path:
    (root / "go").mkdir()
    (root / "go" / "go.mod").write_bytes(go_mod)
    return root / "go"


def test_non_utf8_go_mod_is_named(project: Path, go_env: dict[str, str]) -> None:
    go_mod = b"module example.com/x\n\n// caf\xe9\ngo 1.22.0\n"
    go_project(project, go_mod)
    result = run_cli("verify", cwd=project, env=go_env)
    assert "Traceback" not in result.stderr and result.returncode == 2, result.stderr
    assert "error: go/go.mod: line 3 is not UTF-8 text (byte 0xe9" in result.stderr
    assert (project / "go" / "go.mod").read_bytes() == go_mod


def test_non_utf8_go_sum_is_named(project: Path, go_env: dict[str, str]) -> None:
    module = go_project(project)
    go_sum = b"example.com/y v1.0.0 h1:\xff\xfe=\n"
    (module / "go.sum").write_bytes(go_sum)
    result = run_cli("verify", cwd=project, env=go_env)
    assert "Traceback" not in result.stderr and result.returncode != 0, result.stderr
    assert "go/go.sum" in result.stderr
    assert (module / "go.sum").read_bytes() == go_sum


@pytest.mark.parametrize("kind", ["directory", "broken-symlink", "loop", "unreadable-name"])
def test_odd_go_sources_do_not_break_main_package_detection(project: Path, kind: str) -> None:
    module = go_project(project)
    package = module / "cmd" / "tool"
    package.mkdir(parents=True)
    (package / "main.go").write_text("package main\n\nfunc main() {}\n")
    odd = package / "odd.go"
    if kind == "directory":
        odd.mkdir()
    elif kind == "broken-symlink":
        odd.symlink_to("gone.go")
    elif kind == "loop":
        odd.symlink_to("odd.go")
    else:
        (module / "cmd" / "bad\udcff").mkdir()
        (module / "cmd" / "bad\udcff" / "main.go").write_text("package main\n")
    result = run_cli("config", cwd=project)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert json.loads(result.stdout)["go"]["main-packages"] == ["./cmd/tool"]


# --- file names that are not UTF-8, symlink loops -------------------------------------------


def test_non_utf8_names_in_the_repository_are_audited(project: Path) -> None:
    (project / "pyproject.toml").write_text(GOOD_PYPROJECT)
    workflows = project / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "bad\udcff").write_text("#!/bin/sh\ncurl https://example.com/x | sh\n")
    (project / "bad\udcff.txt").write_text("not audited\n")
    (project / "run\udcfe").write_text("#!/bin/sh\ncurl https://example.com/y | sh\n")
    commit_all(project)
    for args in (["audit"], ["audit", "--format", "json"], ["audit", "--format", "sarif"]):
        output = fails(project, *args, code=1)
        assert "RT-S003" in output
    text = fails(project, "audit")
    assert ".github/workflows/bad\ufffd:2:1: RT-S003" in text and "run\ufffd:2:1: RT-S003" in text
    # Without git the tree is walked: the names are shown with escapes.
    subprocess.run(["rm", "-rf", str(project / ".git")], check=True)
    text = fails(project, "audit")
    assert ".github/workflows/bad\\xff:2:1: RT-S003" in text and "run\\xfe:2:1: RT-S003" in text


def test_non_utf8_name_in_dist(project: Path) -> None:
    dist = released(project, {"a.whl": b"a"})
    (dist / "bad\udcff.txt").write_bytes(b"x")
    before = snapshot(project)
    output = fails(project, "checksum", "--check", code=1)
    assert "dist/bad\\udcff.txt: file name 'bad\\udcff.txt' is not valid UTF-8" in output
    output = fails(project, "checksum", code=1)
    assert "dist/bad\\udcff.txt: file name 'bad\\udcff.txt' is not valid UTF-8" in output
    assert snapshot(project) == before


def test_symlink_loops_in_the_project(project: Path) -> None:
    (project / "pyproject.toml").write_text(GOOD_PYPROJECT)
    (project / "a").symlink_to("b")
    (project / "b").symlink_to("a")
    workflows = project / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "x.yml").symlink_to("y.yml")
    (workflows / "y.yml").symlink_to("x.yml")
    module = go_project(project)
    (module / "cmd" / "tool").mkdir(parents=True)
    (module / "cmd" / "tool" / "main.go").write_text("package main\n")
    (module / "cmd" / "tool" / "l.go").symlink_to("m.go")
    (module / "cmd" / "tool" / "m.go").symlink_to("l.go")
    (module / "cmd" / "loop").symlink_to("loop")
    commit_all(project)
    result = run_cli("config", cwd=project)
    assert result.returncode == 0 and json.loads(result.stdout)["go"]["main-packages"] == ["./cmd/tool"]
    # Symlinks are no files of the project to audit (a link's target is audited where it is):
    # loops are skipped, without a traceback or an error.
    audited = run_cli("audit", cwd=project)
    assert audited.returncode == 0 and "Traceback" not in audited.stderr, audited.stdout + audited.stderr
    assert "RT-F001" not in audited.stdout


def test_symlink_loops_in_dist(project: Path) -> None:
    dist = released(project, {"a.whl": b"a"})
    (dist / "x").symlink_to("y")
    (dist / "y").symlink_to("x")
    before = snapshot(project)
    output = fails(project, "checksum", "--check", code=1)
    assert "dist/x: is a symlink: a release holds regular files only" in output
    assert "dist/y: is a symlink" in output
    fails(project, "checksum", code=1)
    assert snapshot(project) == before


def test_dist_that_is_a_symlink_loop(project: Path) -> None:
    (project / "dist").symlink_to("dist")
    for step in (["checksum"], ["checksum", "--check"], ["sbom"]):
        output = fails(project, *step)
        assert "dist: is not a directory (it is a symlink)" in output


# --- dist/ that is not a directory ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["file", "symlink-to-file"])
@pytest.mark.parametrize(
    "step",
    [
        ["checksum"],
        ["checksum", "--check"],
        ["verify-signatures", *IDENTITY],
        ["verify-release", "dist", *IDENTITY],
        ["sbom"],
        ["provenance"],
        ["sign"],
        ["build"],
    ],
    ids=lambda step: step[0] + ("-check" if "--check" in step else ""),
)
def test_dist_that_is_a_file(project: Path, kind: str, step: list[str]) -> None:
    if kind == "file":
        (project / "dist").write_bytes(b"not a directory\n")
    else:
        (project / "notes.txt").write_bytes(b"not a directory\n")
        (project / "dist").symlink_to("notes.txt")
    commit_all(project)
    output = fails(project, *step)
    what = "a regular file" if kind == "file" else "a symlink"
    if step[0] == "verify-release" and kind != "file":  # the named DIR is followed: the file it points to
        assert "error: notes.txt: is not a directory (it is a regular file)" in output, output
    else:
        assert f"dist: is not a directory (it is {what})" in output, output
    assert "does not exist" not in output
    assert (project / "dist").read_bytes() == b"not a directory\n"


# --- dist/manifest.json ---------------------------------------------------------------------


def _manifest(**changes: object) -> dict[str, object]:
    good: dict[str, object] = {
        "manifest_version": 2,
        "project": {"name": "proj", "version": "1.0"},
        "source": {"commit": "0" * 40, "tree": "0" * 40, "path": ".", "source_date_epoch": 0},
        "inputs_digest": "0" * 64,
        "toolchains": {"reprotasks": "0"},
        "python": None,
        "go": None,
        "artifacts": [{"name": "a.whl", "size": 1, "sha256": "0" * 64, "kind": "wheel", "platform": "any"}],
    }
    return {**good, **changes}


MANIFESTS = {
    "list": (b"[1, 2, 3]", "the document is an array, not a JSON object"),
    "string": (b'"manifest"', "the document is a string, not a JSON object"),
    "not-json": (b"{", "not JSON"),
    "not-utf8": (b'{"a": "\xff"}', "not UTF-8 text"),
    "deep": (b"[" * 100_000 + b"]" * 100_000, "JSON nested too deeply"),
    "missing-keys": (b"{}", "manifest_version null is not 2"),
    "size-string": (
        json.dumps(_manifest(artifacts=[{**_manifest()["artifacts"][0], "size": "5"}])).encode(),  # type: ignore[index]
        "artifact 'a.whl': `size` is a string",
    ),
    "source-nonsense": (json.dumps(_manifest(source={"commit": {"a": [[[1]]]}})).encode(), "`source.commit` is an"),
    "project-list": (json.dumps(_manifest(project=[1])).encode(), "`project` is an array"),
    "platforms-list": (json.dumps(_manifest(go={"platforms": ["linux/amd64"]})).encode(), "`go.platforms` is an"),
    "artifact-path": (
        json.dumps(_manifest(artifacts=[{**_manifest()["artifacts"][0], "name": "../x"}])).encode(),  # type: ignore[index]
        "artifact name '../x' contains `/`",
    ),
}


@pytest.fixture
def built_project(project: Path) -> Path:
    commit_all(project)
    return project


@pytest.mark.parametrize("case", sorted(MANIFESTS))
def test_malformed_manifest(built_project: Path, case: str) -> None:
    data, expected = MANIFESTS[case]
    root = built_project
    dist = root / "dist"
    dist.mkdir()
    (dist / "manifest.json").write_bytes(data)
    (dist / "a.whl").write_bytes(b"a")
    # checksum never vouches for a dist/ whose manifest is not one; the steps after it are tried
    # with a SHA256SUMS written by hand.
    checked = run_cli("checksum", cwd=root)
    assert checked.returncode == 1 and "manifest.json: is not a reprotasks build manifest (" in checked.stderr
    assert "Traceback" not in checked.stderr
    (dist / "SHA256SUMS").write_text(
        "".join(
            f"{hashlib.sha256((dist / name).read_bytes()).hexdigest()}  {name}\n" for name in ("a.whl", "manifest.json")
        )
    )
    before = snapshot(root)
    outputs = {
        "sbom": fails(root, "sbom", code=2),
        "provenance": fails(root, "provenance", code=2),
        "reproduce": fails(root, "reproduce", code=2),
        "assemble": fails(root, "assemble", "dist", code=2),
    }
    for step, output in outputs.items():
        assert "manifest.json is not a reprotasks build manifest (" in output, (step, output)
        assert expected in output, (step, output)
        assert "hint: " in output
        assert len(output) < 2000, (step, len(output))
    assert snapshot(root) == before


# --- YAML nested hundreds of levels ---------------------------------------------------------

# libyaml refuses more than 1,000 levels; just below that, turning the nodes into containers
# recurses past Python's limit: both are RT-F003, neither a crash.
DEEP_YAML = {
    "flow-sequences": "[" * 990 + "]" * 990 + "\n",
    "flow-mappings": "{a: " * 990 + "1" + "}" * 990 + "\n",
    "block-mappings": "".join(" " * depth + "a:\n" for depth in range(990)) + " " * 990 + "b\n",
    "block-sequences-past-libyaml": "- " * 5000 + "x\n",
}


@pytest.mark.parametrize("case", sorted(DEEP_YAML))
@pytest.mark.parametrize("where", [".github/workflows/deep.yml", "action.yml", "tools/setup/action.yaml"])
def test_deeply_nested_yaml_is_a_finding(project: Path, case: str, where: str) -> None:
    (project / "pyproject.toml").write_text(GOOD_PYPROJECT)
    path = project / where
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(DEEP_YAML[case])
    workflow = project / ".github" / "workflows" / "ok.yml"
    workflow.parent.mkdir(parents=True, exist_ok=True)
    workflow.write_text("permissions: {}\njobs:\n  a:\n    steps:\n      - uses: actions/checkout@v4\n")
    output = fails(project, "audit", code=1)
    expected = "RT-F003 is not valid YAML (exceeded maximum nesting depth)" if "past" in case else "RT-F003 is nested"
    assert f"{where}:1:" in output and expected in output, output
    # the rest is still audited
    assert ".github/workflows/ok.yml:5:" in output and "RT-W001" in output


# --- SHA256SUMS -----------------------------------------------------------------------------


def test_ten_megabyte_sums_line(project: Path) -> None:
    dist = released(project, {"a.whl": b"a", "b.whl": b"b"})
    sums = dist / "SHA256SUMS"
    lines = sums.read_bytes().splitlines(keepends=True)
    hostile = b"0" * 64 + b"  " + b"x" * (10 << 20) + b"\n"
    sums.write_bytes(lines[0] + hostile + lines[1])
    (dist / "b.whl").write_bytes(b"tampered")
    before = snapshot(project)
    output = fails(project, "checksum", "--check", code=1)
    assert "dist/SHA256SUMS:2: line is longer than 321 bytes (not shown)" in output
    b_digest = hashlib.sha256(b"tampered").hexdigest()
    assert f"dist/SHA256SUMS:3: 'b.whl' was modified: sha256 is {b_digest}" in output
    assert len(output) < 5000
    assert snapshot(project) == before


def test_a_huge_sums_file_is_checked_in_bounded_memory_and_output(project: Path) -> None:
    """32 MB of valid lines naming files that are not there (about 300,000 findings): the
    check keeps the first 100, counts the rest, and stays far below what the lines would take."""
    dist = released(project, {"a.whl": b"a"})
    sums = dist / "SHA256SUMS"
    with sums.open("ab") as handle:
        chunk = b"".join(b"%064x  missing-%09d.tar.gz\n" % (i, i) for i in range(10_000))
        for _ in range(32 * 2**20 // len(chunk)):
            handle.write(chunk)
    size = sums.stat().st_size
    assert size > 30 * 2**20
    # A parent that only runs the check reports the child's peak resident memory.
    measure = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run([sys.executable, '-m', 'reprotasks', 'checksum', '--check'], capture_output=True)\n"
        "sys.stdout.write(f'{done.returncode} {len(done.stderr)} "
        "{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\\n')\n"
        "sys.stdout.write(done.stderr.decode()[-2000:])\n"
    )
    result = subprocess.run([sys.executable, "-c", measure], cwd=project, capture_output=True, text=True, check=True)
    first, _, tail = result.stdout.partition("\n")
    code, stderr_bytes, peak_kib = (int(word) for word in first.split())
    assert code == 1
    assert stderr_bytes < 40_000  # 100 findings and a count, never the whole listing
    assert peak_kib < 120 * 1024, f"{peak_kib} KiB for a {size} byte SHA256SUMS"
    assert "dist/SHA256SUMS:101: 'missing-000000099.tar.gz' is listed but missing from dist/" in tail
    assert "more problem(s) not shown" in tail


# --- the task runners -----------------------------------------------------------------------


def test_nox_and_invoke_report_bad_input_without_traceback(project: Path) -> None:
    (project / "noxfile.py").write_text("import reprotasks.nox  # noqa: F401\n")
    (project / "tasks.py").write_text("from reprotasks.invoke import ns  # noqa: F401\n")
    (project / "dist").write_bytes(b"x")
    for runner in (["nox", "-s", "checksum"], ["invoke", "checksum"]):
        result = run_module(*runner, cwd=project)
        assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
        assert "error: dist: is not a directory (it is a regular file)" in result.stderr
    (project / "pyproject.toml").write_bytes(b"[project]\nname = 'caf\xe9'\n")
    for runner in (["nox", "-s", "verify"], ["invoke", "verify"]):
        result = run_module(*runner, cwd=project)
        assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
        assert "error: pyproject.toml: line 2 is not UTF-8 text" in result.stderr
