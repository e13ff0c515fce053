"""Headless Chromium (Debian's package, which .ci/run installs) for the dashboard tests.

Driven from its command line: ``--dump-dom`` gives the DOM after the page's scripts ran,
``--screenshot`` a PNG, and ``--enable-logging=stderr`` prints every console message and every
uncaught exception as an ``INFO:CONSOLE`` line. The flags keep it off this machine's closed network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
)


@dataclass(frozen=True)
class Page:
    dom: str
    console: list[str]  # console messages and uncaught errors, one line each


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "chromium is not installed (apt-get install chromium; .ci/run does it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def _run(page: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [chromium(), *_FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def load(page: Path, *, screenshot: Path | None = None, width: int = 1280) -> Page:
    """The page's DOM after its scripts ran in a window ``width`` pixels wide (and a screenshot)."""
    result = _run(page, "--dump-dom", f"--window-size={width},1400")
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    if screenshot is not None:
        shot = _run(page, f"--screenshot={screenshot}", f"--window-size={width},1400", "--hide-scrollbars")
        assert shot.returncode == 0 and screenshot.is_file(), shot.stderr[-2000:]
        console += [line for line in shot.stderr.splitlines() if ":CONSOLE" in line]
    return Page(result.stdout, console)
