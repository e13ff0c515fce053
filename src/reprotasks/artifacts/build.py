"""The build step: sdist + wheel + Go archives for a platform matrix, and ``dist/manifest.json``.

Everything is built from a clean clone of the last commit, into a staging directory that
replaces ``dist/`` only when every part succeeded. When the inputs (committed tree, config,
toolchains, reprotasks itself) are unchanged and ``dist/`` still holds the very artifacts
listed in its manifest, the previous outputs are reused after checking their digests.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import hashlib
import os
import platform as host_platform
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.version import InvalidVersion, Version

from reprotasks import __version__, _cache
from reprotasks._command import PLACEHOLDERS, Command
from reprotasks._distdir import DistDir
from reprotasks._run import Runner
from reprotasks.artifacts import checked_archives
from reprotasks.artifacts import evidence as _evidence
from reprotasks.artifacts import source as _source
from reprotasks.artifacts.checked_archives import ArchiveCheck
from reprotasks.artifacts.layout import (
    directory_problem,
    entries,
    entry_problem,
    kind_of,
    read_regular,
    sha256_regular,
    shown,
    written_after_build,
)
from reprotasks.artifacts.manifest import MANIFEST_NAME, ArtifactRecord, Manifest, manifest_from_bytes, recorded_lock
from reprotasks.artifacts.stage import staged
from reprotasks.config import Config
from reprotasks.errors import ConfigError, DriftError, ReprotasksError
from reprotasks.go.binaries import (
    archive_name,
    archive_names,
    binary_name,
    build_go_platform,
    executable_name,
    go_build_command,
    go_environment,
    go_flags,
    go_toolchain,
    hermetic_environment,
    member_prefix,
    parse_platform,
    platform_environment,
    say_if_cold_cache,
)
from reprotasks.go.mod import verify_findings
from reprotasks.go.options import DEFAULT_ARCHIVE_NAME
from reprotasks.python.buildenv import closure_problems
from reprotasks.python.lockfile import canonical_lines, canonical_text, parse_lock_text
from reprotasks.python.package import (
    BuildEnvironment,
    build_argv,
    build_environment,
    build_environment_variables,
    build_python,
    python_build_command,
)
from reprotasks.python.resolve import compile_lock
from reprotasks.python.validity import same_version


@dataclass(frozen=True)
class BuildResult:
    dist: str
    manifest: Manifest
    reused: bool
    warnings: tuple[str, ...] = ()

    def rows(self) -> list[tuple[str, str]]:
        rows = [
            (f"{self.dist}/{record.name}", f"{record.size:,} bytes, sha256 {record.sha256[:16]}")
            for record in self.manifest.artifacts
        ]
        how = "unchanged inputs: reused the previous build (digests checked)" if self.reused else "built"
        rows.append((f"{self.dist}/{MANIFEST_NAME}", f"{how}; commit {self.manifest.source['commit'][:12]}"))
        if self.warnings:  # each was printed once, as it was found: counted here, not repeated
            rows.append(("warnings", f"{len(self.warnings)}, shown above as `build: WARNING: ...`"))
        return rows


@dataclass(frozen=True)
class BuildLock:
    """What the build backend is installed from: the committed build lock or, when the commit has
    none, the requirements resolved (with hashes) for this build and recorded in its manifest."""

    path: str  # project-relative path of the configured build lock
    text: str | None  # None: not in the commit, and not resolved yet
    committed: bool


@dataclass(frozen=True, kw_only=True)
class BuildPlan:
    source: _source.Source
    version: str
    python: bool
    go_packages: tuple[str, ...]
    platforms: tuple[str, ...]
    toolchain: str | None  # GOTOOLCHAIN setting
    go_version: str | None  # the exact Go toolchain that builds
    inputs_digest: str
    go_pinned: bool = True  # False: go.mod pins no toolchain, the local go builds
    build_lock: BuildLock | None = None  # None: no Python part
    # A Python-only project whose [project] version is dynamic: the release is named by the
    # version the backend gives the wheel, known once it is built (``version`` is git's until then).
    version_from_wheel: bool = False


def wheel_version(names: Sequence[str]) -> str | None:
    """The version in the (one) wheel file name among ``names``, as the backend wrote it."""
    versions = {name.split("-")[1] for name in names if name.endswith(".whl") and name.count("-") >= 4}
    return versions.pop() if len(versions) == 1 else None


def _unlocked_warning(lock: BuildLock) -> str:
    return (
        f"{lock.path} is not committed, so the build backend is not locked: [build-system] requires is resolved "
        "with hashes for this build and recorded in the manifest (`reproduce` reuses exactly those versions); run "
        f"`reprotasks lock` and commit {lock.path} (`release` requires it)"
    )


def build(
    config: Config,
    *,
    dist: DistDir,
    runner: Runner,
    platforms: Sequence[str] = (),
    python: bool = True,
    go: bool = True,
    force: bool = False,
    from_manifest: Path | None = None,
) -> BuildResult:
    """Build (or reuse) every artifact into ``dist``; see the module docstring.

    ``from_manifest``: for a commit without a committed build lock, install the build backend
    from the requirements that manifest recorded instead of resolving them again (reproduce).
    """
    shown = dist.rel()
    source = _source.describe_source(config.root, runner=runner)
    untracked, warnings = _checked_source(config, dist, source, runner=runner, go=go)
    recorded = None if from_manifest is None else _requirements_from(from_manifest)
    plan = plan_build(config, source, runner=runner, platforms=platforms, python=python, go=go, recorded_lock=recorded)
    if plan.build_lock is not None and plan.build_lock.committed and recorded is not None:
        raise ReprotasksError(
            f"--from-manifest: commit {source.commit[:12]} has its own build lock {plan.build_lock.path}, which "
            "the build uses",
            hint="drop --from-manifest (it is for commits without a committed build lock)",
        )
    warnings = (*warnings, *_plan_warnings(config, plan, runner=runner))
    # Untracked configuration inputs (allowed with dirty-tree = "warn") make this config differ
    # from the commit's: never reuse then; the build compares with the commit's config.
    if not force and not untracked:
        reused = _reuse(config, dist, plan, runner=runner)
        if reused is not None:
            runner.log(f"build: inputs unchanged since the last build; {shown}/ checked and reused")
            return BuildResult(shown, reused, True, warnings)
    manifest = _build_into_dist(config, dist, plan, runner=runner)
    _evidence.record_build(manifest)
    warnings = (*warnings, *_warned(runner, _version_disagreement(config, manifest)))
    if from_manifest is None:  # requirements taken from a given manifest are never reused by a plain build
        remember_build(dist, manifest)
    return BuildResult(shown, manifest, False, warnings)


def _warned(runner: Runner, *texts: str | None) -> tuple[str, ...]:
    """The warnings among ``texts`` (None: none), each logged as it is found."""
    warnings = tuple(text for text in texts if text)
    for text in warnings:
        runner.log(f"build: WARNING: {text}")
    return warnings


def _checked_source(
    config: Config, where: DistDir, source: _source.Source, *, runner: Runner, go: bool
) -> tuple[bool, tuple[str, ...]]:
    """Refuse a dist-dir that cannot be built into; whether configuration inputs are untracked, and
    the dirty-tree warning (logged)."""
    dist = where.rel()
    # First: a dist-dir holding tracked files or source is refused before any advice to remove it.
    _source.refuse_tracked_outputs(source, dist, runner=runner)
    problem = directory_problem(where.path)
    if problem is not None and not problem.startswith("does not exist"):  # before building, not after
        raise ReprotasksError(f"{dist}: {problem}", hint="remove it (build writes a fresh directory there)")
    untracked = _source.untracked_config_inputs(source, runner=runner, outputs=dist)
    warning = _source.check_dirty(
        source, config.dirty_tree, runner=runner, strict=config.go.vcs_stamp and go, outputs=dist, untracked=untracked
    )
    return bool(untracked), _warned(runner, warning)


def _plan_warnings(config: Config, plan: BuildPlan, *, runner: Runner) -> tuple[str, ...]:
    """What the plan builds that will not reproduce elsewhere, or is named otherwise than its tag (logged)."""
    warnings = _warned(runner, _tag_disagreement(config, plan, runner=runner))
    if plan.go_packages and config.go.goreleaser is not None:
        runner.log(f"build: Go settings from {config.go.goreleaser} (set [tool.reprotasks.go] keys to override)")
        for note in config.go.goreleaser_notes:
            runner.log(f"build: {config.go.goreleaser}: {note}")
    if plan.build_lock is not None and not plan.build_lock.committed:
        if not config.python.require_build_lock:
            runner.log(f"build: {plan.build_lock.path} is not committed (require-build-lock = false)")
        else:
            warnings += _warned(runner, _unlocked_warning(plan.build_lock))
    if not plan.go_pinned and config.go.toolchain_pin == "required":
        warnings += _warned(
            runner,
            f"{config.rel(config.go.module or config.root)}/go.mod pins no Go toolchain: built with the local "
            f"{plan.go_version}, so these binaries reproduce only with {plan.go_version} (pin it: "
            f"`go mod edit -toolchain={plan.go_version}`; `release` requires the pin)",
        )
    return warnings


def _tag_disagreement(config: Config, plan: BuildPlan, *, runner: Runner) -> str | None:
    """A commit tagged v0.9.1 released as 0.3.0 (the static [project] version of a Python client in a
    subdirectory, say): said, so the archives are not silently named otherwise than the tag."""
    if config.version is not None or config.project_version is None:
        return None
    # The commit's own tag; with Go binaries named by a Python project's version, else the nearest one.
    tag, tagged = _source.commit_tag(plan.source, runner=runner) or "", "tagged"
    if not tag and plan.go_packages and config.python.project is not None:
        described = runner.run(
            ["git", "describe", "--tags", "--abbrev=0", plan.source.commit],
            cwd=plan.source.toplevel,
            check=False,
            purpose="compare the release version with the commit's last tag",
            quiet=True,
        )
        tag, tagged = (described.stdout.strip() if described.returncode == 0 else ""), "last tagged"
    if not tag or same_version(tag.removeprefix("v"), plan.version):
        return None
    where = config.rel(config.pyproject) if config.pyproject else "pyproject.toml"
    return (
        f"the commit is {tagged} {tag} but the release is named {plan.version} ([project] version of {where}); "
        f'set `version = "{tag.removeprefix("v")}"` in [tool.reprotasks] if the tag names this release'
    )


def _version_disagreement(config: Config, manifest: Manifest) -> str | None:
    """A release (Go archives, manifest, SBOM) named otherwise than the wheel it ships: a project
    with Go and a dynamic Python version, named by git describe. Said, never silently shipped."""
    built = wheel_version([record.name for record in manifest.artifacts])
    release = manifest.project.get("version")
    if built is None or release is None or same_version(built, release) or config.version is not None:
        return None
    source = "[project] version" if config.project_version is not None else "git describe"
    return (
        f"the release is named {release} ({source}) but the wheel's version is {built}: archives, manifest and "
        f'SBOM say {release}; set `version = "{built}"` in [tool.reprotasks] (or REPROTASKS_VERSION, e.g. from the '
        "tag in CI) so they agree"
    )


def _requirements_from(path: Path) -> str:
    where = path.as_posix()
    try:
        manifest = manifest_from_bytes(read_regular(path))
    except OSError as exc:
        raise ReprotasksError(
            f"--from-manifest {where}: cannot be read ({exc.strerror or exc})", hint="pass a build's manifest.json"
        ) from None
    except (ValueError, TypeError) as exc:
        raise ReprotasksError(
            f"--from-manifest {where}: not a reprotasks build manifest ({exc})", hint="pass a build's manifest.json"
        ) from None
    text = recorded_lock(manifest.python)
    if text is None:
        raise ReprotasksError(
            f"--from-manifest {where} records no resolved build requirements (its build used a committed build "
            "lock, or built no Python package)",
            hint="pass the manifest of a build made without a committed build lock, or drop --from-manifest",
        )
    return text


def _normalized(version: str | None) -> str | None:
    """A [project] version as the backend writes it into file names (PEP 440: `2.3.0.dev` is `2.3.0.dev0`)."""
    if version is None:
        return None
    try:
        return str(Version(version))
    except InvalidVersion:
        return version


def _version(config: Config, source: _source.Source, runner: Runner) -> str:
    version = config.version or _normalized(config.project_version)
    if version is None:
        version = _source.described_version(source, runner=runner)
    version = version.removeprefix("v")
    if not version or any(char in version for char in "/\\ \t\n") or version in (".", ".."):
        raise ReprotasksError(
            f"release version {version!r} cannot be used in file names",
            hint='set `version = "1.2.3"` in [tool.reprotasks] or a plain `version` in [project]',
        )
    return version


def plan_build(
    config: Config,
    source: _source.Source,
    *,
    runner: Runner,
    platforms: Sequence[str],
    python: bool,
    go: bool,
    python_toolchain: str | None = None,
    recorded_lock: str | None = None,
    built_wheels: Sequence[str] = (),
) -> BuildPlan:
    """``python_toolchain``: the Python that built the Python part, if not this one (assemble).
    ``recorded_lock``: the build requirements a manifest recorded, used when the commit has no
    build lock (see ``BuildLock``). ``built_wheels``: the wheel names a manifest lists (the release
    version of a Python-only project with a dynamic version is its wheel's)."""
    for platform in platforms:
        parse_platform(platform)
    build_python_part = python and config.python.build
    packages = _go_packages(config, python=python, go=go)
    toolchain = go_version = None
    go_pinned = True
    if packages:
        assert config.go.module is not None
        chosen_go = go_toolchain(config.go.module, runner=runner)
        toolchain, go_version, go_pinned = chosen_go.setting, chosen_go.version, chosen_go.pinned
    # Order-free: `--platform b --platform a` and the configured [a, b] are the same build.
    chosen = tuple(sorted(set(platforms or config.go.platforms)))
    _require_distinct_archives(config, packages, chosen)
    version = _version(config, source, runner)
    from_wheel = build_python_part and not config.go.main_packages and not config.go.unchosen
    from_wheel = from_wheel and config.version is None and config.project_version is None
    digest = _cache.digest(
        {
            "reprotasks": __version__,
            "source": [source.commit, source.tree, source.epoch],
            "config": config.fingerprint(),
            "python": [build_python_part, python_toolchain or host_python()],
            "go": [list(packages), list(chosen), go_version],
            "version": version,
        }
    )
    built = wheel_version(built_wheels) if from_wheel else None
    return BuildPlan(
        source=source,
        version=built or version,
        python=build_python_part,
        go_packages=packages,
        platforms=chosen if packages else (),
        toolchain=toolchain,
        go_version=go_version,
        inputs_digest=digest,
        go_pinned=go_pinned,
        build_lock=_build_lock(config, source, recorded_lock, runner=runner) if build_python_part else None,
        version_from_wheel=from_wheel,
    )


def _go_packages(config: Config, *, python: bool, go: bool) -> tuple[str, ...]:
    """The Go main packages this build makes; refuses an unchosen module and a build of nothing."""
    if go and config.go.unchosen:
        listed = ", ".join(config.rel(module) for module in config.go.unchosen)
        raise ConfigError(
            f"several Go modules have main packages ({listed}) and none is chosen to release",
            hint='set `module = "DIR"` under [tool.reprotasks.go] (pyproject.toml or reprotasks.toml), or '
            "REPROTASKS_GO_MODULE=DIR, to the one whose commands are released (every module is still locked "
            "and verified)" + (", or build with --python-only" if config.python.build else ""),
        )
    packages = tuple(config.go.main_packages) if go and config.go.module is not None else ()
    if not (python and config.python.build) and not packages:
        raise ReprotasksError(
            "nothing to build: no Python package ([build-system] in pyproject.toml) and no Go main packages"
            + ("" if python and go else " for the parts selected"),
            hint="add a [build-system] table, or Go `main` packages under cmd/ (or set `main-packages` "
            "under [tool.reprotasks.go])",
        )
    return packages


def _build_lock(config: Config, source: _source.Source, recorded: str | None, *, runner: Runner) -> BuildLock:
    """The build lock in the commit, or (not committed) the requirements a manifest recorded, if any."""
    assert config.python.build_lock is not None  # config.python.build implies a lock
    lock_rel = config.rel(config.python.build_lock.output)
    data = _source.committed_bytes(source, lock_rel, runner=runner)
    if data is None:
        return BuildLock(lock_rel, recorded, committed=False)
    return BuildLock(lock_rel, _decoded(data, lock_rel), committed=True)


def _require_distinct_archives(config: Config, packages: Sequence[str], platforms: Sequence[str]) -> None:
    """Two binaries must never be written to one archive name (the second would replace the first)."""
    seen: dict[str, str] = {}
    for name, package, platform in archive_names(config.go, packages, platforms, "VERSION"):
        if name in seen:
            raise ConfigError(
                f"`go.archive-name` = {config.go.archive_name!r} gives {package} for {platform} the same archive "
                f"name as {seen[name]} ({name})",
                hint="add the fields that tell them apart (`{variant}` for arm/v6 and arm/v7, `{binary}` for "
                "several commands) to `archive-name` under [tool.reprotasks.go]",
            )
        seen[name] = f"{package} for {platform}"


def host_python() -> str:
    return f"{host_platform.python_implementation()} {host_platform.python_version()}"


def _reuse_key(dist: DistDir, inputs_digest: str) -> str:
    return _cache.digest([str(dist.shown_as), inputs_digest])


def remember_build(dist: DistDir, manifest: Manifest) -> None:
    """Record that this machine wrote exactly this manifest for these inputs (what reuse requires)."""
    data = manifest.to_json()
    _cache.store("build-reuse", _reuse_key(dist, manifest.inputs_digest), hashlib.sha256(data).hexdigest())


def _reuse(config: Config, where: DistDir, plan: BuildPlan, *, runner: Runner, restage: bool = True) -> Manifest | None:
    """The previous build, if dist/ is provably what this machine's build of these inputs wrote.

    Requires: a record (in this user's cache) that a build here wrote exactly these manifest
    bytes for this inputs digest; the manifest's every non-artifact field equal to what this
    build computes now; every artifact a regular file with its recorded size and sha256; and
    nothing else in dist/ but the outputs of later steps, which are dropped.
    """
    dist = where.path
    manifest = _recorded_manifest(where, plan, runner=runner)
    if manifest is None:
        return None
    expected_plan = _plan_of_recorded(plan, manifest)
    if expected_plan is None:
        return None
    try:
        expected = manifest_header(config, expected_plan, runner=runner)
    except ReprotasksError:
        return None  # the recorded requirements are not a clean lock: rebuild
    if manifest.inputs_digest != plan.inputs_digest or _header_of(manifest) != expected:
        runner.log(f"build: {where.rel()}/{MANIFEST_NAME} differs from what this build would record: rebuilding")
        return None
    names = {record.name for record in manifest.artifacts}
    dropped = _later_outputs(where, names, runner=runner)
    if dropped is None or not _artifacts_intact(dist, manifest):
        return None
    if dropped and restage:
        runner.log(
            f"build: dropping {', '.join(dropped)} from {where.rel()}/ (written by later steps, re-derived there)"
        )
        _restage(dist, [MANIFEST_NAME, *sorted(names)])
    return manifest


def _recorded_manifest(where: DistDir, plan: BuildPlan, *, runner: Runner) -> Manifest | None:
    """dist/'s manifest, if this machine's cache records that a build here wrote exactly it."""
    dist = where.path
    recorded = _cache.load("build-reuse", _reuse_key(where, plan.inputs_digest))
    if recorded is None or kind_of(dist) != "a directory" or kind_of(dist / MANIFEST_NAME) is not None:
        return None
    try:
        data = read_regular(dist / MANIFEST_NAME)
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != recorded:
        runner.log(f"build: {where.rel()}/{MANIFEST_NAME} is not the one this machine's last build wrote: rebuilding")
        return None
    try:
        manifest = manifest_from_bytes(data)
    except (ValueError, TypeError):
        return None
    if not _evidence.built_here(manifest):  # e.g. recorded by an older reprotasks: rebuild, so it is witnessed
        runner.log(f"build: no record that a build here wrote {where.rel()}/: rebuilding")
        return None
    return manifest


def _plan_of_recorded(plan: BuildPlan, manifest: Manifest) -> BuildPlan | None:
    """The plan completed with what only the recorded build knows (the wheel's version, the build
    requirements it resolved); None when the manifest lacks them."""
    if plan.version_from_wheel:
        built = wheel_version([record.name for record in manifest.artifacts])
        plan = dataclasses.replace(plan, version=built or plan.version)
    if plan.build_lock is not None and plan.build_lock.text is None:
        # Not committed: what the last build resolved is this build's (unchanged inputs).
        text = recorded_lock(manifest.python)
        if text is None:
            return None
        plan = dataclasses.replace(plan, build_lock=dataclasses.replace(plan.build_lock, text=text))
    return plan


def _later_outputs(where: DistDir, names: set[str], *, runner: Runner) -> list[str] | None:
    """What later steps wrote into dist/ (dropped on reuse); None if dist/ holds anything else, or a
    manifest or artifact that is not a regular file."""
    dropped = []
    for entry in entries(where.path):
        if entry.name == MANIFEST_NAME or entry.name in names:
            if entry_problem(entry) is not None:
                return None
        elif written_after_build(entry.name) and entry_problem(entry) is None:
            # Written by the steps after build; a reused build drops them (those steps re-derive them).
            dropped.append(entry.name)
        else:
            runner.log(f"build: {where.rel()}/ holds {shown(entry.name)}, which no build writes: rebuilding")
            return None
    return dropped


def _artifacts_intact(dist: Path, manifest: Manifest) -> bool:
    """Every artifact of the manifest in dist/ with its recorded size and sha256."""
    for record in manifest.artifacts:
        artifact = dist / record.name
        try:
            if os.lstat(artifact).st_size != record.size or sha256_regular(artifact) != record.sha256:
                return False
        except OSError:
            return False
    return True


def _restage(dist: Path, keep: list[str]) -> None:
    """Replace ``dist`` by a directory holding only ``keep`` (hard links: no copy, same bytes)."""
    with staged(dist, "stage", keep=keep):
        pass


def _header_of(manifest: Manifest) -> dict[str, Any]:
    return {
        "project": manifest.project,
        "source": manifest.source,
        "inputs_digest": manifest.inputs_digest,
        "toolchains": manifest.toolchains,
        "python": manifest.python,
        "go": manifest.go,
    }


def manifest_header(
    config: Config, plan: BuildPlan, *, runner: Runner, python_toolchain: str | None = None
) -> dict[str, Any]:
    """Every manifest field but the artifacts, derived from the commit (git), config and toolchains.

    The build writes exactly this, and reuse and provenance recompute it: a hand-edited manifest
    never survives either.
    """
    python_part = go_part = None
    if plan.python:
        assert plan.build_lock is not None
        python_part = _python_record(plan.build_lock, plan, _python_dir(config))
    if plan.go_packages:
        assert config.go.module is not None
        module_rel = config.rel(config.go.module)
        go_sum = _source.committed_bytes(plan.source, _join(module_rel, "go.sum"), runner=runner)
        go_part = _go_record(config, plan, None if go_sum is None else hashlib.sha256(go_sum).hexdigest(), module_rel)
    toolchains = {"reprotasks": __version__}
    if plan.python:
        toolchains["python"] = python_toolchain or host_python()
    if plan.go_version:
        toolchains["go"] = plan.go_version
    return {
        "project": {"name": config.project_name, "version": plan.version},
        "source": {
            "commit": plan.source.commit,
            "tree": plan.source.tree,
            "path": plan.source.prefix.rstrip("/") or ".",
            "source_date_epoch": plan.source.epoch,
        },
        "inputs_digest": plan.inputs_digest,
        "toolchains": toolchains,
        "python": python_part,
        "go": go_part,
    }


def _join(directory: str, name: str) -> str:
    return name if directory == "." else f"{directory}/{name}"


def _decoded(data: bytes, relative: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ReprotasksError(f"{relative} is not UTF-8 text", hint="re-create it with `reprotasks lock`") from None


def _build_into_dist(config: Config, dist: DistDir, plan: BuildPlan, *, runner: Runner) -> Manifest:
    commands = build_commands(config, plan, runner=runner)
    with staged(dist.path, "stage") as stage, tempfile.TemporaryDirectory(prefix="reprotasks-src-") as scratch:
        runner.log(f"build: clean copy of commit {plan.source.commit[:12]}")
        places = {"SCRATCH": scratch}
        project = _source.clean_copy(
            plan.source,
            Path(scratch) / "src",
            runner=runner,
            commands=commands.clone,
            places=places,
            exclude_submodules=config.exclude_submodules,
        )
        committed = _same_config_as_commit(config, project, plan.source)
        lock = plan.build_lock
        if lock is not None and lock.text is None:
            text = _resolve_build_requirements(committed, Path(scratch), runner=runner)
            plan = dataclasses.replace(plan, build_lock=dataclasses.replace(lock, text=text))
        manifest = _build_parts(config, plan, project, stage, commands, places, runner=runner)
        manifest.write(stage)
    return manifest


def _resolve_build_requirements(committed: Config, scratch: Path, *, runner: Runner) -> str:
    """``[build-system] requires`` (plus ``build``) of the commit, resolved with hashes, as lock text."""
    spec = committed.python.build_lock
    assert spec is not None
    output = scratch / "resolved-build-requirements.txt"
    runner.log(f"build: resolving {spec.describe_input(committed.root)} with hashes (no committed build lock)")
    compile_lock(committed, spec, output, runner=runner, backend=committed.python.lock_backend)
    parsed = parse_lock_text(output.read_text(encoding="utf-8"))
    if parsed.problems or not parsed.pins:
        problem = parsed.problems[0].problem if parsed.problems else "no package"
        raise ReprotasksError(
            f"resolving [build-system] requires gave no clean hashed lock ({problem})",
            hint="run `reprotasks lock` to see the resolver's output, then commit the build lock",
        )
    return canonical_text(parsed.pins)


def _same_config_as_commit(config: Config, project: Path, source: _source.Source) -> Config:
    """The settings this build records must be the commit's: refuse when the working tree's differ."""
    committed = config.reload_at(project)
    here, there = _flat(config.fingerprint()), _flat(committed.fingerprint())
    differing = sorted(key for key in here.keys() | there.keys() if here.get(key) != there.get(key))
    if differing:
        shown_keys = ", ".join(
            f"{key} ({here.get(key)!r} here, {there.get(key)!r} in the commit)" for key in differing[:4]
        ) + (f" and {len(differing) - 4} more" if len(differing) > 4 else "")
        raise ReprotasksError(
            f"the configuration in the working tree differs from commit {source.commit[:12]}'s: {shown_keys}; "
            "builds use only committed files, so the settings recorded would not be the commit's",
            hint="commit the change (pyproject.toml, lock inputs, go.mod, ...) or stash it (`git stash -u`), "
            "then build again",
        )
    return committed


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _build_parts(
    config: Config,
    plan: BuildPlan,
    project: Path,
    stage: Path,
    commands: BuildCommands,
    places: dict[str, str],
    *,
    runner: Runner,
) -> Manifest:
    """Python and every Go platform are independent jobs, run in parallel across the cores; each runs
    its planned ``commands`` (``places``: their placeholders' values)."""
    jobs: list[Callable[[], list[ArtifactRecord]]] = []
    header = manifest_header(config, plan, runner=runner)
    if commands.python is not None:
        jobs.append(_python_job(config, plan, project, commands.python, places, stage, runner=runner))
    if commands.go:
        jobs += _go_jobs(config, plan, project, stage, commands, places, runner=runner)
    records = [record for job_records in _run_parallel(jobs) for record in job_records]
    names = [record.name for record in records]
    built = wheel_version(names) if plan.version_from_wheel else None
    if built is not None and built != plan.version:
        runner.log(f"build: release version {built}, the wheel's ([project] version is dynamic)")
        header = manifest_header(config, dataclasses.replace(plan, version=built), runner=runner)
    clashing = sorted({name for name in names if names.count(name) > 1})
    if clashing:  # one part's file replaced the other's in the stage: nothing of this build is kept
        raise ReprotasksError(
            f"two artifacts of this build are named {clashing[0]} (a Go archive and the sdist or wheel)",
            hint="change `go.archive-name` under [tool.reprotasks.go] so Go archives cannot take Python "
            "artifacts' names",
        )
    return Manifest(**header, artifacts=tuple(records))


def _python_job(
    config: Config,
    plan: BuildPlan,
    project: Path,
    command: Command,
    places: dict[str, str],
    stage: Path,
    *,
    runner: Runner,
) -> Callable[[], list[ArtifactRecord]]:
    """The sdist and wheel, built in the environment of the build lock (prepared now, not in the job,
    which is where $BUILD_ENV becomes known)."""
    lock = plan.build_lock
    assert lock is not None and lock.text is not None
    if lock.committed:
        environment = build_environment(_committed(project, lock.path), lock.path, runner=runner)
    else:
        resolved = project.parent / "build-requirements.resolved.txt"
        resolved.write_text(lock.text, encoding="utf-8")
        environment = build_environment(resolved, "the build requirements resolved for this build", runner=runner)
        _require_closure(config, environment)
    assert environment.directory is not None
    places = {**places, "BUILD_ENV": str(environment.directory)}

    def python_job() -> list[ArtifactRecord]:
        runner.log(f"build: sdist + wheel ({len(environment.packages)} locked build requirements)")
        try:
            built = build_python(command, places, stage, runner=runner, epoch=plan.source.epoch)
        finally:
            if environment.disposable is not None:
                shutil.rmtree(environment.disposable, ignore_errors=True)
        if config.exclude_submodules:
            _refuse_packed_submodules(config, [artifact.path for artifact in built])
        return [ArtifactRecord.of(artifact.path, kind=artifact.kind, platform="any") for artifact in built]

    return python_job


def _refuse_packed_submodules(config: Config, artifacts: list[Path]) -> None:
    """An excluded submodule must be one the sdist and wheel would not have shipped anyway."""
    packed = _source.packed_excluded_submodules(artifacts)
    if packed:
        listed = ", ".join(f"`{path}`" for path in config.exclude_submodules)
        raise ReprotasksError(
            f"the build backend packs the directory of a submodule that `exclude-submodules` leaves out ({listed}): "
            f"{packed[0]} is the placeholder reprotasks put there, so a build with the submodule checked out "
            "would ship its files, and this release would silently lack them",
            hint="leave that directory out of the sdist in the backend's configuration (hatchling: "
            "[tool.hatch.build.targets.sdist] exclude = [...]; setuptools: `prune DIR` in MANIFEST.in; poetry: "
            "an `include` that does not cover it), or check the submodule out (`git submodule update --init`) "
            "and drop it from `exclude-submodules`",
        )


def _go_jobs(
    config: Config,
    plan: BuildPlan,
    project: Path,
    stage: Path,
    commands: BuildCommands,
    places: dict[str, str],
    *,
    runner: Runner,
) -> list[Callable[[], list[ArtifactRecord]]]:
    """One job per platform, once the archive files are in the commit and the module cache verifies."""
    assert config.go.module is not None and plan.toolchain is not None
    module_rel = config.rel(config.go.module)
    module = project / module_rel if module_rel != "." else project
    for relative in config.go.archive_files:
        if not (project / relative).is_file() or (project / relative).is_symlink():
            raise ReprotasksError(
                f"{relative} (listed in `go.archive-files`) is not a regular file in commit {plan.source.commit[:12]}",
                hint=f"`git add {relative}` and commit it, or remove it from `go.archive-files`",
            )
    # The module cache is shared and writable: never build (and then attest the go.sum hashes of)
    # a module whose extracted files were changed since go verified its download.
    unverified = verify_findings(
        module,
        module_rel,
        runner=runner,
        env={**hermetic_environment(module, runner=runner), "GOTOOLCHAIN": plan.toolchain, "GOFLAGS": "-mod=readonly"},
    )
    if unverified:
        raise DriftError(unverified, step="build")
    runner.log(f"build: Go {', '.join(plan.go_packages)} for {', '.join(plan.platforms)}")
    say_if_cold_cache(module, runner=runner)
    return [
        functools.partial(
            _go_job, config, plan, project, module, stage, platform, commands.go[platform], places, runner
        )
        for platform in plan.platforms
    ]


def _go_job(
    config: Config,
    plan: BuildPlan,
    project: Path,
    module: Path,
    stage: Path,
    platform: str,
    commands: tuple[Command, ...],
    places: dict[str, str],
    runner: Runner,
) -> list[ArtifactRecord]:
    assert plan.toolchain is not None
    artifacts = build_go_platform(
        module,
        plan.go_packages,
        platform,
        version=plan.version,
        out_dir=stage,
        runner=runner,
        mtime=plan.source.epoch,
        flags=go_flags(config.go, plan.version, commit=plan.source.commit, epoch=plan.source.epoch),
        names=config.go.binary_names,
        template=config.go.archive_name,
        extra_files=[project / relative for relative in config.go.archive_files],
        in_directory=config.go.archive_in_directory,
        version_variables=config.go.version_variables,
        toolchain=plan.toolchain,
        compiler=plan.go_version,
        # One check per package is enough; none when the project chose to stamp nothing.
        check_stamp=platform == plan.platforms[0] and config.go.version_variable != "",
        commands=commands,
        places=places,
    )
    records = [
        ArtifactRecord.of(
            artifact.path,
            kind="go-archive",
            platform=artifact.platform,
            package=artifact.command,
            embedded=artifact.embedded,
            compiler=artifact.compiler,
        )
        for artifact in artifacts
    ]
    # Each archive is, by construction, the canonical archive of a binary checked above: record
    # that, so the attesting steps need not unpack it again (``checked_archives``).
    for record in records:
        assert record.package is not None and record.compiler is not None
        inside = member_prefix(config.go.archive_in_directory, record.name)
        extras = ArchiveCheck.extras_of(
            {
                inside + PurePosixPath(relative).name: _file_and_mode(project / relative)
                for relative in config.go.archive_files
            }
        )
        executable = inside + executable_name(config.go.binary_names.get(record.package, record.package), platform)
        check = ArchiveCheck(
            record.name, record.package, platform, executable, plan.go_version, extras, plan.source.epoch
        )
        checked_archives.remember(check, record.sha256, record.compiler, record.embedded)
    return records


def _file_and_mode(path: Path) -> tuple[bytes, bool]:
    """A file's bytes, and whether an archive holds it as executable (``_archive``'s rule)."""
    return path.read_bytes(), bool(path.stat().st_mode & 0o111)


def _run_parallel(jobs: list[Callable[[], list[ArtifactRecord]]]) -> list[list[ArtifactRecord]]:
    """Run the jobs on a thread each (they mostly wait for child processes); first error wins."""
    if len(jobs) <= 1:
        return [job() for job in jobs]
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(len(jobs), 2 * (os.cpu_count() or 1))) as pool:
        futures = [pool.submit(job) for job in jobs]
        try:
            concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_EXCEPTION)
        except BaseException:  # Ctrl-C, SIGTERM: start no queued job
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        for future in futures:
            future.cancel()
        return [future.result() for future in futures]


def _committed(project: Path, relative: str) -> Path:
    path = project / relative
    if not path.is_file():
        raise ReprotasksError(
            f"{relative} is not in the commit being built",
            hint=f"run `reprotasks lock` if needed, then `git add {relative}` and commit it",
        )
    return path


def _require_closure(config: Config, environment: BuildEnvironment) -> None:
    """Requirements that were not read from a committed lock (resolved now, or recorded in a
    manifest given with --from-manifest) must be exactly what [build-system] requires needs: no
    missing package, no version outside its range, nothing extra."""
    spec = config.python.build_lock
    assert spec is not None and spec.generated is not None and environment.directory is not None
    requirements = [line for line in spec.generated.splitlines() if line and not line.startswith(("#", "-"))]
    problems = closure_problems(environment.directory, requirements)
    if problems:
        if environment.disposable is not None:
            shutil.rmtree(environment.disposable, ignore_errors=True)
        raise ReprotasksError(
            "the build requirements are not exactly what [build-system] requires needs: "
            + "; ".join(problems[:6])
            + (f" and {len(problems) - 6} more" if len(problems) > 6 else ""),
            hint="build without --from-manifest (it then resolves them), or pass the manifest of a build of this "
            "commit; better, run `reprotasks lock` and commit the build lock",
        )


def _python_dir(config: Config) -> str:
    """The Python project's directory relative to the project root ("." unless python.project)."""
    return "." if config.python.project is None else config.rel(config.python.project)


def _python_record(lock: BuildLock, plan: BuildPlan, directory: str) -> dict[str, Any]:
    if lock.text is None:
        raise ReprotasksError(
            f"{lock.path} is not in commit {plan.source.commit[:12]} and the manifest records no build requirements "
            "resolved for it, so what built the Python package is unknown",
            hint=f"rebuild (`reprotasks build --force`); better, run `reprotasks lock` and commit {lock.path}",
        )
    parsed = parse_lock_text(lock.text)
    if not lock.committed and (parsed.problems or canonical_text(parsed.pins) != lock.text):
        raise ReprotasksError(
            "the build requirements recorded in the manifest are not a sorted, hashed lock as reprotasks writes one",
            hint="rebuild (`reprotasks build --force`; never edit manifest.json by hand)",
        )
    packages = {pin.name: pin.version for pin in parsed.pins}
    lock_sha = hashlib.sha256(lock.text.encode("utf-8")).hexdigest()
    command = list(build_argv("python", "DIST"))
    build_lock: dict[str, Any] = {"path": lock.path, "sha256": lock_sha}
    if not lock.committed:
        build_lock = {"path": None, "sha256": lock_sha, "resolved": canonical_lines(parsed.pins)}
    record = {
        "command": command,
        "environment": {**build_environment_variables(Path("SOURCE"), plan.source.epoch), "umask": "022"},
        "build_lock": build_lock,
        "build_requirements": dict(sorted(packages.items())),
    }
    if directory != ".":
        record["directory"] = directory  # python.project: the backend runs there
    return record


def _go_record(config: Config, plan: BuildPlan, go_sum_sha: str | None, module_rel: str) -> dict[str, Any]:
    assert plan.toolchain is not None
    per_platform = {p: platform_environment(p, plan.toolchain) for p in plan.platforms}
    # GOTOOLCHAIN is "local" or the pinned version depending on the machine; record the version.
    common = {"CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly", "GOTOOLCHAIN": plan.go_version or plan.toolchain}
    record: dict[str, Any] = {
        "module": module_rel,
        "command": [
            "go",
            "build",
            *go_flags(config.go, plan.version, commit=plan.source.commit, epoch=plan.source.epoch),
        ],
        "environment": common,
        "platforms": {p: {k: v for k, v in env.items() if k not in common} for p, env in per_platform.items()},
        "go_sum_sha256": go_sum_sha,
    }
    go = config.go
    named = {package: name for package, name in go.binary_names.items() if package in plan.go_packages}
    if (
        go.archive_files
        or go.archive_name != DEFAULT_ARCHIVE_NAME
        or any(name != PurePosixPath(package).name for package, name in named.items())
    ):
        # GoReleaser-style settings, recorded only when used (older manifests stay as they were).
        record["archives"] = {"name": go.archive_name, "files": list(go.archive_files), "binaries": named}
    return record


@dataclass(frozen=True)
class BuildCommands:
    """What a build runs, in order: the clean copy, the Python build, the Go builds of each platform."""

    clone: tuple[Command, ...]
    python: Command | None
    go: dict[str, tuple[Command, ...]]  # platform -> one `go build` per main package

    def all(self) -> list[Command]:
        return [*self.clone, *([self.python] if self.python else []), *(c for cs in self.go.values() for c in cs)]


SCRATCH_SOURCE = "$SCRATCH/src"


def build_commands(config: Config, plan: BuildPlan, *, runner: Runner) -> BuildCommands:
    """The commands the build of ``plan`` runs, with placeholders ($SCRATCH, $BUILD_ENV) for the paths
    only the run knows: the build executes exactly these, and ``release --dry-run`` prints them."""
    project = PurePosixPath(SCRATCH_SOURCE) / plan.source.prefix
    python = None
    if plan.python:
        python = python_build_command(
            str(project / _python_dir(config)), "$SCRATCH/python", "$BUILD_ENV", plan.source.epoch
        )
    go: dict[str, tuple[Command, ...]] = {}
    if plan.go_packages:
        assert config.go.module is not None and plan.toolchain is not None
        module = str(project / config.rel(config.go.module))
        flags = go_flags(config.go, plan.version, commit=plan.source.commit, epoch=plan.source.epoch)
        for platform in plan.platforms:
            # The module's settings are go's, not the tree's: read in the working tree, used in the copy.
            env = go_environment(config.go.module, platform, plan.toolchain, runner=runner)
            out = f"$SCRATCH/go/{platform.replace('/', '-')}"
            go[platform] = tuple(
                go_build_command(
                    module,
                    package,
                    platform,
                    flags=flags,
                    env=env,
                    binary=f"{out}/{executable_name(binary_name(package, config.go.binary_names), platform)}",
                )
                for package in plan.go_packages
            )
    return BuildCommands(_source.clean_copy_commands(plan.source, SCRATCH_SOURCE), python, go)


def planned_commands(
    config: Config, *, dist: DistDir, runner: Runner, platforms: Sequence[str] = (), reuse: bool = True
) -> list[str]:
    """What ``build`` would run (for ``release --dry-run``): each command as the shell line it is
    (``build_commands``), notes as ``#`` lines; runs nothing but queries.
    ``reuse``: whether an unchanged build would be reused (not in a release without --trust-cache)."""
    source = _source.describe_source(config.root, runner=runner)
    plan = plan_build(config, source, runner=runner, platforms=platforms, python=True, go=True)
    if reuse and _reuse(config, dist, plan, runner=runner, restage=False) is not None:
        return [f"# inputs unchanged since the last build: reuse {dist.rel()}/ after checking every digest"]
    commands = build_commands(config, plan, runner=runner)
    used = sorted({name for command in commands.all() for name in command.placeholders()})
    lines = [f"# ${name}: {PLACEHOLDERS[name]}" for name in used]
    lines += [str(command) for command in commands.clone]
    if (
        runner.capture_bytes(
            ["git", "cat-file", "-e", f"{source.commit}:.gitmodules"],
            cwd=source.toplevel,
            purpose="look for submodules",
        )
        is not None
    ):
        lines.append("# then each submodule of .gitmodules, cloned from this checkout (git submodule update)")
    if commands.python is not None and plan.build_lock is not None:
        lines += _python_notes(plan.build_lock)
        lines.append(f"{commands.python}  # -> {dist.rel()}/")
    if commands.go:
        module = commands.go[plan.platforms[0]][0].cwd
        lines.append(f"# go mod verify in {module}: the shared module cache still holds what go.sum lists")
    for platform, go_builds in commands.go.items():
        for package, command in zip(plan.go_packages, go_builds, strict=True):
            name = binary_name(package, config.go.binary_names)
            lines.append(
                f"{command}  # -> {dist.rel()}/{archive_name(name, plan.version, platform, config.go.archive_name)}"
            )
    version = "the wheel's ([project] version is dynamic)" if plan.version_from_wheel else plan.version
    lines.append(f"# write {dist.rel()}/{MANIFEST_NAME} (commit {source.commit[:12]}, version {version})")
    return lines


def _python_notes(lock: BuildLock) -> list[str]:
    """What happens before the Python build that depends on the machine: the build environment."""
    where = lock.path if lock.committed else "them"
    return [
        *([] if lock.committed else [f"# {lock.path} is not committed: [build-system] requires resolved with hashes"]),
        f"# the build environment: a cached one if it checks out against {where}, else one installed from "
        f"{where} (pip download + install --require-hashes --no-deps)",
    ]
