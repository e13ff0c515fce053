"""`reprotasks init` (byte-preserving, idempotent) and the release workflow template (actionlint, zizmor, pins)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reprotasks.config import load_config
from reprotasks.github.workflow import ACTIONS, render_workflow

from .conftest import RUNNING_PYTHON, commit_all, git, run_cli

REPO = Path(__file__).resolve().parent.parent
PINS = REPO.parent / "shared" / "github-actions-pins.md"
WORKFLOW = Path(".github/workflows/release.yml")

ODD_PYPROJECT = """\
# A user's file: comments, odd spacing and order must survive byte for byte.
[project]
name    = "hybrid-orchestrator"   # the name
version = "0.3.0"
requires-python=">=3.10"
dependencies = [
  "click>=8.1",   # CLI
    "packaging>=24",
  "tomli-w>=1.0",
]

[build-system]
build-backend = "hatchling.build"
requires = [ "hatchling" ]

[tool.ruff]  # linter
line-length=99
# trailing comment, no newline at the end"""


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, check=False, env={**os.environ}
    )


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }


def test_init_adds_only_the_new_table_and_is_idempotent(hybrid: Path) -> None:
    (hybrid / "noxfile.py").unlink()
    (hybrid / "tasks.py").unlink()
    (hybrid / "pyproject.toml").write_text(ODD_PYPROJECT)
    commit_all(hybrid)
    git("remote", "add", "origin", "https://github.com/acme/hybrid.git", cwd=hybrid)

    result = run_cli("init", cwd=hybrid)
    assert result.returncode == 0, result.stderr
    text = (hybrid / "pyproject.toml").read_text()
    assert text.startswith(ODD_PYPROJECT)  # every original byte, in place
    added = text[len(ODD_PYPROJECT) :]
    assert added.lstrip("\n").startswith("[tool.reprotasks]")
    assert 'github-repository = "acme/hybrid"' in added and 'module = "go"' in added
    assert 'locks = ["requirements.in"]' in added
    for name in ("noxfile.py", "tasks.py", str(WORKFLOW)):
        assert (hybrid / name).is_file(), name
        assert name in result.stdout
    # What promotion needs that init cannot make is said once, with the commands.
    assert result.stdout.count("to promote releases (dev -> staging -> prod) with the workflow") == 1
    assert "git switch --orphan promotions" in result.stdout and "protect prod" in result.stdout
    assert "[tool.reprotasks.promote.rules.prod]" in result.stdout
    workflow_promoter = re.search(r"\{ identity = [^}]*\}", result.stdout.replace("\n  ", " "))
    assert workflow_promoter, result.stdout
    assert "https://github.com/acme/hybrid/.github/workflows/release.yml@refs/tags/*" in workflow_promoter.group(0)
    config = load_config(hybrid)
    assert config.sign.github_repository == "acme/hybrid" and config.go.module == hybrid / "go"

    before = snapshot(hybrid)
    again = run_cli("init", cwd=hybrid)
    assert again.returncode == 0 and snapshot(hybrid) == before
    assert again.stdout.count("unchanged") == 4

    # A user's edit of the workflow is kept unless --force.
    workflow = hybrid / WORKFLOW
    workflow.write_text(workflow.read_text() + "# my edit\n")
    kept = run_cli("init", cwd=hybrid)
    assert "--force" in kept.stdout and workflow.read_text().endswith("# my edit\n")
    forced = run_cli("init", "--force", cwd=hybrid)
    assert forced.returncode == 0 and "replaced (--force)" in forced.stdout
    assert workflow.read_text() == render_workflow(load_config(hybrid))


def test_init_extends_existing_noxfile_and_tasks(hybrid: Path) -> None:
    (hybrid / "noxfile.py").write_text(
        '"""My sessions."""\n\nimport nox\n\n\n@nox.session(python=False)\ndef hello(session):\n    """Say hi."""\n'
    )
    (hybrid / "tasks.py").write_text(
        'from invoke import task\n\n\n@task\ndef hello(c):\n    """Say hi."""\n    print("hi")\n'
    )
    commit_all(hybrid)
    assert run_cli("init", cwd=hybrid).returncode == 0
    noxfile = (hybrid / "noxfile.py").read_text()
    assert noxfile.startswith('"""My sessions."""\n\nimport nox\nimport reprotasks.nox')
    sessions = run("nox", "-l", cwd=hybrid).stdout
    assert "* hello -> Say hi." in sessions and "- release -> " in sessions and "- lock -> " in sessions
    tasks = run("invoke", "--list", cwd=hybrid)
    assert tasks.returncode == 0, tasks.stderr
    names = {line.split()[0] for line in tasks.stdout.splitlines()[2:] if line.strip()}
    assert {"hello", "release", "lock", "verify", "build", "checksum", "assemble"} <= names
    assert run("invoke", "hello", cwd=hybrid).stdout == "hi\n"


def test_init_in_a_go_repository_writes_reprotasks_toml(hybrid: Path, tmp_path: Path, go_env: dict[str, str]) -> None:
    """No pyproject.toml: the settings go to reprotasks.toml (same keys), and the release runs."""
    root = tmp_path / "gorepo"
    shutil.copytree(hybrid / "go", root)
    commit_all(root)
    env = {**go_env, "REPROTASKS_AUDIT_ENABLED": "0"}
    result = run_cli("init", "--no-nox", "--no-invoke", cwd=root, env=env)
    assert result.returncode == 0, result.stderr
    text = (root / "reprotasks.toml").read_text()
    assert 'module = "."' in text and "\n[tool" not in text
    assert not (root / ".python-version").exists()  # no Python to pin
    assert 'python-version: "' in (root / WORKFLOW).read_text()
    assert load_config(root).go.module == root
    commit_all(root)
    verify = run_cli("verify", cwd=root, env=env)
    assert verify.returncode == 0, verify.stderr
    built = run_cli("build", "--platform", "linux/amd64", cwd=root, env=env)
    assert built.returncode == 0, built.stderr
    assert any(path.name.startswith("worker_") for path in (root / "dist").iterdir())
    again = run_cli("init", "--no-nox", "--no-invoke", cwd=root, env=env)
    assert again.returncode == 0 and "unchanged (reprotasks.toml already there)" in again.stdout


def test_init_names_the_python_projects_it_leaves_out(hybrid: Path, tmp_path: Path, go_env: dict[str, str]) -> None:
    """receptor: Go at the root and two Python projects in subdirectories. The Go-only
    configuration is written, and init says which Python projects it left out and how to add one."""
    root = tmp_path / "receptor"
    shutil.copytree(hybrid / "go", root)
    for name in ("receptorctl", "receptor-python-worker"):
        (root / name).mkdir()
        (root / name / "pyproject.toml").write_text(
            '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n'
            f'[project]\nname = "{name}"\nversion = "1.0.0"\n'
        )
    commit_all(root)
    result = run_cli("init", "--no-nox", "--no-invoke", cwd=root, env=go_env)
    assert result.returncode == 0, result.stderr
    assert "left out: the Python project(s) receptor-python-worker/, receptorctl/ (each with [build-system]); " in (
        result.stdout
    )
    assert "this release builds no Python project and the Go module" in result.stdout
    assert 'Set `project = "DIR"` under [tool.reprotasks.python]' in result.stdout


def test_settings_in_both_places_are_refused(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '1'\n[tool.reprotasks]\n")
    (tmp_path / "reprotasks.toml").write_text("dist-dir = 'out'\n")
    result = run_cli("config", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "the configuration is given twice: in reprotasks.toml and in [tool.reprotasks]" in result.stderr
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '1'\n")
    (tmp_path / "reprotasks.toml").write_text("dist-dri = 'out'\n")
    typo = run_cli("config", cwd=tmp_path)
    assert typo.returncode == 2 and "reprotasks.toml" in typo.stderr and "dist-dir" in typo.stderr


@pytest.mark.network
def test_fresh_repository_from_the_example_after_init(hybrid: Path) -> None:
    """The issue's "done when": init, then nox and invoke run the release steps."""
    (hybrid / "noxfile.py").unlink()
    (hybrid / "tasks.py").unlink()
    commit_all(hybrid)
    assert run_cli("init", cwd=hybrid).returncode == 0
    commit_all(hybrid, "wire reprotasks")
    nox = run("nox", "-s", "lock", "verify", "build", "checksum", cwd=hybrid)
    assert nox.returncode == 0, nox.stderr[-3000:]
    assert git("status", "--porcelain", cwd=hybrid) == ""  # lock changed nothing: the example is locked
    invoke = run("invoke", "release", "--skip", "sign", cwd=hybrid)
    assert invoke.returncode == 0, invoke.stderr[-3000:]
    assert "release: done" in invoke.stdout
    assert {"SHA256SUMS", "sbom.cdx.json", "provenance.intoto.json"} <= {p.name for p in (hybrid / "dist").iterdir()}


# --- the workflow template ------------------------------------------------------------------


def rendered_workflows(tmp_path: Path, hybrid: Path) -> list[Path]:
    """The template for a Python + Go project and for a Python-only one, plus our own workflows."""
    target = tmp_path / "rendered" / ".github" / "workflows"
    target.mkdir(parents=True)
    (target / "hybrid.yml").write_text(render_workflow(load_config(hybrid)))
    pyproject = (hybrid / "pyproject.toml").read_text()
    (hybrid / "pyproject.toml").write_text(
        pyproject
        + '\n[[tool.reprotasks.images]]\nname = "worker"\nbinary = "worker"\nrepository = "ghcr.io/acme/worker"\n'
    )
    with_images = render_workflow(load_config(hybrid))
    assert "reprotasks image\n" in with_images and "packages: write" in with_images
    (target / "hybrid-images.yml").write_text(with_images)
    (hybrid / "pyproject.toml").write_text(pyproject)
    shutil.rmtree(hybrid / "go")
    (target / "python-only.yml").write_text(render_workflow(load_config(hybrid)))
    for own in sorted((REPO / ".github" / "workflows").glob("*.yml")):
        shutil.copyfile(own, target / f"own-{own.name}")
    return sorted(target.iterdir())


def tool(name: str) -> str:
    found = (
        os.environ.get(name.upper()) or shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    )
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed (.ci/run installs it)")
        pytest.skip(f"{name} not installed")
    return found


def test_workflows_pass_actionlint_and_zizmor(tmp_path: Path, hybrid: Path) -> None:
    files = rendered_workflows(tmp_path, hybrid)
    actionlint = subprocess.run([tool("actionlint"), *map(str, files)], capture_output=True, text=True, check=False)
    assert actionlint.returncode == 0, actionlint.stdout + actionlint.stderr
    for persona in ("regular", "auditor"):  # auditor: zizmor's strictest, findings it otherwise hides
        zizmor = subprocess.run(
            [
                tool("zizmor"),
                "--offline",
                "--no-progress",
                f"--persona={persona}",
                "--format",
                "plain",
                *list(map(str, files)),
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp_path / "rendered",
        )
        assert zizmor.returncode == 0, persona + "\n" + zizmor.stdout + zizmor.stderr
        assert "No findings" in zizmor.stdout + zizmor.stderr


def test_every_action_is_pinned_to_the_recorded_sha(tmp_path: Path, hybrid: Path) -> None:
    rows = re.findall(r"\| `([\w.-]+/[\w.-]+)` \| (v[\d.]+) \| `([0-9a-f]{40})`", PINS.read_text())
    recorded = {action: (tag, sha) for action, tag, sha in rows}
    assert len(recorded) >= 8
    for value in ACTIONS.values():
        action, rest = value.split("@")
        sha, tag = rest.split(" # ")
        assert recorded[action] == (tag, sha), value
    for workflow in rendered_workflows(tmp_path, hybrid):
        uses = re.findall(r"uses: ([^@\s]+)@(\S+) # (\S+)", workflow.read_text())
        assert uses, workflow
        assert len(uses) == workflow.read_text().count("uses: ")  # no unpinned or uncommented uses
        for action, sha, tag in uses:
            assert recorded[action] == (tag, sha), (workflow.name, action)


def test_permissions_are_least_privilege(hybrid: Path) -> None:
    text = render_workflow(load_config(hybrid))
    top, _, jobs = text.partition("\njobs:\n")
    assert "permissions:\n  contents: read\n" in top and ": write" not in top
    job_texts = dict(re.findall(r"\n  (\w+):\n(.*?)(?=\n  \w+:\n|\Z)", "\n" + jobs, re.S))
    writers = {name: re.findall(r"([\w-]+): write", body) for name, body in job_texts.items()}
    assert writers == {
        "verify": [],
        "build": [],
        "assemble": [],
        "reproduce": [],
        "sign": ["id-token"],
        "publish": ["contents"],
        "pypi": ["id-token"],
        "promote": ["contents", "id-token"],
        "drill": ["contents", "id-token"],
    }
    # The drill: scheduled and by hand, on another runner image than the release's, and only then.
    assert 'schedule:\n    - cron: "17 5 1 * *"' in text and "options: [promote, rollback, drill]" in text
    drill = job_texts["drill"]
    assert "runs-on: ubuntu-22.04" in drill and "inputs.action == 'drill'" in drill
    assert "reprotasks drill --published 'drilled/{tag}'" in drill
    assert "if: github.event_name == 'workflow_dispatch' && inputs.action != 'drill'" in job_texts["promote"]
    assert "on:\n  push:\n    tags:" in text and "concurrency:" in text
    assert "workflow_dispatch:" in text and "environment: ${{ inputs.environment }}" in text
    assert "options: [dev, staging, prod]" in text
    assert "python-version-file: .python-version" in text and "go-version-file: go/go.mod" in text
    assert "persist-credentials: false" in text and "${{" not in "".join(re.findall(r"run: .*", text))
    for platform in ("linux/amd64", "linux/arm64", "darwin/arm64", "windows/amd64"):
        assert f"--go-only --platform {platform}" in text


def test_own_release_workflow_is_rendered_from_the_template() -> None:
    own = (REPO / WORKFLOW).read_text()
    install = list(dict.fromkeys(re.findall(r"^          (python -m pip install .*)$", own, re.M)))
    assert len(install) == 2 and "--require-hashes" in install[0]
    assert own == render_workflow(load_config(REPO), install), "run the init command in README (dogfood) again"


def test_init_pins_python_when_the_project_has_no_pin(hybrid: Path) -> None:
    (hybrid / ".python-version").unlink()
    commit_all(hybrid)
    result = run_cli("init", cwd=hybrid)
    assert result.returncode == 0, result.stderr
    assert (hybrid / ".python-version").read_text() == RUNNING_PYTHON + "\n"
    assert f"created: pins Python {RUNNING_PYTHON}" in result.stdout
    again = run_cli("init", cwd=hybrid)
    assert again.returncode == 0 and ".python-version" not in again.stdout


def test_init_never_replaces_a_workflow_of_the_users_own(hybrid: Path) -> None:
    (hybrid / "noxfile.py").unlink()
    (hybrid / "tasks.py").unlink()
    theirs = hybrid / WORKFLOW
    theirs.parent.mkdir(parents=True)
    theirs.write_text("name: release\non: push\njobs: {}\n")
    commit_all(hybrid)
    git("tag", "1.0.0", cwd=hybrid)
    git("tag", "1.1.0", cwd=hybrid)
    git("remote", "add", "origin", "git@github.com:acme/hybrid.git", cwd=hybrid)
    result = run_cli("init", "--no-nox", "--no-invoke", cwd=hybrid)
    assert result.returncode == 0, result.stderr
    assert theirs.read_text() == "name: release\non: push\njobs: {}\n"
    ours = hybrid / ".github" / "workflows" / "reprotasks-release.yml"
    assert 'tags: ["[0-9]*"]' in ours.read_text() and "git tag 1.2.3" in ours.read_text()
    config = load_config(hybrid)
    assert config.sign.github_workflow == ".github/workflows/reprotasks-release.yml"
    assert not (hybrid / "noxfile.py").exists() and not (hybrid / "tasks.py").exists()
    again = run_cli("init", "--no-nox", "--no-invoke", cwd=hybrid)
    assert again.returncode == 0 and "unchanged (matches the template)" in again.stdout
    assert theirs.read_text() == "name: release\non: push\njobs: {}\n"


def test_init_names_its_renamed_workflow_without_a_github_origin_and_flags_an_ignored_pin(hybrid: Path) -> None:
    (hybrid / ".python-version").unlink()
    (hybrid / ".gitignore").write_text(".python-version\n")
    theirs = hybrid / WORKFLOW
    theirs.parent.mkdir(parents=True)
    theirs.write_text("name: ci\non: push\njobs: {}\n")
    commit_all(hybrid)
    result = run_cli("init", "--no-nox", "--no-invoke", cwd=hybrid)
    assert result.returncode == 0, result.stderr
    assert load_config(hybrid).sign.github_workflow == ".github/workflows/reprotasks-release.yml"
    assert ".gitignore ignored it: `!/.python-version` added there" in result.stdout
    assert "added `/dist/`" in result.stdout
    ignores = (hybrid / ".gitignore").read_text().splitlines()
    assert "!/.python-version" in ignores and "/dist/" in ignores
    ignored = subprocess.run(["git", "check-ignore", "-q", ".python-version"], cwd=hybrid, check=False)
    assert ignored.returncode == 1  # no longer ignored
    assert "then `reprotasks lock`, `reprotasks verify`, `reprotasks build`" in result.stdout  # no nox: no nox hint
    again = run_cli("init", "--no-nox", "--no-invoke", cwd=hybrid)
    assert again.returncode == 0 and (hybrid / ".gitignore").read_text().splitlines() == ignores


def test_a_dist_ignore_already_there_is_seen_on_a_fresh_clone(tmp_path: Path) -> None:
    """A fresh clone has no dist/ yet: git is asked from the nearest directory that exists, so a
    `dist` line already in .gitignore is seen and init adds no second one."""
    from reprotasks._run import Runner
    from reprotasks.inputs.pins import ignored_by_git

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("dist\n")
    runner = Runner(tmp_path, log=lambda _line: None)
    assert not (tmp_path / "dist").exists()
    assert ignored_by_git(tmp_path / "dist" / "x", runner=runner)
    assert not ignored_by_git(tmp_path / "build" / "x", runner=runner)
