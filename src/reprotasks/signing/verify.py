"""verify-signatures and verify-release: every bundle, checked for the configured signer.

A release directory is accepted only when SHA256SUMS is signed by the expected identity,
every file matches SHA256SUMS, every other bundle verifies, and the provenance (if any) is
signed and names exactly the files SHA256SUMS lists. One verified signature thus covers
every listed file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from reprotasks._files import sha256_file
from reprotasks.artifacts.checksum import check_findings, read_sums
from reprotasks.artifacts.layout import (
    ATTESTATION_SUFFIX,
    BUNDLE_SUFFIX,
    PROVENANCE_NAME,
    SUMS_NAME,
    entries,
    entry_problem,
    kind_of,
    name_problem,
    read_regular,
    require_directory,
    sha256_regular,
    shown,
)
from reprotasks.artifacts.provenance import PAYLOAD_TYPE, release_images, subject_problems
from reprotasks.config import SignConfig
from reprotasks.errors import DriftError, Finding
from reprotasks.signing import sigstore as _sigstore
from reprotasks.signing.sigstore import SignatureError, SignerPolicy, bundle_path

if TYPE_CHECKING:
    from sigstore.verify import Verifier

_RESIGN = "re-download the file and its bundle from the release, or re-sign with `reprotasks sign`"


@dataclass
class SignatureReport:
    rows: list[tuple[str, str]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def bundles_in(directory: Path) -> list[Path]:
    """Regular ``*.sigstore.json`` files directly in ``directory`` (symlinks are layout findings)."""
    return [
        directory / entry.name
        for entry in entries(directory)
        if entry.name.endswith(BUNDLE_SUFFIX) and name_problem(entry.name) is None and entry_problem(entry) is None
    ]


def check_bundle(
    file: Path,
    bundle_file: Path,
    shown_file: str,
    verifier: Verifier,
    policy: SignerPolicy,
    report: SignatureReport,
    *,
    follow: bool = False,
) -> bytes | None:
    """Verify one bundle for ``file``; record a row or a finding. Returns a DSSE payload, if any.

    A DSSE bundle covers ``file`` when ``file`` is its payload (the provenance) or when the file's
    sha256 is a subject of the signed in-toto statement (as sigstore-python and cosign check).
    ``follow``: the user named the file, so a symlink is followed (never inside a release directory).
    """
    shown_bundle = f"{shown_file}{BUNDLE_SUFFIX}"
    kind = None if follow and file.is_file() else kind_of(file)
    if kind is not None:
        what = "which is missing" if kind == "missing" else f"which is {kind}, not a regular file"
        report.findings.append(
            Finding(shown_bundle, None, f"signs {shown(file.name)}, {what}", "remove the bundle or restore the file")
        )
        return None
    try:
        bundle = _sigstore.load_bundle(bundle_file, follow=follow)
        if bundle._dsse_envelope is not None:
            payload_type, payload = _sigstore.verify_dsse(verifier, policy, bundle)
            if payload_type != PAYLOAD_TYPE:
                raise SignatureError(f"signs a DSSE payload of type {payload_type!r}, not an in-toto statement")
            content = file.read_bytes() if follow else read_regular(file)
            if payload == content:
                report.rows.append((shown_file, f"signed by {_sigstore.signer_of(bundle)} (DSSE)"))
                return payload
            subject = _subject_for(payload, sha256_file(file) if follow else sha256_regular(file))
            report.rows.append(
                (shown_file, f"subject {shown(subject)} of a statement signed by {_sigstore.signer_of(bundle)} (DSSE)")
            )
            return None
        _sigstore.verify_artifact(verifier, policy, file, bundle, follow=follow)
    except SignatureError as exc:
        report.findings.append(Finding(shown_bundle, None, str(exc), exc.hint or _RESIGN))
        return None
    except OSError as exc:
        report.findings.append(Finding(shown_file, None, f"cannot be read: {exc.strerror or exc}", _RESIGN))
        return None
    report.rows.append((shown_file, f"signed by {_sigstore.signer_of(bundle)}"))
    return None


def _subject_for(payload: bytes, digest: str) -> str:
    """The name of the statement subject with sha256 ``digest``; SignatureError when there is none."""
    try:
        subjects = json.loads(payload)["subject"]
        names = [str(item.get("name", "")) for item in subjects if item.get("digest", {}).get("sha256") == digest]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise SignatureError("signs an in-toto statement without a readable `subject` list") from None
    if not names:
        raise SignatureError(
            f"signs an in-toto statement that neither is this file nor has a subject with its sha256 {digest} "
            "(the file was changed, or the bundle belongs to another file)"
        )
    return names[0]


def verify_release(
    directory: Path,
    sign: SignConfig,
    *,
    offline: bool,
    shown_dir: str,
    require_signed: bool = True,
    require_provenance: bool | None = None,
) -> SignatureReport:
    """Checksums, the layout rule, every bundle, the SHA256SUMS signature and the provenance subjects.

    ``require_provenance`` defaults to the policy ``sign.require-provenance``.
    """
    require_directory(directory, shown_dir, hint="pass the directory holding the release files")
    policy = SignerPolicy(sign)
    verifier = _sigstore.verifier(sign, offline=offline)
    report = SignatureReport()
    if require_provenance is None:
        require_provenance = sign.require_provenance
    report.findings += check_findings(directory, shown_dist=shown_dir, require_provenance=require_provenance)
    sums = directory / SUMS_NAME
    if require_signed and kind_of(bundle_path(sums)) is not None:
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
        result = check_bundle(target, bundle_file, f"{shown_dir}/{target.name}", verifier, policy, report)
        if target.name == PROVENANCE_NAME:
            payload = result
    _check_attestations(directory, shown_dir, verifier, policy, report)
    provenance = directory / PROVENANCE_NAME
    if kind_of(provenance) is None:
        where = f"{shown_dir}/{PROVENANCE_NAME}"
        if kind_of(bundle_path(provenance)) is not None and require_signed:
            report.findings.append(Finding(where, None, "is not signed", "sign it with `reprotasks sign`"))
        _problems, listed = read_sums(sums, f"{shown_dir}/{SUMS_NAME}") if kind_of(sums) is None else ([], {})
        expected = {name: digest for name, (digest, _line) in listed.items()}
        statement = payload if payload is not None else read_regular(provenance)
        for problem in subject_problems(statement, expected, release_images(directory, expected)):
            report.findings.append(Finding(where, None, problem, "regenerate it with `reprotasks provenance`"))
        if not any(f.path == where for f in report.findings):
            report.rows.append((where, f"subjects match {SUMS_NAME} ({len(expected)})"))
    return report


def _check_attestations(
    directory: Path, shown_dir: str, verifier: Verifier, policy: SignerPolicy, report: SignatureReport
) -> None:
    """Every PEP 740 attestation beside a wheel or sdist, checked as PyPI checks it (an attestation
    of an unlisted file is a layout finding already)."""
    from reprotasks.signing import pep740

    for entry in entries(directory):
        if not entry.name.endswith(ATTESTATION_SUFFIX) or entry_problem(entry) is not None:
            continue
        target = directory / entry.name[: -len(ATTESTATION_SUFFIX)]
        if name_problem(entry.name) is not None or kind_of(target) is not None:
            continue
        shown_attestation = f"{shown_dir}/{entry.name}"
        try:
            signer = pep740.check(target, read_regular(directory / entry.name), verifier, policy)
        except SignatureError as exc:
            report.findings.append(Finding(shown_attestation, None, str(exc), exc.hint or _RESIGN))
            continue
        report.rows.append((shown_attestation, f"PEP 740 attestation of {target.name}, signed by {signer}"))


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
        check_bundle(file, bundle_file, str(file), verifier, policy, report, follow=True)
    return report


def raise_findings(report: SignatureReport, step: str) -> list[tuple[str, str]]:
    if report.findings:
        raise DriftError(report.findings, step=step)
    return report.rows
