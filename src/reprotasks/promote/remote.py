"""The promotion ledger kept in an OCI registry (`promote.registry`), for teams without a ledger branch.

The ledger is one OCI artifact (artifactType ``LEDGER_TYPE``): an empty config and one layer per
file (``ledger.jsonl``, and the ``vsa/<sha256>.sigstore.json`` of every entry), each titled by
its path, tagged ``ledger``. Every command fetches it first (``fetch``: each blob checked against
its digest, each VSA against the sha256 in its name, no other names); ``trail`` then adopts a
registry ledger that extends the local copy only once the extension verified (chain and VSAs),
so a hostile registry can neither poison the local copy nor write outside it. Registries have no
compare-and-swap: a promotion checks before it appends that the tag still names what it fetched,
and after pushing that the tag names what it pushed; a promotion that lost a race fails loudly.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reprotasks._run import Runner
from reprotasks.artifacts.layout import read_regular
from reprotasks.errors import ReprotasksError
from reprotasks.image import oci
from reprotasks.promote.ledger import LEDGER_NAME, VSA_DIR, Ledger

LEDGER_TYPE = "application/vnd.reprotasks.promotion-ledger.v1+json"
FILE_TYPE = "application/vnd.reprotasks.promotion-ledger.file.v1"
EMPTY = "application/vnd.oci.empty.v1+json"
TAG = "ledger"
_TITLE = "org.opencontainers.image.title"
_VSA_NAME = re.compile(r"vsa/([0-9a-f]{64})\.sigstore\.json")
_ABSENT = ("MANIFEST_UNKNOWN", "NAME_UNKNOWN")  # the registry's own codes (a GET has a body)
_LOGIN = "check the repository name and your credentials (`crane auth login REGISTRY`, or ~/.docker/config.json)"


@dataclass(frozen=True)
class Fetched:
    digest: str  # of the artifact's manifest, as the tag named it
    ledger: bytes
    vsas: dict[str, bytes]  # sha256 hex -> bundle bytes (the name is the content's digest)


def _manifest(repository: str, runner: Runner) -> bytes | None:
    result = runner.run(
        ["crane", "manifest", f"{repository}:{TAG}"],
        cwd=runner.root,
        check=False,
        quiet=True,
        purpose="read the ledger",
    )
    if result.returncode == 0:
        return result.stdout.encode()
    if any(code in result.stderr for code in _ABSENT):
        return None
    last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
    raise ReprotasksError(f"cannot read the ledger {repository}:{TAG}: {last}", hint=_LOGIN)


def remote_digest(repository: str, runner: Runner) -> str | None:
    """The digest of what the `ledger` tag names now, or None when the registry has no ledger."""
    manifest = _manifest(repository, runner)
    return None if manifest is None else oci.sha256_digest(manifest)


def fetch(repository: str, runner: Runner) -> Fetched | None:
    manifest_bytes = _manifest(repository, runner)
    if manifest_bytes is None:
        return None
    digest = oci.sha256_digest(manifest_bytes)
    where = f"{repository}:{TAG}"
    try:
        manifest: Any = json.loads(manifest_bytes)
        if manifest.get("artifactType") != LEDGER_TYPE:
            raise ValueError("not a reprotasks ledger")
        layers = [(str(layer["annotations"][_TITLE]), str(layer["digest"])) for layer in manifest["layers"]]
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise ReprotasksError(
            f"{where} is not a promotion ledger reprotasks pushed",
            hint="point `promote.registry` at the repository that holds the ledger (tag `ledger`), and keep image "
            "repositories apart from it",
        ) from None
    ledger = b""
    vsas: dict[str, bytes] = {}
    for title, blob_digest in layers:
        named = _VSA_NAME.fullmatch(title)
        if title != LEDGER_NAME and named is None:  # never a path of the registry's choosing
            raise ReprotasksError(f"{where} holds a file named {title!r}", hint="it is no ledger reprotasks pushed")
        data = runner.output_bytes(
            ["crane", "blob", f"{repository}@{blob_digest}"], cwd=runner.root, purpose="read the ledger"
        )
        actual = oci.sha256_digest(data)
        if actual != blob_digest or (named is not None and actual != f"sha256:{named.group(1)}"):
            raise ReprotasksError(f"{where}: the registry served {title} with another digest", hint=_LOGIN)
        if named is None:
            ledger = data
        else:
            vsas[named.group(1)] = data
    return Fetched(digest, ledger, vsas)


def push(repository: str, ledger: Ledger, runner: Runner) -> str:
    """Push ledger.jsonl and the VSA of every entry (regular files only) as the artifact tagged `ledger`."""
    empty = oci.Blob(EMPTY, b"{}")
    blobs = [(LEDGER_NAME, oci.Blob(FILE_TYPE, read_regular(ledger.path)))]
    for vsa in dict.fromkeys(entry.vsa for entry in ledger.entries):
        blobs.append((f"{VSA_DIR}/{vsa}.sigstore.json", oci.Blob(FILE_TYPE, read_regular(ledger.vsa_path(vsa)))))
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
        result = runner.run(
            ["crane", "push", str(layout), f"{repository}:{TAG}"], cwd=runner.root, check=False, quiet=True,
            purpose="push the ledger",
        )  # fmt: skip
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ReprotasksError(
            f"the entry is recorded in {ledger.shown}/ but could not be pushed to {repository}:{TAG}: {last}",
            hint="fix the registry access, then run the same command again: it pushes what the registry lacks",
        )
    if remote_digest(repository, runner) != manifest_blob.digest:
        raise ReprotasksError(
            f"another promotion replaced {repository}:{TAG} right after this one pushed: this entry is recorded only "
            f"in {ledger.shown}/, and the two ledgers have forked",
            hint="keep one history: run `reprotasks status` to see the registry's, then promote this release again",
        )
    return manifest_blob.digest
