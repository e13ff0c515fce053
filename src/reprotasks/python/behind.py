"""Direct requirements a new lock resolved far behind the newest version that fits them.

A resolver that backtracks to satisfy a conflicting pin can land on an ancient release (boto3
0.0.3 for an unconstrained `boto3`) and say nothing. After ``lock`` this asks the same index the
resolver used which versions exist, and names each direct requirement whose new pin is a whole
major version behind the newest release its specifier admits on this Python. Pins kept from the
previous lock are the user's choice (``--upgrade`` moves them) and are not looked at.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import re
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from reprotasks.python.lockfile import logical_lines, read_text

PYPI = "https://pypi.org/simple"
_TIMEOUT = 5.0  # a hint, not a guarantee: an index that does not answer quickly is not waited for
_HREF = re.compile(r"""<a\s[^>]*href=["']([^"'#]+)[^>]*>""", re.I)
_RUNNING = Version(".".join(str(part) for part in sys.version_info[:3]))


def direct_requirements(input_path: Path) -> dict[str, Requirement]:
    """The named requirements a ``requirements*.in`` lists itself (not those of its ``-r`` files)."""
    found: dict[str, Requirement] = {}
    for _number, line in logical_lines(read_text(input_path)):
        if line.startswith("-"):
            continue
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.url is None and (requirement.marker is None or requirement.marker.evaluate()):
            found[canonicalize_name(requirement.name)] = requirement
    return found


def far_behind(
    requirements: Mapping[str, Requirement],
    pinned: Mapping[str, str],
    *,
    index_urls: Iterable[str],
    find_links: Iterable[Path],
) -> list[tuple[str, str, str, str]]:
    """(name, pinned version, newest fitting version, specifier) for each of ``pinned`` that is a
    direct requirement a major version or more behind the newest release that fits it."""
    names = [name for name in pinned if name in requirements]
    if not names:
        return []
    urls = list(index_urls)
    links = list(find_links)
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(names))) as pool:
        offered = dict(zip(names, pool.map(lambda name: _offered(name, urls, links), names), strict=True))
    behind = []
    for name in names:
        try:
            locked = Version(pinned[name])
        except InvalidVersion:
            continue
        specifier = requirements[name].specifier
        fitting = [
            version
            for version in offered[name]
            if specifier.contains(version, prereleases=locked.is_prerelease or None)
            and (not version.is_prerelease or locked.is_prerelease)
        ]
        newest = max(fitting, default=None)
        if newest is not None and newest.major > locked.major:
            behind.append((name, str(locked), str(newest), str(specifier) or "any version"))
    return behind


def index_urls(index_url: str | None, extra: Iterable[str], no_index: bool) -> list[str]:
    """The indexes the resolver asked, as pip and uv pick them (the environment's when not configured)."""
    if no_index:
        return []
    main = index_url or os.environ.get("PIP_INDEX_URL") or os.environ.get("UV_INDEX_URL") or PYPI
    return [main, *extra, *os.environ.get("PIP_EXTRA_INDEX_URL", "").split()]


def _offered(name: str, urls: list[str], links: list[Path]) -> set[Version]:
    versions: set[Version] = set()
    for directory in links:
        versions |= {version for file, version in _files_in(directory) if file == name}
    for url in urls:
        versions |= _from_index(url, name)
    return versions


def _files_in(directory: Path) -> Iterable[tuple[str, Version]]:
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    return [parsed for entry in entries if (parsed := _parse_file_name(entry.name)) is not None]


def _parse_file_name(file_name: str) -> tuple[str, Version] | None:
    try:
        if file_name.endswith(".whl"):
            name, version, _build, _tags = parse_wheel_filename(file_name)
            return name, version
        if file_name.endswith((".tar.gz", ".zip")):
            return parse_sdist_filename(file_name)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return None


def _from_index(base: str, name: str) -> set[Version]:
    """Versions the simple index at ``base`` offers for ``name`` on this Python, yanked files left out
    (PEP 691 JSON, else the HTML page's links). Nothing when the index cannot be read."""
    url = f"{base.rstrip('/')}/{urllib.parse.quote(name)}/"
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        return set()
    accept = {"Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.1"}
    request = urllib.request.Request(url, headers=accept)  # noqa: S310 - http(s) only, checked above
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:  # noqa: S310 - the configured index
            body = response.read(32 * 1024 * 1024)
            kind = response.headers.get("Content-Type", "")
    except (OSError, ValueError):
        return set()
    if "json" in kind:
        try:
            files = json.loads(body).get("files", [])
        except (ValueError, AttributeError):
            return set()
        return {
            version
            for file in files
            if isinstance(file, dict)
            and not file.get("yanked")
            and _admits_running(file.get("requires-python"))
            and (parsed := _parse_file_name(str(file.get("filename", "")))) is not None
            and parsed[0] == name
            for version in (parsed[1],)
        }
    links = (urllib.parse.unquote(href.rpartition("/")[2]) for href in _HREF.findall(body.decode("utf-8", "replace")))
    return {parsed[1] for link in links if (parsed := _parse_file_name(link)) is not None and parsed[0] == name}


def _admits_running(requires_python: object) -> bool:
    if not isinstance(requires_python, str) or not requires_python.strip():
        return True
    try:
        return SpecifierSet(requires_python).contains(_RUNNING, prereleases=True)
    except InvalidSpecifier:
        return True
