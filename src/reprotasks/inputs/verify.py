"""The verify step: the drift gate. Read-only; reports every finding, then fails once."""

from __future__ import annotations

import platform
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from reprotasks import _cache
from reprotasks._distdir import DistDir
from reprotasks._files import sha256_file
from reprotasks._run import Runner
from reprotasks.artifacts.checksum import check_findings
from reprotasks.artifacts.layout import SUMS_NAME
from reprotasks.config import Config, LockSpec, SignConfig
from reprotasks.errors import CommandFailedError, ConfigError, DriftError, Finding, ReprotasksError
from reprotasks.go import mod as _gomod
from reprotasks.inputs import pins
from reprotasks.python import toollocks
from reprotasks.python.lockfile import (
    canonical_lines,
    input_files,
    is_pylock,
    parse_lock,
    parse_lock_text,
    split_header,
)
from reprotasks.python.resolve import ResolutionFailed, backend_version, compile_lock, find_uv
from reprotasks.signing import verify as signatures

_RELOCK = "run `reprotasks lock` (or `nox -s lock` / `invoke lock`) and commit the result"


@dataclass(frozen=True)
class Check:
    name: str
    findings: tuple[Finding, ...]
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.findings


@dataclass(frozen=True)
class VerifyReport:
    checks: tuple[Check, ...]

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(finding for check in self.checks for finding in check.findings)

    def rows(self) -> list[tuple[str, str]]:
        return [
            (
                check.name,
                ("ok" if check.ok else f"{len(check.findings)} problem(s)")
                + (f" ({check.note})" if check.note else ""),
            )
            for check in self.checks
        ]


def _dist_check(sign: SignConfig, dist: DistDir, settings_file: str) -> Check:
    """dist/ against SHA256SUMS; with bundles present, every signature for the configured signer too."""
    shown = dist.rel()
    if not signatures.bundles_in(dist.path):
        return Check(f"{shown}/{SUMS_NAME}", tuple(check_findings(dist.path, shown_dist=shown)))
    name = f"{shown}: checksums and signatures"
    try:
        report = signatures.verify_release(dist.path, sign, offline=sign.offline, shown_dir=shown, require_signed=True)
    except ConfigError as error:
        where = settings_file
        return Check(name, (Finding(where, None, f"{shown}/ holds signatures but {error.message}", error.hint),))
    return Check(name, tuple(report.findings))


def _audit_check(config: Config, earlier: list[Check], *, runner: Runner, use_cache: bool) -> Check:
    """The pinning audit; a place an earlier check already names (go.mod's unpinned toolchain) is said once."""
    from reprotasks.audit.scan import as_findings, audit

    audited = audit(config, runner=runner, use_cache=use_cache)
    warnings = len(audited.findings) - len(audited.errors)
    note = f"{audited.files} files" + (f", {warnings} warning(s): see `reprotasks audit`" if warnings else "")
    named = {(finding.path, finding.line) for check in earlier for finding in check.findings}
    unnamed = tuple(finding for finding in as_findings(audited) if (finding.path, finding.line) not in named)
    return Check("pinning audit", unnamed, note)


def verify(config: Config, *, runner: Runner, use_cache: bool = True, dist: DistDir | None = None) -> VerifyReport:
    """Run every check; raise DriftError listing all findings if any check found drift.

    ``dist=None`` leaves dist/ out (``release`` replaces it and verifies the new one).
    """
    checks: list[Check] = []
    if config.python.version_pin != "none" and pins.has_python(config):
        checks.append(Check("python version pin", tuple(pins.python_findings(config, runner=runner))))
    for spec in config.python.locks:
        checks.append(_check_lock(config, spec, runner=runner, use_cache=use_cache))
    if config.python.check_tool_locks:
        for tool_lock in toollocks.tool_locks(config):
            name = f"{config.rel(tool_lock.path)}: {tool_lock.tool} {' '.join(tool_lock.check)}"
            found = pins.not_committed(
                tool_lock.path, config.rel(tool_lock.path), "build and the SBOM use only committed files", runner=runner
            )
            found += toollocks.freshness_findings(config, tool_lock, runner=runner)
            checks.append(Check(name, tuple(found)))
    build_lock = config.python.build_lock
    if build_lock is not None:
        if not config.python.require_build_lock and not build_lock.output.exists():
            note = "not written: build resolves the backend each time (require-build-lock = false)"
            checks.append(Check(f"lock {config.rel(build_lock.output)}", (), note))
        else:
            checks.append(_check_lock(config, build_lock, runner=runner, use_cache=use_cache))
    for module in config.go.modules:
        rel = config.rel(module)
        pin = "go toolchain pin" if len(config.go.modules) == 1 else f"{rel}: go toolchain pin"
        checks.append(Check(pin, tuple(pins.go_findings(config, module, runner=runner))))
        checks.append(Check(f"{rel}: go mod tidy -diff", tuple(_gomod.tidy_findings(module, rel, runner=runner))))
        checks.append(Check(f"{rel}: go mod verify", tuple(_gomod.verify_findings(module, rel, runner=runner))))
    if config.audit.enabled:
        checks.append(_audit_check(config, checks, runner=runner, use_cache=use_cache))
    if dist is not None and (dist / SUMS_NAME).is_file():
        checks.append(_dist_check(config.sign, dist, config.settings_file))
    report = VerifyReport(tuple(checks))
    for check in checks:
        runner.log(
            f"verify: {check.name}: {'ok' if check.ok else 'FAILED'}" + (f" ({check.note})" if check.note else "")
        )
    if report.findings:
        raise DriftError(report.findings)
    return report


def _check_lock(config: Config, spec: LockSpec, *, runner: Runner, use_cache: bool) -> Check:
    name = f"lock {config.rel(spec.output)}"
    lock_rel, input_rel = config.rel(spec.output), spec.describe_input(config.root)
    if not spec.output.exists():
        return Check(name, (Finding(lock_rel, None, f"missing: {input_rel} has never been locked", _RELOCK),))
    parsed = parse_lock(spec.output, lock_rel)
    findings = [Finding(lock_rel, problem.line, problem.problem, problem.fix) for problem in parsed.problems]
    findings += pins.not_committed(
        spec.output, lock_rel, "build, reproduce and the SBOM use only committed files", runner=runner
    )
    key = _freshness_key(config, spec)
    if use_cache and _cache.remembered("lock-fresh", key):
        return Check(name, tuple(findings), "resolution unchanged, cached")
    freshness = _freshness(config, spec, runner=runner)
    if freshness is None and not findings:
        _cache.remember("lock-fresh", key)
    return Check(name, tuple(findings + ([freshness] if freshness else [])))


def _freshness_key(config: Config, spec: LockSpec) -> str:
    backend = "uv" if is_pylock(spec.output) else config.python.lock_backend
    return _cache.digest(
        {
            "backend": [backend, backend_version(backend)],
            "python": [sys.version, sys.platform, platform.machine()],
            "resolver": config.describe()["python"],
            "inputs": (
                spec.generated
                if spec.generated is not None
                else [[str(path), sha256_file(path)] for path in input_files(spec.input)]
            ),
            "constraints": None if spec.constraints is None else sha256_file(spec.constraints),
            "lock": sha256_file(spec.output),
        }
    )


def _freshness(config: Config, spec: LockSpec, *, runner: Runner) -> Finding | None:
    """Re-resolve into a temporary copy (pins kept) and compare the bodies."""
    lock_rel, input_rel = config.rel(spec.output), spec.describe_input(config.root)
    current = spec.output.read_text(encoding="utf-8")
    if _uv_agrees(config, spec, current, runner=runner):
        return None
    with tempfile.TemporaryDirectory(prefix="reprotasks-verify-") as scratch:
        fresh_path = Path(scratch) / spec.output.name
        shutil.copyfile(spec.output, fresh_path)
        try:
            compile_lock(config, spec, fresh_path, runner=runner, backend=config.python.lock_backend)
        except ResolutionFailed as exc:
            if exc.kind == "network":
                raise  # an unreachable index says nothing about the lock: not drift
            return Finding(
                lock_rel,
                None,
                f"could not be re-resolved from {input_rel} with the pins it holds",
                "if a hash above does not match, the lock or the index was tampered with: investigate; "
                "otherwise " + _RELOCK,
                details=exc.cause + (f"\n(full output: {exc.log})" if exc.log else ""),
            )
        except CommandFailedError as exc:
            return Finding(
                lock_rel,
                None,
                f"could not be re-resolved from {input_rel} with the pins it holds:\n{exc.details}",
                "if a hash above does not match, the lock or the index was tampered with: investigate; "
                "otherwise " + _RELOCK,
            )
        fresh = fresh_path.read_text(encoding="utf-8")
    _, current_body = split_header(current)
    _, fresh_body = split_header(fresh)
    if current_body == fresh_body or (is_pylock(spec.output) and _same_pins(current, fresh)):
        return None  # a pylock.toml another tool wrote (pip lock, pdm) is fresh when its pins are
    line = _first_difference(current, current_body, fresh_body)
    pylock = is_pylock(spec.output)
    before, after = parse_lock_text(current, pylock=pylock), parse_lock_text(fresh, pylock=pylock)
    only_hashes = before.versions() == after.versions() and canonical_lines(before.pins) != canonical_lines(after.pins)
    fix = (
        "the index serves other files than the lock names: if nobody re-locked on purpose, the lock or the index "
        "was tampered with (or a file was re-uploaded): investigate; only then " + _RELOCK
        if only_hashes
        else _RELOCK
    )
    return Finding(lock_rel, line, _describe_drift(current, fresh, input_rel, pylock=pylock), fix)


def _uv_agrees(config: Config, spec: LockSpec, current: str, *, runner: Runner) -> bool:
    """Whether uv, re-resolving the committed input with the lock's pins kept, writes exactly the
    lock's body: then the lock is what resolving its input gives, hashes included, whichever backend
    wrote it, in a fifth of pip-compile's time. Anything else (another body, a failure, no uv) is
    left to the configured backend, which alone decides drift and words the finding."""
    if config.python.lock_backend == "uv" or is_pylock(spec.output) or find_uv(runner) is None:
        return False
    with tempfile.TemporaryDirectory(prefix="reprotasks-verify-uv-") as scratch:
        fresh_path = Path(scratch) / spec.output.name
        shutil.copyfile(spec.output, fresh_path)
        try:
            compile_lock(config, spec, fresh_path, runner=runner, backend="uv")
        except (CommandFailedError, ReprotasksError):
            return False
        fresh = fresh_path.read_text(encoding="utf-8")
    return _entries(split_header(current)[1]) == _entries(split_header(fresh)[1])


_UNSAFE_HEADER = "# The following packages are considered to be unsafe in a requirements file:"


def _entries(body: str) -> list[str]:
    """A lock body as its sorted entries (a pin with its hash and `# via` lines). pip-compile lists
    setuptools and pip last, under a header, where uv sorts them in; nothing else may differ."""
    entries: list[list[str]] = []
    for line in body.splitlines():
        if not line.strip() or line == _UNSAFE_HEADER:
            continue
        if line[0].isspace() and entries:
            entries[-1].append(line)
        else:
            entries.append([line])
    return sorted("\n".join(entry) for entry in entries)


def _same_pins(current: str, fresh: str) -> bool:
    before, after = parse_lock_text(current, pylock=True), parse_lock_text(fresh, pylock=True)
    return not before.problems and canonical_lines(before.pins) == canonical_lines(after.pins)


def _first_difference(current: str, current_body: str, fresh_body: str) -> int:
    header_lines = current.count("\n") - current_body.count("\n")
    for offset, (old, new) in enumerate(zip(current_body.splitlines(), fresh_body.splitlines(), strict=False)):
        if old != new:
            return header_lines + offset + 1
    return header_lines + min(len(current_body.splitlines()), len(fresh_body.splitlines())) + 1


def _describe_drift(current: str, fresh: str, input_rel: str, *, pylock: bool) -> str:
    before = {pin.name: pin for pin in parse_lock_text(current, pylock=pylock).pins}
    after = {pin.name: pin for pin in parse_lock_text(fresh, pylock=pylock).pins}
    both = sorted(before.keys() & after.keys())
    parts = [f"+{name}=={after[name].version}" for name in sorted(after.keys() - before.keys())]
    parts += [f"-{name}=={before[name].version}" for name in sorted(before.keys() - after.keys())]
    parts += [
        f"{name} {before[name].version} -> {after[name].version}"
        for name in both
        if before[name].version != after[name].version
    ]
    parts += [
        f"{name}=={before[name].version} with other hashes"
        for name in both
        if before[name].version == after[name].version and before[name].hashes != after[name].hashes
    ]
    what = ", ".join(parts) if parts else "hashes or annotations differ"
    return f"out of date with {input_rel} (re-resolving gives: {what})"
