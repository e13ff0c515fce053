"""The release step: verify -> build -> sbom -> checksum -> provenance -> sign -> verify-signatures.

Every step writes into a staging directory beside dist/ that starts as a hard-linked copy of
the current dist/ (so an unchanged build is reused); the stage replaces dist/ only when every
step succeeded. A release that fails (or is interrupted) anywhere leaves dist/ exactly as it
was. The staged config records dist/ itself, so artifacts, manifest and provenance are the same
bytes the individual steps write.

The SBOM comes before SHA256SUMS so that SHA256SUMS (and its signature) covers it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from reprotasks._run import Runner
from reprotasks.config import Config
from reprotasks.errors import ReprotasksError
from reprotasks.steps import _source, signatures
from reprotasks.steps._layout import SUMS_NAME
from reprotasks.steps.build import build, planned_commands, replace_directory
from reprotasks.steps.checksum import write_checksums
from reprotasks.steps.verify import verify

RELEASE_STEPS: tuple[str, ...] = ("verify", "build", "sbom", "checksum", "provenance", "sign", "verify-signatures")
# Skipping a step skips the steps that only make sense after it.
_IMPLIED_SKIPS = {"sign": ("verify-signatures",)}


@dataclass(frozen=True)
class StepOutcome:
    step: str
    result: str  # ok | skipped | failed | not run | planned
    seconds: float = 0.0
    artifacts: tuple[str, ...] = ()
    detail: str = ""


@dataclass
class ReleaseReport:
    dist: str
    dry_run: bool = False
    outcomes: list[StepOutcome] = field(default_factory=list)
    plan: list[tuple[str, list[str]]] = field(default_factory=list)  # --dry-run: step -> commands

    @property
    def succeeded(self) -> bool:
        return all(outcome.result in ("ok", "skipped", "planned") for outcome in self.outcomes)

    def table(self) -> list[tuple[str, str, str, str]]:
        """(step, result, time, artifacts) rows."""
        return [
            (
                outcome.step,
                outcome.result + (f" ({outcome.detail})" if outcome.detail else ""),
                f"{outcome.seconds:.1f}s" if outcome.result in ("ok", "failed") else "",
                ", ".join(outcome.artifacts),
            )
            for outcome in self.outcomes
        ]


def skipped_steps(skip: Sequence[str]) -> dict[str, str]:
    """Each step left out, and why."""
    unknown = [step for step in skip if step not in RELEASE_STEPS]
    if unknown:
        raise ReprotasksError(
            f"release: cannot skip {', '.join(repr(step) for step in unknown)}: not a release step",
            hint=f"release steps are: {', '.join(RELEASE_STEPS)}",
        )
    skipped = dict.fromkeys(skip, "--skip")
    for step in skip:
        for implied in _IMPLIED_SKIPS.get(step, ()):
            skipped.setdefault(implied, f"{step} skipped")
    return skipped


def release(
    config: Config,
    *,
    runner: Runner,
    skip: Sequence[str] = (),
    dry_run: bool = False,
    token: str | None = None,
    trust_cache: bool = False,
    report: Callable[[ReleaseReport], None] = lambda _report: None,
) -> ReleaseReport:
    """Run the release; ``report`` receives the summary whether the release succeeded or not."""
    dist = config.dist_dir
    result = ReleaseReport(config.rel(dist), dry_run=dry_run)
    skipped = skipped_steps(skip)
    if dist.is_symlink() or (dist.exists() and not dist.is_dir()):
        raise ReprotasksError(
            f"{config.rel(dist)} is not a directory", hint="remove it or point `dist-dir` somewhere else"
        )
    if dry_run:
        for step in RELEASE_STEPS:
            if step in skipped:
                result.outcomes.append(StepOutcome(step, "skipped", detail=skipped[step]))
            else:
                result.plan.append((step, _planned(step, config, runner)))
                result.outcomes.append(StepOutcome(step, "planned"))
        report(result)
        return result
    _source.refuse_tracked_outputs(_source.describe_source(config.root, runner=runner), result.dist, runner=runner)
    dist.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{dist.name}-release-", dir=dist.parent))
    try:
        if dist.is_dir():
            shutil.copytree(dist, stage, symlinks=True, copy_function=_link_or_copy, dirs_exist_ok=True)
        staged = config.staged(stage)
        state = _State(staged, runner, token, trust_cache)
        for step in RELEASE_STEPS:
            if step in skipped:
                result.outcomes.append(StepOutcome(step, "skipped", detail=skipped[step]))
                continue
            if not result.succeeded:
                result.outcomes.append(StepOutcome(step, "not run"))
                continue
            before = _snapshot(stage)
            started = time.monotonic()
            runner.log(f"release: {step}")
            try:
                state.run(step)
            except (ReprotasksError, KeyboardInterrupt):
                result.outcomes.append(StepOutcome(step, "failed", time.monotonic() - started))
                for rest in RELEASE_STEPS[RELEASE_STEPS.index(step) + 1 :]:
                    result.outcomes.append(
                        StepOutcome(rest, "skipped", detail=skipped[rest])
                        if rest in skipped
                        else StepOutcome(rest, "not run")
                    )
                raise
            changed = tuple(sorted(name for name, key in _snapshot(stage).items() if before.get(name) != key))
            result.outcomes.append(StepOutcome(step, "ok", time.monotonic() - started, changed))
        stage.chmod(0o755)  # mkdtemp made it 0700; dist/ is meant to be world-readable
        replace_directory(stage, dist)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
        report(result)
    return result


@dataclass
class _State:
    config: Config
    runner: Runner
    token: str | None
    # Caches never vouch for a release unless asked: verify re-resolves, build starts from scratch.
    trust_cache: bool
    signed_for: Config | None = None

    def run(self, step: str) -> None:
        config, runner = self.config, self.runner
        if step == "verify":
            verify(config, runner=runner, use_cache=self.trust_cache, check_dist=False)
        elif step == "build":
            build(config, runner=runner, force=not self.trust_cache)
        elif step == "sbom":
            from reprotasks.steps.sbom import sbom

            sbom(config, runner=runner)
        elif step == "checksum":
            write_checksums(config.dist_dir, shown_dist=config.rel(config.dist_dir))
        elif step == "provenance":
            from reprotasks.steps.provenance import provenance

            provenance(config, runner=runner)
        elif step == "sign":
            from reprotasks.steps.sign import sign

            signed = sign(config, token=self.token, log=runner.log)
            if signed.policy is not None:
                self.signed_for = replace(config, sign=signed.policy)
        elif step == "verify-signatures":
            checked = self.signed_for or config
            found = signatures.verify_release(
                checked.dist_dir, checked.sign, offline=checked.sign.offline, shown_dir=config.rel(config.dist_dir)
            )
            signatures.raise_findings(found, "release: verify-signatures")


def _planned(step: str, config: Config, runner: Runner) -> list[str]:
    dist = config.rel(config.dist_dir)
    if step == "verify":
        return ["reprotasks verify  # locks fresh + hashed, go.mod/go.sum tidy, toolchains pinned"]
    if step == "build":
        return planned_commands(config, runner=runner)
    if step == "sbom":
        return [f"reprotasks sbom  # -> {dist}/sbom.cdx.json"]
    if step == "checksum":
        return [f"reprotasks checksum  # -> {dist}/{SUMS_NAME}"]
    if step == "provenance":
        return [f"reprotasks provenance  # -> {dist}/provenance.intoto.json"]
    if step == "sign":
        return [f"reprotasks sign  # Sigstore keyless -> {dist}/*.sigstore.json"]
    return [f"reprotasks verify-signatures  # every bundle in {dist}/ for the signer"]


def _snapshot(directory: Path) -> dict[str, tuple[int, int, int]]:
    """name -> (inode, size, mtime): which files a step wrote (atomic writes make new inodes)."""
    snapshot = {}
    for entry in os.scandir(directory):
        if entry.is_file(follow_symlinks=False):
            stat = entry.stat(follow_symlinks=False)
            snapshot[entry.name] = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    return snapshot


def _link_or_copy(source: str, destination: str) -> None:
    # Steps replace files atomically (never write in place), so sharing inodes with dist/ is safe.
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)
