"""The build step: sdist + wheel + Go archives for a platform matrix, and ``dist/manifest.json``.

Everything is built from a clean clone of the last commit, into a staging directory that
replaces ``dist/`` only when every part succeeded. When the inputs (committed tree, config,
toolchains, reprotasks itself) are unchanged and ``dist/`` still holds the very artifacts
listed in its manifest, the previous outputs are reused after checking their digests.
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import os
import platform as host_platform
import shlex
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reprotasks import __version__, _cache, _journal
from reprotasks._run import Runner
from reprotasks.config import Config
from reprotasks.errors import ReprotasksError
from reprotasks.go import mod as _gomod
from reprotasks.dist import source as _source
from reprotasks.dist.layout import (
    SBOM_NAME,
    directory_problem,
    entries,
    entry_problem,
    is_metadata_name,
    kind_of,
    read_regular,
    sha256_regular,
    shown,
)
from reprotasks.python.lockfile import parse_lock_text
from reprotasks.go.binaries import (
    go_flags,
    build_go_platform,
    parse_platform,
    platform_environment,
    go_toolchain,
)
from reprotasks.python.package import (
    BuildEnvironment,
    build_command,
    build_environment,
    build_environment_variables,
    build_python,
)
from reprotasks.dist.stage import staged
from reprotasks.dist.manifest import MANIFEST_NAME, ArtifactRecord, Manifest, manifest_from_bytes


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
        rows += [("warning", text) for text in self.warnings]
        return rows


@dataclass(frozen=True)
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


def build(
    config: Config,
    *,
    runner: Runner,
    platforms: Sequence[str] = (),
    python: bool = True,
    go: bool = True,
    force: bool = False,
) -> BuildResult:
    """Build (or reuse) every artifact into ``config.dist_dir``; see the module docstring."""
    dist = config.rel(config.dist_dir)
    problem = directory_problem(config.dist_dir)
    if problem is not None and not problem.startswith("does not exist"):  # before building, not after
        raise ReprotasksError(f"{dist}: {problem}", hint="remove it (build writes a fresh directory there)")
    source = _source.describe_source(config.root, runner=runner)
    untracked = _source.untracked_config_inputs(source, runner=runner, outputs=dist)
    warning = _source.check_dirty(
        source, config.dirty_tree, runner=runner, strict=config.go.vcs_stamp and go, outputs=dist, untracked=untracked
    )
    _source.refuse_tracked_outputs(source, dist, runner=runner)
    warnings = (warning,) if warning else ()
    for text in warnings:
        runner.log(f"build: WARNING: {text}")
    plan = plan_build(config, source, runner=runner, platforms=platforms, python=python, go=go)
    if not plan.go_pinned and config.go.toolchain_pin == "required":
        text = (
            f"{config.rel(config.go.module or config.root)}/go.mod pins no Go toolchain: built with the local "
            f"{plan.go_version}, so these binaries reproduce only with {plan.go_version} (pin it: "
            f"`go mod edit -toolchain={plan.go_version}`; `release` requires the pin)"
        )
        warnings = (*warnings, text)
        runner.log(f"build: WARNING: {text}")
    # Untracked configuration inputs (allowed with dirty-tree = "warn") make this config differ
    # from the commit's: never reuse then; the build compares with the commit's config.
    if not force and not untracked:
        reused = _reuse(config, plan, runner=runner)
        if reused is not None:
            runner.log(f"build: inputs unchanged since the last build; {dist}/ checked and reused")
            return BuildResult(dist, reused, True, warnings)
    manifest = _build_into_dist(config, plan, runner=runner)
    remember_build(config, manifest)
    return BuildResult(dist, manifest, False, warnings)


def _version(config: Config, source: _source.Source, runner: Runner) -> str:
    version = config.version or config.project_version
    if version is None:
        described = runner.run(
            ["git", "describe", "--tags", "--always", "--abbrev=12", source.commit],
            cwd=source.toplevel,
            purpose="name the release version (set `version` in [tool.reprotasks] to choose it)",
            quiet=True,
        )
        version = described.stdout.strip()
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
) -> BuildPlan:
    """``python_toolchain``: the Python that built the Python part, if not this one (assemble)."""
    for platform in platforms:
        parse_platform(platform)
    build_python_part = python and config.python.build
    module = config.go.module if go else None
    packages = config.go.main_packages if module is not None else ()
    if not build_python_part and not packages:
        raise ReprotasksError(
            "nothing to build: no Python package ([build-system] in pyproject.toml) and no Go main packages"
            + ("" if python and go else " for the parts selected"),
            hint="add a [build-system] table, or Go `main` packages under cmd/ (or set `main-packages` "
            "under [tool.reprotasks.go])",
        )
    toolchain = go_version = None
    go_pinned = True
    if packages and module is not None:
        chosen_go = go_toolchain(module, runner=runner)
        toolchain, go_version, go_pinned = chosen_go.setting, chosen_go.version, chosen_go.pinned
    # Order-free: `--platform b --platform a` and the configured [a, b] are the same build.
    chosen = tuple(sorted(set(platforms or config.go.platforms)))
    version = _version(config, source, runner)
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
    return BuildPlan(
        source,
        version,
        build_python_part,
        packages,
        chosen if packages else (),
        toolchain,
        go_version,
        digest,
        go_pinned,
    )


def host_python() -> str:
    return f"{host_platform.python_implementation()} {host_platform.python_version()}"


def _reuse_key(config: Config, inputs_digest: str) -> str:
    return _cache.digest([str(config.staged_for or config.dist_dir), inputs_digest])


def remember_build(config: Config, manifest: Manifest) -> None:
    """Record that this machine wrote exactly this manifest for these inputs (what reuse requires)."""
    data = manifest.to_json()
    _cache.store("build-reuse", _reuse_key(config, manifest.inputs_digest), hashlib.sha256(data).hexdigest())


def _reuse(config: Config, plan: BuildPlan, *, runner: Runner, restage: bool = True) -> Manifest | None:
    """The previous build, if dist/ is provably what this machine's build of these inputs wrote.

    Requires: a record (in this user's cache) that a build here wrote exactly these manifest
    bytes for this inputs digest; the manifest's every non-artifact field equal to what this
    build computes now; every artifact a regular file with its recorded size and sha256; and
    nothing else in dist/ but the outputs of later steps, which are dropped.
    """
    dist = config.dist_dir
    shown_dist = config.rel(dist)
    recorded = _cache.load("build-reuse", _reuse_key(config, plan.inputs_digest))
    if recorded is None or kind_of(dist) != "a directory" or kind_of(dist / MANIFEST_NAME) is not None:
        return None
    try:
        data = read_regular(dist / MANIFEST_NAME)
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != recorded:
        runner.log(f"build: {shown_dist}/{MANIFEST_NAME} is not the one this machine's last build wrote: rebuilding")
        return None
    try:
        manifest = manifest_from_bytes(data)
    except (ValueError, TypeError):
        return None
    expected = manifest_header(config, plan, runner=runner)
    if manifest.inputs_digest != plan.inputs_digest or _header_of(manifest) != expected:
        runner.log(f"build: {shown_dist}/{MANIFEST_NAME} differs from what this build would record: rebuilding")
        return None
    names = {record.name for record in manifest.artifacts}
    dropped = []
    for entry in entries(dist):
        if entry.name == MANIFEST_NAME or entry.name in names:
            if entry_problem(entry) is not None:
                return None
        elif (is_metadata_name(entry.name) or entry.name == SBOM_NAME) and entry_problem(entry) is None:
            # Written by the steps after build; a reused build drops them (those steps re-derive them).
            dropped.append(entry.name)
        else:
            runner.log(f"build: {shown_dist}/ holds {shown(entry.name)}, which no build writes: rebuilding")
            return None
    for record in manifest.artifacts:
        artifact = dist / record.name
        try:
            if os.lstat(artifact).st_size != record.size or sha256_regular(artifact) != record.sha256:
                return None
        except OSError:
            return None
    if dropped and restage:
        runner.log(
            f"build: dropping {', '.join(dropped)} from {shown_dist}/ (written by later steps, re-derived there)"
        )
        _restage(dist, [MANIFEST_NAME, *sorted(names)])
    return manifest


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
        lock = config.python.build_lock
        assert lock is not None  # config.python.build implies a lock
        lock_rel = config.rel(lock.output)
        text = _committed_text(plan.source, lock_rel, runner)
        packages = {pin.name: pin.version for pin in parse_lock_text(text).pins}
        lock_sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
        python_part = _python_record(lock_sha, packages, lock_rel, plan)
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


def _committed_text(source: _source.Source, relative: str, runner: Runner) -> str:
    data = _source.committed_bytes(source, relative, runner=runner)
    if data is None:
        raise ReprotasksError(
            f"{relative} is not in the commit being built",
            hint=f"run `reprotasks lock` if needed, then `git add {relative}` and commit it",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ReprotasksError(f"{relative} is not UTF-8 text", hint="re-create it with `reprotasks lock`") from None


def _build_into_dist(config: Config, plan: BuildPlan, *, runner: Runner) -> Manifest:
    with staged(config.dist_dir, "stage") as stage, tempfile.TemporaryDirectory(prefix="reprotasks-src-") as scratch:
        runner.log(f"build: clean copy of commit {plan.source.commit[:12]}")
        project = _source.clean_copy(plan.source, Path(scratch) / "src", runner=runner)
        _same_config_as_commit(config, project, plan.source)
        manifest = _build_parts(config, plan, project, stage, runner=runner)
        manifest.write(stage)
    return manifest


def _same_config_as_commit(config: Config, project: Path, source: _source.Source) -> None:
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


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _build_parts(config: Config, plan: BuildPlan, project: Path, stage: Path, *, runner: Runner) -> Manifest:
    """Python and every Go platform are independent jobs, run in parallel across the cores."""
    jobs: list[Callable[[], list[ArtifactRecord]]] = []
    header = manifest_header(config, plan, runner=runner)
    if plan.python:
        lock = config.python.build_lock
        assert lock is not None  # config.python.build implies a lock
        lock_rel = config.rel(lock.output)
        environment = build_environment(_committed(project, lock_rel), lock_rel, runner=runner)

        def python_job() -> list[ArtifactRecord]:
            runner.log(f"build: sdist + wheel ({len(environment.packages)} locked build requirements)")
            try:
                built = build_python(project, stage, environment, runner=runner, epoch=plan.source.epoch)
            finally:
                if environment.disposable is not None:
                    shutil.rmtree(environment.disposable, ignore_errors=True)
            return [ArtifactRecord.of(artifact.path, kind=artifact.kind, platform="any") for artifact in built]

        jobs.append(python_job)
    if plan.go_packages:
        assert config.go.module is not None and plan.toolchain is not None
        module_rel = config.rel(config.go.module)
        module = project / module_rel if module_rel != "." else project
        runner.log(f"build: Go {', '.join(plan.go_packages)} for {', '.join(plan.platforms)}")
        jobs += [
            functools.partial(_go_job, config, plan, module, stage, platform, runner) for platform in plan.platforms
        ]
    records = [record for job_records in _run_parallel(jobs) for record in job_records]
    return Manifest(**header, artifacts=tuple(records))


def _go_job(
    config: Config, plan: BuildPlan, module: Path, stage: Path, platform: str, runner: Runner
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
        flags=go_flags(config.go, plan.version),
        version_variable=config.go.version_variable,
        toolchain=plan.toolchain,
        compiler=plan.go_version,
        check_stamp=platform == plan.platforms[0],  # one check per package is enough
    )
    return [
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


def _python_record(lock_sha: str, packages: dict[str, str], lock_rel: str, plan: BuildPlan) -> dict[str, Any]:
    command = build_command(BuildEnvironment(Path("python"), lock_sha, packages), Path("DIST"))
    command[0] = "python"
    return {
        "command": command,
        "environment": {**build_environment_variables(Path("SOURCE"), plan.source.epoch), "umask": "022"},
        "build_lock": {"path": lock_rel, "sha256": lock_sha},
        "build_requirements": dict(sorted(packages.items())),
    }


def _go_record(config: Config, plan: BuildPlan, go_sum_sha: str | None, module_rel: str) -> dict[str, Any]:
    assert plan.toolchain is not None
    per_platform = {p: platform_environment(p, plan.toolchain) for p in plan.platforms}
    # GOTOOLCHAIN is "local" or the pinned version depending on the machine; record the version.
    common = {"CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly", "GOTOOLCHAIN": plan.go_version or plan.toolchain}
    return {
        "module": module_rel,
        "command": [
            "go",
            "build",
            *go_flags(config.go, plan.version),
        ],
        "environment": common,
        "platforms": {p: {k: v for k, v in env.items() if k not in common} for p, env in per_platform.items()},
        "go_sum_sha256": go_sum_sha,
    }


def planned_commands(
    config: Config, *, runner: Runner, platforms: Sequence[str] = (), reuse: bool = True
) -> list[str]:
    """What ``build`` would run, as shell-like lines (for ``release --dry-run``); runs nothing.
    ``reuse``: whether an unchanged build would be reused (not in a release without --trust-cache)."""
    dist = config.rel(config.dist_dir)
    source = _source.describe_source(config.root, runner=runner)
    plan = plan_build(config, source, runner=runner, platforms=platforms, python=True, go=True)
    if reuse and _reuse(config, plan, runner=runner, restage=False) is not None:
        return [f"# inputs unchanged since the last build: reuse {dist}/ after checking every digest"]
    lines = [f"git clone --shared --no-checkout . $SCRATCH/src && git -C $SCRATCH/src checkout {source.commit}"]
    if plan.python:
        lock = config.python.build_lock
        assert lock is not None
        lines.append(f"pip install --require-hashes --no-deps -r {config.rel(lock.output)}  # cached build venv")
        env = build_environment_variables(Path("$SCRATCH/src"), plan.source.epoch)
        settings = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
        lines.append(f"{settings} python -m build --no-isolation --outdir {dist} .")
    if plan.go_packages and config.go.module is not None and plan.toolchain is not None:
        module_rel = config.rel(config.go.module)
        flags = go_flags(config.go, plan.version)
        for platform in plan.platforms:
            env = platform_environment(platform, plan.toolchain)
            settings = " ".join(f"{key}={value}" for key, value in env.items())
            for package in plan.go_packages:
                command = shlex.join(["go", "build", *flags, "-o", "$SCRATCH/bin", package])
                lines.append(f"(cd {module_rel} && {settings} {command})  # -> {dist}/ archive")
    lines.append(f"# write {dist}/{MANIFEST_NAME} (commit {source.commit[:12]}, version {plan.version})")
    return lines
