"""The build step: sdist + wheel + Go archives for a platform matrix, and ``dist/manifest.json``.

Everything is built from a clean clone of the last commit, into a staging directory that
replaces ``dist/`` only when every part succeeded. When the inputs (committed tree, config,
toolchains, reprotasks itself) are unchanged and ``dist/`` still holds the very artifacts
listed in its manifest, the previous outputs are reused after checking their digests.
"""

from __future__ import annotations

import concurrent.futures
import functools
import os
import platform as host_platform
import shlex
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reprotasks import __version__, _cache
from reprotasks._files import sha256_file
from reprotasks._run import Runner
from reprotasks.config import Config
from reprotasks.errors import ReprotasksError
from reprotasks.steps import _gomod, _source
from reprotasks.steps.build_go import (
    build_flags,
    build_go_platform,
    parse_platform,
    platform_environment,
    toolchain_setting,
)
from reprotasks.steps.build_python import (
    BuildEnvironment,
    build_command,
    build_environment,
    build_environment_variables,
    build_python,
)
from reprotasks.steps.manifest import MANIFEST_NAME, ArtifactRecord, Manifest, read_manifest


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
    source = _source.describe_source(config.root, runner=runner)
    warning = _source.check_dirty(
        source, config.dirty_tree, runner=runner, strict=config.go.vcs_stamp and go, outputs=dist
    )
    _source.refuse_tracked_outputs(source, dist, runner=runner)
    warnings = (warning,) if warning else ()
    for text in warnings:
        runner.log(f"build: WARNING: {text}")
    plan = plan_build(config, source, runner=runner, platforms=platforms, python=python, go=go)
    if not force:
        reused = _reusable(config, plan)
        if reused is not None:
            runner.log(f"build: inputs unchanged since the last build; {dist}/ checked and reused")
            return BuildResult(dist, reused, True, warnings)
    manifest = _build_into_dist(config, plan, runner=runner)
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
    if packages and module is not None:
        toolchain = toolchain_setting(module, runner=runner)
        go_version = _gomod.read_pins(module).pinned
    # Order-free: `--platform b --platform a` and the configured [a, b] are the same build.
    chosen = tuple(sorted(set(platforms or config.go.platforms)))
    version = _version(config, source, runner)
    digest = _cache.digest(
        {
            "reprotasks": __version__,
            "source": [source.commit, source.tree, source.epoch],
            "config": config.describe(),
            "python": [build_python_part, python_toolchain or host_python()],
            "go": [list(packages), list(chosen), go_version],
            "version": version,
        }
    )
    return BuildPlan(
        source, version, build_python_part, packages, chosen if packages else (), toolchain, go_version, digest
    )


def host_python() -> str:
    return f"{host_platform.python_implementation()} {host_platform.python_version()}"


def _reusable(config: Config, plan: BuildPlan) -> Manifest | None:
    path = config.dist_dir / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        manifest = read_manifest(path, config.rel(path))
    except ReprotasksError:
        return None
    if manifest.inputs_digest != plan.inputs_digest:
        return None
    for record in manifest.artifacts:
        artifact = config.dist_dir / record.name
        if not artifact.is_file() or artifact.is_symlink() or artifact.stat().st_size != record.size:
            return None
        if sha256_file(artifact) != record.sha256:
            return None
    return manifest


def _build_into_dist(config: Config, plan: BuildPlan, *, runner: Runner) -> Manifest:
    dist = config.dist_dir
    dist.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{dist.name}-stage-", dir=dist.parent))
    try:
        with tempfile.TemporaryDirectory(prefix="reprotasks-src-") as scratch:
            runner.log(f"build: clean copy of commit {plan.source.commit[:12]}")
            project = _source.clean_copy(plan.source, Path(scratch) / "src", runner=runner)
            manifest = _build_parts(config, plan, project, stage, runner=runner)
        manifest.write(stage)
        stage.chmod(0o755)  # mkdtemp made it 0700; dist/ is meant to be world-readable
        replace_directory(stage, dist)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return manifest


def _build_parts(config: Config, plan: BuildPlan, project: Path, stage: Path, *, runner: Runner) -> Manifest:
    """Python and every Go platform are independent jobs, run in parallel across the cores."""
    python_part: dict[str, Any] | None = None
    go_part: dict[str, Any] | None = None
    jobs: list[Callable[[], list[ArtifactRecord]]] = []
    if plan.python:
        lock = config.python.build_lock
        assert lock is not None  # config.python.build implies a lock
        lock_rel = config.rel(lock.output)
        environment = build_environment(_committed(project, lock_rel), lock_rel, runner=runner)
        python_part = _python_record(environment, lock_rel, plan)

        def python_job() -> list[ArtifactRecord]:
            runner.log(f"build: sdist + wheel ({len(environment.packages)} locked build requirements)")
            return [
                ArtifactRecord.of(artifact.path, kind=artifact.kind, platform="any")
                for artifact in build_python(project, stage, environment, runner=runner, epoch=plan.source.epoch)
            ]

        jobs.append(python_job)
    if plan.go_packages:
        assert config.go.module is not None and plan.toolchain is not None
        module_rel = config.rel(config.go.module)
        module = project / module_rel if module_rel != "." else project
        go_part = _go_record(config, plan, module, module_rel)
        runner.log(f"build: Go {', '.join(plan.go_packages)} for {', '.join(plan.platforms)}")
        jobs += [
            functools.partial(_go_job, config, plan, module, stage, platform, runner) for platform in plan.platforms
        ]
    records = [record for job_records in _run_parallel(jobs) for record in job_records]
    toolchains = {"reprotasks": __version__}
    if plan.python:
        toolchains["python"] = host_python()
    if plan.go_version:
        toolchains["go"] = plan.go_version
    return Manifest(
        project={"name": config.project_name, "version": plan.version},
        source={
            "commit": plan.source.commit,
            "tree": plan.source.tree,
            "path": plan.source.prefix.rstrip("/") or ".",
            "source_date_epoch": plan.source.epoch,
        },
        inputs_digest=plan.inputs_digest,
        toolchains=toolchains,
        python=python_part,
        go=go_part,
        artifacts=tuple(records),
    )


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
        version_variable=config.go.version_variable,
        vcs_stamp=config.go.vcs_stamp,
        toolchain=plan.toolchain,
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
        concurrent.futures.wait(futures, return_when=concurrent.futures.FIRST_EXCEPTION)
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


def _python_record(environment: BuildEnvironment, lock_rel: str, plan: BuildPlan) -> dict[str, Any]:
    command = build_command(environment, Path("DIST"))
    command[0] = "python"
    return {
        "command": command,
        "environment": {**build_environment_variables(Path("SOURCE"), plan.source.epoch), "umask": "022"},
        "build_lock": {"path": lock_rel, "sha256": environment.lock_sha256},
        "build_requirements": dict(sorted(environment.packages.items())),
    }


def _go_record(config: Config, plan: BuildPlan, module: Path, module_rel: str) -> dict[str, Any]:
    assert plan.toolchain is not None
    per_platform = {p: platform_environment(p, plan.toolchain) for p in plan.platforms}
    # GOTOOLCHAIN is "local" or the pinned version depending on the machine; record the version.
    common = {"CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly", "GOTOOLCHAIN": plan.go_version or plan.toolchain}
    go_sum = module / "go.sum"
    return {
        "module": module_rel,
        "command": [
            "go",
            "build",
            *build_flags(plan.version, version_variable=config.go.version_variable, vcs_stamp=config.go.vcs_stamp),
        ],
        "environment": common,
        "platforms": {p: {k: v for k, v in env.items() if k not in common} for p, env in per_platform.items()},
        "go_sum_sha256": sha256_file(go_sum) if go_sum.is_file() else None,
    }


def replace_directory(stage: Path, dist: Path) -> None:
    """Put the staged outputs in place of ``dist`` (the old one is removed only afterwards)."""
    if dist.is_symlink() or (dist.exists() and not dist.is_dir()):
        raise ReprotasksError(f"{dist} is not a directory", hint="remove it or point `dist-dir` somewhere else")
    old = None
    if dist.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{dist.name}-old-", dir=dist.parent))
        dist.rename(old / dist.name)
    try:
        stage.rename(dist)
    except OSError:
        if old is not None:
            (old / dist.name).rename(dist)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def planned_commands(config: Config, *, runner: Runner, platforms: Sequence[str] = ()) -> list[str]:
    """What ``build`` would run, as shell-like lines (for ``release --dry-run``); runs nothing."""
    dist = config.rel(config.dist_dir)
    source = _source.describe_source(config.root, runner=runner)
    plan = plan_build(config, source, runner=runner, platforms=platforms, python=True, go=True)
    if _reusable(config, plan) is not None:
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
        flags = build_flags(plan.version, version_variable=config.go.version_variable, vcs_stamp=config.go.vcs_stamp)
        for platform in plan.platforms:
            env = platform_environment(platform, plan.toolchain)
            settings = " ".join(f"{key}={value}" for key, value in env.items())
            for package in plan.go_packages:
                command = shlex.join(["go", "build", *flags, "-o", "$SCRATCH/bin", package])
                lines.append(f"(cd {module_rel} && {settings} {command})  # -> {dist}/ archive")
    lines.append(f"# write {dist}/{MANIFEST_NAME} (commit {source.commit[:12]}, version {plan.version})")
    return lines
