"""The cached build environment, and the check that it is still exactly what the lock says.

A cached environment is code that runs inside every build, so it never vouches for itself.
It keeps the wheels it was installed from; before each use:

- every kept wheel's sha256 must be one of its pin's hashes in the committed build lock, and
  every pin must have exactly one wheel (the lock is the anchor);
- every file in site-packages must be listed, with that hash and size, in the RECORD *inside*
  its wheel (not the installed RECORD, which anyone could rewrite with the file), apart from
  the installer's own notes in ``*.dist-info`` (INSTALLER, RECORD, REQUESTED, direct_url.json);
  nothing else may be there (no ``.pth``, no ``__pycache__``, no symlink);
- ``pyvenv.cfg`` must not include the system site-packages, and ``bin/python`` must be this
  interpreter.

Anything else and the environment is rebuilt. A lock pinning a package with no wheel (sdist
only) cannot be anchored this way: its environment is made fresh for each build instead.
"""

from __future__ import annotations

import base64
import csv
import email.parser
import hashlib
import io
import os
import re
import shutil
import stat
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement

from reprotasks import _cache
from reprotasks._run import Runner
from reprotasks.python.lockmodel import Pin
from reprotasks.python.resolve import find_uv

_INSTALLER_NOTES = frozenset({"INSTALLER", "RECORD", "REQUESTED", "direct_url.json", "uv_cache.json"})
_WHEEL_NAME = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-\d[^-]*)?-[^-]+-[^-]+-[^-]+\.whl$")
_ENV_DIR, _WHEELS_DIR = "venv", "wheels"


class Untrusted(Exception):
    """The environment does not match its lock; the message says where."""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def python_in(env: Path) -> Path:
    return env / _ENV_DIR / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def site_packages(env: Path) -> Path:
    relative = Path(sysconfig.get_path("purelib", vars={"base": ".", "platbase": "."}))
    return env / _ENV_DIR / relative


def create(target: Path, lock: Path, shown_lock: str, *, runner: Runner) -> bool:
    """Download the locked wheels and install them into ``target``; False if a pin has no wheel."""
    wheels = target / _WHEELS_DIR
    wheels.mkdir(parents=True)
    runner.run(
        [
            *(sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"),
            *("--require-hashes", "--no-deps", "--dest", str(wheels), "-r", str(lock)),
        ],
        cwd=target,
        purpose=f"download the locked build requirements of {shown_lock}",
    )
    anchored = all(path.name.endswith(".whl") for path in wheels.iterdir())
    env = target / _ENV_DIR
    # The standard library's venv: no pip, no activation .pth, nothing to trust but the wheels.
    runner.run([sys.executable, "-m", "venv", "--without-pip", str(env)], cwd=target)
    uv = find_uv(runner)
    python = python_in(target)
    if uv is not None:
        install = [uv, "pip", "install", "--quiet", "--python", str(python), "--no-compile"]
        if _cache.unwritable(_cache.resolver_cache("uv")) is not None:
            install.append("--no-cache")  # its cache only saves downloads; the wheels here are local
    else:
        install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-compile"]
        install.append("--disable-pip-version-check")
    runner.run(
        [*install, "--no-index", "--find-links", str(wheels), "--require-hashes", "--no-deps", "-r", str(lock)],
        cwd=target,
        env={"PYTHONDONTWRITEBYTECODE": "1"},
        purpose=f"install the locked build requirements from {shown_lock}",
    )
    return anchored


def verify(target: Path, pins: tuple[Pin, ...]) -> None:
    """Raise Untrusted unless ``target`` holds exactly the locked wheels, installed unmodified."""
    _check_interpreter(target)
    expected, dist_infos = _kept_wheels(target, pins)
    root = site_packages(target)
    found: set[str] = set()
    for directory, dirnames, filenames in os.walk(root):
        here = Path(directory)
        for name in [*dirnames, *filenames]:
            relative = _check_installed(here / name, root, expected, dist_infos)
            if relative is not None:
                found.add(relative)
    absent = sorted(expected.keys() - found)
    if absent:
        raise Untrusted(f"site-packages/{absent[0]} is missing")


def _kept_wheels(target: Path, pins: tuple[Pin, ...]) -> tuple[dict[str, tuple[str, int]], set[str]]:
    """(site-packages path -> (urlsafe-b64 sha256, size), the .dist-info directories) of the kept wheels,
    each checked to be the wheel of one pin with a hash the lock lists."""
    by_name = {pin.name: pin for pin in pins}
    seen: set[str] = set()
    expected: dict[str, tuple[str, int]] = {}
    dist_infos: set[str] = set()
    wheels = target / _WHEELS_DIR
    for entry in sorted(os.scandir(wheels), key=lambda item: item.name):
        if not entry.is_file(follow_symlinks=False):
            raise Untrusted(f"{_WHEELS_DIR}/{entry.name} is not a regular file")
        match = _WHEEL_NAME.match(entry.name)
        pin = by_name.get(canonical(match["name"])) if match else None
        if match is None or pin is None or pin.version != match["version"] or pin.name in seen:
            raise Untrusted(f"{_WHEELS_DIR}/{entry.name} is not a wheel of a pin of the lock")
        data = Path(entry.path).read_bytes()
        if f"sha256:{hashlib.sha256(data).hexdigest()}" not in pin.hashes:
            raise Untrusted(f"{_WHEELS_DIR}/{entry.name} has a sha256 the lock does not list for {pin.name}")
        seen.add(pin.name)
        record, dist_info = _wheel_record(data, entry.name)
        expected.update(record)
        dist_infos.add(dist_info)
    missing = sorted(by_name.keys() - seen)
    if missing:
        raise Untrusted(f"no wheel kept for {', '.join(missing)}")
    return expected, dist_infos


def _check_installed(path: Path, root: Path, expected: dict[str, tuple[str, int]], dist_infos: set[str]) -> str | None:
    """The site-packages path of a file that matches its wheel's RECORD (None for a directory or an
    installer's note); raise Untrusted for a symlink, a file of no wheel, or changed bytes."""
    mode = os.lstat(path).st_mode
    relative = path.relative_to(root).as_posix()
    if stat.S_ISLNK(mode):
        raise Untrusted(f"site-packages/{relative} is a symlink")
    if stat.S_ISDIR(mode):
        return None
    if relative not in expected:
        parent = PurePosixPath(relative).parent.as_posix()
        if parent in dist_infos and PurePosixPath(relative).name in _INSTALLER_NOTES:
            return None
        raise Untrusted(f"site-packages/{relative} comes from no locked wheel")
    digest, size = expected[relative]
    data = path.read_bytes()
    actual = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    if actual != digest or len(data) != size:
        raise Untrusted(f"site-packages/{relative} differs from its wheel")
    return relative


def _wheel_record(data: bytes, name: str) -> tuple[dict[str, tuple[str, int]], str]:
    """(site-packages path -> (hash, size) for every hashed RECORD entry, the .dist-info directory)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as wheel:
            records = [item for item in wheel.namelist() if item.endswith(".dist-info/RECORD") and item.count("/") == 1]
            if len(records) != 1:
                raise Untrusted(f"{name} has no single .dist-info/RECORD")
            text = wheel.read(records[0]).decode("utf-8")
    except (zipfile.BadZipFile, UnicodeDecodeError, KeyError) as exc:
        raise Untrusted(f"{name} is not a readable wheel ({exc})") from None
    dist_info = records[0].split("/", 1)[0]
    data_dir = dist_info.removesuffix(".dist-info") + ".data/"
    expected: dict[str, tuple[str, int]] = {}
    for row in csv.reader(text.splitlines()):
        if len(row) < 3 or not row[1]:
            continue  # RECORD itself (and signatures) carry no hash
        path, hashed, size = row[0], row[1], row[2]
        if path.startswith(data_dir):
            scheme, _, rest = path[len(data_dir) :].partition("/")
            if scheme not in ("purelib", "platlib"):
                continue  # scripts, headers, data: installed outside site-packages, never imported
            path = rest
        algorithm, _, digest = hashed.partition("=")
        if algorithm != "sha256" or not size.isdigit():
            raise Untrusted(f"{name}: RECORD entry {path} has no sha256 and size")
        expected[path] = (digest, int(size))
    return expected, dist_info


def _check_interpreter(target: Path) -> None:
    base = getattr(sys, "_base_executable", sys.executable)
    settings: dict[str, str] = {}
    cfg = target / _ENV_DIR / "pyvenv.cfg"
    if cfg.is_symlink() or not cfg.is_file():
        raise Untrusted("pyvenv.cfg is missing or a symlink")
    for line in cfg.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            settings[key.strip()] = value.strip()
    if settings.get("include-system-site-packages", "false").lower() != "false":
        raise Untrusted("pyvenv.cfg includes the system site-packages")
    # `home` tells the interpreter where its standard library is: it must be this interpreter's.
    home = os.path.realpath(settings.get("home", ""))
    if home not in (os.path.realpath(Path(base).parent), str(Path(os.path.realpath(base)).parent)):
        raise Untrusted(f"pyvenv.cfg points `home` at {settings.get('home')!r}, not at this interpreter")
    python = python_in(target)
    if os.path.realpath(python) != os.path.realpath(base):
        raise Untrusted(f"{python.name} is not this interpreter ({base})")


def closure_problems(target: Path, requirements: list[str]) -> list[str]:
    """What keeps the installed environment from being exactly the dependency closure of
    ``requirements`` (PEP 508 strings) for this interpreter: a requirement nothing satisfies, a
    version outside its specifier, a package nothing requires. Read from the installed METADATA."""
    installed: dict[str, tuple[str, list[Requirement]]] = {}
    for metadata in sorted(site_packages(target).glob("*.dist-info/METADATA")):
        message = email.parser.BytesParser().parsebytes(metadata.read_bytes(), headersonly=True)
        name, version = message.get("Name"), message.get("Version")
        if name and version:
            requires = []
            for line in message.get_all("Requires-Dist") or []:
                try:
                    requires.append(Requirement(line))
                except InvalidRequirement:
                    continue
            installed[canonical(name)] = (version, requires)
    problems: list[str] = []
    needed: dict[str, set[str]] = {}  # name -> extras already followed
    pending = [(Requirement(text), "") for text in requirements]
    while pending:
        requirement, wanted_by = pending.pop()
        if requirement.marker is not None and not any(
            requirement.marker.evaluate({"extra": extra}) for extra in wanted_by.split(",")
        ):
            continue
        name = canonical(requirement.name)
        if name not in installed:
            problems.append(f"nothing provides {requirement}")
            continue
        version, requires = installed[name]
        if not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{name} {version} does not satisfy {requirement}")
        followed = needed.get(name)
        extras = set(requirement.extras)
        if followed is not None and extras <= followed:
            continue
        needed[name] = (followed or set()) | extras
        selected = ",".join(sorted(needed[name]))
        pending += [(dependency, selected) for dependency in requires]
    problems += [
        f"{name} {installed[name][0]} is not required by anything" for name in sorted(installed.keys() - needed)
    ]
    return problems


def fresh_directory(home: Path, key: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{key}-", dir=home))


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
