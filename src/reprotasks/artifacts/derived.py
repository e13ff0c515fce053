"""Artifacts made after the build from its checked outputs (images, packages): writing them into
dist/ and recording them, the one way both the image and the package step do it."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence

from reprotasks._distdir import DistDir
from reprotasks._files import write_atomic
from reprotasks._run import Runner
from reprotasks.artifacts.manifest import DERIVED_KINDS, MANIFEST_NAME, ArtifactRecord, Manifest
from reprotasks.artifacts.source import Source
from reprotasks.config import Config
from reprotasks.errors import Finding, ReprotasksError


def recorded(dist: DistDir, kind: str) -> list[str]:
    """The files of ``kind`` dist/'s manifest records (only names of such files: never another file)."""
    from reprotasks.artifacts.layout import read_regular
    from reprotasks.artifacts.manifest import manifest_from_bytes

    try:
        manifest = manifest_from_bytes(read_regular(dist.path / MANIFEST_NAME))
    except (OSError, ValueError, TypeError):
        return []
    return [
        record.name
        for record in manifest.artifacts
        if record.kind == kind and record.name.endswith(DERIVED_KINDS[kind])
    ]


def install(
    dist: DistDir,
    built: Manifest,
    made: Sequence[tuple[ArtifactRecord, bytes]],
    previous: Sequence[str],
    *,
    step: str,
    what: str,
    runner: Runner,
) -> tuple[str, ...]:
    """Write ``made`` into dist/ and record it in the manifest beside ``built``'s artifacts; remove
    the files of ``previous`` no longer made. SHA256SUMS, the provenance, the SBOM and their bundles
    no longer describe dist/ afterwards: they are dropped (the later steps write them again).
    ``what`` names one file in messages ("the image file"). Returns the names removed."""
    from reprotasks.artifacts.build import remember_build
    from reprotasks.artifacts.evidence import built_here
    from reprotasks.artifacts.layout import entries, entry_problem, kind_of, written_after_build

    for record, _data in made:
        kind = kind_of(dist.path / record.name)
        if kind not in (None, "missing", "a symlink"):
            raise ReprotasksError(
                f"{dist.rel()}/{record.name} is {kind}, where {what} goes",
                hint=f"remove it, then run `reprotasks {step}` again",
            )
    for record, data in made:
        write_atomic(dist.path / record.name, data)
        digest = f"{record.image}  " if record.image else ""
        runner.log(f"{step}: {dist.rel()}/{record.name}  {digest}({record.platform})")
    names = {record.name for record, _data in made}
    removed = tuple(sorted(name for name in previous if name not in names))
    artifacts = sorted((*built.artifacts, *(record for record, _data in made)), key=lambda record: record.name)
    manifest = dataclasses.replace(built, artifacts=tuple(artifacts))
    manifest.write(dist.path)
    for name in removed:
        (dist.path / name).unlink(missing_ok=True)  # no longer configured
    stale = sorted(
        entry.name for entry in entries(dist.path) if written_after_build(entry.name) and entry_problem(entry) is None
    )
    for name in stale:
        (dist.path / name).unlink(missing_ok=True)
    if stale:
        runner.log(
            f"{step}: dropped {', '.join(stale)} (they described dist/ before; the later steps write them again)"
        )
    if built_here(built):  # this machine built the rest: a later build may reuse the whole (never an assembled one)
        remember_build(dist, manifest)
    return removed


def require_committed_table(config: Config, source: Source, key: str, *, runner: Runner) -> None:
    """``[[tool.reprotasks.KEY]]`` must be the commit's: images and packages are made (and attested)
    as the release commit configures them, never as an uncommitted edit or an environment variable
    does (the build refuses the same for the settings it records)."""
    import os
    import sys

    from reprotasks.artifacts.source import committed_bytes

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

    name = config.settings_file
    variable = f"REPROTASKS_{key.upper()}"
    fix = (
        f"commit {name} (or stash the change: `git stash`) and build again; images and packages are made as the "
        "release commit configures them"
    )
    if os.environ.get(variable):
        raise ReprotasksError(f"{variable} is set: `{key}` must come from the commit's {name}", hint=f"unset it; {fix}")

    def table(data: bytes | None) -> object:
        try:
            document = tomllib.loads((data or b"").decode("utf-8", "replace"))
        except tomllib.TOMLDecodeError:
            return "(not valid TOML)"
        if name == "pyproject.toml":
            document = document.get("tool", {}).get("reprotasks", {})
        return document.get(key) if isinstance(document, dict) else None

    try:
        here = (config.root / name).read_bytes()
    except OSError:
        here = None
    if table(here) != table(committed_bytes(source, name, runner=runner)):
        raise ReprotasksError(
            f"{name}: `{key}` differs from the one in commit {source.commit[:12]}",
            hint=fix,
        )


def listing_findings(
    where: str, listed: Collection[str], made: Collection[str], *, noun: str, key: str, hint: str
) -> list[Finding]:
    """The derived files of one kind that manifest.json (``where``) lists and the configuration
    does not make, and those it makes and the manifest does not list (`noun`: "image", "package")."""
    from reprotasks.artifacts.layout import shown

    findings = [
        Finding(where, None, f"lists the {noun} {shown(name)}, which no [[tool.reprotasks.{key}]] entry makes", hint)
        for name in sorted(set(listed) - set(made))
    ]
    return findings + [
        Finding(where, None, f"does not list the {noun} {shown(name)}, which the configuration makes", hint)
        for name in sorted(set(made) - set(listed))
    ]
