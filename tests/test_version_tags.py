"""The release version git gives a commit: the most specific tag, never a moving major tag."""

from __future__ import annotations

from pathlib import Path

from reprotasks._run import Runner
from reprotasks.artifacts.source import commit_tag, describe_source, described_version
from tests.conftest import git


def _repository(root: Path) -> Path:
    root.mkdir()
    git("init", "-q", "-b", "main", cwd=root)
    (root / "a.txt").write_text("one\n")
    git("add", "a.txt", cwd=root)
    git("commit", "-q", "-m", "one", cwd=root)
    return root


def _version(root: Path) -> tuple[str | None, str]:
    runner = Runner(root, log=lambda _line: None)
    source = describe_source(root, runner=runner)
    return commit_tag(source, runner=runner), described_version(source, runner=runner)


def test_the_full_version_tag_wins_over_a_moving_major_tag_and_words(tmp_path: Path) -> None:
    root = _repository(tmp_path / "repo")
    for tag in ("v4", "latest", "v4.53.6", "v4.53.6-rc.1", "v10.0"):
        git("tag", tag, cwd=root)
    assert _version(root) == ("v4.53.6", "v4.53.6")
    git("tag", "v4.53.10", cwd=root)  # ordered as versions, not as strings
    assert _version(root) == ("v4.53.10", "v4.53.10")


def test_past_a_release_the_nearest_version_tag_names_it_even_when_a_major_tag_moved(tmp_path: Path) -> None:
    root = _repository(tmp_path / "repo")
    git("tag", "1.2.3", cwd=root)
    (root / "a.txt").write_text("two\n")
    git("commit", "-q", "-am", "two", cwd=root)
    git("tag", "v1", cwd=root)  # the moving major tag, on a commit no release names
    tag, version = _version(root)
    assert tag is None and version.startswith("1.2.3-1-g") and len(version) == len("1.2.3-1-g") + 12


def test_without_any_version_tag_the_nearest_tag_then_the_commit_names_it(tmp_path: Path) -> None:
    root = _repository(tmp_path / "repo")
    commit = git("rev-parse", "HEAD", cwd=root).strip()
    assert _version(root) == (None, commit[:12])
    git("tag", "nightly", cwd=root)
    assert _version(root) == (None, "nightly")
