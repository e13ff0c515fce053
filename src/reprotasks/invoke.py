"""Invoke tasks over the core steps: ``from reprotasks.invoke import ns`` in tasks.py.

Settings come from [tool.reprotasks]; invoke's own configuration (``reprotasks:`` in
invoke.yaml, same keys) overrides them, and task flags override both.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from reprotasks._app import StepOptions, report_error, run_step
from reprotasks.errors import ReprotasksError

__all__ = ["ns"]


def _run(c: Context, step: str, options: StepOptions) -> None:
    overrides = c.config.get("reprotasks", None)
    if overrides is not None and not isinstance(overrides, Mapping):
        raise Exit("invoke configuration `reprotasks` must be a mapping of [tool.reprotasks] keys", code=2)
    plain: dict[str, Any] | None = _plain(overrides) if overrides else None
    try:
        run_step(step, options, root=Path.cwd(), overrides=plain, overrides_source="invoke configuration `reprotasks`")
    except ReprotasksError as error:
        report_error(error)
        raise Exit(code=error.exit_code) from None


def _plain(value: Any) -> Any:
    """invoke's DataProxy -> plain dicts/lists, so config validation sees ordinary types."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


@task(
    help={
        "upgrade": "re-resolve every package to its newest allowed version",
        "upgrade-package": "upgrade only this package (repeatable)",
        "backend": "pip-tools or uv (default: python.lock-backend)",
        "python-only": "lock only the Python requirements",
        "go-only": "only tidy and download the Go module",
    },
    iterable=["upgrade_package"],
)
def lock(
    c: Context,
    upgrade: bool = False,
    upgrade_package: list[str] | None = None,
    backend: str | None = None,
    python_only: bool = False,
    go_only: bool = False,
) -> None:
    """Lock Python requirements with hashes and tidy + download the Go module graph."""
    _run(
        c,
        "lock",
        StepOptions(
            upgrade=upgrade,
            upgrade_packages=tuple(upgrade_package or ()),
            backend=backend,
            python=not go_only,
            go=not python_only,
        ),
    )


@task(help={"no-cache": "re-resolve every lock even when its inputs are unchanged"})
def verify(c: Context, no_cache: bool = False) -> None:
    """Fail on drift: stale or unhashed locks, untidy go.mod/go.sum, unpinned toolchains."""
    _run(c, "verify", StepOptions(use_cache=not no_cache))


@task(help={"check": "verify dist/ against its SHA256SUMS instead of writing it"})
def checksum(c: Context, check: bool = False) -> None:
    """Write dist/SHA256SUMS; --check reports modified, missing, unlisted or unsafe entries."""
    _run(c, "checksum", StepOptions(check=check))


@task(
    help={
        "platform": "build Go binaries only for this OS/ARCH (repeatable; default: go.platforms)",
        "python-only": "build only the sdist and wheel",
        "go-only": "build only the Go binaries",
        "force": "rebuild even if the inputs are unchanged since the last build",
    },
    iterable=["platform"],
)
def build(
    c: Context,
    platform: list[str] | None = None,
    python_only: bool = False,
    go_only: bool = False,
    force: bool = False,
) -> None:
    """Build sdist + wheel and Go binaries from a clean copy of the last commit into dist/."""
    _run(
        c,
        "build",
        StepOptions(platforms=tuple(platform or ()), python=not go_only, go=not python_only, force=force),
    )


@task(
    help={
        "ref": "rebuild this tag (or commit) instead of HEAD",
        "sums": "with --ref: the release's published SHA256SUMS",
    }
)
def reproduce(c: Context, ref: str | None = None, sums: str | None = None) -> None:
    """Rebuild elsewhere under varied conditions and prove every artifact is byte-identical."""
    _run(c, "reproduce", StepOptions(ref=ref, sums=None if sums is None else Path(sums).resolve()))


ns = Collection(lock, verify, build, checksum, reproduce)
