"""Run a resolver backend (pip-compile or uv) to write one hashed lock."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from reprotasks._run import Runner
from reprotasks.config import Config, LockSpec
from reprotasks.errors import ConfigError

LOCK_COMMAND = "reprotasks lock"


def find_uv(runner: Runner) -> str | None:
    """The uv binary: the one the `uv` Python package ships, else uv on PATH, else None."""
    try:
        from uv import find_uv_bin
    except ImportError:
        return runner.which("uv")
    return find_uv_bin()


def _uv_binary(runner: Runner) -> str:
    return find_uv(runner) or runner.require("uv", purpose="lock with the uv backend")


def backend_version(backend: str) -> str:
    """Version of the installed backend, read without starting a process (cache keys)."""
    distribution = "pip-tools" if backend == "pip-tools" else "uv"
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def _resolver_args(config: Config) -> list[str]:
    python = config.python
    args: list[str] = []
    if python.index_url:
        args += ["--index-url", python.index_url]
    for url in python.extra_index_urls:
        args += ["--extra-index-url", url]
    for link in python.find_links:
        # Relative directories are relative to the project root, not to the lock's folder.
        args += ["--find-links", link if "://" in link else str((config.root / link).resolve())]
    if python.no_index:
        args.append("--no-index")
    return args


def compile_lock(
    config: Config,
    spec: LockSpec,
    output: Path,
    *,
    runner: Runner,
    backend: str,
    upgrade: bool = False,
    upgrade_packages: Sequence[str] = (),
) -> None:
    """Resolve ``spec.input`` into ``output`` (which may hold the previous lock: pins are kept)."""
    upgrade_args: list[str] = ["--upgrade"] if upgrade else []
    for name in upgrade_packages:
        upgrade_args += ["--upgrade-package", name]
    common = [
        "--generate-hashes",
        "--no-config",
        "--quiet",
        "--strip-extras",
        "--output-file",
        str(output),
        *_resolver_args(config),
        *upgrade_args,
        spec.input.name,
    ]
    if spec.generated is not None:
        # The input exists only in memory (the build-system lock): resolve it from a scratch
        # directory under its fixed name, so the "via -r NAME" annotations are stable.
        with tempfile.TemporaryDirectory(prefix="reprotasks-input-") as scratch:
            (Path(scratch) / spec.input.name).write_text(spec.generated, encoding="utf-8")
            _compile(config, spec, common, Path(scratch), runner=runner, backend=backend)
    else:
        _compile(config, spec, common, spec.input.parent, runner=runner, backend=backend)


def _compile(config: Config, spec: LockSpec, common: list[str], cwd: Path, *, runner: Runner, backend: str) -> None:
    if backend == "pip-tools":
        argv = [
            sys.executable,
            "-m",
            "piptools",
            "compile",
            "--allow-unsafe",
            "--no-emit-index-url",
            "--no-emit-find-links",
            *common,
        ]
        env = {"CUSTOM_COMPILE_COMMAND": LOCK_COMMAND}
    elif backend == "uv":
        argv = [
            _uv_binary(runner),
            "pip",
            "compile",
            "--custom-compile-command",
            LOCK_COMMAND,
            "--python",
            sys.executable,
            *common,
        ]
        env = {}
    else:
        raise ConfigError(f"unknown lock backend {backend!r}", hint="use `pip-tools` or `uv`")
    runner.run(argv, cwd=cwd, env=env, purpose=f"lock {spec.describe_input(config.root)}")
