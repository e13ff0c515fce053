"""Release integrity, tried as an attacker would on a real build of examples/hybrid.

Each test performs one attack (a file planted in dist/, a symlink, a hostile name, a
hand-edited manifest, a poisoned cache, a floating toolchain, an untracked config file)
and asserts the named finding, a non-zero exit and no traceback. The attacks that need
signatures run against the local Sigstore instance in test_sign_e2e.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import PreparedHybrid, cli, commit_all, copy_hybrid, git, run_cli, run_steps

pytestmark = [pytest.mark.network, pytest.mark.slow]

LINUX = "worker_0.3.0_linux_amd64.tar.gz"
WHEEL = "hybrid_orchestrator-0.3.0-py3-none-any.whl"
SECRET = "TOP-SECRET-OUTSIDE-DIST"


@pytest.fixture
def built(prepared_hybrid: PreparedHybrid) -> Path:
    """examples/hybrid built, with its SBOM and SHA256SUMS."""
    return prepared_hybrid("built-sbom-checksum", lambda root: run_steps(root, "build", "sbom", "checksum"))


def sums_line(digest: str, name: str) -> str:
    return f"{digest}  {name}\n"


# 1. A release directory is exactly what SHA256SUMS says.


@pytest.mark.parametrize(
    ("plant", "expected"),
    [
        (lambda d: (d / ".evil").write_text("x"), "dist/.evil: file name '.evil' is a hidden file"),
        (lambda d: (d / "SHA256SUMS.asc").write_text("x"), "dist/SHA256SUMS.asc: is not part of a release"),
        (lambda d: (d / "sub").mkdir(), "dist/sub: is a subdirectory: a release directory is flat"),
        (lambda d: (d / "extra.txt").write_text("x"), "dist/extra.txt: is not listed in SHA256SUMS"),
        (
            lambda d: (d / "ghost.bin.sigstore.json").write_text("{}"),
            "dist/ghost.bin.sigstore.json: is a bundle for 'ghost.bin', which SHA256SUMS does not list",
        ),
        (
            lambda d: os.mkfifo(d / "fifo"),
            "dist/fifo: is not a regular file (FIFO, socket or device)",
        ),
    ],
    ids=["hidden", "other-sums", "subdirectory", "unlisted", "orphan-bundle", "fifo"],
)
def test_anything_not_listed_is_a_finding(built: Path, plant: object, expected: str) -> None:
    assert callable(plant)
    plant(built / "dist")
    output = cli(built, "checksum", "--check", code=1)
    assert expected in output
    # checksum refuses to list it rather than writing sums its own check would reject
    if "extra.txt" not in expected:
        assert "checksum found" in cli(built, "checksum", code=1)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sub/x", "file name 'sub/x' contains `/`"),
        ("./x", "file name './x' contains `/`"),
        ("../x", "file name '../x' contains `/`"),
        ("a\\b", "file name 'a\\\\b' contains a backslash"),
        ("SHA256SUMS.sig", "file name 'SHA256SUMS.sig' is reserved"),
        ("x.sigstore.json", "file name 'x.sigstore.json' is reserved"),
    ],
)
def test_sums_entries_that_are_not_plain_names(built: Path, name: str, expected: str) -> None:
    sums = built / "dist" / "SHA256SUMS"
    sums.write_text(sums.read_text() + sums_line("0" * 64, name))
    assert expected in cli(built, "checksum", "--check", code=1)


def test_symlinks_listed_or_not_are_findings_and_never_read(built: Path, tmp_path: Path) -> None:
    dist = built / "dist"
    outside = tmp_path / "outside.txt"
    outside.write_text(SECRET + "\n")
    wheel = dist / WHEEL
    copy = tmp_path / WHEEL
    shutil.copyfile(wheel, copy)
    wheel.unlink()
    wheel.symlink_to(copy)  # same bytes, but through a symlink
    (dist / "link").symlink_to(outside)
    output = cli(built, "checksum", "--check", code=1)
    assert f"'{WHEEL}' is a symlink: release files must be regular files" in output
    assert "dist/link: is a symlink" in output
    # A symlinked SHA256SUMS is never followed, so nothing outside dist/ is ever printed.
    wheel.unlink()
    shutil.copyfile(copy, wheel)
    (dist / "link").unlink()
    (dist / "SHA256SUMS").unlink()
    (dist / "SHA256SUMS").symlink_to(outside)
    output = cli(built, "checksum", "--check", code=1)
    assert "dist/SHA256SUMS: is a symlink: it is never followed or read" in output
    assert SECRET not in output


def test_overlong_and_binary_sums_lines_are_reported_not_echoed(built: Path) -> None:
    sums = built / "dist" / "SHA256SUMS"
    original = sums.read_bytes()
    sums.write_bytes(b"A" * 10_000_000 + b"\n" + b"\xff\xfe  bad\n" + original)
    output = cli(built, "checksum", "--check", code=1)
    assert "SHA256SUMS:1: line is longer than 321 bytes (not shown)" in output
    assert "SHA256SUMS:2: line is not valid UTF-8" in output
    assert len(output) < 5000


def test_checksum_refuses_names_it_could_not_check(built: Path) -> None:
    dist = built / "dist"
    (dist / "SHA256SUMS").unlink()
    (dist / "two\nlines.txt").write_text("x")
    output = cli(built, "checksum", code=1)
    assert "file name 'two\\nlines.txt' contains a control character" in output
    assert not (dist / "SHA256SUMS").exists()
    (dist / "two\nlines.txt").unlink()
    bad = os.fsencode(dist) + b"/caf\xe9.txt"  # Latin-1, not UTF-8
    Path(os.fsdecode(bad)).write_text("x")
    assert "is not valid UTF-8" in cli(built, "checksum", code=1)


# 3. Names are validated everywhere: assemble never writes or reads outside dist/.


@pytest.mark.parametrize("name", ["../../escaped.txt", "/etc/passwd", "sub/x"])
def test_assemble_refuses_part_manifests_with_unsafe_names(built: Path, tmp_path: Path, name: str) -> None:
    part = tmp_path / "part"
    shutil.copytree(built / "dist", part)
    data = json.loads((part / "manifest.json").read_text())
    data["artifacts"][0]["name"] = name
    (part / "manifest.json").write_text(json.dumps(data))
    output = cli(built, "assemble", str(part), code=2)
    assert "is not a reprotasks build manifest" in output and "artifact name" in output
    assert not (tmp_path / "escaped.txt").exists() and not (built / "escaped.txt").exists()


# 4. Attested facts are re-derived, not trusted from files.


def test_reuse_needs_the_manifest_this_machine_wrote(built: Path) -> None:
    dist = built / "dist"
    assert "reused the previous build" in cli(built, "build", code=0)
    # A hand-edited manifest (same inputs digest, false toolchain) is never reused.
    manifest = dist / "manifest.json"
    data = json.loads(manifest.read_text())
    data["toolchains"]["go"] = "go1.99.0"
    manifest.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    output = cli(built, "build", code=0)
    assert "is not the one this machine's last build wrote: rebuilding" in output
    assert json.loads(manifest.read_text())["toolchains"]["go"] == "go1.26.8"
    # A stray file is never carried along; outputs of later steps are dropped.
    (dist / "stray.sh").write_text("#!/bin/sh\n")
    output = cli(built, "build", code=0)
    assert "holds 'stray.sh', which no build writes: rebuilding" in output and not (dist / "stray.sh").exists()
    cli(built, "sbom", code=0)
    output = cli(built, "build", code=0)
    assert "reused the previous build" in output and not (dist / "sbom.cdx.json").exists()
    # A dist/ copied from elsewhere (no record on this machine) is rebuilt.
    shutil.rmtree(Path(os.environ["REPROTASKS_CACHE_DIR"]) / "build-reuse")
    assert "reused" not in cli(built, "build", code=0)


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda m: m["go"].update(command=["go", "build", "-trimpath"]), "`go` says"),
        (lambda m: m["source"].update(tree="0" * 40), "`source` says"),
        (lambda m: m["toolchains"].update(go="go1.24.0"), "`toolchains` says"),
        (lambda m: m["artifacts"][-1].update(embedded=["dep\tevil.example/x\tv1.0.0"]), "is not byte-identical"),
    ],
    ids=["flags", "tree", "toolchain", "embedded"],
)
def test_a_hand_edited_manifest_never_reaches_provenance_or_sbom(built: Path, edit: object, field: str) -> None:
    assert callable(edit)
    manifest = built / "dist" / "manifest.json"
    data = json.loads(manifest.read_text())
    edit(data)
    manifest.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    cli(built, "checksum", code=0)
    for step in ("provenance", "sbom"):
        output = cli(built, step, code=1)
        assert f"{step} found" in output and "dist/manifest.json" in output and field in output
    assert not (built / "dist" / "provenance.intoto.json").exists()


def test_provenance_takes_the_commit_from_git(built: Path) -> None:
    (built / "README.md").write_text("later\n")
    commit_all(built, "later")
    output = cli(built, "provenance", code=2)
    assert "was built from commit" in output and "but HEAD is" in output


# 5. The compiler recorded is the compiler used.


@pytest.fixture
def pinned_go124(hybrid: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """examples/hybrid pinned to go1.24.0 while the installed go is newer (downloads go1.24.0 once)."""
    go_mod = hybrid / "go" / "go.mod"
    go_mod.write_text(go_mod.read_text().replace("toolchain go1.26.8", "toolchain go1.24.0"))
    monkeypatch.setenv("GOFLAGS", "-mod=mod")
    commit_all(hybrid)
    return hybrid


def test_verify_hint_gotoolchain_builds_with_the_pin(pinned_go124: Path) -> None:
    env = {"GOTOOLCHAIN": "go1.24.0"}  # what verify's hint says to set
    cli(pinned_go124, "build", "--go-only", "--platform", "linux/amd64", env=env, code=0)
    manifest = json.loads((pinned_go124 / "dist" / "manifest.json").read_text())
    assert manifest["toolchains"]["go"] == "go1.24.0"
    [record] = manifest["artifacts"]
    assert record["compiler"] == "go1.24.0"
    unpacked = pinned_go124 / "unpacked"
    unpacked.mkdir()
    subprocess.run(["tar", "-xzf", str(pinned_go124 / "dist" / LINUX), "-C", str(unpacked)], check=True)
    shown = subprocess.run(
        ["go", "version", str(unpacked / "worker")],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "GOTOOLCHAIN": "local"},
    )
    assert shown.stdout.strip().endswith("go1.24.0"), shown.stdout
    # The same binary in a release whose go.mod pins another toolchain is named by provenance.
    archive = pinned_go124 / "dist" / LINUX
    other = pinned_go124.parent / "other"
    copy_hybrid(other)
    commit_all(other)
    cli(other, "build", "--go-only", "--platform", "linux/amd64", code=0)
    manifest_path = other / "dist" / "manifest.json"
    data = json.loads(manifest_path.read_text())
    shutil.copyfile(archive, other / "dist" / LINUX)
    data["artifacts"][0].update(
        size=archive.stat().st_size, sha256=hashlib.sha256(archive.read_bytes()).hexdigest(), compiler="go1.26.8"
    )
    manifest_path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    cli(other, "checksum", code=0)
    output = cli(other, "provenance", code=1)
    assert f"dist/{LINUX}: holds a binary compiled by go1.24.0, but go.mod pins go1.26.8" in output


# 6. The build reads the commit, not the working tree.


def test_untracked_config_file_is_refused(hybrid_repo: Path) -> None:
    git("rm", "--quiet", "--cached", "pyproject.toml", cwd=hybrid_repo)
    git("commit", "--quiet", "-m", "pyproject.toml no longer tracked", cwd=hybrid_repo)
    output = cli(hybrid_repo, "build", "--go-only", code=2)
    assert "untracked files would change the build's configuration (pyproject.toml)" in output
    assert not (hybrid_repo / "dist").exists()


def test_working_tree_config_must_be_the_commits(hybrid_repo: Path) -> None:
    pyproject = hybrid_repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.reprotasks]\ndirty-tree = "warn"\n')
    commit_all(hybrid_repo, "warn on dirty trees")
    committed = pyproject.read_text()
    # [sign] changes nothing the build writes or records: a working-tree difference there is no refusal
    pyproject.write_text(committed + "\n[tool.reprotasks.sign]\noffline = true\n")
    cli(hybrid_repo, "build", "--go-only", "--platform", "linux/amd64", code=0)
    shutil.rmtree(hybrid_repo / "dist")
    pyproject.write_text(committed + '\n[tool.reprotasks.go]\nplatforms = ["linux/amd64"]\n')
    output = cli(hybrid_repo, "build", code=2)
    assert "the configuration in the working tree differs from commit" in output
    assert "go.platforms" in output
    assert not (hybrid_repo / "dist").exists()


# 7. Caches can't vouch for themselves.


def test_poisoned_build_environment_is_rebuilt(built: Path) -> None:
    [env] = (Path(os.environ["REPROTASKS_CACHE_DIR"]) / "build-env").glob("[!.]*")
    [site] = env.glob("venv/lib/python*/site-packages")
    (site / "zzz_poison.pth").write_text("import os; os.environ['POISONED'] = '1'\n")
    output = cli(built, "build", "--force", "--python-only", code=0)
    assert "site-packages/zzz_poison.pth comes from no locked wheel); rebuilding it" in output
    assert not (site / "zzz_poison.pth").exists()
    module = next(site.glob("hatchling/__about__.py"))
    module.write_text(module.read_text() + "\n# tampered\n")
    output = cli(built, "build", "--force", "--python-only", code=0)
    assert "hatchling/__about__.py differs from its wheel" in output


def test_an_archive_check_is_kept_by_its_bytes_and_read_only_where_caches_are_trusted(built: Path) -> None:
    """The build records each Go archive it wrote as checked (so sbom and provenance need not unpack
    it again); a record is keyed by the archive's bytes, and a release without --trust-cache reads none."""
    from reprotasks._distdir import DistDir
    from reprotasks._run import Runner
    from reprotasks.artifacts.sbom import sbom
    from reprotasks.config import load_config
    from reprotasks.errors import DriftError
    from reprotasks.steps._derived import derivations

    records = sorted((Path(os.environ["REPROTASKS_CACHE_DIR"]) / "go-archive-checked").iterdir())
    assert len(records) == len(list((built / "dist").glob("worker_*"))) == 4
    # Records that lie (another module graph in each binary): whoever trusts the cache takes them,
    # so the manifest no longer matches; trusting no cache, the archives themselves are checked.
    for record in records:
        data = json.loads(record.read_text(encoding="utf-8"))
        record.write_text(json.dumps({**data, "embedded": ["mod\tevil.example/planted\t(devel)"]}), encoding="utf-8")
    config, dist = load_config(built), DistDir.of(built / "dist", built)
    runner = Runner(built, log=lambda _line: None)
    with pytest.raises(DriftError, match="is not byte-identical to the manifest re-derived from the build"):
        sbom(config, dist, derived=derivations(), runner=runner)
    assert sbom(config, dist, derived=derivations(), runner=runner, trust_cache=False).go == 1
    # A lying record for other bytes is never consulted: a changed archive is unpacked and named.
    archive = built / "dist" / LINUX
    archive.write_bytes(archive.read_bytes() + b"\0" * 512)
    output = cli(built, "sbom", code=1)
    assert f"dist/{LINUX}: is not the canonical archive of the binary it holds" in output, output


def test_reproduce_uses_its_own_build_environment(built: Path) -> None:
    output = cli(built, "reproduce", code=0)
    assert "a fresh build environment" in output


def test_release_does_not_trust_caches_unless_asked(hybrid_repo: Path) -> None:
    cli(hybrid_repo, "verify", code=0)
    fresh = cli(hybrid_repo, "release", "--skip", "sign", code=0)
    assert "cached" not in fresh.split("release: build")[0]
    assert "reused the previous build" not in fresh
    trusted = cli(hybrid_repo, "release", "--skip", "sign", "--trust-cache", code=0)
    assert "resolution unchanged, cached" in trusted


# 9. dist-dir can never be .git, inside it, or hold control files.


@pytest.mark.parametrize(
    ("dist_dir", "expected"),
    [
        (".git", "is a git directory, inside one"),
        (".git/refs", "is a git directory, inside one"),
        ("go", "holds go/go.mod, which the release steps read"),
        (".", "is the project directory itself"),
    ],
)
def test_dist_dir_never_git_or_control_files(hybrid_repo: Path, dist_dir: str, expected: str) -> None:
    output = cli(hybrid_repo, "build", env={"REPROTASKS_DIST_DIR": dist_dir}, code=2)
    assert expected in output
    assert (hybrid_repo / ".git" / "HEAD").is_file() and (hybrid_repo / "go" / "go.mod").is_file()


def test_release_refuses_a_dist_dir_holding_tracked_files(hybrid_repo: Path) -> None:
    (hybrid_repo / "out").mkdir()
    (hybrid_repo / "out" / "notes.txt").write_text("tracked\n")
    commit_all(hybrid_repo, "tracked output directory")
    output = cli(hybrid_repo, "release", "--skip", "sign", env={"REPROTASKS_DIST_DIR": "out"}, code=2)
    assert "holds files tracked by git (out/notes.txt)" in output
    assert (hybrid_repo / "out" / "notes.txt").read_text() == "tracked\n"


# 10. GitHub annotations are escaped.


def test_file_names_cannot_inject_workflow_commands(built: Path, tmp_path: Path) -> None:
    dist = built / "dist"
    (dist / "x,line=1:y").write_text("x")
    (dist / "evil\n::warning file=a::pwned").write_text("x")
    result = run_cli("checksum", "--check", cwd=built, env={"GITHUB_ACTIONS": "true"})
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert not [line for line in lines if line.startswith("::warning")]
    errors = [line for line in lines if line.startswith("::error")]
    assert len(errors) == 2
    assert any("file=dist/x%2Cline=1%3Ay::" in line for line in errors)
