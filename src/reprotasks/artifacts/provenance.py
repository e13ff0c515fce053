"""The provenance step: an in-toto Statement v1 with a SLSA provenance v1 predicate.

Subjects are exactly the entries of SHA256SUMS, and only of a dist/ with evidence (a build
that wrote it, or a rebuild that reproduced it: ``dist.evidence``), which the statement names.
The build definition comes from the checked dist/manifest.json (commit, toolchains, and the
flags and environment the *build* passed to go and the backend) plus the digests of every lock
and go.sum; run details (builder, invocation, time, evidence) are the only machine-dependent
part. The attesting process's environment is recorded only through an allow-list describing
the runner (never a build setting such as GOFLAGS), with a last scrub for anything secret.
The statement is written to ``dist/provenance.intoto.json``; ``sign`` wraps it in a
DSSE bundle.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from reprotasks import __version__
from reprotasks._distdir import DistDir
from reprotasks._files import write_atomic
from reprotasks._run import MASK, Runner, mask
from reprotasks.artifacts import source as _source
from reprotasks.artifacts.checksum import check_findings, read_sums
from reprotasks.artifacts.layout import (
    IMAGE_SUFFIX,
    PROVENANCE_NAME,
    SBOM_NAME,
    SUMS_NAME,
    image_subject_name,
    kind_of,
    layout_image,
    read_regular,
)
from reprotasks.artifacts.manifest import MANIFEST_NAME, recorded_lock
from reprotasks.artifacts.trusted import Derivations, Trusted, trusted_manifest
from reprotasks.config import Config
from reprotasks.errors import DriftError, Finding, ReprotasksError
from reprotasks.image.options import SCRATCH

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
# Documented in docs/provenance.md: what a consumer may assume about a reprotasks build.
BUILD_TYPE = "https://reprotasks.dev/build-types/release/v1"
LOCAL_BUILDER = "https://reprotasks.dev/builders/local"

# Environment variables worth recording: they describe the runner that attests, never the build
# (its settings are what the build recorded in manifest.json) and never credentials.
ENVIRONMENT_ALLOW_LIST = (
    "CI",
    "GITHUB_ACTIONS",
    "GITHUB_EVENT_NAME",
    "GITHUB_REF",
    "GITHUB_REPOSITORY",
    "GITHUB_RUN_ATTEMPT",
    "GITHUB_RUN_ID",
    "GITHUB_SERVER_URL",
    "GITHUB_SHA",
    "GITHUB_WORKFLOW_REF",
    "ImageOS",
    "ImageVersion",
    "RUNNER_ARCH",
    "RUNNER_ENVIRONMENT",
    "RUNNER_OS",
)
_SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSW|PASSPHRASE|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_?KEY|AUTH|COOKIE|SESSION", re.I
)


def looks_secret(name: str, value: str) -> bool:
    """A secret-sounding variable name, or a value holding a credential (a token shape, URL userinfo)."""
    return bool(_SECRET_NAME.search(name)) or mask(value) != value


def scrub(text: str, environ: Mapping[str, str]) -> str:
    """Last line of defence: no secret-looking environment value and no credential ``mask`` knows survives."""
    for name, value in environ.items():
        if len(value) >= 6 and looks_secret(name, value) and value in text:
            text = text.replace(value, MASK)
    return mask(text)


@dataclass(frozen=True)
class ProvenanceResult:
    path: Path
    subjects: int
    builder: str

    def rows(self) -> list[tuple[str, str]]:
        return [(self.path.name, f"{self.subjects} subjects, builder {self.builder}")]


def builder_and_invocation(environ: Mapping[str, str]) -> tuple[str, str]:
    if environ.get("GITHUB_ACTIONS") == "true" and environ.get("GITHUB_WORKFLOW_REF"):
        server = mask(environ.get("GITHUB_SERVER_URL", "https://github.com"))  # never a user:token@ in an id
        builder = f"{server}/{environ['GITHUB_WORKFLOW_REF']}"
        run = f"{server}/{environ.get('GITHUB_REPOSITORY', '')}/actions/runs/{environ.get('GITHUB_RUN_ID', '')}"
        return builder, f"{run}/attempts/{environ.get('GITHUB_RUN_ATTEMPT', '1')}"
    return f"{LOCAL_BUILDER}@v{__version__}", f"urn:uuid:{uuid.uuid4()}"


def _dependencies(config: Config, source: _source.Source, runner: Runner) -> list[dict[str, Any]]:
    """The commit and the sha256 of every lock, go.mod and go.sum *as committed* (what was built)."""
    deps: list[dict[str, Any]] = [{"name": "source", "digest": {"gitCommit": source.commit, "gitTree": source.tree}}]
    files = [config.rel(lock.output) for lock in config.python.all_locks]
    if config.go.module is not None:
        module = config.rel(config.go.module)
        files += [name if module == "." else f"{module}/{name}" for name in ("go.mod", "go.sum")]
    for relative in files:
        data = _source.committed_bytes(source, relative, runner=runner)
        if data is not None:
            deps.append({"name": relative, "digest": {"sha256": hashlib.sha256(data).hexdigest()}})
    for image in config.images:  # a base image is an input like a lock: named by its digest
        if image.base != SCRATCH:
            repository, _, digest = image.base.partition("@")
            deps.append(
                {
                    "name": f"image {image.name}: base",
                    "uri": f"oci://{repository}",
                    "digest": {"sha256": digest.removeprefix("sha256:")},
                }
            )
    return deps


def _image_subjects(manifest: Any) -> list[dict[str, Any]]:
    """Each image by its registry digest, so the signed provenance attests the image as pulled (what
    `publish --sign` attaches to it for `cosign verify-attestation`)."""
    return [
        {"name": image_subject_name(record.name), "digest": {"sha256": record.image.removeprefix("sha256:")}}
        for record in sorted(manifest.artifacts, key=lambda record: record.name)
        if record.kind == "oci-image" and record.image
    ]


def _image_byproducts(manifest: Any) -> list[dict[str, Any]]:
    """Each image's registry digest (its index), which SHA256SUMS cannot state: the file's digest differs."""
    return [
        {
            "name": f"image {record.name}",
            "digest": {"sha256": record.image.removeprefix("sha256:")},
            "annotations": {"platforms": record.platform, "file": record.name},
        }
        for record in manifest.artifacts
        if record.kind == "oci-image" and record.image
    ]


def statement(
    config: Config,
    where: DistDir,
    environ: Mapping[str, str],
    *,
    derived: Derivations,
    now: datetime | None = None,
    runner: Runner | None = None,
    trust_cache: bool = True,
) -> dict[str, Any]:
    runner = runner or Runner(config.root, log=lambda _line: None)
    dist = where.path
    shown = where.rel()
    findings = check_findings(dist, shown_dist=shown)
    if findings:
        raise DriftError(findings, step="provenance")
    _problems, listed = read_sums(dist / SUMS_NAME, f"{shown}/{SUMS_NAME}")
    # Commit, tree, toolchains and flags come from git and the tools, checked against manifest.json.
    trusted = trusted_manifest(
        config, where, runner=runner, step="provenance", derived=derived, trust_cache=trust_cache
    )
    manifest, source = trusted.manifest, trusted.source
    # The subjects are what was checked (never SHA256SUMS' word): SHA256SUMS must list exactly these.
    subjects, foreign_sbom = _subjects(config, dist, trusted, runner=runner)
    listed_digests = {name: digest for name, (digest, _line) in listed.items()}
    mismatched = _sums_disagreement(listed_digests, subjects, foreign_sbom=foreign_sbom)
    if mismatched:
        raise DriftError(
            [Finding(f"{shown}/{SUMS_NAME}", None, problem, _SUBJECTS_HINT) for problem in mismatched],
            step="provenance",
        )
    unlocked = recorded_lock(manifest.python) is not None  # the build resolved its backend (no committed lock)
    if unlocked and config.python.require_build_lock:
        # Those pins come from dist/manifest.json alone: nothing in the commit can confirm them.
        lock = config.rel(config.python.build_lock.output) if config.python.build_lock else "the build lock"
        raise ReprotasksError(
            f"{shown}/manifest.json records build requirements resolved at build time ({lock} is not committed): "
            "provenance attests only what the commit pins",
            hint=f"run `reprotasks lock`, commit {lock} and build again; or set `require-build-lock = false` under "
            "[tool.reprotasks.python] to attest them as recorded (the provenance then says so)",
        )
    builder, invocation = builder_and_invocation(environ)
    recorded = {name: environ[name] for name in ENVIRONMENT_ALLOW_LIST if name in environ}
    recorded = {name: value for name, value in recorded.items() if not looks_secret(name, value)}
    described = json.loads(redact_text(json.dumps(recorded_config(config))))
    toolchains = [
        {"name": name, "annotations": {"version": version}} for name, version in sorted(manifest.toolchains.items())
    ]
    finished = (now or datetime.now(timezone.utc)).replace(microsecond=0)
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": digest}} for name, digest in sorted(subjects.items())]
        + _image_subjects(manifest),
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "source": {"commit": manifest.source["commit"], "path": manifest.source.get("path", ".")},
                    "project": manifest.project,
                    "config": described,
                },
                "internalParameters": {
                    "sourceDateEpoch": manifest.source.get("source_date_epoch"),
                    **(
                        {"buildRequirements": "resolved at build time, recorded in manifest.json, not in the commit"}
                        if unlocked
                        else {}
                    ),
                    "python": manifest.python,
                    "go": manifest.go,
                },
                "resolvedDependencies": _dependencies(config, source, runner) + toolchains,
            },
            "runDetails": {
                "builder": {"id": builder, "version": {"reprotasks": __version__}},
                "metadata": {"invocationId": invocation, "finishedOn": finished.isoformat().replace("+00:00", "Z")},
                "byproducts": [
                    {"name": "environment", "annotations": recorded},
                    *({"name": "evidence", "annotations": item.annotations()} for item in trusted.evidence),
                    *_image_byproducts(manifest),
                ],
            },
        },
    }


# `NAME=value` anywhere (`-X main.apiKey=...` in -ldflags, `main.dbPassword=...` as a list entry, an
# `API_TOKEN=...`): a value whose variable name (its last dotted part) or shape sounds secret is masked.
_ASSIGNMENT = re.compile(r"([A-Za-z_][\w./-]*)=([^\s\"'\\,=]+)(?=[\s\"'\\,]|$)")


def scrub_assignments(text: str) -> str:
    """``-X main.apiKey=sk_live_...`` -> ``-X main.apiKey=***``; other values stay (a version, a flag)."""

    def masked(match: re.Match[str]) -> str:
        variable, value = match.group(1), match.group(2)
        secret = looks_secret(variable.rsplit(".", 1)[-1], value)
        return f"{variable}={MASK if secret else value}"

    return _ASSIGNMENT.sub(masked, text)


_SUBJECTS_HINT = (
    "SHA256SUMS lists exactly the checked artifacts, manifest.json and the SBOM: run `reprotasks sbom` and "
    "`reprotasks checksum` again (never edit SHA256SUMS or sbom.cdx.json by hand), then provenance"
)


def _subjects(config: Config, dist: Path, trusted: Trusted, *, runner: Runner) -> tuple[dict[str, str], bool]:
    """name -> sha256 of every file the statement may name: each artifact as checked, manifest.json
    as re-derived, and sbom.cdx.json when it is byte for byte the SBOM of this dist/; and whether
    dist/ holds an sbom.cdx.json that is not."""
    from reprotasks.artifacts.sbom import rendered

    subjects = {record.name: record.sha256 for record in trusted.manifest.artifacts}
    subjects[MANIFEST_NAME] = hashlib.sha256(trusted.manifest.to_json()).hexdigest()
    path = dist / SBOM_NAME
    if kind_of(path) is not None:
        return subjects, False
    data, _python, _go = rendered(config, trusted, dist, runner=runner)
    if read_regular(path) != data:
        return subjects, True
    return {**subjects, SBOM_NAME: hashlib.sha256(data).hexdigest()}, False


def _sums_disagreement(listed: Mapping[str, str], subjects: Mapping[str, str], *, foreign_sbom: bool) -> list[str]:
    problems = []
    for name in sorted(listed.keys() | subjects.keys()):
        if name not in listed:
            if name != SBOM_NAME:
                problems.append(f"does not list {name!r}, which the build wrote")
        elif name == SBOM_NAME and foreign_sbom:
            problems.append(f"lists {name!r}, which is not the SBOM `reprotasks sbom` makes of this dist/")
        elif name not in subjects:
            problems.append(f"lists {name!r}, which no build wrote: provenance names only what was checked")
        elif listed[name] != subjects[name]:
            problems.append(f"says {name!r} has sha256 {listed[name]}, but the checked file has {subjects[name]}")
    return problems


def recorded_config(config: Config) -> dict[str, Any]:
    """The configuration as the build used it: the settings its inputs digest covers (checked against
    the manifest, so never the attesting process's own), plus the images (re-made and compared)."""
    described = {key: value for key, value in config.fingerprint().items() if key != "build-system"}
    images = config.describe()["images"]
    if images:
        described["images"] = [{key: value for key, value in image.items() if key != "repository"} for image in images]
    return described


def redact_text(text: str) -> str:
    """Credentials (``https://user:token@host``, tokens) in any string of the config."""
    return mask(text)


def provenance(
    config: Config,
    dist: DistDir,
    *,
    derived: Derivations,
    environ: Mapping[str, str] | None = None,
    runner: Runner | None = None,
    trust_cache: bool = True,
) -> ProvenanceResult:
    env = os.environ if environ is None else environ
    data = statement(config, dist, env, derived=derived, runner=runner, trust_cache=trust_cache)
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    target = dist / PROVENANCE_NAME
    write_atomic(target, scrub_assignments(scrub(text, env)).encode())
    return ProvenanceResult(target, len(data["subject"]), data["predicate"]["runDetails"]["builder"]["id"])


def release_images(directory: Path, listed: Mapping[str, str]) -> dict[str, str]:
    """The statement subject name -> sha256 of each image in the release: the digest its layout
    names (read from the ``.oci.tar`` SHA256SUMS lists, never taken from a statement)."""
    images = {}
    for name in listed:
        if name.endswith(IMAGE_SUFFIX):
            digest = layout_image(directory / name)
            images[image_subject_name(name)] = (digest or "not an OCI layout").removeprefix("sha256:")
    return images


def subject_problems(payload: bytes, listed: Mapping[str, str], images: Mapping[str, str]) -> list[str]:
    """How a statement's subjects disagree with SHA256SUMS (name -> sha256) and with the release's
    images (``release_images``); empty when they match."""
    try:
        data = json.loads(payload)
        if data.get("_type") != STATEMENT_TYPE or data.get("predicateType") != PREDICATE_TYPE:
            return [
                f"is not an in-toto v1 statement with a SLSA v1 predicate (predicateType {data.get('predicateType')!r})"
            ]
        subjects = {item["name"]: item["digest"]["sha256"] for item in data["subject"]}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return [f"is not a readable provenance statement ({exc})"]
    problems = []
    # Images are named by their registry digest: each one named must be the layout's. A statement
    # naming none (made by an older reprotasks) still covers each .oci.tar as a file subject.
    image_subjects = {name: digest for name, digest in subjects.items() if name.startswith("pkg:oci/")}
    for name in sorted(image_subjects):
        if name not in images:
            problems.append(f"has subject {name!r}, an image the release does not hold")
        elif image_subjects[name] != images[name]:
            problems.append(f"says the image {name!r} is sha256 {image_subjects[name]}, its layout says {images[name]}")
    subjects = {name: digest for name, digest in subjects.items() if name not in image_subjects}
    for name in sorted(listed.keys() | subjects.keys()):
        if name not in subjects:
            problems.append(f"has no subject for {name!r}, which SHA256SUMS lists")
        elif name not in listed:
            problems.append(f"has subject {name!r}, which SHA256SUMS does not list")
        elif subjects[name] != listed[name]:
            problems.append(f"says {name!r} has sha256 {subjects[name]}, SHA256SUMS says {listed[name]}")
    return problems
