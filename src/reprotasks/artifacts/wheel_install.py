"""The Python app of a build installed for a Linux platform: its wheel and committed hashed lock.

Images (``/app/site-packages``) and Linux packages (``/opt/NAME/lib``) carry the same install:
pip, for the target's platform tags and Python, with every requirement hash-checked, binary-only,
without byte-code (time stamps) or ``direct_url.json`` (a local path). The wheel is the one this
build made, checked against its manifest record; the lock is read from the release commit.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from reprotasks._distdir import DistDir
from reprotasks._run import Runner
from reprotasks.artifacts.manifest import ArtifactRecord, Manifest
from reprotasks.config import Config
from reprotasks.errors import CommandFailedError, ReprotasksError

# pip platform tags for a glibc system (python:3.x-slim, Debian 11+, RHEL 8+): manylinux 2014 to 2.28.
PIP_PLATFORMS = {
    "linux/amd64": ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64"),
    "linux/arm64": ("manylinux2014_aarch64", "manylinux_2_17_aarch64", "manylinux_2_28_aarch64"),
}


@dataclass(frozen=True)
class SiteFile:
    path: str  # relative to the install directory: "pkg/mod.py", "bin/script"
    data: bytes
    executable: bool


@dataclass(frozen=True)
class AppInstall:
    """What is installed, for whom: ``owner`` names it in messages ("image api", "package hybrid")."""

    owner: str
    requirements: Path
    python_version: str  # X.Y


def built_wheel(dist: DistDir, manifest: Manifest, owner: str) -> tuple[Path, ArtifactRecord]:
    """The one wheel of this build in dist/, checked against its manifest record."""
    from reprotasks.artifacts.layout import sha256_regular

    wheels = [record for record in manifest.artifacts if record.kind == "wheel"]
    if len(wheels) != 1:
        raise ReprotasksError(
            f"{owner}: the build made {len(wheels)} wheels, not one",
            hint="build the Python project (`reprotasks build`), then run this step again",
        )
    wheel = dist.path / wheels[0].name
    if sha256_regular(wheel) != wheels[0].sha256:
        raise ReprotasksError(
            f"{dist.rel(wheel)} is not the wheel manifest.json records",
            hint="run `reprotasks build` again: dist/ changed after it",
        )
    return wheel, wheels[0]


def committed_lock(config: Config, app: AppInstall, *, runner: Runner) -> tuple[str, bytes]:
    """(its path as shown, its committed bytes, as pip installs them) of the app's lock."""
    from reprotasks.artifacts import source as _source

    relative = config.rel(app.requirements)
    lock = _source.committed_bytes(_source.describe_source(config.root, runner=runner), relative, runner=runner)
    if lock is None:
        raise ReprotasksError(
            f"{app.owner}: {relative} is not in the commit: only the committed lock is installed",
            hint=f"commit {relative} (`reprotasks lock` writes it with hashes), then run this step again",
        )
    return relative, _as_requirements(relative, lock)


def _as_requirements(relative: str, lock: bytes) -> bytes:
    """A committed lock as pip installs it with hashes: a ``pylock.toml`` becomes its pins (the
    packages whose markers hold, as pip evaluates a requirements file's), one hashed line each."""
    from reprotasks.python.lockfile import canonical_text, is_pylock, parse_lock_text

    if not is_pylock(relative):
        return lock
    parsed = parse_lock_text(lock.decode("utf-8", "replace"), pylock=True)
    if parsed.problems:
        problem = parsed.problems[0]
        raise ReprotasksError(f"{relative}:{problem.line}: {problem.problem}", hint=problem.fix)
    return canonical_text(parsed.pins).encode()


def index_options(config: Config) -> list[str]:
    """pip's index options from [tool.reprotasks.python]."""
    index: list[str] = []
    if config.python.index_url:
        index += ["--index-url", config.python.index_url]
    for url in config.python.extra_index_urls:
        index += ["--extra-index-url", url]
    for place in config.python.find_links:
        index += ["--find-links", place]
    if config.python.no_index:
        index.append("--no-index")
    return index


def install_app(
    config: Config, dist: DistDir, manifest: Manifest, app: AppInstall, platform: str, *, runner: Runner
) -> list[SiteFile]:
    """The files pip installs of the build's wheel and the committed lock for ``platform``, sorted
    by path. Console scripts (``bin/``) keep pip's shebang (this machine's interpreter): the caller
    gives them the target's."""
    if platform not in PIP_PLATFORMS:
        raise ReprotasksError(
            f"{app.owner}: no wheel platform is known for {platform}",
            hint=f"use one of {', '.join(PIP_PLATFORMS)} for a Python app",
        )
    wheel, wheel_record = built_wheel(dist, manifest, app.owner)
    relative, lock = committed_lock(config, app, runner=runner)
    python = app.python_version.replace(".", "")
    with tempfile.TemporaryDirectory(prefix="reprotasks-python-app-") as scratch:
        requirements = Path(scratch) / "app-requirements.txt"
        requirements.write_bytes(lock + f"\n{wheel} --hash=sha256:{wheel_record.sha256}\n".encode())
        site = Path(scratch) / "site"
        try:
            runner.run(
                [
                    sys.executable, "-m", "pip", "install", "--no-deps", "--require-hashes", "--only-binary=:all:",
                    "--no-compile", "--disable-pip-version-check", "--no-input", "--target", str(site),
                    *(f"--platform={tag}" for tag in PIP_PLATFORMS[platform]),
                    f"--python-version={app.python_version}", "--implementation=cp",
                    f"--abi=cp{python}", "--abi=abi3", "--abi=none", *index_options(config), "-r", str(requirements),
                ],
                cwd=config.root,
                purpose=f"install {wheel_record.name} and {relative} for {app.owner} ({platform})",
            )  # fmt: skip
        except CommandFailedError as exc:
            raise CommandFailedError(
                f"{app.owner}: pip could not install {wheel_record.name} with {relative} for Python "
                f"{app.python_version} on {platform}",
                details=exc.details,
                hint=f"{relative} must pin every package with hashes (`reprotasks lock` writes it), for a Python "
                f"the project supports: `python-version` ({app.python_version}) is the servers' python3, and each "
                f"locked package needs a wheel for it on {platform}",
            ) from None
        return _site_files(site)


def _site_files(site: Path) -> list[SiteFile]:
    """What pip installed into ``site``: no byte-code, no direct_url.json, and RECORD files without
    the lines naming them or the scripts' place outside the directory."""
    files = []
    for path in sorted(site.rglob("*")):
        if not path.is_file() or path.is_symlink() or path.name == "direct_url.json" or path.suffix == ".pyc":
            continue
        data = path.read_bytes()
        if path.name == "RECORD" and path.parent.name.endswith(".dist-info"):
            data = b"".join(
                line
                for line in data.splitlines(keepends=True)
                if not line.startswith(b"../") and b"direct_url.json" not in line and b"__pycache__" not in line
            )
        files.append(SiteFile(path.relative_to(site).as_posix(), data, bool(path.stat().st_mode & 0o111)))
    return files


def exact_python(files: list[SiteFile]) -> bool:
    """Whether any installed distribution is built for one CPython's ABI (cpXY, not abi3): then
    the app runs on that Python minor version only."""
    for item in files:
        if item.path.endswith(".dist-info/WHEEL"):
            for line in item.data.decode("utf-8", "replace").splitlines():
                if line.startswith("Tag:"):
                    parts = line.split(":", 1)[1].strip().split("-")
                    if len(parts) == 3 and parts[1].startswith("cp"):
                        return True
    return False


def with_shebang(data: bytes, interpreter: bytes) -> bytes:
    """A console script pip wrote, run by ``interpreter`` (``#!/usr/bin/env python3``). Where this
    machine's interpreter path has a space or is long, pip writes a /bin/sh line and an ``exec`` of
    that path in a Python string: those three lines go too."""
    lines = data.split(b"\n")
    if lines[0] == b"#!/bin/sh" and len(lines) > 2 and lines[1].startswith(_SH_EXEC) and lines[2] == _SH_END:
        return b"\n".join([b"#!" + interpreter, *lines[3:]])
    if lines[0].startswith(b"#!") and b"python" in lines[0]:
        return b"\n".join([b"#!" + interpreter, *lines[1:]])
    return data


_SH_EXEC = b"'" * 3 + b"exec' "  # pip's (distlib's) sh-then-Python launcher, lines 2 and 3
_SH_END = b"' " + b"'" * 3


def console_scripts(wheel: Path) -> list[str]:
    """The console scripts a wheel declares (its entry_points.txt), sorted."""
    import configparser
    import zipfile

    with zipfile.ZipFile(wheel) as archive:
        names = [name for name in archive.namelist() if name.endswith(".dist-info/entry_points.txt")]
        text = archive.read(names[0]).decode("utf-8", "replace") if len(names) == 1 else ""
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    return sorted(parser["console_scripts"]) if parser.has_section("console_scripts") else []
