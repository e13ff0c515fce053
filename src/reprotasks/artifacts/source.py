"""The committed source a build starts from: which commit, which tree, and a clean copy of it.

Builds never read the working tree directly. They run in a fresh clone of the commit, so
untracked files, local edits and build leftovers cannot leak into an artifact.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from reprotasks._command import Command, fill
from reprotasks._run import Runner
from reprotasks.artifacts.layout import directory_problem
from reprotasks.errors import ReprotasksError

if TYPE_CHECKING:
    from reprotasks._distdir import DistDir


@dataclass(frozen=True)
class Source:
    toplevel: Path  # root of the git work tree
    prefix: str  # the project's directory inside it ("" at the top, else "a/b/")
    commit: str
    tree: str  # git tree id of the project directory: the digest of every committed source file
    epoch: int  # SOURCE_DATE_EPOCH


def _git(runner: Runner, cwd: Path, *args: str, purpose: str, strip: bool = True) -> str:
    result = runner.run(["git", *args], cwd=cwd, check=False, purpose=purpose, quiet=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ReprotasksError(
            f"git could not {purpose} in {cwd}: {last}",
            hint="run reprotasks inside a git checkout with at least one commit (`git init && git commit`)",
        )
    return result.stdout.strip() if strip else result.stdout


def describe_source(project: Path, *, runner: Runner, ref: str = "HEAD") -> Source:
    toplevel = Path(_git(runner, project, "rev-parse", "--show-toplevel", purpose="find the repository root"))
    prefix = _git(runner, project, "rev-parse", "--show-prefix", purpose="find the project directory")
    commit = _git(runner, project, "rev-parse", "--verify", f"{ref}^{{commit}}", purpose=f"resolve {ref}")
    tree = _git(runner, project, "rev-parse", f"{commit}:{prefix}", purpose="read the project's tree id")
    if ref == "HEAD":
        epoch = int(runner.source_date_epoch())
    else:
        epoch = int(_git(runner, project, "log", "-1", "--format=%ct", commit, purpose=f"read {ref}'s commit time"))
    return Source(toplevel.resolve(), prefix, commit, tree, epoch)


# A full semantic version tag (v4.53.6, 1.2.3-rc.1): what names a release, unlike a moving major
# tag (v4) or a word (latest, stable) that may point at the same commit.
_FULL_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(?:[-+.][0-9A-Za-z.+-]*)?$")
_VERSION_GLOBS = ("v[0-9]*.[0-9]*.[0-9]*", "[0-9]*.[0-9]*.[0-9]*")


def _version_order(tag: str) -> tuple[int, Version | str]:
    try:
        return (1, Version(tag.removeprefix("v")))
    except InvalidVersion:
        return (0, tag)


def commit_tag(source: Source, *, runner: Runner) -> str | None:
    """The tag naming the commit's release: among its tags, the highest full semantic version
    (``v4.53.6`` over the moving ``v4`` and over ``latest``); None when it has no such tag."""
    listed = runner.run(
        ["git", "tag", "--points-at", source.commit],
        cwd=source.toplevel,
        check=False,
        purpose="read the commit's tags",
        quiet=True,
    )
    tags = listed.stdout.split() if listed.returncode == 0 else []
    versions = [tag for tag in tags if _FULL_VERSION.match(tag)]
    return max(versions, key=_version_order) if versions else None


def described_version(source: Source, *, runner: Runner) -> str:
    """The release version git gives a commit: its own version tag (``commit_tag``), else the nearest
    full semantic version tag with the distance (``1.2.3-4-gabcdef012345``), else the nearest tag of
    any shape, else the commit's short hash."""
    tag = commit_tag(source, runner=runner)
    if tag is not None:
        return tag
    for match in ([f"--match={glob}" for glob in _VERSION_GLOBS], []):
        described = runner.run(
            ["git", "describe", "--tags", "--abbrev=12", *match, source.commit],
            cwd=source.toplevel,
            check=False,
            purpose="name the release version (set `version` in [tool.reprotasks] to choose it)",
            quiet=True,
        )
        if described.returncode == 0 and described.stdout.strip():
            return described.stdout.strip()
    return source.commit[:12]


def require_built_from(recorded: object, source: Source, shown_dist: str, *, hint: str, why: str = "") -> None:
    """Refuse a dist/ whose manifest records another commit than HEAD (``source``)."""
    if recorded != source.commit:
        raise ReprotasksError(
            f"{shown_dist}/ was built from commit {str(recorded)[:12]}, but HEAD is {source.commit[:12]}{why}",
            hint=hint,
        )


def committed_bytes(source: Source, relative: str, *, runner: Runner) -> bytes | None:
    """The committed content of a project file (``relative`` to the project), or None if not in the commit."""
    return runner.capture_bytes(
        ["git", "cat-file", "blob", f"{source.commit}:{source.prefix}{relative}"],
        cwd=source.toplevel,
        purpose=f"read {relative} as committed",
    )


def committed_executable(source: Source, relative: str, *, runner: Runner) -> bool:
    """Whether git records ``relative`` (a committed file) as executable (mode 100755)."""
    listed = runner.capture_bytes(
        ["git", "ls-tree", source.commit, "--", f"{source.prefix}{relative}"],
        cwd=source.toplevel,
        purpose=f"read {relative}'s committed mode",
    )
    return listed is not None and listed.split(b" ", 1)[0] == b"100755"


# Untracked files with these names (or suffixes) change what the configuration resolves to.
_CONFIG_NAMES = frozenset({"pyproject.toml", "reprotasks.toml", "go.mod", "go.sum", "go.work", ".python-version"})


def untracked_config_inputs(source: Source, *, runner: Runner, outputs: str = "") -> list[str]:
    """Untracked, not ignored files of the project that configuration loading would read.

    The build never sees them (it builds a clean copy of the commit), but they would make the
    configuration resolved here differ from the commit's: a lock input, a pyproject.toml, a
    go.mod, a Go main package.
    """
    output = _git(
        runner,
        source.toplevel,
        "ls-files",
        "--others",
        "--exclude-standard",
        *_project_paths(source, outputs),
        purpose="list untracked files",
    )
    found = []
    for line in output.splitlines():
        path = PurePosixPath(line)
        if path.name in _CONFIG_NAMES or path.suffix == ".in" or (path.suffix == ".go" and "cmd" in path.parts):
            found.append(line[len(source.prefix) :] if line.startswith(source.prefix) else line)
    return found


def _project_paths(source: Source, outputs: str) -> list[str]:
    """The git pathspec of the project's directory, without ``outputs`` (dist/)."""
    excluded = [f":(exclude){source.prefix}{outputs}"] if outputs else []
    return ["--", source.prefix or ".", *excluded]


def modified_files(source: Source, *, runner: Runner, outputs: str = "") -> list[str]:
    """Tracked files of the project with uncommitted changes (staged or not), outside ``outputs``."""
    output = _git(
        runner,
        source.toplevel,
        "status",
        "--porcelain=v1",
        "--untracked-files=no",
        *_project_paths(source, outputs),
        purpose="list uncommitted changes",
        strip=False,  # each line starts with a two-letter status that may begin with a space
    )
    return [line[3:] for line in output.splitlines() if line.strip()]


def tracked_files(source: Source, relative: str, *, runner: Runner) -> list[str]:
    """Files git tracks under ``relative`` (a directory of the project)."""
    output = _git(
        runner,
        source.toplevel,
        "ls-files",
        "--",
        f"{source.prefix}{relative}",
        purpose="list tracked files",
    )
    return output.splitlines()


def refuse_tracked_outputs(source: Source, dist: str, *, runner: Runner) -> None:
    """``dist`` (project-relative) is replaced as a whole: it must hold no file git tracks, and no source."""
    tracked = tracked_files(source, dist, runner=runner)
    directory = source.toplevel / source.prefix / dist
    why = "build, assemble and release replace that directory as a whole"
    if tracked:
        raise not_an_output_directory(dist, tracked=tracked, why=why, problem=_not_a_directory(directory))
    marker = source_marker(directory)
    if marker is not None:
        raise not_an_output_directory(dist, marker=marker, why=why)


def refuse_source_dist(where: DistDir, *, runner: Runner, step: str) -> None:
    """Before ``step`` reads or writes ``dist-dir``: it must be a build output directory, not source
    (no file git tracks, no project file, Python or Go source). One `git ls-files` at most."""
    if where.is_staged:
        return  # release checked dist-dir before staging; the stage is its own directory
    dist = where.path
    if not os.path.lexists(dist):
        return  # nothing there to read or overwrite: the step says what is missing
    shown = where.rel()
    why = f"`{step}` must not read or write release files among them"
    if runner.which("git") is not None:
        listed = runner.run(
            ["git", "ls-files", "--", f":(literal){shown}"],
            cwd=where.root,
            check=False,
            purpose="list files git tracks in dist-dir",
            quiet=True,
        )
        tracked = listed.stdout.splitlines() if listed.returncode == 0 else []  # not a repository: none
        if tracked:
            raise not_an_output_directory(shown, tracked=tracked, why=why, problem=_not_a_directory(dist))
    marker = source_marker(dist)
    if marker is not None:
        raise not_an_output_directory(shown, marker=marker, why=why)


def _not_a_directory(path: Path) -> str | None:
    """The "is not a directory (it is ...)" of a path that exists and is no directory, else None."""
    problem = directory_problem(path)
    return None if problem is None or problem.startswith("does not exist") else problem


# Files no build output directory holds: a directory with one is source (a project, a package).
_SOURCE_NAMES = frozenset(
    {"pyproject.toml", "setup.py", "setup.cfg", "go.mod", "go.work", "go.sum", "__init__.py", ".git"}
)
_SOURCE_SUFFIXES = (".py", ".go")


def source_marker(directory: Path) -> str | None:
    """The entry that makes ``directory`` source (a project file, Python or Go source, a Python
    package or Go module below it), or None. Reads the directory's entries, never follows a symlink."""
    try:
        with os.scandir(directory) as scan:
            found = sorted(scan, key=lambda entry: entry.name)
    except OSError:
        return None  # not a directory (or unreadable): the steps report what it is
    for entry in found:
        if entry.name in _SOURCE_NAMES or entry.name.endswith(_SOURCE_SUFFIXES):
            return entry.name
    for entry in found:
        if entry.is_dir(follow_symlinks=False):
            for name in ("__init__.py", "go.mod", "pyproject.toml"):
                if os.path.lexists(Path(entry.path) / name):
                    return f"{entry.name}/{name}"
    return None


def not_an_output_directory(
    dist: str, *, why: str, tracked: list[str] | None = None, marker: str | None = None, problem: str | None = None
) -> ReprotasksError:
    """The refusal of a dist-dir that is source: it names the directory and the fix, and never advises
    removing (or untracking) what is there, which may be the project's code."""
    if tracked and problem is not None:  # dist-dir is itself a tracked file (or symlink)
        held = f"`dist-dir` {dist}: {problem}, and git tracks it"
    elif tracked:
        held = f"`dist-dir` {dist}/ holds files tracked by git ({', '.join(tracked[:3])}{', ...' * (len(tracked) > 3)})"
    else:
        held = f"`dist-dir` {dist}/ holds {marker}"
    example = "out" if dist == "dist" else "dist"
    return ReprotasksError(
        f"{held}, so it is part of the source, not a build output directory; {why}",
        hint="point `dist-dir` ([tool.reprotasks] or REPROTASKS_DIST_DIR) at a build output directory of its own "
        f'that git does not track, such as `dist-dir = "{example}"`, then run `reprotasks build`',
    )


def check_dirty(
    source: Source,
    policy: str,
    *,
    runner: Runner,
    strict: bool = False,
    outputs: str = "",
    untracked: list[str] | None = None,
) -> str | None:
    """Refuse (or warn about) uncommitted changes; returns a warning to show, if any.

    ``outputs`` (the dist directory, relative to the project) is not source and never counts.
    """
    changed = modified_files(source, runner=runner, outputs=outputs)
    if untracked is None:
        untracked = untracked_config_inputs(source, runner=runner, outputs=outputs)
    if untracked and (policy == "refuse" or strict):
        listed = ", ".join(untracked[:5]) + (f" and {len(untracked) - 5} more" if len(untracked) > 5 else "")
        raise ReprotasksError(
            f"untracked files would change the build's configuration ({listed}); builds use only committed "
            "files, so the settings recorded would not be the settings of the commit",
            hint="commit them (`git add`), remove them, or list them in .gitignore",
        )
    if not changed:
        return None
    listed = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
    if policy == "refuse" or strict:
        why = "Go VCS stamping (`go.vcs-stamp`) is on" if strict and policy != "refuse" else "`dirty-tree` is `refuse`"
        raise ReprotasksError(
            f"the working tree has uncommitted changes ({listed}); builds use only committed files and {why}",
            hint='commit or stash the changes (`git stash`), or set `dirty-tree = "warn"` in [tool.reprotasks] '
            "to build the last commit anyway",
        )
    return f"uncommitted changes are NOT in this build (it uses commit {source.commit[:12]}): {listed}"


def clean_copy_commands(source: Source, destination: str) -> tuple[Command, ...]:
    """The clone and checkout of the commit into ``destination`` (placeholders allowed), as ``clean_copy``
    runs them. ``--shared`` borrows the objects instead of copying them, so this costs one checkout."""
    clone = Command(
        ("git", "clone", "--quiet", "--shared", "--no-checkout", str(source.toplevel), destination),
        cwd=str(PurePosixPath(destination).parent),
        description="clone the repository into a clean build directory",
        output=destination,
    )
    checkout = Command(
        (
            *("git", "-c", "advice.detachedHead=false"),
            *("-c", "core.autocrlf=false"),  # the committed bytes, whatever the user's global git config says
            *("checkout", "--quiet", "--detach", source.commit),
        ),
        cwd=destination,
        description=f"check out {source.commit[:12]}",
    )
    return clone, checkout


def clean_copy(
    source: Source,
    destination: Path,
    *,
    runner: Runner,
    commands: Sequence[Command] = (),
    places: Mapping[str, str] | None = None,
    exclude_submodules: Sequence[str] = (),
) -> Path:
    """Clone the commit into ``destination``; returns the project directory inside the copy.

    ``commands``: ``clean_copy_commands`` for ``destination`` as planned, run with ``places``
    filling their placeholders (default: made here for ``destination``). ``exclude_submodules``:
    project-relative paths of submodules left out (`exclude-submodules`); each must be one.
    """
    for command in commands or clean_copy_commands(source, str(destination)):
        result = command.run(runner, places or {}, check=False, quiet=True)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise ReprotasksError(
                f"git could not {command.description} in {fill(command.cwd, places or {})}: {last}",
                hint="run reprotasks inside a git checkout with at least one commit (`git init && git commit`)",
            )
    excluded = {f"{source.prefix}{path}" for path in exclude_submodules}
    if (destination / ".gitmodules").is_file() or excluded:
        _checkout_submodules(source, destination, runner=runner, excluded=excluded)
    return destination / source.prefix


# The one file an excluded submodule's directory holds in the clean copy: a backend that packs it
# would have packed the submodule's files too (``packed_excluded_submodules``).
EXCLUDED_MARK = "REPROTASKS-EXCLUDED-SUBMODULE"


def _mark_excluded(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / EXCLUDED_MARK).write_text(
        "reprotasks: this submodule is left out of the release (`exclude-submodules`)\n", encoding="utf-8"
    )


def packed_excluded_submodules(artifacts: Sequence[Path]) -> list[str]:
    """``ARTIFACT: MEMBER`` for each excluded submodule's mark an sdist or wheel packs: the backend
    would have shipped that submodule's files, which a build without it leaves out."""
    import tarfile
    import zipfile

    packed = []
    for path in sorted(artifacts, key=lambda path: path.name.endswith(".whl")):  # the sdist first
        if path.name.endswith(".whl"):
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        else:
            with tarfile.open(path, "r:gz") as archive:
                names = archive.getnames()
        packed += [f"{path.name}: {name}" for name in names if name.rpartition("/")[2] == EXCLUDED_MARK]
    return packed


def _checkout_submodules(source: Source, destination: Path, *, runner: Runner, excluded: set[str]) -> None:
    """Each submodule at the commit the superproject records, cloned from this machine's checkout
    of it (never from its URL: a build fetches nothing), but the ``excluded`` ones (paths from the
    repository top). One not checked out here is an error, not a silently missing directory."""
    listed = runner.run(
        ["git", "config", "--file", ".gitmodules", "--null", "--get-regexp", r"^submodule\..*\.path$"],
        cwd=destination,
        check=False,
        purpose="list the submodules",
        quiet=True,
    ).stdout
    entries = [entry.partition("\n") for entry in filter(None, listed.split("\0"))]
    unknown = sorted(excluded - {path for _key, _, path in entries})
    if unknown:
        shown = unknown[0].removeprefix(source.prefix)
        raise ReprotasksError(
            f"`exclude-submodules` names {shown}, which is not a submodule of commit {source.commit[:12]} "
            "(.gitmodules lists no such path)",
            hint="name submodules by their path from the project root, or remove the entry",
        )
    for key, _, path in entries:
        if path in excluded:  # not part of the release: left out of the clean copy (`exclude-submodules`)
            _mark_excluded(destination / path)
            continue
        name = key.removeprefix("submodule.").removesuffix(".path")
        local = source.toplevel / path
        if not (local / ".git").exists():
            raise ReprotasksError(
                f"submodule {path} is not checked out in {source.toplevel}, so the build cannot include it",
                hint="run `git submodule update --init` (the build copies submodules from this checkout and "
                "fetches nothing)",
            )
        _git(runner, destination, "config", f"submodule.{name}.url", str(local), purpose=f"point {path} at {local}")
        _git(
            runner,
            destination,
            "-c",
            "protocol.file.allow=always",  # a local clone: git refuses file:// submodules by default
            "-c",
            "core.autocrlf=false",
            "submodule",
            "update",
            "--init",
            "--quiet",
            "--",
            path,
            purpose=f"check out submodule {path} at the commit {source.commit[:12]} records",
        )
