"""The assemble step: merge the parts of a matrix build (one job per platform) into one dist/.

Each part is a dist/ written by ``build --platform X`` or ``build --python-only`` on its own
runner. Every artifact is checked against its part's manifest, the parts must come from the
same commit, version and toolchains, and the merged manifest is the one a single full build
of that commit writes: so a full rebuild elsewhere (the reproduce job) must give the same
SHA256SUMS, manifest included.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reprotasks import __version__
from reprotasks._distdir import DistDir
from reprotasks._run import Runner
from reprotasks.artifacts import source as _source
from reprotasks.artifacts.build import host_python, manifest_header, plan_build
from reprotasks.artifacts.layout import kind_of, sha256_regular
from reprotasks.artifacts.manifest import (
    MANIFEST_NAME,
    ArtifactRecord,
    Manifest,
    read_manifest,
    recorded_lock,
    require_manifest,
)
from reprotasks.artifacts.stage import staged
from reprotasks.config import Config
from reprotasks.errors import DriftError, Finding, ReprotasksError

_REBUILD = "rebuild every part from the same commit with the same reprotasks and toolchains, then assemble again"


@dataclass(frozen=True)
class AssembleResult:
    dist: str
    parts: int
    manifest: Manifest

    def rows(self) -> list[tuple[str, str]]:
        rows = [
            (f"{self.dist}/{record.name}", f"sha256 {record.sha256[:16]} ({record.platform})")
            for record in self.manifest.artifacts
        ]
        rows.append((f"{self.dist}/{MANIFEST_NAME}", f"merged from {self.parts} part(s)"))
        return rows


def assemble(config: Config, where: DistDir, parts: Sequence[Path], *, runner: Runner) -> AssembleResult:
    if not parts:
        raise ReprotasksError(
            "assemble: no parts given", hint="pass the directories the build jobs uploaded, e.g. `assemble parts/*`"
        )
    manifests: list[tuple[Path, Manifest]] = []
    findings: list[Finding] = []
    for part in parts:
        path = require_manifest(
            part,
            str(part),
            missing=f"assemble: {part} has no {MANIFEST_NAME}",
            hint="pass directories written by `reprotasks build` (upload the whole dist/ of each build job)",
            step="assemble",
        )
        manifest = read_manifest(path, str(path))
        findings += _check_part(part, manifest)
        manifests.append((part, manifest))
    if findings:
        raise DriftError(findings, step="assemble")
    merged = _merge(config, manifests, runner=runner)
    dist = where.path
    _source.refuse_tracked_outputs(_source.describe_source(config.root, runner=runner), where.rel(), runner=runner)
    with staged(dist, "assemble") as stage:
        sources = {record.name: part for part, manifest in manifests for record in manifest.artifacts}
        for record in merged.artifacts:
            # The part was checked above; copy without following a symlink swapped in since.
            shutil.copyfile(sources[record.name] / record.name, stage / record.name, follow_symlinks=False)
            if sha256_regular(stage / record.name) != record.sha256:
                raise ReprotasksError(f"assemble: {record.name} changed while it was copied", hint=_REBUILD)
        merged.write(stage)
    # No build record: these bytes were built on other machines. `reproduce` (a full rebuild here)
    # is what lets sbom and provenance attest them.
    return AssembleResult(where.rel(), len(parts), merged)


def _check_part(part: Path, manifest: Manifest) -> list[Finding]:
    findings = []
    for record in manifest.artifacts:
        file = part / record.name
        shown = str(file)
        if kind_of(file) is not None:
            findings.append(
                Finding(shown, None, "listed in the part's manifest but missing (or not a regular file)", _REBUILD)
            )
        elif file.stat().st_size != record.size or sha256_regular(file) != record.sha256:
            findings.append(
                Finding(shown, None, f"does not match the sha256 its manifest records ({record.sha256[:16]})", _REBUILD)
            )
    return findings


def _same(manifests: list[tuple[Path, Manifest]], what: str, value: Any) -> Any:
    values = {json.dumps(value(manifest), sort_keys=True): part for part, manifest in manifests}
    if len(values) > 1:
        shown = "; ".join(f"{part}: {text}" for text, part in values.items())
        raise ReprotasksError(f"assemble: the parts disagree on {what} ({shown})", hint=_REBUILD)
    return value(manifests[0][1])


def _merge(config: Config, manifests: list[tuple[Path, Manifest]], *, runner: Runner) -> Manifest:
    project, source = _agreed_release(manifests)
    python_record, python_toolchain = _python_facts(manifests)
    go_version, go_record = _go_facts(manifests)
    artifacts = _merged_artifacts(manifests)
    # The inputs digest a single full build of this commit computes, so `build` can reuse the result.
    here = _source.describe_source(config.root, runner=runner)
    if here.commit != source.get("commit"):
        raise ReprotasksError(
            f"assemble: the parts were built from commit {str(source.get('commit'))[:12]}, "
            f"but this checkout is {here.commit[:12]}",
            hint="run assemble in a checkout of the commit the build jobs built",
        )
    plan = plan_build(
        config,
        here,
        runner=runner,
        platforms=sorted(go_record["platforms"]) if go_record else (),
        python=python_record is not None,
        go=go_record is not None,
        python_toolchain=python_toolchain or host_python(),
        recorded_lock=recorded_lock(python_record),
        built_wheels=list(artifacts),
    )
    if plan.version != project.get("version") or plan.go_version != go_version:
        raise ReprotasksError(
            f"assemble: this checkout would build version {plan.version} with Go {plan.go_version}, the parts "
            f"say {project.get('version')} with Go {go_version}",
            hint=_REBUILD,
        )
    # Every recorded fact is re-derived here (commit, locks, flags), never taken from a part.
    header = manifest_header(config, plan, runner=runner, python_toolchain=python_toolchain or host_python())
    _check_claims({"project": project, "source": source, "python": python_record, "go": go_record}, header)
    return Manifest(**header, artifacts=tuple(sorted(artifacts.values(), key=lambda record: record.name)))


def _agreed_release(manifests: list[tuple[Path, Manifest]]) -> tuple[Any, Any]:
    """(project, source) the parts agree on, built by this very reprotasks version."""
    project = _same(manifests, "the project name and version", lambda m: m.project)
    source = _same(manifests, "the source commit", lambda m: m.source)
    _same(manifests, "the reprotasks version", lambda m: m.toolchains.get("reprotasks"))
    if manifests[0][1].toolchains.get("reprotasks") != __version__:
        raise ReprotasksError(
            f"assemble: the parts were built by reprotasks {manifests[0][1].toolchains.get('reprotasks')}, "
            f"this is {__version__}",
            hint="install the same reprotasks version (from your hashed dev lock) in every job",
        )
    return project, source


def _python_facts(manifests: list[tuple[Path, Manifest]]) -> tuple[Any, Any]:
    """(the Python build record, the Python toolchain) the Python parts agree on; (None, None) without any."""
    python_parts = [(part, m) for part, m in manifests if m.python is not None]
    if not python_parts:
        return None, None
    python_record = _same(python_parts, "the Python build", lambda m: m.python)
    return python_record, _same(python_parts, "the Python toolchain", lambda m: m.toolchains.get("python"))


def _go_facts(manifests: list[tuple[Path, Manifest]]) -> tuple[Any, dict[str, Any] | None]:
    """(the Go toolchain, the Go build record with every part's platforms) of the Go parts; (None, None)
    without any."""
    go_parts = [(part, m) for part, m in manifests if m.go is not None]
    if not go_parts:
        return None, None
    go_version = _same(go_parts, "the Go toolchain", lambda m: m.toolchains.get("go"))
    common = _same(go_parts, "the Go build", lambda m: {k: v for k, v in (m.go or {}).items() if k != "platforms"})
    platforms: dict[str, Any] = {}
    for _part, manifest in go_parts:
        platforms.update((manifest.go or {}).get("platforms", {}))
    return go_version, {**common, "platforms": dict(sorted(platforms.items()))}


def _merged_artifacts(manifests: list[tuple[Path, Manifest]]) -> dict[str, ArtifactRecord]:
    """Every part's artifacts by name; one name from two parts must be the same record."""
    artifacts: dict[str, ArtifactRecord] = {}
    for part, manifest in manifests:
        for record in manifest.artifacts:
            other = artifacts.get(record.name)
            if other is not None and other != record:
                raise ReprotasksError(
                    f"assemble: {record.name} comes from two parts with different contents ({part})", hint=_REBUILD
                )
            artifacts[record.name] = record
    return artifacts


def _check_claims(claimed: dict[str, Any], header: dict[str, Any]) -> None:
    """What the parts claim is what this checkout derives."""
    for key, value in claimed.items():
        if value != header[key]:
            raise ReprotasksError(
                f"assemble: the parts' `{key}` ({json.dumps(value, sort_keys=True)[:200]}) is not what this "
                f"checkout derives ({json.dumps(header[key], sort_keys=True)[:200]})",
                hint=_REBUILD,
            )
