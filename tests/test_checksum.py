"""SHA256SUMS: written in sha256sum's format, and every tampering case caught by --check."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from reprotasks.artifacts.checksum import check_checksums, check_findings, write_checksums
from reprotasks.artifacts.layout import SUMS_NAME
from reprotasks.errors import DriftError

from .conftest import commit_all, git, run_cli


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    directory = tmp_path / "project" / "dist"
    directory.mkdir(parents=True)
    (directory / "tool_1.0_linux_amd64.tar.gz").write_bytes(os.urandom(300_000))
    (directory / "pkg-1.0-py3-none-any.whl").write_bytes(b"wheel bytes")
    (directory / "pkg-1.0.tar.gz").write_bytes(b"")
    (directory / "B-upper.txt").write_bytes(b"sorted byte-wise: uppercase first")
    (directory / "SHA256SUMS.sigstore.json").write_text("{}")  # signatures are never listed
    write_checksums(directory)
    return directory


def problems(dist: Path) -> list[str]:
    return [finding.render() for finding in check_findings(dist)]


def test_format_is_sorted_lf_and_accepted_by_sha256sum(dist: Path) -> None:
    text = (dist / SUMS_NAME).read_bytes().decode()
    lines = text.splitlines()
    names = [line.split("  ", 1)[1] for line in lines]
    assert names == ["B-upper.txt", "pkg-1.0-py3-none-any.whl", "pkg-1.0.tar.gz", "tool_1.0_linux_amd64.tar.gz"]
    assert text.endswith("\n") and "\r" not in text
    for line in lines:
        digest, name = line.split("  ", 1)
        assert digest == hashlib.sha256((dist / name).read_bytes()).hexdigest()
    if shutil.which("sha256sum"):
        result = subprocess.run(["sha256sum", "-c", SUMS_NAME], cwd=dist, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
    assert problems(dist) == []
    assert [name for name, _ in check_checksums(dist).entries] == names


def test_rewriting_is_byte_identical(dist: Path) -> None:
    first = (dist / SUMS_NAME).read_bytes()
    write_checksums(dist)
    assert (dist / SUMS_NAME).read_bytes() == first


def test_one_flipped_byte(dist: Path) -> None:
    artifact = dist / "tool_1.0_linux_amd64.tar.gz"
    data = bytearray(artifact.read_bytes())
    data[150_000] ^= 0x01
    artifact.write_bytes(bytes(data))
    [message] = problems(dist)
    assert message.startswith("dist/SHA256SUMS:4: 'tool_1.0_linux_amd64.tar.gz' was modified: sha256 is ")
    assert "do not publish it" in message


def test_truncated_file(dist: Path) -> None:
    artifact = dist / "pkg-1.0-py3-none-any.whl"
    artifact.write_bytes(artifact.read_bytes()[:-1])
    assert problems(dist)[0].startswith("dist/SHA256SUMS:2: 'pkg-1.0-py3-none-any.whl' was modified")


def test_extra_and_missing_files(dist: Path) -> None:
    (dist / "pkg-1.0.tar.gz").unlink()
    (dist / "evil.sh").write_text("#!/bin/sh\n")
    assert problems(dist) == [
        "dist/SHA256SUMS:3: 'pkg-1.0.tar.gz' is listed but missing from dist/ -- run `reprotasks checksum` "
        "after a fresh build, or restore the release files",
        "dist/evil.sh: is not listed in SHA256SUMS -- remove it, or run `reprotasks checksum` (and sign again) "
        "if it belongs to the release; a release directory holds only the files SHA256SUMS lists, SHA256SUMS, "
        "the provenance, bundles and PEP 740 attestations",
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("../../etc/passwd", "file name '../../etc/passwd' contains `/`"),
        ("sub/../../x", "file name 'sub/../../x' contains `/`"),
        ("..", "file name '..' is a directory reference"),
        ("/etc/passwd", "file name '/etc/passwd' is an absolute path"),
        ("C:/Windows/win.ini", "file name 'C:/Windows/win.ini' is an absolute path"),
    ],
)
def test_unsafe_paths_are_refused_without_reading(dist: Path, line: str, expected: str) -> None:
    sums = dist / SUMS_NAME
    sums.write_text(sums.read_text() + f"{'0' * 64}  {line}\n")
    [message] = problems(dist)
    assert message.startswith(f"dist/SHA256SUMS:5: {expected}")


def test_symlink_leaving_dist(dist: Path) -> None:
    (dist / "passwd").symlink_to("/etc/passwd")
    sums = dist / SUMS_NAME
    sums.write_text(sums.read_text() + f"{hashlib.sha256(b'x').hexdigest()}  passwd\n")
    [message] = problems(dist)
    assert message.startswith("dist/SHA256SUMS:5: 'passwd' is a symlink: release files must be regular files")
    assert "root:" not in message


def test_symlinked_directory_leaving_dist(dist: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s")
    (dist / "sub").symlink_to(outside)
    sums = dist / SUMS_NAME
    sums.write_text(sums.read_text() + f"{hashlib.sha256(b's').hexdigest()}  sub/secret\n")
    listed, entry = problems(dist)
    assert listed.startswith("dist/SHA256SUMS:5: file name 'sub/secret' contains `/`")
    assert entry.startswith("dist/sub: is a symlink")


@pytest.mark.parametrize(
    "line",
    ["not a checksum line", f"{'a' * 63}  short.txt", f"{'a' * 64} nospace-mode.txt", f"{'g' * 64}  nothex.txt", ""],
)
def test_malformed_lines(dist: Path, line: str) -> None:
    sums = dist / SUMS_NAME
    sums.write_text(line + "\n" + sums.read_text())
    findings = problems(dist)
    assert findings[0].startswith("dist/SHA256SUMS:1: malformed line")
    assert len(findings) == 1


def test_empty_and_missing_sums(dist: Path) -> None:
    (dist / SUMS_NAME).write_text("")
    assert problems(dist)[0].startswith("dist/SHA256SUMS: is empty: it lists no artifact")
    (dist / SUMS_NAME).unlink()
    assert problems(dist)[0].startswith("dist/SHA256SUMS: missing")


def test_duplicate_entry(dist: Path) -> None:
    sums = dist / SUMS_NAME
    first = sums.read_text().splitlines()[0]
    sums.write_text(sums.read_text() + first + "\n")
    assert problems(dist) == [
        "dist/SHA256SUMS:5: lists 'B-upper.txt' twice -- run `reprotasks checksum` after a fresh build, "
        "or restore the release files"
    ]


def test_check_raises_with_every_finding(dist: Path) -> None:
    (dist / "pkg-1.0.tar.gz").write_bytes(b"x")
    (dist / "new.bin").write_bytes(b"y")
    with pytest.raises(DriftError) as caught:
        check_checksums(dist)
    assert caught.value.message.startswith("checksum --check found 2 problems:")


def test_cli_checksum_and_check(dist: Path) -> None:
    project = dist.parent
    (dist / SUMS_NAME).unlink()
    written = run_cli("checksum", cwd=project)
    assert written.returncode == 0, written.stderr
    assert (dist / SUMS_NAME).is_file()
    assert run_cli("checksum", "--check", cwd=project).returncode == 0
    (dist / "pkg-1.0.tar.gz").write_bytes(b"tampered")
    failed = run_cli("checksum", "--check", cwd=project)
    assert failed.returncode == 1
    assert "dist/SHA256SUMS:3: 'pkg-1.0.tar.gz' was modified" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_no_dist(tmp_path: Path) -> None:
    result = run_cli("checksum", cwd=tmp_path)
    assert result.returncode == 2
    assert "does not exist" in result.stderr and "run `reprotasks build` first" in result.stderr


def test_an_artifact_swapped_after_the_build_is_never_checksummed(dist: Path) -> None:
    """SHA256SUMS vouches for what the build made: a file whose digest is not manifest.json's is refused."""
    from reprotasks.artifacts.manifest import ArtifactRecord, Manifest

    source = {"commit": "a" * 40, "tree": "b" * 40, "path": ".", "source_date_epoch": 0}
    manifest = Manifest(
        project={"name": "pkg", "version": "1.0"},
        source=source,
        inputs_digest="c" * 64,
        toolchains={"reprotasks": "0"},
        python=None,
        go=None,
        artifacts=tuple(
            ArtifactRecord.of(path, kind="wheel" if path.suffix == ".whl" else "sdist", platform="any")
            for path in sorted(dist.iterdir())
            if not path.name.startswith("SHA256SUMS")
        ),
    )
    wheel = dist / "pkg-1.0-py3-none-any.whl"
    manifest.write(dist)
    write_checksums(dist)  # as built: fine
    (dist / "stray-1.0.tar.gz").write_bytes(b"no step made me")
    with pytest.raises(DriftError, match=r"stray-1\.0\.tar\.gz: is not an artifact manifest\.json records"):
        write_checksums(dist)  # SHA256SUMS (and so the provenance) never vouches for a file no step made
    (dist / "stray-1.0.tar.gz").unlink()
    wheel.write_bytes(b"swapped wheel bytes")
    before = (dist / SUMS_NAME).read_bytes()
    with pytest.raises(DriftError) as caught:
        write_checksums(dist)
    [finding] = caught.value.findings
    assert finding.render().startswith("dist/pkg-1.0-py3-none-any.whl: was modified after the build: sha256 ")
    assert (dist / SUMS_NAME).read_bytes() == before  # the old SHA256SUMS stays
    wheel.unlink()
    with pytest.raises(DriftError, match=r"is listed in manifest\.json but missing"):
        write_checksums(dist)


@pytest.mark.parametrize("step", [["checksum"], ["checksum", "--check"], ["sbom"], ["provenance"], ["sign"]])
def test_a_source_directory_as_dist_dir_is_refused_and_nothing_written(hybrid_repo: Path, step: list[str]) -> None:
    """dist-dir = "src" (tracked source): refused before anything is read or written, and never "remove it"."""
    pyproject = hybrid_repo / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.reprotasks]\ndist-dir = "src"\n')
    commit_all(hybrid_repo, "dist-dir = src")
    result = run_cli(*step, cwd=hybrid_repo)
    assert result.returncode == 2, result.stderr
    assert (
        "error: `dist-dir` src/ holds files tracked by git (src/hybrid_orchestrator/__init__.py, "
        "src/hybrid_orchestrator/cli.py), so it is part of the source, not a build output directory; "
        f"`{' '.join(step)}` must not read or write release files among them"
    ) in result.stderr
    assert (
        "hint: point `dist-dir` ([tool.reprotasks] or REPROTASKS_DIST_DIR) at a build output directory of its own "
        'that git does not track, such as `dist-dir = "dist"`, then run `reprotasks build`'
    ) in result.stderr
    assert "remove" not in result.stderr and "Traceback" not in result.stderr
    assert git("status", "--porcelain", "--untracked-files=all", "--ignored", cwd=hybrid_repo) == ""


@pytest.mark.parametrize(
    ("dist_dir", "expected"),
    [
        (".", "`dist-dir` = '.' is the project directory itself"),
        ("go/cmd", "`dist-dir` go/cmd/ holds files tracked by git (go/cmd/worker/main.go)"),
        ("README.md", "`dist-dir` README.md: is not a directory (it is a regular file), and git tracks it"),
        ("scratch", "`dist-dir` scratch/ holds pkg/__init__.py, so it is part of the source"),
    ],
)
def test_checksum_refuses_any_source_dist_dir(hybrid_repo: Path, dist_dir: str, expected: str) -> None:
    (hybrid_repo / "scratch" / "pkg").mkdir(parents=True)  # untracked (ignored), but a Python package
    (hybrid_repo / "scratch" / "pkg" / "__init__.py").write_text("")
    (hybrid_repo / ".git" / "info" / "exclude").write_text("/scratch/\n")
    result = run_cli("checksum", cwd=hybrid_repo, env={"REPROTASKS_DIST_DIR": dist_dir})
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert '`dist-dir = "dist"`, then run `reprotasks build`' in result.stderr
    assert "remove" not in result.stderr and "Traceback" not in result.stderr
    assert git("status", "--porcelain", "--untracked-files=all", cwd=hybrid_repo) == ""
    assert sorted(path.name for path in (hybrid_repo / "scratch").rglob("*")) == ["__init__.py", "pkg"]
