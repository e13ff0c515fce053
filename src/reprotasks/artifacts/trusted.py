"""The manifest as attested: re-derived from git, the locks and the built binaries, never trusted.

``sbom`` and ``provenance`` describe a build. They do not take manifest.json's word for it:
commit and tree come from git, flags and lock digests from the configuration and the
committed files, each Go binary's compiler and module graph from the binary itself
(``go version -m``), each Go archive must be the canonical archive re-packed from its binary,
each wheel and sdist a valid one of the project. manifest.json must be byte-identical to what
is re-derived; a hand-edited manifest is a finding that names the field, never a false
statement. And what cannot be re-derived from files (the bytes of a wheel or an sdist) needs
evidence: a build that wrote them, or a rebuild that reproduced them (``dist.evidence``).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import json
import os
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Set
from pathlib import Path, PurePosixPath
from typing import Any

from reprotasks import _cache
from reprotasks._archive import write_archive
from reprotasks._distdir import DistDir
from reprotasks._run import Runner
from reprotasks.artifacts import checked_archives
from reprotasks.artifacts import evidence as _evidence
from reprotasks.artifacts import source as _source
from reprotasks.artifacts.build import BuildPlan, manifest_header, plan_build
from reprotasks.artifacts.checked_archives import ArchiveCheck
from reprotasks.artifacts.layout import kind_of, read_regular, require_directory, sha256_regular, shown
from reprotasks.artifacts.manifest import (
    DERIVED_KINDS,
    MANIFEST_NAME,
    REBUILD_HINT,
    ArtifactRecord,
    Manifest,
    manifest_from_bytes,
    recorded_lock,
    require_manifest,
)
from reprotasks.config import Config, GoConfig
from reprotasks.errors import DriftError, Finding, ReprotasksError
from reprotasks.go.binaries import archive_names, binary_info, excluded_on, executable_name, go_flags, member_prefix
from reprotasks.python.validity import sdist_problems, wheel_problems

_REBUILD = REBUILD_HINT
_MAX_BINARY = 2 << 30  # a member larger than this is not a binary reprotasks built
_NO_EVIDENCE_HINT = (
    "run `reprotasks build` here (it rebuilds, or reuses only a dist/ it provably wrote); for a dist/ made "
    "elsewhere (assembled from matrix parts, downloaded) prove it first with `reprotasks reproduce`"
)


@dataclasses.dataclass(frozen=True)
class Trusted:
    """A checked manifest, the commit it was built from, and what vouches for its bytes."""

    manifest: Manifest
    source: _source.Source
    evidence: tuple[_evidence.Evidence, ...]


# (dist, manifest bytes, every file's identity) -> the result: sbom and provenance in one process
# (release) check the same dist/ once.
_CHECKED: dict[tuple[Any, ...], Trusted] = {}

# What a kind of derived artifact (made after the build from its checked outputs: images,
# packages) is re-made with: (config, the checked build's manifest, the manifest in dist/, runner)
# -> (their records, findings). ``image.build.derive_images`` and ``packages.build.derive_packages``,
# passed in by the steps so this module never imports the packages above it.
# The last argument is ``trust_cache``: whether a remembered check may stand for running it again.
Derivation = Callable[[Config, DistDir, Manifest, Manifest, Runner, bool], tuple[list[ArtifactRecord], list[Finding]]]
Derivations = Mapping[str, Derivation]  # kind (DERIVED_KINDS) -> how it is re-made


def trusted_manifest(
    config: Config,
    dist: DistDir,
    *,
    runner: Runner,
    step: str,
    derived: Derivations,
    replacing: str | None = None,
    trust_cache: bool = True,
) -> Trusted:
    """dist/manifest.json after checking every field against what git, the locks and the binaries
    say, and the commit it was built from (HEAD). Its derived artifacts (images, packages) are
    re-made from the checked build by ``derived`` and must be byte-identical. The step that makes
    one kind (``replacing``) gets the manifest without that kind: its records are only checked to
    name files of that kind, and no evidence is required (making an image or a package from checked
    archives attests nothing). ``trust_cache``: a Go archive whose bytes passed the same checks
    before, on this machine, is not unpacked again (``_ARCHIVES_CHECKED``)."""
    where, data, manifest = _read_manifest(dist, step)
    evidence = _evidence.evidence_for(manifest)
    memo = _memo_key(config, dist, data, manifest, (tuple(sorted(derived)), replacing))
    if memo is not None and memo in _CHECKED and (evidence or replacing is not None):
        return dataclasses.replace(_CHECKED[memo], evidence=evidence)
    if replacing is not None:
        manifest = _without_kind(manifest, replacing, where, step)
        data = manifest.to_json()  # compared as it was before this step made its kind
    source = _source.describe_source(config.root, runner=runner)
    _source.require_built_from(
        manifest.source.get("commit"),
        source,
        dist.rel(),
        why=f": {step} describes the commit it can check",
        hint="run `reprotasks build` to build HEAD (or check out the commit that was built)",
    )
    plan = _plan_of(config, source, manifest, runner=runner)
    header = manifest_header(config, plan, runner=runner)
    findings = [
        Finding(where, None, f"`{key}` says {_short(getattr(manifest, key))}, re-derived: {_short(value)}", _REBUILD)
        for key, value in header.items()
        if getattr(manifest, key) != value
    ]
    artifacts, artifact_findings = _derive_artifacts(
        config, dist, plan, manifest, runner=runner, where=where, trust_cache=trust_cache
    )
    findings += artifact_findings
    if not findings:
        built = Manifest(**header, artifacts=tuple(artifacts))
        for kind, derive in sorted(derived.items()):
            if kind == replacing:
                continue
            made, made_findings = derive(config, dist, built, manifest, runner, trust_cache)
            artifacts = sorted([*artifacts, *made], key=lambda record: record.name)
            findings += made_findings
    rederived = Manifest(**header, artifacts=tuple(artifacts))
    if not findings and rederived.to_json() != data:
        findings.append(
            Finding(where, None, "is not byte-identical to the manifest re-derived from the build", _REBUILD)
        )
    if replacing is None and not evidence:
        findings.append(_no_evidence(where, step))
    if findings:
        raise DriftError(findings, step=step)
    trusted = Trusted(rederived, source, evidence)
    if memo is not None:
        _CHECKED[memo] = trusted
    return trusted


def _read_manifest(dist: DistDir, step: str) -> tuple[str, bytes, Manifest]:
    """(where it is shown, its bytes, the manifest) of dist/manifest.json, or a one-line refusal."""
    where = f"{dist.rel()}/{MANIFEST_NAME}"
    require_directory(dist.path, dist.rel(), hint="remove it and run `reprotasks build`")
    path = require_manifest(
        dist.path,
        dist.rel(),
        missing=f"{where} is missing: {step} describes a reprotasks build",
        hint="run `reprotasks build` first",
        step=step,
    )
    data = read_regular(path)
    try:
        return where, data, manifest_from_bytes(data)
    except (ValueError, TypeError) as exc:
        raise ReprotasksError(f"{where} is not a reprotasks build manifest ({exc})", hint=_REBUILD) from None


def _without_kind(manifest: Manifest, kind: str, where: str, step: str) -> Manifest:
    """The manifest without ``kind``'s records (each must name a file of that kind)."""
    kept = tuple(record for record in manifest.artifacts if record.kind != kind)
    what, step_name = {"oci-image": ("an image", "image"), "linux-package": ("a package", "package")}[kind]
    forged = [
        record.name
        for record in manifest.artifacts
        if record.kind == kind
        and (not record.name.endswith(DERIVED_KINDS[kind]) or record.name in {other.name for other in kept})
    ]
    if forged:
        raise DriftError(
            [
                Finding(where, None, f"records {shown(name)} as {what}, which no {step_name} step writes", _REBUILD)
                for name in forged
            ],
            step=step,
        )
    return dataclasses.replace(manifest, artifacts=kept)


def _plan_of(config: Config, source: _source.Source, manifest: Manifest, *, runner: Runner) -> BuildPlan:
    """The build plan that would make what ``manifest`` says was built (its platforms and parts)."""
    go = manifest.go if isinstance(manifest.go, dict) else None
    platforms = sorted(go.get("platforms", {})) if go and isinstance(go.get("platforms"), dict) else []
    return plan_build(
        config,
        source,
        runner=runner,
        platforms=platforms,
        python=manifest.python is not None,
        go=go is not None,
        recorded_lock=recorded_lock(manifest.python),
        built_wheels=[record.name for record in manifest.artifacts],
    )


def _no_evidence(where: str, step: str) -> Finding:
    return Finding(
        where,
        None,
        "has no evidence that a build made these bytes: this process did not build them, no build on this "
        f"machine recorded them, and no `reprotasks reproduce` proved them; {step} attests only what a build "
        "witnessed",
        _NO_EVIDENCE_HINT,
    )


def _memo_key(config: Config, dist: DistDir, data: bytes, manifest: Manifest, derived: Any) -> tuple[Any, ...] | None:
    """What must be unchanged for an earlier check in this process to stand (None: no file to name)."""
    identities = []
    for record in manifest.artifacts:
        try:
            info = os.lstat(dist / record.name)
        except OSError:
            return None
        identities.append((record.name, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_mode))
    return (str(dist.path), _cache.digest(config.fingerprint()), data, derived, tuple(identities))


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 160 else text[:157] + "..."


def expected_go_archives(go: GoConfig, plan: BuildPlan) -> dict[str, tuple[str, str]]:
    """archive name -> (main package, platform) for every binary the plan builds."""
    return {
        name: (package, platform)
        for name, package, platform in archive_names(go, plan.go_packages, plan.platforms, plan.version)
    }


def _derive_artifacts(
    config: Config,
    dist: DistDir,
    plan: BuildPlan,
    manifest: Manifest,
    *,
    runner: Runner,
    where: str,
    trust_cache: bool,
) -> tuple[list[ArtifactRecord], list[Finding]]:
    """Each listed file (derived artifacts aside) checked against what this build makes: wheel and sdist
    valid for the project, Go archives the canonical re-pack of a binary of the pinned toolchain."""
    go_expected = expected_go_archives(config.go, plan)
    listed = {record.name: record for record in manifest.artifacts}
    findings = _unlisted_go_archives(config, plan, go_expected, listed.keys(), runner=runner, where=where)
    python_kinds = {"sdist": 0, "wheel": 0}
    records: list[ArtifactRecord] = []
    jobs = []
    for name in sorted(listed):
        kind = kind_of(dist / name)
        if kind is not None:
            findings.append(Finding(f"{dist.rel()}/{name}", None, f"listed in {MANIFEST_NAME} but {kind}", _REBUILD))
        elif name in go_expected:
            jobs.append((name, *go_expected[name]))
        elif listed[name].kind in DERIVED_KINDS:
            continue  # re-made from the checked build afterwards (``derived``)
        elif plan.python and name.endswith((".whl", ".tar.gz")):
            record, problems = _python_record(config, dist, plan, name)
            python_kinds[record.kind] += 1
            findings += problems
            records.append(record)
        else:
            findings.append(Finding(where, None, f"lists {shown(name)}, which this build does not make", _REBUILD))
    if plan.python and python_kinds != {"sdist": 1, "wheel": 1}:
        findings.append(Finding(where, None, "does not list exactly one sdist and one wheel", _REBUILD))
    go_records, go_findings = _go_records(config, dist, plan, jobs, runner=runner, trust_cache=trust_cache)
    return sorted([*records, *go_records], key=lambda record: record.name), findings + go_findings


def _unlisted_go_archives(
    config: Config,
    plan: BuildPlan,
    expected: dict[str, tuple[str, str]],
    listed: Set[str],
    *,
    runner: Runner,
    where: str,
) -> list[Finding]:
    """A finding for each archive the build makes that the manifest leaves out (unless the build
    skips it too: its build constraints leave no file for that platform)."""
    findings = []
    for name in sorted(expected.keys() - listed):
        package, platform = expected[name]
        module, toolchain = config.go.module, plan.toolchain
        if module is not None and toolchain is not None:
            flags = go_flags(config.go, plan.version, commit=plan.source.commit, epoch=plan.source.epoch)
            if excluded_on(module, package, platform, toolchain=toolchain, flags=flags, runner=runner):
                continue
        findings.append(Finding(where, None, f"does not list {shown(name)}, which the build makes", _REBUILD))
    return findings


def _python_record(config: Config, dist: DistDir, plan: BuildPlan, name: str) -> tuple[ArtifactRecord, list[Finding]]:
    """The record of a listed wheel or sdist, and why it is not a valid one of this project."""
    path = dist / name
    kind = "wheel" if name.endswith(".whl") else "sdist"
    if kind == "wheel":
        problems = wheel_problems(path, config.project_name)
    else:
        problems = sdist_problems(path, config.project_name, plan.source.epoch)
    record = ArtifactRecord(
        name=name, size=os.lstat(path).st_size, sha256=sha256_regular(path), kind=kind, platform="any"
    )
    return record, [Finding(f"{dist.rel()}/{name}", None, problem, _REBUILD) for problem in problems]


def _go_records(
    config: Config,
    dist: DistDir,
    plan: BuildPlan,
    jobs: list[tuple[str, str, str]],
    *,
    runner: Runner,
    trust_cache: bool,
) -> tuple[list[ArtifactRecord], list[Finding]]:
    """The records of the listed Go archives (name, package, platform), each inspected in parallel."""
    extras = _committed_extras(config.go, plan, runner=runner) if jobs else {}
    record_of = functools.partial(
        _go_record,
        config.go,
        dist.path,
        expected=plan.go_version,
        runner=runner,
        extras=extras,
        mtime=plan.source.epoch,
        trust_cache=trust_cache,
    )
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        derived = list(pool.map(lambda job: record_of(*job), jobs))
    findings = []
    for record, canonical in derived:
        where = f"{dist.rel()}/{record.name}"
        if canonical is not None:
            problem = f"is not the canonical archive of the binary it holds (re-packed: sha256 {canonical})"
            findings.append(Finding(where, None, problem, _REBUILD))
        if record.compiler != plan.go_version:
            compiler = record.compiler or "an unknown toolchain"
            problem = f"holds a binary compiled by {compiler}, but go.mod pins {plan.go_version}"
            findings.append(Finding(where, None, problem, _REBUILD))
    return [record for record, _canonical in derived], findings


def _committed_extras(go: GoConfig, plan: BuildPlan, *, runner: Runner) -> dict[str, tuple[bytes, bool]]:
    """go.archive-files as committed: member name -> (content, executable)."""
    extras = {}
    for relative in go.archive_files:
        data = _source.committed_bytes(plan.source, relative, runner=runner)
        if data is None:
            raise ReprotasksError(
                f"{relative} (listed in `go.archive-files`) is not in commit {plan.source.commit[:12]}",
                hint=f"`git add {relative}` and commit it, or remove it from `go.archive-files`",
            )
        executable = _source.committed_executable(plan.source, relative, runner=runner)
        extras[PurePosixPath(relative).name] = (data, executable)
    return extras


def _go_record(
    go: GoConfig,
    dist: Path,
    name: str,
    package: str,
    platform: str,
    *,
    expected: str | None,
    runner: Runner,
    extras: dict[str, tuple[bytes, bool]],
    mtime: int,
    trust_cache: bool,
) -> tuple[ArtifactRecord, str | None]:
    """The record of one Go archive, and the sha256 of its canonical re-pack when the file is not that."""
    path = dist / name
    inside = member_prefix(go.archive_in_directory, name)
    extras = {inside + member: value for member, value in extras.items()}
    executable = inside + executable_name(go.binary_names.get(package, package), platform)
    digest = sha256_regular(path)
    check = ArchiveCheck(name, package, platform, executable, expected, ArchiveCheck.extras_of(extras), mtime)
    remembered = checked_archives.recall(check, digest) if trust_cache else None
    if remembered is not None:
        (compiler, embedded), canonical = remembered, digest
    else:
        with tempfile.TemporaryDirectory(prefix="reprotasks-inspect-") as scratch:
            binary = Path(scratch) / "binary" / PurePosixPath(executable).name
            binary.parent.mkdir()
            extract_binary(path, binary, executable, set(extras))
            compiler, embedded = binary_info(binary, runner=runner, expected=expected)
            canonical = _canonical_archive(Path(scratch), binary, executable, name, extras, mtime)
        if canonical == digest and sha256_regular(path) == digest:  # the file is still what was checked
            checked_archives.remember(check, digest, compiler, embedded)
    record = ArtifactRecord(
        name=name,
        size=os.lstat(path).st_size,
        sha256=digest,
        kind="go-archive",
        platform=platform,
        package=package,
        embedded=embedded,
        compiler=compiler,
    )
    return record, None if canonical == digest else canonical


def _canonical_archive(
    scratch: Path, binary: Path, member_name: str, name: str, extras: dict[str, tuple[bytes, bool]], mtime: int
) -> str:
    """The sha256 of the archive ``build`` writes for ``binary`` (and the committed extras)."""
    binary.chmod(0o755)
    members = [(member_name, binary)]
    for member, (data, executable) in extras.items():
        extra = scratch / "extras" / member
        extra.parent.mkdir(parents=True, exist_ok=True)
        extra.write_bytes(data)
        extra.chmod(0o755 if executable else 0o644)
        members.append((member, extra))
    target = scratch / "canonical" / name
    target.parent.mkdir()
    write_archive(target, members, mtime=mtime)
    return sha256_regular(target)


def extract_binary(archive: Path, target: Path, binary: str, extras: set[str]) -> None:
    """Copy the member ``binary`` of a reprotasks Go archive to ``target``; the archive must hold
    exactly that regular file plus ``extras`` (go.archive-files). Bounded; names never used as paths."""
    expected = {binary, *extras}
    bad = ReprotasksError(
        f"{archive.name} is not an archive reprotasks built (regular members {', '.join(sorted(expected))} expected)",
        hint=_REBUILD,
    )
    with os.fdopen(os.open(archive, os.O_RDONLY | os.O_NOFOLLOW), "rb") as raw:
        try:
            if archive.name.endswith(".zip"):
                with zipfile.ZipFile(raw) as zipped:
                    infos = zipped.infolist()
                    if sorted(info.filename for info in infos) != sorted(expected) or any(
                        info.is_dir() or info.file_size > _MAX_BINARY for info in infos
                    ):
                        raise bad
                    with zipped.open(binary) as source, target.open("wb") as sink:
                        shutil.copyfileobj(source, sink)
                return
            with tarfile.open(fileobj=raw, mode="r:gz") as tarred:
                members = tarred.getmembers()
                if sorted(member.name for member in members) != sorted(expected) or any(
                    not member.isfile() or member.size > _MAX_BINARY for member in members
                ):
                    raise bad
                extracted = tarred.extractfile(next(member for member in members if member.name == binary))
                if extracted is None:
                    raise bad
                with extracted, target.open("wb") as sink:
                    shutil.copyfileobj(extracted, sink)
        except (OSError, EOFError, KeyError, tarfile.TarError, zipfile.BadZipFile):
            raise bad from None
