"""Deterministic sdist re-packing: unit cases on crafted archives, and a real setuptools project."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from reprotasks._run import Runner
from reprotasks.artifacts.explain import explain
from reprotasks.python.sdist import normalize_sdist, problems

from .conftest import RUNNING_PYTHON, commit_all, run_cli

EPOCH = 1706933106
FILES = {"pkg-1.0/PKG-INFO": b"Metadata-Version: 2.1\n", "pkg-1.0/pkg/__init__.py": b"x = 1\n", "pkg-1.0/run.sh": b"#!"}


def sdist_like_setuptools(
    path: Path, *, user: str, mtime: float, order: list[str], umask_mode: int, changed: dict[str, bytes] | None = None
) -> None:
    """What setuptools leaves: PAX mtimes, a real user, group-writable modes, a stamped gzip header."""
    files = {**FILES, **(changed or {})}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        directory = tarfile.TarInfo("pkg-1.0")
        directory.type, directory.mode, directory.mtime, directory.uname = tarfile.DIRTYPE, 0o775, mtime, user
        archive.addfile(directory)
        for name in order:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.uname, info.uid = len(files[name]), mtime, user, 1000
            info.mode = umask_mode | (0o111 if name.endswith(".sh") else 0)
            archive.addfile(info, io.BytesIO(files[name]))
    with open(path, "wb") as raw, gzip.GzipFile(filename=str(path), mode="wb", fileobj=raw, mtime=int(mtime)) as gz:
        gz.write(buffer.getvalue())


def members(path: Path) -> dict[str, bytes | None]:
    with tarfile.open(path) as archive:
        return {
            info.name: (handle.read() if (handle := archive.extractfile(info)) else None)
            for info in archive.getmembers()
        }


def test_noisy_sdists_from_two_machines_repack_to_the_same_bytes(tmp_path: Path) -> None:
    one, two = tmp_path / "one.tar.gz", tmp_path / "two.tar.gz"
    sdist_like_setuptools(one, user="alice", mtime=1.7e9 + 0.25, order=sorted(FILES), umask_mode=0o664)
    sdist_like_setuptools(two, user="bob", mtime=1.8e9, order=sorted(FILES, reverse=True), umask_mode=0o644)
    before = members(one)
    found = normalize_sdist(one, EPOCH)
    assert any("gzip header" in text for text in found)
    assert any("owner alice" in text for text in found)
    assert any("mode 0o664" in text for text in found)
    assert normalize_sdist(two, EPOCH)
    assert one.read_bytes() == two.read_bytes()
    assert members(one) == before  # identical members and contents
    assert normalize_sdist(one, EPOCH) == []  # idempotent: a clean archive is left untouched
    with tarfile.open(one) as archive:
        infos = archive.getmembers()
        assert [info.name for info in infos] == sorted(info.name for info in infos)
        assert {(info.uname, info.uid, info.mtime) for info in infos} == {("", 0, EPOCH)}
        assert {info.name: info.mode for info in infos}["pkg-1.0/run.sh"] == 0o755


def test_clean_sdist_is_left_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "clean.tar.gz"
    sdist_like_setuptools(path, user="alice", mtime=1.7e9, order=sorted(FILES), umask_mode=0o644)
    normalize_sdist(path, EPOCH)
    data = path.read_bytes()
    assert problems(path, EPOCH) == []
    assert normalize_sdist(path, EPOCH) == [] and path.read_bytes() == data


def test_not_gzip_is_a_clear_error(tmp_path: Path) -> None:
    from reprotasks.errors import ReprotasksError

    path = tmp_path / "x.tar.gz"
    path.write_bytes(b"PK\x03\x04 not gzip")
    with pytest.raises(ReprotasksError, match=r"x\.tar\.gz is not a gzip file"):
        normalize_sdist(path, EPOCH)


def test_builtin_explanation_names_the_member_and_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no diffoscope: the built-in explanation is used
    one, two = tmp_path / "a" / "p.tar.gz", tmp_path / "b" / "p.tar.gz"
    one.parent.mkdir()
    two.parent.mkdir()
    sdist_like_setuptools(one, user="alice", mtime=1.7e9, order=sorted(FILES), umask_mode=0o644)
    sdist_like_setuptools(
        two,
        user="bob",
        mtime=1.7e9,
        order=sorted(FILES),
        umask_mode=0o644,
        changed={"pkg-1.0/pkg/__init__.py": b"x = 2\n"},
    )
    text = explain(one, two, runner=Runner(tmp_path, log=lambda _line: None))
    assert text.startswith("(reprotasks)")
    assert "member pkg-1.0/pkg/__init__.py: contents differ" in text
    assert "-x = 1" in text and "+x = 2" in text
    assert "member pkg-1.0/run.sh: owner 1000:0 (alice:) vs 1000:0 (bob:)" in text
    assert "member pkg-1.0/PKG-INFO: contents differ" not in text


SETUPTOOLS_PYPROJECT = """\
[build-system]
requires = ["setuptools>=70"]
build-backend = "setuptools.build_meta"

[project]
name = "tool"
version = "1.0"

[tool.reprotasks.python]
version-pin = "none"
"""


@pytest.mark.network
@pytest.mark.slow
@pytest.mark.e2e
def test_setuptools_project_builds_identical_sdist_after_repack(tmp_path: Path) -> None:
    roots: list[Path] = []
    for index, umask in enumerate((0o022, 0o002)):
        root = tmp_path / f"machine-{index}" / ("nested/" * index) / "tool"
        (root / "src" / "tool").mkdir(parents=True)
        (root / "pyproject.toml").write_text(SETUPTOOLS_PYPROJECT)
        (root / "src" / "tool" / "__init__.py").write_text("VALUE = 1\n")
        (root / ".python-version").write_text(RUNNING_PYTHON + "\n")
        if index == 0:
            locked = run_cli("lock", cwd=root)
            assert locked.returncode == 0, locked.stderr
        else:
            shutil.copyfile(roots[0] / "build-requirements.txt", root / "build-requirements.txt")
        (root / ".gitignore").write_text("dist/\n")
        commit_all(root)
        result = run_cli("build", cwd=root, umask=umask)
        assert result.returncode == 0, result.stderr
        roots.append(root)
    sdists = [root / "dist" / "tool-1.0.tar.gz" for root in roots]
    assert "re-packed tool-1.0.tar.gz deterministically" in result.stderr
    assert sdists[0].read_bytes() == sdists[1].read_bytes()
    wheels = [root / "dist" / "tool-1.0-py3-none-any.whl" for root in roots]
    assert wheels[0].read_bytes() == wheels[1].read_bytes()
    # The raw setuptools sdist (same locked backend) has the same members and contents.
    (build_env,) = Path(os.environ["REPROTASKS_CACHE_DIR"], "build-env").glob("[!.]*")
    raw_dir = tmp_path / "raw"
    subprocess.run(
        [
            str(build_env / "venv" / "bin" / "python"),
            "-m",
            "build",
            "--no-isolation",
            "--sdist",
            "--outdir",
            str(raw_dir),
        ],
        cwd=roots[0],
        env={**os.environ, "SOURCE_DATE_EPOCH": "1706933106"},
        check=True,
        capture_output=True,
    )
    raw = raw_dir / "tool-1.0.tar.gz"
    assert members(raw) == members(sdists[0])
    assert problems(raw, EPOCH), "setuptools became deterministic: the re-pack is no longer exercised"
