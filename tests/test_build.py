"""The build step on examples/hybrid with the real tools: python -m build (hatchling), go build, git."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from .conftest import HYBRID, commit_all, copy_hybrid, git, run_cli, without_packages

pytestmark = [pytest.mark.network, pytest.mark.slow, pytest.mark.e2e]

PYTHON_ARTIFACTS = {"hybrid_orchestrator-0.3.0-py3-none-any.whl", "hybrid_orchestrator-0.3.0.tar.gz"}
GO_ARTIFACTS = {
    "worker_0.3.0_linux_amd64.tar.gz",
    "worker_0.3.0_linux_arm64.tar.gz",
    "worker_0.3.0_darwin_arm64.tar.gz",
    "worker_0.3.0_windows_amd64.zip",
}


def git_show(root: Path, what: str) -> bytes:
    return subprocess.run(["git", "show", what], cwd=root, capture_output=True, check=True).stdout


def build(root: Path, *args: str, umask: int = 0o022, env: dict[str, str] | None = None) -> str:
    result = run_cli("build", *args, cwd=root, env=env, umask=umask)
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def test_two_places_two_umasks_same_bytes_and_sha256sum_accepts_them(tmp_path: Path, hybrid_repo: Path) -> None:
    """The issue's first test: examples/hybrid built from two paths and umasks gives identical SHA256SUMS."""
    other = tmp_path / "somewhere" / "much" / "deeper" / "hybrid"
    copy_hybrid(other)
    commit_all(other)
    assert git("rev-parse", "HEAD", cwd=other) == git("rev-parse", "HEAD", cwd=hybrid_repo)
    sums = []
    for root, umask in ((hybrid_repo, 0o022), (other, 0o077)):
        build(root, umask=umask)
        result = run_cli("checksum", cwd=root, umask=umask)
        assert result.returncode == 0, result.stderr
        sums.append((root / "dist" / "SHA256SUMS").read_bytes())
        check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=root / "dist", capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
    assert sums[0] == sums[1]
    listed = {line.split("  ", 1)[1] for line in sums[0].decode().splitlines()}
    assert listed == PYTHON_ARTIFACTS | GO_ARTIFACTS | {"manifest.json"}


def test_manifest_records_artifacts_toolchains_and_commit(hybrid_repo: Path) -> None:
    build(hybrid_repo)
    dist = hybrid_repo / "dist"
    manifest = json.loads((dist / "manifest.json").read_text())
    assert manifest["source"]["commit"] == git("rev-parse", "HEAD", cwd=hybrid_repo)
    assert manifest["source"]["source_date_epoch"] == 1706933106
    assert manifest["toolchains"]["go"] == "go1.26.8"
    assert manifest["python"]["build_requirements"]["hatchling"]
    assert "-trimpath" in manifest["go"]["command"]
    by_name = {item["name"]: item for item in manifest["artifacts"]}
    assert set(by_name) == PYTHON_ARTIFACTS | GO_ARTIFACTS
    for name, item in by_name.items():
        assert item["size"] == (dist / name).stat().st_size
    linux = by_name["worker_0.3.0_linux_amd64.tar.gz"]
    assert linux["platform"] == "linux/amd64" and "build\tGOAMD64=v1" in linux["embedded"]
    assert "dep\tgithub.com/google/uuid\tv1.6.0\th1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=" in linux["embedded"]
    # the version stamp and the archive layout
    with tarfile.open(dist / "worker_0.3.0_linux_amd64.tar.gz") as archive:
        (member,) = archive.getmembers()
        assert (member.name, member.mode, member.mtime, member.uname) == ("worker", 0o755, 1706933106, "")
    with zipfile.ZipFile(dist / "worker_0.3.0_windows_amd64.zip") as archive:
        assert archive.namelist() == ["worker.exe"]
    assert str(hybrid_repo) not in (dist / "manifest.json").read_text()


def test_unchanged_inputs_reuse_dist_and_any_change_rebuilds(hybrid_repo: Path) -> None:
    build(hybrid_repo)
    dist = hybrid_repo / "dist"
    first = {path.name: path.read_bytes() for path in dist.iterdir()}
    assert "reused the previous build" in build(hybrid_repo)
    assert {path.name: path.read_bytes() for path in dist.iterdir()} == first
    # a tampered artifact is never reused: it is rebuilt and comes out as before
    wheel = dist / "hybrid_orchestrator-0.3.0-py3-none-any.whl"
    wheel.write_bytes(wheel.read_bytes() + b"x")
    assert "reused" not in build(hybrid_repo)
    assert wheel.read_bytes() == first[wheel.name]
    # a new commit changes the inputs
    (hybrid_repo / "README.md").write_text("changed\n")
    commit_all(hybrid_repo, "docs")
    output = build(hybrid_repo)
    assert "reused" not in output
    manifest = json.loads((dist / "manifest.json").read_text())
    assert manifest["source"]["commit"] == git("rev-parse", "HEAD", cwd=hybrid_repo)


def test_signing_settings_set_after_the_build_reuse_it(hybrid_repo: Path, tmp_path: Path) -> None:
    """[sign] changes no byte of a build: setting REPROTASKS_SIGN_* between `build` and `sbom` (as a
    release job does) neither rebuilds nor makes sbom and provenance refuse the build."""
    build(hybrid_repo, "--go-only", "--platform", "linux/amd64")
    manifest = (hybrid_repo / "dist" / "manifest.json").read_bytes()
    trust = tmp_path / "trust-config.json"
    trust.write_text("{}\n")
    signing = {"REPROTASKS_SIGN_OFFLINE": "1", "REPROTASKS_SIGN_TRUST_CONFIG": str(trust)}
    output = build(hybrid_repo, "--go-only", "--platform", "linux/amd64", env=signing)
    assert "build: inputs unchanged since the last build; dist/ checked and reused" in output
    assert "unchanged inputs: reused the previous build (digests checked)" in output
    assert (hybrid_repo / "dist" / "manifest.json").read_bytes() == manifest
    for step in ("checksum", "sbom", "checksum", "provenance"):
        result = run_cli(step, cwd=hybrid_repo, env=signing)
        assert result.returncode == 0, result.stderr
    # what the build writes still counts: another platform set is another build
    output = build(hybrid_repo, "--go-only", "--platform", "linux/arm64", env=signing)
    assert "reused" not in output


def test_dirty_tree_is_refused_or_warned_and_untracked_files_never_leak(hybrid_repo: Path) -> None:
    cli = hybrid_repo / "src" / "hybrid_orchestrator" / "cli.py"
    cli.write_text(cli.read_text() + "\n# local edit\n")
    (hybrid_repo / "src" / "hybrid_orchestrator" / "untracked_secret.py").write_text("TOKEN = 'x'\n")
    refused = run_cli("build", cwd=hybrid_repo)
    assert refused.returncode == 2
    assert "uncommitted changes (src/hybrid_orchestrator/cli.py)" in refused.stderr
    assert "git stash" in refused.stderr and "Traceback" not in refused.stderr
    assert not (hybrid_repo / "dist").exists()
    output = build(hybrid_repo, "--python-only", env={"REPROTASKS_DIRTY_TREE": "warn"})
    assert "uncommitted changes are NOT in this build" in output
    with zipfile.ZipFile(hybrid_repo / "dist" / "hybrid_orchestrator-0.3.0-py3-none-any.whl") as wheel:
        names = wheel.namelist()
        assert "hybrid_orchestrator/cli.py" in names
        assert "hybrid_orchestrator/untracked_secret.py" not in names
        assert b"# local edit" not in wheel.read("hybrid_orchestrator/cli.py")


def test_one_platform_for_ci_matrices(hybrid_repo: Path) -> None:
    build(hybrid_repo, "--go-only", "--platform", "linux/arm64")
    dist = hybrid_repo / "dist"
    assert sorted(path.name for path in dist.iterdir()) == ["manifest.json", "worker_0.3.0_linux_arm64.tar.gz"]
    manifest = json.loads((dist / "manifest.json").read_text())
    assert manifest["python"] is None and list(manifest["go"]["platforms"]) == ["linux/arm64"]
    bad = run_cli("build", "--platform", "linux", cwd=hybrid_repo)
    assert bad.returncode == 2 and "platform 'linux' is not OS/ARCH" in bad.stderr


def test_without_a_committed_build_lock_build_resolves_records_and_reproduce_reuses(hybrid_repo: Path) -> None:
    git("rm", "--quiet", "build-requirements.txt", cwd=hybrid_repo)
    commit_all(hybrid_repo, "drop the build lock")
    output = build(hybrid_repo, "--python-only")
    assert output.count("build-requirements.txt is not committed, so the build backend is not locked") == 1, output
    assert re.search(r"\n  warnings +1, shown above as `build: WARNING: \.\.\.`\n", output), output
    assert "run `reprotasks lock` and commit build-requirements.txt" in output
    manifest = json.loads((hybrid_repo / "dist" / "manifest.json").read_text())
    lock = manifest["python"]["build_lock"]
    assert lock["path"] is None and lock["resolved"] == sorted(lock["resolved"])
    names = [line.split("==")[0] for line in lock["resolved"]]
    assert {"hatchling", "build"} <= set(names) and all("--hash=sha256:" in line for line in lock["resolved"])
    assert sorted(manifest["python"]["build_requirements"]) == sorted(names)
    # Unchanged inputs: the recorded resolution is reused, not resolved again.
    assert "dist/ checked and reused" in build(hybrid_repo, "--python-only")
    reproduced = run_cli("reproduce", cwd=hybrid_repo)
    assert reproduced.returncode == 0, reproduced.stderr
    assert "--from-manifest=" in reproduced.stderr and "identical" in reproduced.stdout
    for step in ("sbom", "checksum"):
        done = run_cli(step, cwd=hybrid_repo)
        assert done.returncode == 0, done.stderr
    # Provenance attests what the commit pins: recorded pins only when the project says so.
    refused = run_cli("provenance", cwd=hybrid_repo)
    assert refused.returncode == 2 and "provenance attests only what the commit pins" in refused.stderr
    relaxed_env = {"REPROTASKS_PYTHON_REQUIRE_BUILD_LOCK": "false"}
    attested = run_cli("provenance", cwd=hybrid_repo, env=relaxed_env)
    assert attested.returncode == 0, attested.stderr
    assert (
        "resolved at build time, recorded in manifest.json" in (hybrid_repo / "dist/provenance.intoto.json").read_text()
    )
    sbom = (hybrid_repo / "dist" / "sbom.cdx.json").read_text()
    assert "manifest.json (build requirements resolved at build time)" in sbom
    # `release` still requires the committed lock (verify), unless configured otherwise.
    verified = run_cli("verify", cwd=hybrid_repo)
    assert verified.returncode == 1 and "build-requirements.txt: missing" in verified.stderr
    relaxed = run_cli("verify", cwd=hybrid_repo, env=relaxed_env)
    assert "build-requirements.txt: missing" not in relaxed.stderr, relaxed.stderr
    # A changed recorded requirement is caught by every step that re-derives the manifest.
    path = hybrid_repo / "dist" / "manifest.json"
    tampered = json.loads(path.read_text())
    tampered["python"]["build_lock"]["resolved"][0] = tampered["python"]["build_lock"]["resolved"][0].replace(
        "--hash=sha256:", "--hash=sha256:0", 1
    )
    path.write_text(json.dumps(tampered, indent=2, sort_keys=True) + "\n")
    refused = run_cli("sbom", cwd=hybrid_repo)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "not a sorted, hashed lock" in refused.stderr
    # Recorded requirements given with --from-manifest must be exactly [build-system] requires' closure.
    tampered = json.loads(json.dumps(manifest))  # the first build's, untouched
    resolved = tampered["python"]["build_lock"]["resolved"]
    tampered["python"]["build_lock"]["resolved"] = [line for line in resolved if not line.startswith("hatchling==")]
    (hybrid_repo / "other.json").write_text(json.dumps(tampered))
    partial = run_cli("build", "--python-only", "--force", "--from-manifest", "other.json", cwd=hybrid_repo)
    assert partial.returncode == 2 and "nothing provides hatchling" in partial.stderr, partial.stderr
    foreign = run_cli("build", "--from-manifest", "nowhere.json", cwd=hybrid_repo)
    assert foreign.returncode == 2 and "nowhere.json: cannot be read (No such file" in foreign.stderr
    # A lock in the working tree that is not committed is not the build's: verify says so.
    (hybrid_repo / "build-requirements.txt").write_bytes(git_show(hybrid_repo, "HEAD~1:build-requirements.txt"))
    untracked = run_cli("verify", cwd=hybrid_repo)
    assert "build-requirements.txt: is not tracked by git: build, reproduce and the SBOM use only" in untracked.stderr
    git("checkout", "--quiet", "HEAD~1", "--", "build-requirements.txt", cwd=hybrid_repo)
    shutil.rmtree(hybrid_repo / "dist")
    pyproject = hybrid_repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"click>=8.1"', '"click>>8.1"'))
    commit_all(hybrid_repo, "break a dependency specifier")
    failed = run_cli("build", "--python-only", cwd=hybrid_repo)
    assert failed.returncode == 1
    assert "`python -m build --no-isolation" in failed.stderr and "failed with exit code" in failed.stderr
    assert (hybrid_repo / "dist").exists() is False


def test_failed_build_leaves_the_previous_dist_untouched(hybrid_repo: Path) -> None:
    build(hybrid_repo, "--python-only")
    dist = hybrid_repo / "dist"
    before = {path.name: path.read_bytes() for path in dist.iterdir()}
    pyproject = hybrid_repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"click>=8.1"', '"click>>8.1"'))
    commit_all(hybrid_repo, "break a dependency specifier")
    failed = run_cli("build", cwd=hybrid_repo)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert {path.name: path.read_bytes() for path in dist.iterdir()} == before
    assert not list(hybrid_repo.glob(".dist-*")), "a staging directory was left behind"


def test_vcs_stamping_embeds_the_commit_and_requires_a_clean_tree(hybrid_repo: Path) -> None:
    stamp = {"REPROTASKS_GO_VCS_STAMP": "true", "REPROTASKS_DIRTY_TREE": "warn"}
    build(hybrid_repo, "--go-only", "--platform", "linux/amd64", env=stamp)
    manifest = json.loads((hybrid_repo / "dist" / "manifest.json").read_text())
    (artifact,) = manifest["artifacts"]
    commit = git("rev-parse", "HEAD", cwd=hybrid_repo)
    assert f"build\tvcs.revision={commit}" in artifact["embedded"]
    assert "build\tvcs.modified=false" in artifact["embedded"]
    assert "-buildvcs=true" in manifest["go"]["command"]
    (hybrid_repo / "go" / "cmd" / "worker" / "main.go").write_text("package main\n\nfunc main() {}\n")
    refused = run_cli("build", "--go-only", cwd=hybrid_repo, env=stamp)
    assert refused.returncode == 2 and "Go VCS stamping (`go.vcs-stamp`) is on" in refused.stderr


def test_a_shallow_ci_checkout_builds_the_same_bytes(hybrid_repo: Path, tmp_path: Path) -> None:
    """actions/checkout fetches depth 1 by default: the clean clone must still work and agree."""
    shallow = tmp_path / "ci-checkout"
    subprocess.run(
        ["git", "clone", "--quiet", "--depth", "1", hybrid_repo.as_uri(), str(shallow)], check=True, capture_output=True
    )
    assert git("rev-parse", "--is-shallow-repository", cwd=shallow) == "true"
    for root in (hybrid_repo, shallow):
        build(root, "--platform", "linux/amd64")
    for name in ("manifest.json", "worker_0.3.0_linux_amd64.tar.gz", *PYTHON_ARTIFACTS):
        assert (shallow / "dist" / name).read_bytes() == (hybrid_repo / "dist" / name).read_bytes(), name


def test_build_never_replaces_sources_or_the_project(hybrid_repo: Path) -> None:
    into_sources = run_cli("build", cwd=hybrid_repo, env={"REPROTASKS_DIST_DIR": "src"})
    assert into_sources.returncode == 2
    assert "`dist-dir` src/ holds files tracked by git (src/hybrid_orchestrator/__init__.py" in into_sources.stderr
    assert (hybrid_repo / "src" / "hybrid_orchestrator" / "cli.py").is_file()
    into_root = run_cli("build", cwd=hybrid_repo, env={"REPROTASKS_DIST_DIR": "."})
    assert into_root.returncode == 2 and "is the project directory itself" in into_root.stderr
    (hybrid_repo / ".git").rename(hybrid_repo / "not-git")
    no_git = run_cli("build", cwd=hybrid_repo)
    assert no_git.returncode == 2 and "not a git repository" in no_git.stderr and "git init" in no_git.stderr


def test_unusable_cache_directory_is_an_error_not_a_traceback(hybrid_repo: Path, tmp_path: Path) -> None:
    not_a_directory = tmp_path / "cache-is-a-file"
    not_a_directory.write_text("")
    result = run_cli("build", "--python-only", cwd=hybrid_repo, env={"REPROTASKS_CACHE_DIR": str(not_a_directory)})
    assert result.returncode == 2, result.stderr
    assert f"error: build: {not_a_directory}/build-env: " in result.stderr
    assert "permissions and the free space" in result.stderr and "Traceback" not in result.stderr
    assert not (hybrid_repo / "dist").exists()


def test_submodules_are_built_from_this_checkout_never_dropped(hybrid_repo: Path, tmp_path: Path) -> None:
    """A submodule's files are in the build (cloned from the local checkout, nothing fetched);
    one that is not checked out here is a clear error."""
    import zipfile

    from .conftest import commit_all, git

    data = tmp_path / "data-repo"
    data.mkdir()
    (data / "table.txt").write_text("from the submodule\n")
    commit_all(data)
    git(
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "--quiet",
        str(data),
        "src/hybrid_orchestrator/data",
        cwd=hybrid_repo,
    )
    commit_all(hybrid_repo, "add a submodule")
    built = run_cli("build", "--python-only", cwd=hybrid_repo)
    assert built.returncode == 0, built.stderr
    [wheel] = (hybrid_repo / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("hybrid_orchestrator/data/table.txt") == b"from the submodule\n"
    reproduced = run_cli("reproduce", cwd=hybrid_repo)
    assert reproduced.returncode == 0, reproduced.stderr
    git("submodule", "deinit", "--quiet", "--force", "--all", cwd=hybrid_repo)
    missing = run_cli("build", "--python-only", "--force", cwd=hybrid_repo)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "submodule src/hybrid_orchestrator/data is not checked out in" in missing.stderr
    # Declared not part of the release, but the backend would pack it (it sits in the package):
    # refused, since a build with it checked out would ship files this one silently lacks.
    excluded = {"REPROTASKS_EXCLUDE_SUBMODULES": "src/hybrid_orchestrator/data"}
    packed = run_cli("build", "--python-only", "--force", cwd=hybrid_repo, env=excluded)
    assert packed.returncode == 2 and "Traceback" not in packed.stderr, packed.stderr
    assert (
        "the build backend packs the directory of a submodule that `exclude-submodules` leaves out "
        "(`src/hybrid_orchestrator/data`): hybrid_orchestrator-0.3.0.tar.gz: "
        "hybrid_orchestrator-0.3.0/src/hybrid_orchestrator/data/REPROTASKS-EXCLUDED-SUBMODULE is the placeholder"
    ) in packed.stderr, packed.stderr
    assert "[tool.hatch.build.targets.sdist] exclude" in packed.stderr
    # Left out of the sdist (and so of the wheel built from it) too: the clone without it builds.
    with (hybrid_repo / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write('\n[tool.hatch.build.targets.sdist]\nexclude = ["src/hybrid_orchestrator/data"]\n')
    commit_all(hybrid_repo, "the data is not shipped")
    without = run_cli("build", "--python-only", "--force", cwd=hybrid_repo, env=excluded)
    assert without.returncode == 0, without.stderr
    [wheel] = (hybrid_repo / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert not [name for name in archive.namelist() if "/data/" in name]
    shown = json.loads(run_cli("config", cwd=hybrid_repo, env=excluded).stdout)
    assert shown["exclude-submodules"] == ["src/hybrid_orchestrator/data"]
    wrong = run_cli(
        "build", "--python-only", "--force", cwd=hybrid_repo, env={"REPROTASKS_EXCLUDE_SUBMODULES": "tests"}
    )
    assert wrong.returncode == 2 and "`exclude-submodules` names tests, which is not a submodule" in wrong.stderr


def test_go_at_the_root_and_python_in_a_subdirectory_is_one_release(tmp_path: Path, go_env: dict[str, str]) -> None:
    root = tmp_path / "mixed"
    shutil.copytree(HYBRID / "go", root, ignore=shutil.ignore_patterns("dist"))
    python = root / "python"
    python.mkdir()
    shutil.copytree(HYBRID / "src", python / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "requirements.in", "requirements.txt", "build-requirements.txt"):
        shutil.copy(HYBRID / name, python / name)
    without_packages(python / "pyproject.toml")
    shutil.copy(HYBRID / ".python-version", root / ".python-version")
    commit_all(root, "Go at the root, Python in python/")
    initialized = run_cli("init", "--no-nox", "--no-invoke", cwd=root, env=go_env)
    assert initialized.returncode == 0, initialized.stderr
    settings = (root / "reprotasks.toml").read_text()
    assert 'project = "python"' in settings and 'locks = ["python/requirements.in"]' in settings
    commit_all(root, "reprotasks init")
    verified = run_cli("verify", cwd=root, env=go_env)
    assert "lock python/build-requirements.txt" in verified.stdout, verified.stdout + verified.stderr
    build(root, "--platform", "linux/amd64", env=go_env)
    manifest = json.loads((root / "dist" / "manifest.json").read_text())
    assert {record["name"] for record in manifest["artifacts"]} == {
        *PYTHON_ARTIFACTS,
        "worker_0.3.0_linux_amd64.tar.gz",
    }
    assert manifest["python"]["directory"] == "python" and manifest["go"]["module"] == "."
    assert manifest["python"]["build_lock"]["path"] == "python/build-requirements.txt"
    reproduced = run_cli("reproduce", cwd=root, env=go_env)
    assert reproduced.returncode == 0, reproduced.stderr
    # Tagged v0.9.1 but named 0.3.0 by the Python client's [project] version: said.
    git("tag", "v0.9.1", cwd=root)
    tagged = build(root, "--platform", "linux/amd64", "--force", env=go_env)
    assert (
        "the commit is tagged v0.9.1 but the release is named 0.3.0 ([project] version of python/pyproject.toml)"
        in tagged
    )
    (root / "NEWS").write_text("after the tag\n")
    commit_all(root, "after the tag")
    later = build(root, "--platform", "linux/amd64", env=go_env)
    assert "the commit is last tagged v0.9.1 but the release is named 0.3.0" in later
    # A root pyproject.toml with its own [project] makes python.project ambiguous: refused.
    (root / "pyproject.toml").write_text("[project]\nname = 'other'\nversion = '1'\n")
    ambiguous = run_cli("config", cwd=root, env=go_env)
    assert ambiguous.returncode == 2 and "has its own [project]" in ambiguous.stderr


def test_build_constraints_keep_the_backend_of_the_last_release(hybrid_repo: Path) -> None:
    """python.build-constraints pins the backend the lock resolves, so the wheel says what built it."""
    (hybrid_repo / "build-constraints.txt").write_text("hatchling==1.25.0\n")
    pyproject = hybrid_repo / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + '\n[tool.reprotasks.python]\nbuild-constraints = "build-constraints.txt"\n'
    )
    stale = run_cli("verify", cwd=hybrid_repo)
    assert stale.returncode == 1 and "build-requirements.txt" in stale.stderr, stale.stderr
    locked = run_cli("lock", "--python-only", cwd=hybrid_repo)
    assert locked.returncode == 0, locked.stderr
    assert "hatchling==1.25.0" in (hybrid_repo / "build-requirements.txt").read_text()
    commit_all(hybrid_repo, "keep hatchling 1.25.0")
    build(hybrid_repo, "--python-only")
    with zipfile.ZipFile(hybrid_repo / "dist" / "hybrid_orchestrator-0.3.0-py3-none-any.whl") as wheel:
        assert "Generator: hatchling 1.25.0" in wheel.read("hybrid_orchestrator-0.3.0.dist-info/WHEEL").decode()
    missing = run_cli("config", cwd=hybrid_repo, env={"REPROTASKS_PYTHON_BUILD_CONSTRAINTS": "nope.txt"})
    assert missing.returncode == 2 and "`python.build-constraints` = 'nope.txt' is not a regular file" in missing.stderr


def test_a_backend_that_runs_its_own_binary_builds(tmp_path: Path) -> None:
    """uv_build runs the `uv-build` binary its wheel installs: the build environment's scripts are on PATH."""
    root = tmp_path / "uvb"
    (root / "src" / "uvb").mkdir(parents=True)
    (root / "src" / "uvb" / "__init__.py").write_text('"""A uv_build project."""\n')
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["uv_build>=0.8,<0.12"]\nbuild-backend = "uv_build"\n\n'
        '[project]\nname = "uvb"\nversion = "0.1.0"\nrequires-python = ">=3.10"\n'
    )
    commit_all(root)
    output = build(root)
    assert "is not committed, so the build backend is not locked" in output
    assert sorted(path.name for path in (root / "dist").iterdir()) == [
        "manifest.json",
        "uvb-0.1.0-py3-none-any.whl",
        "uvb-0.1.0.tar.gz",
    ]


def test_a_dynamic_python_version_names_the_release_or_is_flagged(hybrid_repo: Path) -> None:
    """[project] version is dynamic: a Python-only release is named by its wheel's version (manifest,
    SBOM), not by git describe; with Go too, the disagreement is a warning naming the fix."""
    pyproject = hybrid_repo / "pyproject.toml"
    text = pyproject.read_text().replace('version = "0.3.0"\n', 'dynamic = ["version"]\n', 1)
    pyproject.write_text(
        text.replace("[project]", '[tool.hatch.version]\npath = "src/hybrid_orchestrator/__init__.py"\n\n[project]', 1)
    )
    commit_all(hybrid_repo, "dynamic version")
    git("tag", "v0.2.0", cwd=hybrid_repo)
    (hybrid_repo / "NEWS").write_text("after the tag\n")
    commit_all(hybrid_repo, "one more commit")
    output = build(hybrid_repo, "--platform", "linux/amd64")
    assert "the release is named 0.2.0-1-g" in output and "but the wheel's version is 0.3.0" in output
    assert 'set `version = "0.3.0"`' in output
    pyproject.write_text(pyproject.read_text() + "\n[tool.reprotasks.go]\nenabled = false\n")
    commit_all(hybrid_repo, "Python only")
    output = build(hybrid_repo)
    assert "release version 0.3.0, the wheel's" in output and "WARNING: the release is named" not in output
    manifest = json.loads((hybrid_repo / "dist" / "manifest.json").read_text())
    assert manifest["project"]["version"] == "0.3.0"
    assert "dist/ checked and reused" in build(hybrid_repo)
    for step in ("sbom", "checksum", "provenance"):
        done = run_cli(step, cwd=hybrid_repo)
        assert done.returncode == 0, done.stderr
    sbom = json.loads((hybrid_repo / "dist" / "sbom.cdx.json").read_text())
    assert sbom["metadata"]["component"]["version"] == "0.3.0"


def test_a_static_version_is_named_as_the_wheel_names_it(hybrid_repo: Path) -> None:
    """itsdangerous declares `version = "2.3.0.dev"`; its wheel says 2.3.0.dev0 (PEP 440): one name."""
    pyproject = hybrid_repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "0.3.0"', 'version = "0.3.0.dev"', 1))
    commit_all(hybrid_repo, "a dev version")
    output = build(hybrid_repo, "--platform", "linux/amd64")
    assert "WARNING: the release is named" not in output
    names = sorted(path.name for path in (hybrid_repo / "dist").iterdir())
    assert (
        "hybrid_orchestrator-0.3.0.dev0-py3-none-any.whl" in names and "worker_0.3.0.dev0_linux_amd64.tar.gz" in names
    )
    assert json.loads((hybrid_repo / "dist" / "manifest.json").read_text())["project"]["version"] == "0.3.0.dev0"
