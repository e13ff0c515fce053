"""verify-signatures and verify-release: every bundle, checked for the configured signer.

A release directory is accepted only when SHA256SUMS is signed by the expected identity,
every file matches SHA256SUMS, every other bundle verifies, and the provenance (if any) is
signed and names exactly the files SHA256SUMS lists. One verified signature thus covers
every listed file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from reprotasks.config import SignConfig
from reprotasks.errors import DriftError, Finding, ReprotasksError
from reprotasks.steps import _sigstore
from reprotasks.steps._sigstore import BUNDLE_SUFFIX, SignatureError, SignerPolicy, bundle_path
from reprotasks.steps.checksum import SUMS_NAME, check_findings, read_sums
from reprotasks.steps.provenance import PAYLOAD_TYPE, PROVENANCE_NAME, subject_problems

if TYPE_CHECKING:
    from sigstore.verify import Verifier

_RESIGN = "re-download the file and its bundle from the release, or re-sign with `reprotasks sign`"


@dataclass
class SignatureReport:
    rows: list[tuple[str, str]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def bundles_in(directory: Path) -> list[Path]:
    return sorted(path for path in directory.glob(f"*{BUNDLE_SUFFIX}") if path.is_file())


def check_bundle(
    file: Path, bundle_file: Path, shown: str, verifier: Verifier, policy: SignerPolicy, report: SignatureReport
) -> bytes | None:
    """Verify one bundle for ``file``; record a row or a finding. Returns a DSSE payload, if any."""
    shown_bundle = f"{shown}{BUNDLE_SUFFIX}"
    if not file.is_file():
        report.findings.append(
            Finding(
                shown_bundle, None, f"signs {file.name!r}, which is missing", "remove the bundle or restore the file"
            )
        )
        return None
    try:
        bundle = _sigstore.load_bundle(bundle_file)
        if bundle._dsse_envelope is not None:
            payload_type, payload = _sigstore.verify_dsse(verifier, policy, bundle)
            if payload_type != PAYLOAD_TYPE:
                raise SignatureError(f"signs a DSSE payload of type {payload_type!r}, not an in-toto statement")
            if payload != file.read_bytes():
                raise SignatureError(f"signs a statement that differs from {file.name} (the file was changed)")
            report.rows.append((shown, f"signed by {_sigstore.signer_of(bundle)} (DSSE)"))
            return payload
        _sigstore.verify_artifact(verifier, policy, file, bundle)
    except SignatureError as exc:
        report.findings.append(Finding(shown_bundle, None, str(exc), _RESIGN))
        return None
    report.rows.append((shown, f"signed by {_sigstore.signer_of(bundle)}"))
    return None


def verify_release(
    directory: Path, sign: SignConfig, *, offline: bool, shown_dir: str, require_signed: bool = True
) -> SignatureReport:
    """Checksums, every bundle, the SHA256SUMS signature and the provenance subjects of ``directory``."""
    if not directory.is_dir():
        raise ReprotasksError(f"{shown_dir} is not a directory", hint="pass the directory holding the release files")
    policy = SignerPolicy(sign)
    verifier = _sigstore.verifier(sign, offline=offline)
    report = SignatureReport()
    report.findings += check_findings(directory, shown_dist=shown_dir)
    sums = directory / SUMS_NAME
    if require_signed and not bundle_path(sums).is_file():
        report.findings.append(
            Finding(
                f"{shown_dir}/{SUMS_NAME}{BUNDLE_SUFFIX}",
                None,
                "missing: SHA256SUMS is not signed, so nothing in the release is",
                "sign the release with `reprotasks sign`, or download the bundle with the other assets",
            )
        )
    payload: bytes | None = None
    for bundle_file in bundles_in(directory):
        target = bundle_file.with_name(bundle_file.name[: -len(BUNDLE_SUFFIX)])
        shown = f"{shown_dir}/{target.name}"
        result = check_bundle(target, bundle_file, shown, verifier, policy, report)
        if target.name == PROVENANCE_NAME:
            payload = result
    provenance = directory / PROVENANCE_NAME
    if provenance.is_file():
        shown = f"{shown_dir}/{PROVENANCE_NAME}"
        if not bundle_path(provenance).is_file() and require_signed:
            report.findings.append(Finding(shown, None, "is not signed", "sign it with `reprotasks sign`"))
        _problems, listed = read_sums(sums, f"{shown_dir}/{SUMS_NAME}") if sums.is_file() else ([], {})
        expected = {name: digest for name, (digest, _line) in listed.items()}
        for problem in subject_problems(payload if payload is not None else provenance.read_bytes(), expected):
            report.findings.append(Finding(shown, None, problem, "regenerate it with `reprotasks provenance`"))
        if not any(f.path == shown for f in report.findings):
            report.rows.append((shown, f"subjects match {SUMS_NAME} ({len(expected)})"))
    return report


def verify_files(files: list[Path], sign: SignConfig, *, offline: bool) -> SignatureReport:
    """Each FILE against FILE.sigstore.json, for the given identity (any file, not only releases)."""
    policy = SignerPolicy(sign)
    verifier = _sigstore.verifier(sign, offline=offline)
    report = SignatureReport()
    for file in files:
        bundle_file = bundle_path(file)
        if not bundle_file.is_file():
            report.findings.append(
                Finding(f"{file}{BUNDLE_SUFFIX}", None, "missing", f"download the bundle that belongs to {file.name}")
            )
            continue
        check_bundle(file, bundle_file, str(file), verifier, policy, report)
    return report


def raise_findings(report: SignatureReport, step: str) -> list[tuple[str, str]]:
    if report.findings:
        raise DriftError(report.findings, step=step)
    return report.rows
