"""The sbom step: a CycloneDX 1.6 JSON SBOM of what the release is made of.

Python components come from the hashed locks (purl, version, every sha256), Go modules
from go.sum plus the ``go version -m`` lines recorded in dist/manifest.json for each built
binary. Deterministic: the timestamp is SOURCE_DATE_EPOCH and the serial number is derived
from the content, so the SBOM can be listed in SHA256SUMS and reproduced like an artifact.
"""

from __future__ import annotations

import hashlib
import uuid
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from reprotasks import __version__
from reprotasks._distdir import DistDir
from reprotasks._files import write_atomic
from reprotasks._run import Runner, mask
from reprotasks.artifacts import source as _source
from reprotasks.artifacts.layout import SBOM_NAME
from reprotasks.artifacts.manifest import Manifest, recorded_lock
from reprotasks.artifacts.trusted import Derivations, Trusted, trusted_manifest
from reprotasks.config import Config, PackageConfig
from reprotasks.errors import ReprotasksError
from reprotasks.packages.options import package_version
from reprotasks.python import toollocks
from reprotasks.python.lockfile import parse_lock, parse_lock_text, read_text

# Any fixed namespace works; this one is ours (uuid5 of the name) so serials never collide with others'.
_SERIAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://reprotasks.dev/sbom")


@dataclass(frozen=True)
class SbomResult:
    path: Path
    python: int
    go: int

    def rows(self) -> list[tuple[str, str]]:
        return [(self.path.name, f"CycloneDX 1.6: {self.python} Python packages, {self.go} Go modules")]


@dataclass
class _Package:
    hashes: set[str]
    sources: set[str]


def python_packages(config: Config, manifest: Manifest | None = None) -> dict[tuple[str, str], _Package]:
    """(name, version) -> sha256 hashes and the locks that pin it. A build lock that is not
    committed is replaced by the requirements the (checked) manifest recorded for that build."""
    found: dict[tuple[str, str], _Package] = {}
    resolved = recorded_lock(manifest.python) if manifest is not None else None
    for lock in config.python.all_locks:
        path = lock.output
        if lock is config.python.build_lock and resolved is not None:
            pins = parse_lock_text(resolved).pins
            source = "manifest.json (build requirements resolved at build time)"
        elif not path.is_file():
            raise ReprotasksError(
                f"{config.rel(path)} is missing: the SBOM lists what the locks pin", hint="run `reprotasks lock` first"
            )
        else:
            pins = parse_lock(path, config.rel(path)).pins
            source = config.rel(path)
        for pin in pins:
            package = found.setdefault((pin.name, pin.version), _Package(set(), set()))
            package.hashes.update(h.split(":", 1)[1] for h in pin.hashes if h.startswith("sha256:"))
            package.sources.add(source)
    for tool_lock in toollocks.tool_locks(config):
        for locked in toollocks.locked_packages(tool_lock):
            package = found.setdefault((locked.name, locked.version), _Package(set(), set()))
            package.hashes.update(locked.hashes)
            package.sources.add(config.rel(tool_lock.path))
    return found


def go_modules(config: Config, manifest: Manifest | None) -> dict[tuple[str, str], _Package]:
    """(module, version) -> h1 hashes and where it was seen (go.sum, binaries)."""
    found: dict[tuple[str, str], _Package] = {}
    if config.go.module is None:
        return found
    go_sum = config.go.module / "go.sum"
    if go_sum.is_file():
        text = read_text(go_sum, config.rel(go_sum), fix="restore go.sum (`git checkout -- go.sum`): it is UTF-8 text")
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 3 and not parts[1].endswith("/go.mod"):
                package = found.setdefault((parts[0], parts[1]), _Package(set(), set()))
                package.hashes.add(parts[2])
                package.sources.add(config.rel(go_sum))
    for artifact in manifest.artifacts if manifest is not None else ():
        for line in artifact.embedded:
            parts = line.split()
            if len(parts) >= 3 and parts[0] in ("dep", "=>"):
                package = found.setdefault((parts[1], parts[2]), _Package(set(), set()))
                package.hashes.update(part for part in parts[3:4] if part.startswith("h1:"))
                package.sources.add(artifact.name)
    return found


def render(config: Config, manifest: Manifest | None, epoch: int, dist: Path | None = None) -> tuple[bytes, int, int]:
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    name = config.project_name or config.root.name
    version = (manifest.project.get("version") if manifest else None) or config.version or config.project_version
    bom = Bom()
    bom.metadata.timestamp = datetime.fromtimestamp(epoch, timezone.utc)
    root = Component(name=name, version=version, type=ComponentType.APPLICATION, bom_ref=f"project:{name}")
    bom.metadata.component = root
    bom.metadata.tools.components.add(
        Component(name="reprotasks", version=__version__, type=ComponentType.APPLICATION, bom_ref="tool:reprotasks")
    )
    components: list[Component] = []
    python = python_packages(config, manifest)
    for (package, pinned), found in sorted(python.items()):
        purl = PackageURL(type="pypi", name=package, version=pinned)
        components.append(
            Component(
                name=package,
                version=pinned,
                purl=purl,
                bom_ref=str(purl),
                hashes=[HashType(alg=HashAlgorithm.SHA_256, content=digest) for digest in sorted(found.hashes)],
                properties=[Property(name="reprotasks:locked-in", value=source) for source in sorted(found.sources)],
            )
        )
    go = go_modules(config, manifest)
    for (module, pinned), found in sorted(go.items()):
        namespace, _, last = module.rpartition("/")
        purl = PackageURL(type="golang", namespace=namespace or None, name=last, version=pinned)
        properties = [Property(name="reprotasks:go-sum", value=h) for h in sorted(found.hashes)]
        properties += [Property(name="reprotasks:seen-in", value=source) for source in sorted(found.sources)]
        components.append(Component(name=module, version=pinned, purl=purl, bom_ref=str(purl), properties=properties))
    for artifact in manifest.artifacts if manifest is not None else ():
        if artifact.kind == "oci-image" and artifact.image:
            # The image by digest (pkg:oci), as registries and scanners name it.
            image_name = artifact.name.removesuffix(".oci.tar").rsplit("_", 1)[0]
            purl = PackageURL(type="oci", name=image_name, version=artifact.image)
            components.append(
                Component(
                    name=image_name,
                    version=version,
                    type=ComponentType.CONTAINER,
                    purl=purl,
                    bom_ref=str(purl),
                    hashes=[HashType(alg=HashAlgorithm.SHA_256, content=artifact.image.removeprefix("sha256:"))],
                    properties=[
                        Property(name="reprotasks:file", value=artifact.name),
                        Property(name="reprotasks:platforms", value=artifact.platform),
                    ],
                )
            )
    components += _package_components(config, manifest, str(version or ""), dist)
    for component in components:
        bom.components.add(component)
    bom.register_dependency(root, components)
    # The serial number is a hash of everything else, so equal content means an equal file.
    bom.serial_number = uuid.UUID(int=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "incomplete dependency graph" notes: we only know the flat set
        draft = JsonV1Dot6(bom).output_as_string(indent=2)
        bom.serial_number = uuid.uuid5(_SERIAL_NAMESPACE, hashlib.sha256(draft.encode()).hexdigest())
        text = JsonV1Dot6(bom).output_as_string(indent=2)
    # Names, versions and properties come from locks and go.sum: a credential there must not ship here.
    return (mask(text) + "\n").encode(), len(python), len(go)


def _package_components(config: Config, manifest: Manifest | None, version: str, dist: Path | None) -> list[Any]:
    """Each .deb and .rpm (pkg:deb, pkg:rpm) with what it installs, as its configuration made it
    (the package itself was re-made from that configuration and the checked build): a Python app
    as its directory, its console scripts and the wheel and lock it installs there."""
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.component import Component, ComponentType
    from packageurl import PackageURL

    found: list[Any] = []
    if manifest is None:
        return found
    packages = {package.name: package for package in config.packages}
    for artifact in manifest.artifacts:
        package = packages.get(artifact.package or "")
        if artifact.kind != "linux-package" or package is None:
            continue
        kind = "deb" if artifact.name.endswith(".deb") else "rpm"
        arch = artifact.name.rsplit("_", 1)[1].removesuffix(".deb") if kind == "deb" else artifact.name.split(".")[-2]

        epoch, upstream = package_version(version)
        full = f"{epoch}:{upstream}-1" if epoch else f"{upstream}-1"
        purl = PackageURL(type=kind, name=package.name, version=full, qualifiers={"arch": arch})
        built = sorted(
            config.go.binary_names.get(record.package, record.package)
            for record in manifest.artifacts
            if record.kind == "go-archive" and record.platform == artifact.platform and record.package
        )
        installs = [f"/usr/bin/{name}" for name in (built if package.every_binary else package.binaries)]
        installs += sorted(package.files)
        if package.unit_destination is not None:
            installs.append(package.unit_destination)
        app = _app_properties(config, manifest, package, dist)
        if package.requirements is not None:
            installs.append(f"/opt/{package.name}/lib/")
        found.append(
            Component(
                name=package.name,
                version=full,
                type=ComponentType.APPLICATION,
                purl=purl,
                bom_ref=str(purl),
                hashes=[HashType(alg=HashAlgorithm.SHA_256, content=artifact.sha256)],
                properties=[
                    Property(name="reprotasks:file", value=artifact.name),
                    Property(name="reprotasks:platforms", value=artifact.platform),
                    *(Property(name="reprotasks:installs", value=path) for path in installs),
                    *(Property(name=name, value=value) for name, value in app),
                ],
            )
        )
    return found


def _app_properties(
    config: Config, manifest: Manifest, package: PackageConfig, dist: Path | None
) -> list[tuple[str, str]]:
    """A package's Python app: its console scripts (installed in /usr/bin), the wheel and the lock."""
    from reprotasks.artifacts.wheel_install import console_scripts

    if package.requirements is None:
        return []
    wheels = [record.name for record in manifest.artifacts if record.kind == "wheel"]
    scripts = console_scripts(dist / wheels[0]) if dist is not None and len(wheels) == 1 else []
    return [
        *(("reprotasks:installs", f"/usr/bin/{script}") for script in scripts),
        *(("reprotasks:python-app", wheel) for wheel in wheels),
        ("reprotasks:python-lock", config.rel(package.requirements)),
    ]


def sbom(
    config: Config, dist: DistDir, *, derived: Derivations, runner: Runner | None = None, trust_cache: bool = True
) -> SbomResult:
    runner = runner or Runner(config.root, log=lambda _line: None)
    # The module graph of each binary comes from the binary, checked against manifest.json.
    trusted = trusted_manifest(config, dist, runner=runner, step="sbom", derived=derived, trust_cache=trust_cache)
    data, python, go = rendered(config, trusted, dist.path, runner=runner)
    target = dist / SBOM_NAME
    write_atomic(target, data)
    return SbomResult(target, python, go)


def rendered(config: Config, trusted: Trusted, dist: Path, *, runner: Runner) -> tuple[bytes, int, int]:
    """The SBOM of a checked dist/ (its bytes, Python and Go component counts): what ``sbom`` writes,
    and what ``provenance`` requires sbom.cdx.json to be before naming it as a subject."""
    manifest = trusted.manifest
    _require_committed(config, trusted.source, runner, manifest)
    return render(config, manifest, int(manifest.source.get("source_date_epoch") or 0), dist)


def _require_committed(config: Config, source: _source.Source, runner: Runner, manifest: Manifest) -> None:
    """The SBOM reads the locks, the tool locks and go.sum: they must be the committed ones (what was
    built). A build lock the build did not use (it recorded resolved requirements) is not read."""
    unread = config.python.build_lock if recorded_lock(manifest.python) is not None else None
    paths = [lock.output for lock in config.python.all_locks if lock is not unread]
    paths += [tool_lock.path for tool_lock in toollocks.tool_locks(config)]
    if config.go.module is not None:
        paths.append(config.go.module / "go.sum")
    for path in paths:
        if not path.is_file():
            continue
        committed = _source.committed_bytes(source, config.rel(path), runner=runner)
        if committed is None:
            raise ReprotasksError(
                f"{config.rel(path)} is not in the commit that was built: the SBOM lists only committed locks",
                hint=f"`git add {config.rel(path)}` and commit it, then build again (or remove it)",
            )
        if committed != path.read_bytes():
            raise ReprotasksError(
                f"{config.rel(path)} has uncommitted changes: the SBOM must describe the commit that was built",
                hint=f"commit it and rebuild, or restore it (`git checkout -- {config.rel(path)}`)",
            )
