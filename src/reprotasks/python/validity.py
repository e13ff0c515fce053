"""Is this file really an sdist or a wheel of the project? Checks that need no rebuild.

An attestation names a wheel and an sdist by digest; before that, each must be what its name
says: a wheel whose name and ``METADATA`` give the project's name and version and whose
``RECORD`` lists every member with its sha256 and size (and nothing else); an sdist whose
members all sit under ``NAME-VERSION/``, whose ``PKG-INFO`` agrees, and whose headers are
canonical (what ``build`` leaves after its re-pack). Anything else is a problem, said in words.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import tarfile
import zipfile
from email.parser import HeaderParser
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from reprotasks.errors import ReprotasksError
from reprotasks.python.sdist import problems as sdist_header_problems

_MAX_METADATA = 1 << 20  # METADATA, PKG-INFO and RECORD larger than this are not a build backend's
_SIGNATURES = (".dist-info/RECORD.jws", ".dist-info/RECORD.p7s")


def _metadata_problems(text: bytes, name: str, version: str, where: str) -> list[str]:
    headers = HeaderParser().parsestr(text.decode("utf-8", errors="replace"))
    found_name, found_version = headers.get("Name"), headers.get("Version")
    problems = []
    if found_name is None or canonicalize_name(found_name) != canonicalize_name(name):
        problems.append(f"{where} names the project {found_name!r}, the file name says {name!r}")
    if found_version is None or not same_version(found_version, version):
        problems.append(f"{where} says version {found_version!r}, the file name says {version!r}")
    return problems


def wheel_problems(path: Path, project: str | None) -> list[str]:
    """Why ``path`` is not a valid wheel of ``project``; empty when it is."""
    try:
        name, version, _build, _tags = parse_wheel_filename(path.name)
    except InvalidWheelFilename as exc:
        return [f"is not a wheel file name ({exc})"]
    problems = []
    if project is not None and name != canonicalize_name(project):
        problems.append(f"is a wheel of {name!r}, but the project is {project!r}")
    try:
        with zipfile.ZipFile(path) as wheel:
            problems += _wheel_members(wheel, path.name, str(version))
    except (OSError, zipfile.BadZipFile, EOFError, KeyError, ValueError) as exc:
        problems.append(f"is not a readable wheel ({exc})")
    return problems


def _wheel_members(wheel: zipfile.ZipFile, file_name: str, version: str) -> list[str]:
    infos = wheel.infolist()
    names = [info.filename for info in infos if not info.is_dir()]
    if len(set(names)) != len(names):
        return ["holds the same member twice"]
    distribution = file_name.split("-")[0]
    info_dir, layout_problem = _dist_info(names, distribution, version)
    if layout_problem is not None:
        return [layout_problem]
    problems = _metadata_problems(_read(wheel, f"{info_dir}/METADATA"), distribution, version, "its METADATA")
    record_name = f"{info_dir}/RECORD"
    listed, record_problem = _record_entries(wheel, record_name)
    if record_problem is not None:
        return [record_problem]
    for member in sorted(set(names) | set(listed)):
        if member == record_name or member.endswith(_SIGNATURES):
            continue
        problem = _member_problem(wheel, member, names, listed)
        if problem is not None:
            problems.append(problem)
    return problems


def _dist_info(names: list[str], distribution: str, version: str) -> tuple[str, str | None]:
    """(the wheel's one .dist-info directory, or the problem that it has none with METADATA, WHEEL, RECORD)."""
    dist_infos = sorted({item.split("/")[0] for item in names if item.split("/")[0].endswith(".dist-info")})
    expected = f"{distribution}-{version}.dist-info"
    if len(dist_infos) != 1 or not _names_release(dist_infos[0].removesuffix(".dist-info"), distribution, version):
        return "", f"has the .dist-info directories {dist_infos}, expected exactly {expected}"
    info_dir = dist_infos[0]
    for required in ("METADATA", "WHEEL", "RECORD"):
        if f"{info_dir}/{required}" not in names:
            return info_dir, f"has no {info_dir}/{required}"
    return info_dir, None


def _record_entries(wheel: zipfile.ZipFile, record_name: str) -> tuple[dict[str, tuple[str, str]], str | None]:
    """(member -> (hash, size) as RECORD lists them, or the problem of a malformed RECORD)."""
    listed: dict[str, tuple[str, str]] = {}
    for row in csv.reader(io.StringIO(_read(wheel, record_name).decode("utf-8", errors="replace"))):
        if not row:
            continue
        if len(row) != 3 or row[0] in listed:
            return listed, f"{record_name} has a malformed or repeated line {row[:1]!r}"
        listed[row[0]] = (row[1], row[2])
    return listed, None


def _member_problem(
    wheel: zipfile.ZipFile, member: str, names: list[str], listed: dict[str, tuple[str, str]]
) -> str | None:
    """How ``member`` disagrees with its RECORD entry (unlisted, absent, unhashed, other bytes), if it does."""
    if member not in listed:
        return f"holds {member!r}, which its RECORD does not list"
    if member not in names:
        return f"its RECORD lists {member!r}, which it does not hold"
    digest, size = listed[member]
    algorithm, _, encoded = digest.partition("=")
    if algorithm != "sha256":
        return f"its RECORD gives {member!r} no sha256 ({algorithm or 'no hash'})"
    hasher = hashlib.sha256()
    with wheel.open(member) as handle:
        while chunk := handle.read(1 << 20):
            hasher.update(chunk)
    actual = base64.urlsafe_b64encode(hasher.digest()).rstrip(b"=").decode()
    if actual != encoded or str(wheel.getinfo(member).file_size) != size:
        return f"{member!r} does not match its RECORD entry (sha256 or size)"
    return None


def same_version(first: str, second: str) -> bool:
    """PEP 440 equality (`1.0` == `1.0.0`), or plain equality for versions PEP 440 cannot read."""
    try:
        return Version(first) == Version(second)
    except InvalidVersion:
        return first == second


def _names_release(stem: str, name: str, version: str) -> bool:
    found_name, _, found_version = stem.rpartition("-")
    try:
        return canonicalize_name(found_name) == canonicalize_name(name) and Version(found_version) == Version(version)
    except InvalidVersion:
        return False


def _read(wheel: zipfile.ZipFile, member: str) -> bytes:
    with wheel.open(member) as handle:
        data = handle.read(_MAX_METADATA + 1)
    if len(data) > _MAX_METADATA:
        raise ValueError(f"{member} is larger than {_MAX_METADATA} bytes")
    return data


def sdist_problems(path: Path, project: str | None, epoch: int) -> list[str]:
    """Why ``path`` is not a canonical sdist of ``project``; empty when it is."""
    try:
        name, version = parse_sdist_filename(path.name)
    except InvalidSdistFilename as exc:
        return [f"is not an sdist file name ({exc})"]
    problems = []
    if project is not None and name != canonicalize_name(project):
        problems.append(f"is an sdist of {name!r}, but the project is {project!r}")
    top = path.name.removesuffix(".tar.gz")
    try:
        with open(path, "rb") as raw:
            if raw.read(2) != b"\x1f\x8b":
                return [*problems, "is not a gzip file"]
        with tarfile.open(path, "r:gz") as archive:
            members = archive.getmembers()
            outside = [info.name for info in members if info.name != top and not info.name.startswith(f"{top}/")]
            if outside:
                problems.append(f"holds {outside[0]!r}, outside {top}/")
            pkg_info = next((info for info in members if info.name == f"{top}/PKG-INFO" and info.isfile()), None)
            if pkg_info is None or pkg_info.size > _MAX_METADATA:
                problems.append(f"has no {top}/PKG-INFO")
            else:
                handle = archive.extractfile(pkg_info)
                assert handle is not None  # a regular file always has data
                with handle:
                    problems += _metadata_problems(handle.read(), name, str(version), "its PKG-INFO")
        problems += [f"is not canonical: {problem}" for problem in sdist_header_problems(path, epoch)[:3]]
    except (OSError, EOFError, tarfile.TarError) as exc:
        problems.append(f"is not a readable sdist ({exc})")
    except ReprotasksError as exc:  # the header check: a device, FIFO or other special member
        problems.append(exc.message)
    return problems
