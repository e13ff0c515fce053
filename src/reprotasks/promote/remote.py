"""The promotion ledger kept in an OCI registry (`promote.registry`), for teams without a ledger branch.

The whole ledger directory is one OCI artifact (artifactType ``LEDGER_TYPE``): an empty config
and one layer per file (``ledger.jsonl``, ``vsa/<sha256>.sigstore.json``), each titled by its
path, tagged ``ledger``. Every command pulls it first: a registry ledger that extends the local
one is adopted (VSAs first, then the ledger file, each written atomically), one that the local
ledger extends is left for the next promotion to push, anything else is a fork and refused.
Nothing is trusted for coming from the registry: what is pulled is then checked like a local
ledger (chain, every VSA, see ``trail``). Registries have no compare-and-swap, so a promotion
checks just before it appends that the tag still names what it pulled; two promotions racing in
the moment between that check and the push make a fork, which the next pull refuses (never a
silent loss).
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

from reprotasks._files import write_atomic
from reprotasks._run import Runner
from reprotasks.errors import ReprotasksError
from reprotasks.image import oci
from reprotasks.promote.ledger import LEDGER_NAME, VSA_DIR

LEDGER_TYPE = "application/vnd.reprotasks.promotion-ledger.v1+json"
FILE_TYPE = "application/vnd.reprotasks.promotion-ledger.file.v1"
EMPTY = "application/vnd.oci.empty.v1+json"
TAG = "ledger"
_TITLE = "org.opencontainers.image.title"
_VSA_NAME = re.compile(r"^vsa/[0-9a-f]{64}\.sigstore\.json$")
_LOGIN = "check the repository name and your credentials (`crane auth login REGISTRY`, or ~/.docker/config.json)"


def remote_digest(repository: str, runner: Runner) -> str | None:
    """The digest the `ledger` tag names, or None when the registry has no ledger yet."""
    result = runner.run(
        ["crane", "digest", f"{repository}:{TAG}"], cwd=runner.root, check=False, quiet=True, purpose="read the ledger"
    )
    if result.returncode == 0:
        return result.stdout.strip()
    if any(word in result.stderr for word in ("MANIFEST_UNKNOWN", "NAME_UNKNOWN", "404")):
        return None
    last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
    raise ReprotasksError(f"cannot read the ledger {repository}:{TAG}: {last}", hint=_LOGIN)


def pull(repository: str, directory: Path, shown: str, runner: Runner) -> str | None:
    """Bring the registry's ledger into ``directory`` when it extends the local one; its digest."""
    digest = remote_digest(repository, runner)
    if digest is None:
        return None
    files = _fetch_files(repository, digest, runner)
    remote = files.get(LEDGER_NAME, b"")
    path = directory / LEDGER_NAME
    try:
        local = path.read_bytes()
    except FileNotFoundError:
        local = b""
    except OSError as exc:
        raise ReprotasksError(f"{shown}/{LEDGER_NAME}: {exc.strerror or exc}", hint="restore the ledger") from None
    if local.startswith(remote):
        return digest  # the same, or the local ledger has entries still to push
    if not remote.startswith(local):
        raise ReprotasksError(
            f"the ledger in {repository}:{TAG} and {shown}/{LEDGER_NAME} have forked: neither extends the other",
            hint="two promotions were recorded from the same point; keep one history: compare them (`reprotasks "
            "status` with and without REPROTASKS_PROMOTE_REGISTRY=''), move the other ledger aside and promote its "
            "release again",
        )
    (directory / VSA_DIR).mkdir(parents=True, exist_ok=True)
    for name, data in sorted(files.items()):
        if name != LEDGER_NAME and not (directory / name).exists():
            write_atomic(directory / name, data)
    write_atomic(path, remote)  # last: every entry it adds has its VSA in place already
    return digest


def _fetch_files(repository: str, digest: str, runner: Runner) -> dict[str, bytes]:
    manifest_bytes = runner.output_bytes(
        ["crane", "manifest", f"{repository}@{digest}"], cwd=runner.root, purpose="read the ledger"
    )
    where = f"{repository}@{digest}"
    if oci.sha256_digest(manifest_bytes) != digest:
        raise ReprotasksError(f"{where}: the registry served a manifest with another digest", hint=_LOGIN)
    try:
        manifest: Any = json.loads(manifest_bytes)
        if manifest.get("artifactType") != LEDGER_TYPE:
            raise ValueError("not a reprotasks ledger")
        layers = [(str(layer["annotations"][_TITLE]), str(layer["digest"])) for layer in manifest["layers"]]
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise ReprotasksError(
            f"{where} is not a promotion ledger reprotasks pushed",
            hint="point `promote.registry` at the repository that holds the ledger (tag `ledger`)",
        ) from None
    files: dict[str, bytes] = {}
    for title, blob_digest in layers:
        if title != LEDGER_NAME and not _VSA_NAME.match(title):  # never a path of the registry's choosing
            raise ReprotasksError(f"{where} holds a file named {title!r}", hint="it is no ledger reprotasks pushed")
        data = runner.output_bytes(
            ["crane", "blob", f"{repository}@{blob_digest}"], cwd=runner.root, purpose="read the ledger"
        )
        if oci.sha256_digest(data) != blob_digest:
            raise ReprotasksError(f"{where}: the registry served {title} with another digest", hint=_LOGIN)
        files[title] = data
    return files


def push(repository: str, directory: Path, runner: Runner) -> str:
    """Push the ledger directory as the artifact tagged `ledger`; its digest."""
    vsas = sorted(f"{VSA_DIR}/{path.name}" for path in (directory / VSA_DIR).glob("*.sigstore.json"))
    files = [LEDGER_NAME, *(name for name in vsas if _VSA_NAME.match(name))]
    empty = oci.Blob(EMPTY, b"{}")
    blobs = [(name, oci.Blob(FILE_TYPE, (directory / name).read_bytes())) for name in files]
    layers = []
    for name, blob in blobs:
        descriptor = blob.descriptor()
        descriptor["annotations"] = {_TITLE: name}
        layers.append(descriptor)
    manifest = {
        "schemaVersion": 2,
        "mediaType": oci.MANIFEST,
        "artifactType": LEDGER_TYPE,
        "config": empty.descriptor(),
        "layers": layers,
    }
    manifest_blob = oci.Blob(oci.MANIFEST, oci.canonical_json(manifest))
    index = oci.Blob(oci.INDEX, oci.canonical_json({"schemaVersion": 2, "manifests": [manifest_blob.descriptor()]}))
    with tempfile.TemporaryDirectory(prefix="reprotasks-ledger-") as scratch:
        layout = Path(scratch)
        (layout / "blobs" / "sha256").mkdir(parents=True)
        (layout / "oci-layout").write_bytes(oci.LAYOUT_VERSION)
        (layout / "index.json").write_bytes(index.data)
        for blob in (empty, manifest_blob, *(blob for _name, blob in blobs)):
            (layout / "blobs" / "sha256" / blob.digest.removeprefix("sha256:")).write_bytes(blob.data)
        runner.run(["crane", "push", str(layout), f"{repository}:{TAG}"], cwd=runner.root, purpose="push the ledger")
    return manifest_blob.digest
