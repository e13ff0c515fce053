"""The steps, in order, and the release pipeline: the one list every front end reads.

The CLI's commands, the nox sessions, the invoke tasks, ``release --skip`` choices and
``--help``, the dry-run plan and the README step list are all derived from here. A spec
registered at run time (before an adapter is imported) appears in every front end; with
``release_after=`` also in the release.

``release`` is not a step but the pipeline declared here (a ``PipelineSpec``): the app layer
(``reprotasks._app``) hands it to the release runner (``reprotasks._pipeline``), which is given
the specs to run and imports nothing of the registry.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass

from reprotasks.errors import ReprotasksError
from reprotasks.step import CommandSpec, PipelineSpec, StepSpec, flag, many
from reprotasks.steps import RELEASE_STEPS, SUMMARIES, release_summary
from reprotasks.steps._signing import InstanceOptions, identity_token

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# The release pipeline (``reprotasks.steps.RELEASE_STEPS``, plus steps registered with `release_after=`).
_RELEASE: list[str] = list(RELEASE_STEPS)

# Skipping a step skips the steps that only make sense after it.
IMPLIED_SKIPS: dict[str, tuple[str, ...]] = {"sign": ("verify-signatures",)}


def release_names() -> tuple[str, ...]:
    return tuple(_RELEASE)


@dataclass(frozen=True, kw_only=True)
class ReleaseOptions(InstanceOptions):
    dry_run: bool = flag("--dry-run", help="print the plan (every step and command) and run nothing")
    skip: tuple[str, ...] = many(
        "--skip",
        metavar="STEP",
        choices=release_names,
        help="leave STEP out (repeatable), e.g. sign where no OIDC identity is at hand",
    )
    identity_token: str | None = identity_token()
    trust_cache: bool = flag(
        "--trust-cache",
        help="reuse cached results: verify's memo of fresh locks and an unchanged build in dist/ (by default a "
        "release re-resolves every lock and rebuilds from scratch)",
    )
    no_cache: bool = flag("--no-cache", help="the default for release (kept for old scripts)")


def _release_spec() -> PipelineSpec[ReleaseOptions]:
    """The release command, its summary spelling out the pipeline as it is now."""
    return PipelineSpec(
        name="release",
        summary=release_summary(_RELEASE),
        options=ReleaseOptions,
        steps=release_names,
        writes=lambda options: not options.dry_run,
    )


# The built-in commands, in the order every front end lists them (``reprotasks.steps.SUMMARIES``).
# A step's spec is its module's SPEC, ``reprotasks.steps.<name with _ for ->``, imported when
# first asked for: `reprotasks build` loads the build step alone (and `import reprotasks.cli` none).
# name -> spec, or None for a built-in step not loaded yet.
_SPECS: dict[str, CommandSpec[Any] | None] = dict.fromkeys(SUMMARIES)


def _loaded(name: str) -> CommandSpec[Any]:
    spec = _SPECS[name]
    if spec is None:
        if name == "release":
            spec = _release_spec()
        else:
            spec = importlib.import_module(f"reprotasks.steps.{name.replace('-', '_')}").SPEC
            assert isinstance(spec, StepSpec) and spec.name == name, f"reprotasks.steps: {name} declares {spec!r}"
        _SPECS[name] = spec
    return spec


def summary(name: str) -> str:
    """A command's one-line summary, without loading a built-in step's module."""
    spec = _SPECS[name]
    if spec is not None:
        return spec.summary
    return SUMMARIES.get(name) or _loaded(name).summary  # release's names the pipeline: made here


def specs() -> tuple[CommandSpec[Any], ...]:
    """Every command's spec (this imports every step module: for front ends that show them all)."""
    return tuple(_loaded(name) for name in _SPECS)


def names() -> tuple[str, ...]:
    return tuple(_SPECS)


def get(name: str) -> CommandSpec[Any]:
    if name not in _SPECS:
        import difflib

        close = difflib.get_close_matches(name, _SPECS, n=1)
        perhaps = f"perhaps you meant {close[0]!r}; " if close else ""
        raise ReprotasksError(f"unknown step {name!r}", hint=f"{perhaps}steps are: {', '.join(_SPECS)}")
    return _loaded(name)


def step(name: str) -> StepSpec[Any]:
    """A registered step (not the release pipeline)."""
    spec = get(name)
    if not isinstance(spec, StepSpec):
        raise ReprotasksError(f"{name!r} is a pipeline, not a step", hint=f"steps are: {', '.join(_step_names())}")
    return spec


def _step_names() -> list[str]:
    return [spec.name for spec in specs() if isinstance(spec, StepSpec)]


def release_pipeline() -> tuple[StepSpec[Any], ...]:
    return tuple(step(name) for name in _RELEASE)


def register(spec: StepSpec[Any], *, release_after: str | None = None) -> None:
    """Add a step (a plugin, a test); ``release_after`` also puts it into the release pipeline."""
    if spec.name in _SPECS or spec.name in ("config", "schema"):
        raise ReprotasksError(f"a step named {spec.name!r} is already registered", hint="choose another name")
    if not _NAME.match(spec.name):
        raise ReprotasksError(
            f"step name {spec.name!r} is not lower-case words joined by '-'",
            hint="name a step like `publish` or `verify-images`: every front end shows the name, and invoke "
            "would turn `_` into `-` (and so clash with another step)",
        )
    if release_after is not None and release_after not in _RELEASE:
        raise ReprotasksError(
            f"cannot put {spec.name!r} after {release_after!r}: not a release step",
            hint=f"release steps are: {', '.join(_RELEASE)}",
        )
    for item in spec.params:  # a malformed options class fails here, not in a front end
        if item.dest in _RESERVED_DESTS or set(item.flags) & _RESERVED_FLAGS:
            raise ReprotasksError(
                f"step {spec.name!r}: option {item.long_flag if item.flags else item.dest!r} is taken by the "
                "command line itself (-C/--project, --version, -h/--help, the command name)",
                hint="give the option another name",
            )
    _SPECS[spec.name] = spec
    if release_after is not None:
        _RELEASE.insert(_RELEASE.index(release_after) + 1, spec.name)
        _SPECS["release"] = None  # its summary spells out the pipeline: made again when asked for


def unregister(name: str) -> None:
    """Remove a step added with ``register`` (the built-in steps stay)."""
    if name in _BUILT_IN:
        raise ReprotasksError(f"{name!r} is a built-in step and cannot be removed")
    _SPECS.pop(name, None)
    if name in _RELEASE:
        _RELEASE.remove(name)
        _SPECS["release"] = None  # its summary spells out the pipeline: made again when asked for


def skipped_steps(skip: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Each release step left out, and why."""
    unknown = [step for step in skip if step not in _RELEASE]
    if unknown:
        raise ReprotasksError(
            f"release: cannot skip {', '.join(repr(step) for step in unknown)}: not a release step",
            hint=f"release steps are: {', '.join(_RELEASE)}",
        )
    skipped = dict.fromkeys(skip, "--skip")
    for step in skip:
        for implied in IMPLIED_SKIPS.get(step, ()):
            skipped.setdefault(implied, f"{step} skipped")
    return skipped


_BUILT_IN = frozenset(_SPECS)
_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
_RESERVED_DESTS = frozenset({"project", "command", "version", "help"})
_RESERVED_FLAGS = frozenset({"-C", "--project", "--version", "-h", "--help"})
