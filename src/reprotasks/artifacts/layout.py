"""The release layout rule: what a release directory (dist/) may hold, and how it is read.

A release directory is flat and holds exactly:

- the files SHA256SUMS lists (the artifacts, manifest.json, the SBOM),
- ``SHA256SUMS`` and its bundle ``SHA256SUMS.sigstore.json``,
- ``provenance.intoto.json`` and its bundle ``provenance.intoto.json.sigstore.json``,
- ``<artifact>.sigstore.json`` for artifacts SHA256SUMS lists,
- ``<wheel or sdist>.publish.attestation`` (PEP 740) for wheels and sdists SHA256SUMS lists.

Anything else (a hidden file, another ``SHA256SUMS.*``, a subdirectory, a symlink, a bundle
for an unlisted file, a FIFO) is a finding. Files are opened without following symlinks and
must be regular files, so no step ever reads, hashes or prints a file outside the directory.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterable, Iterator, Set
from pathlib import Path

from reprotasks._files import sha256_stream
from reprotasks.errors import Finding, ReprotasksError

SUMS_NAME = "SHA256SUMS"
PROVENANCE_NAME = "provenance.intoto.json"
SBOM_NAME = "sbom.cdx.json"
BUNDLE_SUFFIX = ".sigstore.json"
ATTESTATION_SUFFIX = ".publish.attestation"  # PEP 740, as twine and PyPI name it
IMAGE_SUFFIX = ".oci.tar"  # an OCI image layout, as one tar
MAX_NAME_BYTES = 255  # the longest file name Linux, macOS and Windows file systems accept

_DRIVE = re.compile(r"^[A-Za-z]:")
_RELAYOUT = (
    "a release directory holds only the files SHA256SUMS lists, SHA256SUMS, the provenance, bundles and PEP 740 "
    "attestations"
)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class NotRegularFile(OSError):
    """A path that is a symlink, a directory or a special file where a regular file must be."""


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a release file's name, or None when it can.

    The one rule every step applies (checksum, assemble, manifests, SHA256SUMS lines): a plain
    file name directly in dist/, valid UTF-8, no path separator, no control character.
    """
    if not name:
        return "is empty"
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    if name in (".", ".."):
        return "is a directory reference, not a file name"
    if name.startswith("/") or _DRIVE.match(name):
        return "is an absolute path: names are relative to the release directory"
    if "/" in name:
        return "contains `/`: release files sit directly in the release directory (no subdirectories)"
    if "\\" in name:
        return "contains a backslash"
    if _CONTROL.search(name):
        return "contains a control character (newline, carriage return, tab, ...)"
    if name.startswith("."):
        return "is a hidden file"
    if len(encoded) > MAX_NAME_BYTES:
        return f"is longer than {MAX_NAME_BYTES} bytes"
    return None


def is_metadata_name(name: str) -> bool:
    """Names reserved for what describes the artifacts (never an artifact themselves)."""
    return (
        name in (SUMS_NAME, PROVENANCE_NAME)
        or name.startswith(f"{SUMS_NAME}.")
        or name.endswith((BUNDLE_SUFFIX, ATTESTATION_SUFFIX))
    )


def written_after_build(name: str) -> bool:
    """SHA256SUMS, the provenance, the SBOM and their bundles: outputs of the steps after build, which
    no longer describe dist/ once its artifacts change (those steps write them again)."""
    return is_metadata_name(name) or name == SBOM_NAME


def artifact_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be listed in SHA256SUMS (or a manifest), or None when it can."""
    problem = name_problem(name)
    if problem is None and is_metadata_name(name):
        problem = "is reserved for signatures, checksums or provenance, not an artifact"
    return problem


def shown(name: str) -> str:
    """A name as messages show it: quoted, control characters and bad bytes escaped."""
    text = repr(name)
    return text if len(text) <= 120 else text[:100] + "...'"


_READ_REGULAR = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def open_regular(path: Path | str, *, dir_fd: int | None = None) -> int:
    """An fd for reading ``path`` (relative to ``dir_fd`` when given), which must be a regular file
    and not a symlink."""
    fd = os.open(path, _READ_REGULAR, dir_fd=dir_fd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile(f"{path} is not a regular file")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def kind_of(path: Path) -> str | None:
    """None for a regular file; else what it is ("a symlink", "a directory", ...); "missing" if absent."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "a symlink"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "a special file (FIFO, socket or device)"


def directory_problem(path: Path) -> str | None:
    """None when ``path`` is a real directory (not a symlink); else what it is instead.

    "does not exist", or "is not a directory (it is a regular file)" and the like: a release
    directory that is a file must never be reported as missing.
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return "does not exist"
    except NotADirectoryError:
        return "does not exist (a parent of it is a file)"
    if stat.S_ISDIR(mode):
        return None
    if stat.S_ISLNK(mode):
        return "is not a directory (it is a symlink)"
    if stat.S_ISREG(mode):
        return "is not a directory (it is a regular file)"
    return "is not a directory (it is a special file: FIFO, socket or device)"


def require_directory(path: Path, shown_path: str, *, hint: str) -> None:
    """ReprotasksError naming ``shown_path`` unless it is a real directory."""
    problem = directory_problem(path)
    if problem is not None:
        raise ReprotasksError(f"{shown_path}: {problem}", hint=hint)


def read_regular(path: Path) -> bytes:
    """The bytes of a regular file, never following a symlink."""
    with os.fdopen(open_regular(path), "rb") as handle:
        return handle.read()


def sha256_regular(path: Path) -> str:
    """Streaming SHA-256 of a regular file, never following a symlink."""
    with os.fdopen(open_regular(path), "rb") as handle:
        return sha256_stream(handle)


def image_subject_name(file_name: str) -> str:
    """How statements name the image an ``NAME_VERSION.oci.tar`` holds: by its package URL (as the
    SBOM does), since the digest is the image's (its index), not the file's."""
    return "pkg:oci/" + file_name.removesuffix(IMAGE_SUFFIX).rsplit("_", 1)[0]


def layout_image(path: Path) -> str | None:
    """The digest of the one image the OCI layout tar at ``path`` names in its ``index.json`` (None
    when it is not such a layout). Reads that member only, never following a symlink."""
    import json
    import tarfile

    try:
        with os.fdopen(open_regular(path), "rb") as handle, tarfile.open(fileobj=handle, mode="r:") as archive:
            for member in archive:
                if member.name == "index.json" and member.isfile() and member.size < 1 << 20:
                    extracted = archive.extractfile(member)
                    if extracted is None:
                        return None
                    (entry,) = json.loads(extracted.read())["manifests"]
                    digest = entry["digest"]
                    return digest if isinstance(digest, str) and digest.startswith("sha256:") else None
    except (OSError, EOFError, ValueError, TypeError, KeyError, tarfile.TarError):
        return None
    return None


def sha256_at(dir_fd: int, name: str, buffer: bytearray) -> str:
    """Streaming SHA-256 of the regular file ``name`` in the directory ``dir_fd`` (never a symlink),
    read through ``buffer`` so hashing many files allocates nothing per read."""
    digest = hashlib.sha256()
    view = memoryview(buffer)
    with os.fdopen(open_regular(name, dir_fd=dir_fd), "rb", buffering=0) as handle:
        while count := handle.readinto(buffer):
            digest.update(view[:count])
    return digest.hexdigest()


def entries(directory: Path) -> Iterator[os.DirEntry[str]]:
    """The directory's entries, sorted byte-wise by name (non-UTF-8 names included)."""
    with os.scandir(directory) as scan:
        found = list(scan)
    yield from sorted(found, key=lambda entry: os.fsencode(entry.name))


def entry_problem(entry: os.DirEntry[str]) -> str | None:
    """None for a regular file; else what makes this entry unacceptable in a release directory."""
    if entry.is_symlink():
        return "is a symlink: a release holds regular files only"
    if entry.is_dir(follow_symlinks=False):
        return "is a subdirectory: a release directory is flat"
    if not entry.is_file(follow_symlinks=False):
        return "is not a regular file (FIFO, socket or device)"
    return None


def unexpected_findings(
    directory: Path,
    listed: Set[str],
    shown_dir: str,
    *,
    require_provenance: bool = False,
    scanned: Iterable[os.DirEntry[str]] | None = None,
) -> list[Finding]:
    """Every entry of ``directory`` that is neither listed nor known metadata.

    ``listed`` are the names SHA256SUMS lists (checked elsewhere, with their digests, and passed
    the name rule on the way in). ``scanned`` is the directory's entries when the caller has
    read them already.
    """
    findings: list[Finding] = []
    names = set()
    for entry in entries(directory) if scanned is None else scanned:
        name = entry.name
        names.add(name)
        if name in listed:
            continue  # its name passed the rule where it was listed; its kind is reported there
        where = f"{shown_dir}/{shown(name)[1:-1]}"
        problem = name_problem(name)
        if problem is not None:
            findings.append(Finding(where, None, f"file name {shown(name)} {problem}", _remove(shown_dir)))
            continue
        kind = entry_problem(entry)
        if kind is not None:
            if name == SUMS_NAME:
                continue  # reported where SHA256SUMS is read
            findings.append(Finding(where, None, kind, _remove(shown_dir)))
            continue
        if name in (SUMS_NAME, PROVENANCE_NAME):
            continue
        if name.endswith(BUNDLE_SUFFIX):
            target = name[: -len(BUNDLE_SUFFIX)]
            if target in listed or target in (SUMS_NAME, PROVENANCE_NAME):
                continue  # a bundle of a missing provenance is reported by the signature check
            findings.append(
                Finding(
                    where,
                    None,
                    f"is a bundle for {shown(target)}, which {SUMS_NAME} does not list",
                    f"remove it, or list {shown(target)} by running `reprotasks checksum` again; " + _RELAYOUT,
                )
            )
            continue
        if name.endswith(ATTESTATION_SUFFIX):
            target = name[: -len(ATTESTATION_SUFFIX)]
            if target in listed and target.endswith((".whl", ".tar.gz")):
                continue
            findings.append(
                Finding(
                    where,
                    None,
                    f"is a PEP 740 attestation for {shown(target)}, which {SUMS_NAME} does not list as a wheel "
                    "or sdist",
                    f"remove it, or list {shown(target)} by running `reprotasks checksum` again; " + _RELAYOUT,
                )
            )
            continue
        if name.startswith(f"{SUMS_NAME}."):
            findings.append(
                Finding(
                    where,
                    None,
                    f"is not part of a release: only {SUMS_NAME} and {SUMS_NAME}{BUNDLE_SUFFIX} are",
                    _remove(shown_dir),
                )
            )
            continue
        findings.append(
            Finding(
                where,
                None,
                f"is not listed in {SUMS_NAME}",
                f"remove it, or run `reprotasks checksum` (and sign again) if it belongs to the release; {_RELAYOUT}",
            )
        )
    if require_provenance and PROVENANCE_NAME not in names:
        findings.append(
            Finding(
                f"{shown_dir}/{PROVENANCE_NAME}",
                None,
                "missing: the release policy requires signed provenance",
                "publish provenance.intoto.json and its bundle with the release (`reprotasks provenance` then "
                "`reprotasks sign`), or set `sign.require-provenance = false` for releases without it",
            )
        )
    return findings


def _remove(shown_dir: str) -> str:
    return (
        f"remove it from {shown_dir}/: no release step writes it, so it must not be published or trusted; {_RELAYOUT}"
    )
