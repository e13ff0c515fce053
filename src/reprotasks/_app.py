"""What every front end (CLI, nox, invoke) shares: run a step by name, print the summary.

No nox or invoke import here: the adapters map their arguments onto ``StepOptions`` and their
error reporting onto ``ReprotasksError``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprotasks._guard import Places, guarded
from reprotasks._run import Runner
from reprotasks.config import Config, load_config
from reprotasks.errors import DriftError, ReprotasksError
from reprotasks.steps.build import build
from reprotasks.steps.checksum import check_checksums, write_checksums
from reprotasks.steps.lock import lock
from reprotasks.steps.release import ReleaseReport
from reprotasks.steps.reproduce import reproduce
from reprotasks.steps.verify import verify

STEPS: Mapping[str, str] = {
    "lock": "Lock Python requirements with hashes (pip-compile or uv) and tidy + download the Go module graph.",
    "verify": "Fail on drift: stale or unhashed locks, untidy go.mod/go.sum, unpinned or mismatched toolchains.",
    "audit": (
        "Pinning audit: unpinned images, actions, pip/go installs, curl|sh in Dockerfiles, workflows, scripts, "
        "Makefiles, go.mod and nox/invoke files; `file:line:col: RULE-ID message`, or --format json|sarif."
    ),
    "build": (
        "Build sdist + wheel and Go binaries for every platform from a clean copy of the last commit; "
        "writes dist/ and dist/manifest.json."
    ),
    "assemble": (
        "Merge the dist/ directories of a matrix build (one `build --platform X` job each) into dist/, checking "
        "every digest; the merged manifest equals a single full build's."
    ),
    "checksum": "Write dist/SHA256SUMS (sha256sum format); --check finds tampered, missing, unlisted, unsafe entries.",
    "sbom": "Write dist/sbom.cdx.json (CycloneDX 1.6) from the hashed locks, go.sum and the built binaries.",
    "provenance": (
        "Write dist/provenance.intoto.json: an in-toto v1 statement with SLSA provenance v1 whose subjects are "
        "SHA256SUMS' entries."
    ),
    "sign": (
        "Sign SHA256SUMS (and with sign.artifacts every artifact; the provenance as DSSE) with Sigstore; writes "
        "<file>.sigstore.json bundles and skips files whose bundle already verifies."
    ),
    "verify-signatures": (
        "Verify dist/'s bundles (or FILE... against FILE.sigstore.json) for the configured signer identity and "
        "OIDC issuer; SHA256SUMS' signature plus matching checksums cover the whole release."
    ),
    "verify-release": (
        "Consumer side: verify a downloaded release directory end to end (checksums, every signature, provenance "
        "subjects)."
    ),
    "release": (
        "verify -> build -> sbom -> checksum -> provenance -> sign -> verify-signatures, staged: dist/ is replaced "
        "only when every step succeeded; --dry-run shows the plan, --skip STEP leaves a step out."
    ),
    "reproduce": (
        "Rebuild the commit in another directory under another umask, TZ, locale, HOME and env, and prove every "
        "artifact is byte-identical; --ref TAG --sums FILE checks an older release."
    ),
}


@dataclass(frozen=True, kw_only=True)
class StepOptions:
    upgrade: bool = False
    upgrade_packages: tuple[str, ...] = ()
    backend: str | None = None
    python: bool = True
    go: bool = True
    use_cache: bool = True
    check: bool = False
    platforms: tuple[str, ...] = ()
    force: bool = False
    ref: str | None = None
    sums: Path | None = None
    identity_token: str | None = field(default=None, repr=False)
    offline: bool = False
    files: tuple[Path, ...] = ()
    directory: Path | None = None
    # [tool.reprotasks.sign] keys given on the command line (--identity, --staging, ...)
    sign_overrides: Mapping[str, Any] = field(default_factory=dict)
    parts: tuple[Path, ...] = ()
    format: str = "text"
    skip: tuple[str, ...] = ()
    dry_run: bool = False
    trust_cache: bool = False  # release: trust verify's memo and reuse an unchanged build


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_step(
    name: str,
    options: StepOptions,
    *,
    root: Path | str = ".",
    overrides: Mapping[str, Any] | None = None,
    overrides_source: str = "overrides",
    log: Callable[[str], None] = _stderr,
) -> list[tuple[str, str]]:
    """Run one step and return its summary rows; raises ReprotasksError on failure."""
    if name not in STEPS:
        raise ReprotasksError(f"unknown step {name!r}", hint=f"steps are: {', '.join(STEPS)}")
    if options.backend is not None:
        overrides = {
            **(overrides or {}),
            "python": {**(overrides or {}).get("python", {}), "lock-backend": options.backend},
        }
    if options.sign_overrides:
        overrides = {
            **(overrides or {}),
            "sign": {**(overrides or {}).get("sign", {}), **options.sign_overrides},
        }
    config = load_config(root, overrides=overrides, overrides_source=overrides_source)
    runner = Runner(config.root, log=log)
    started = time.monotonic()
    try:
        with guarded(places_of(config), exclusive=writes(name, options), log=log):
            rows = _dispatch(name, options, config, runner)
    except OSError as exc:
        # Disk full, permissions, a file vanishing under us: say which file, never a traceback.
        where = f"{exc.filename}: " if exc.filename else ""
        raise ReprotasksError(
            f"{name}: {where}{exc.strerror or exc}",
            hint="check that path's permissions and the free space; outputs are written atomically, "
            "so nothing half-written was left",
        ) from None
    if name not in ("release", "audit"):
        print_summary(name, rows, time.monotonic() - started)
    return rows


# Steps that write into the project (dist/, the locks, go.mod/go.sum): one at a time per project.
_WRITERS = frozenset({"lock", "build", "assemble", "checksum", "sbom", "provenance", "sign", "release"})


def writes(name: str, options: StepOptions) -> bool:
    if name == "checksum":
        return not options.check
    if name == "release":
        return not options.dry_run
    return name in _WRITERS


def places_of(config: Config) -> Places:
    """Where this project's steps write: the lock and the recovery of killed runs cover these."""
    dist = config.staged_for or config.dist_dir
    return Places(
        root=config.root,
        dist=dist,
        go_module=config.go.module,
        lock_dirs=tuple(sorted({lock.output.parent for lock in config.python.all_locks})),
    )


def _dispatch(name: str, options: StepOptions, config: Config, runner: Runner) -> list[tuple[str, str]]:
    if name == "lock":
        rows = lock(
            config,
            runner=runner,
            upgrade=options.upgrade,
            upgrade_packages=options.upgrade_packages,
            python=options.python,
            go=options.go,
        ).rows()
    elif name == "verify":
        rows = verify(config, runner=runner, use_cache=options.use_cache).rows()
    elif name == "build":
        rows = build(
            config,
            runner=runner,
            platforms=options.platforms,
            python=options.python,
            go=options.go,
            force=options.force,
        ).rows()
    elif name == "audit":
        from reprotasks.steps.audit import as_findings, as_json, as_sarif, as_text, audit

        audited = audit(config, runner=runner)
        render = {"json": as_json, "sarif": as_sarif}.get(options.format, as_text)
        sys.stdout.write(render(audited))
        if audited.errors:
            error = DriftError(as_findings(audited), step="audit")
            error.message = f"audit found {len(audited.errors)} error(s), listed above"
            error.hint = "pin each input as its message says, or accept it with a [[tool.reprotasks.audit.allow]] entry"
            raise error
        return [("audit", audited.summary().removeprefix("audit: "))]
    elif name == "assemble":
        from reprotasks.steps.assemble import assemble

        rows = assemble(config, options.parts, runner=runner).rows()
    elif name == "sbom":
        from reprotasks.steps.sbom import sbom

        rows = sbom(config, runner=runner).rows()
    elif name == "provenance":
        from reprotasks.steps.provenance import provenance

        rows = provenance(config, runner=runner).rows()
    elif name == "sign":
        from reprotasks.steps.sign import sign

        rows = sign(config, token=options.identity_token, log=runner.log).rows()
    elif name in ("verify-signatures", "verify-release"):
        from reprotasks.steps import signatures

        offline = options.offline or config.sign.offline
        if name == "verify-signatures" and options.files:
            report = signatures.verify_files(list(options.files), config.sign, offline=offline)
        else:
            directory = options.directory if name == "verify-release" and options.directory else config.dist_dir
            report = signatures.verify_release(directory, config.sign, offline=offline, shown_dir=config.rel(directory))
        rows = signatures.raise_findings(report, name)
    elif name == "release":
        from reprotasks.steps.release import release

        release(
            config,
            runner=runner,
            skip=options.skip,
            dry_run=options.dry_run,
            token=options.identity_token,
            trust_cache=options.trust_cache,
            report=print_release,
        )
        rows = []
    elif name == "reproduce":
        rows = reproduce(config, runner=runner, ref=options.ref, sums=options.sums).rows()
    else:
        shown = config.rel(config.dist_dir)
        if options.check:
            rows = check_checksums(config.dist_dir, shown_dist=shown).rows()
        else:
            rows = write_checksums(config.dist_dir, shown_dist=shown).rows()
    return rows


def print_summary(step: str, rows: list[tuple[str, str]], seconds: float) -> None:
    """A plain table on stdout, and the same in Markdown for the GitHub Actions job summary.

    Credentials are masked in both; the job summary is written first, so a closed stdout
    (``| head``) cannot cost it.
    """
    from reprotasks._run import mask

    rows = [(mask(what), mask(outcome)) for what, outcome in rows]
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if os.environ.get("GITHUB_ACTIONS") == "true" and summary_file:
        lines = [f"### reprotasks {step} ({seconds:.1f}s)", "", "| item | result |", "| --- | --- |"]
        lines += [f"| `{what}` | {outcome} |" for what, outcome in rows]
        with open(summary_file, "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n\n")
    width = max([len(what) for what, _ in rows] + [4])
    print(f"\n{step}: done in {seconds:.2f}s")
    for what, outcome in rows:
        print(f"  {what.ljust(width)}  {outcome}")


def run_init(root: Path, *, force: bool = False, install: Sequence[str] = ()) -> None:
    from reprotasks.scaffold import init

    started = time.monotonic()
    result = init(root, runner=Runner(Path(root).resolve(), log=_stderr), force=force, install=install)
    print_summary("init", result.rows(), time.monotonic() - started)


def print_release(report: ReleaseReport) -> None:
    """The release plan (--dry-run) or its summary table; in GitHub Actions also the job summary."""
    from reprotasks._run import mask

    if report.dry_run:
        print(f"release plan (dry run: nothing is run; outputs are staged, then replace {report.dist}/):")
        for step, commands in report.plan:
            print(f"\n[{step}]")
            for command in commands:
                print(f"  {mask(command)}")
    headers = ("step", "result", "time", "artifacts")
    rows = [tuple(mask(cell) for cell in row) for row in report.table()]
    widths = [max(len(headers[i]), *(len(row[i]) for row in rows)) for i in range(3)]
    verdict = "plan" if report.dry_run else ("done" if report.succeeded else f"FAILED, {report.dist}/ left unchanged")
    print(f"\nrelease: {verdict}")
    for row in (headers, *rows):
        print(("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3]).rstrip())
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if os.environ.get("GITHUB_ACTIONS") == "true" and summary_file:
        lines = [
            f"### reprotasks release: {verdict}",
            "",
            "| step | result | time | artifacts |",
            "| --- | --- | --- | --- |",
        ]
        lines += [f"| {step} | {result} | {seconds} | {artifacts} |" for step, result, seconds, artifacts in rows]
        with open(summary_file, "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n\n")


def report_error(error: ReprotasksError) -> None:
    """Print the error (no traceback) and, in GitHub Actions, one annotation per finding; credentials masked."""
    from reprotasks._run import mask

    print(mask(error.render()), file=sys.stderr, flush=True)
    if os.environ.get("GITHUB_ACTIONS") != "true":
        return
    if isinstance(error, DriftError):
        for finding in error.findings:
            properties = {"file": mask(finding.path)} | ({"line": str(finding.line)} if finding.line else {})
            print(annotation("error", mask(f"{finding.problem} -- {finding.fix}"), properties), flush=True)
    else:
        print(annotation("error", mask(error.message)), flush=True)


_DATA_SPECIAL = "%\r\n"
_PROPERTY_SPECIAL = "%\r\n:,"


def _escape(text: str, characters: str) -> str:
    for char in characters:  # "%" first, so the escapes themselves are not escaped again
        text = text.replace(char, f"%{ord(char):02X}")
    return text


def annotation(level: str, message: str, properties: Mapping[str, str] | None = None) -> str:
    """A GitHub workflow command, escaped so no file name or message can start another command.

    Per the runner's rules: ``%``, CR and LF in the message; also ``:`` and ``,`` in properties.
    """
    escaped = _escape(message, _DATA_SPECIAL)
    fields = ",".join(f"{key}={_escape(value, _PROPERTY_SPECIAL)}" for key, value in (properties or {}).items())
    return f"::{level}{' ' + fields if fields else ''}::{escaped}"
