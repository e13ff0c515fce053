"""The drill's pieces that need no rebuild: what a failed rebuild's output says is missing, which
drill stands for a reproduction, and where releases may be fetched from."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from reprotasks.config import load_config
from reprotasks.errors import ReprotasksError
from reprotasks.promote import drill as _drill

TOOLCHAIN_403 = (
    "go: downloading go1.99.0 (linux/amd64)\n"
    "go: download go1.99.0: golang.org/toolchain@v0.0.1-go1.99.0.linux-amd64: reading "
    "https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go1.99.0.linux-amd64.zip: 403 Forbidden\n"
)
TOOLCHAIN_DNS = (
    "go: download go1.22.0: golang.org/toolchain@v0.0.1-go1.22.0.linux-amd64: Get "
    '"https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go1.22.0.linux-amd64.zip": dial tcp: lookup '
    "proxy.golang.org: no such host\n"
)
PIP_OFFLINE = (
    "+ python -m pip install --require-hashes -r requirements.txt\n"
    "WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection "
    "broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object>: Failed to establish "
    "a new connection: [Errno -3] Temporary failure in name resolution')': /simple/requests/\n"
    "ERROR: Could not find a version that satisfies the requirement requests==2.31.0 (from versions: none)\n"
)
PIP_GONE = "ERROR: No matching distribution found for oldthing==0.0.1\n"
PIP_HASH = (
    "ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE.\n"
    "    click==8.1.7 from https://files.example/click.whl:\n        Expected sha256 aaa\n             Got bbb\n"
)
BASE_GONE = "manifest for ghcr.io/acme/base@sha256:" + "a" * 64 + " not found: manifest unknown: manifest unknown\n"


@pytest.mark.parametrize(
    ("output", "said"),
    [
        (TOOLCHAIN_403, "the Go toolchain go1.99.0 cannot be downloaded any more"),
        (TOOLCHAIN_DNS, "the Go proxy cannot be reached from here"),
        (PIP_OFFLINE, "the package index cannot be reached from here"),
        (PIP_GONE, "oldthing==0.0.1 is no longer on the package index"),
        (PIP_HASH, "click==8.1.7 on the index does not match its locked hash"),
        (BASE_GONE, "the base image ghcr.io/acme/base@sha256:" + "a" * 64 + " is gone from its registry"),
        ("go: example.com/x@v1.2.3: invalid version: unknown revision v1.2.3\n", "the Go module example.com/x@v1.2.3"),
        ("something else broke\nand more\n", "something else broke / and more"),
    ],
)
def test_a_failed_rebuild_names_what_is_missing(output: str, said: str) -> None:
    assert said in _drill.missing_input(output)


def _record(result: str, sums: str, age_days: float) -> _drill.DrillRecord:
    return _drill.DrillRecord(
        digest="d" * 64, sums=sums, tag="v1.0.0", version="1.0.0", commit="c" * 40, result=result, reason="",
        artifacts={}, who="drill@example.test", when=datetime.now(timezone.utc) - timedelta(days=age_days),
    )  # fmt: skip


def test_the_newest_drill_of_a_release_decides_and_only_while_fresh(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\nversion = '1'\n")
    config = load_config(tmp_path)  # drill-fresh: 35 days
    proved = _record(_drill.IDENTICAL, "s" * 64, 3)
    assert _drill.fresh_reproduction(config, "s" * 64, [proved]) == proved
    assert _drill.fresh_reproduction(config, "t" * 64, [proved]) is None  # another release's SHA256SUMS
    later_failure = _record(_drill.DIFFERS, "s" * 64, 1)
    assert _drill.fresh_reproduction(config, "s" * 64, [proved, later_failure]) is None
    assert _drill.fresh_reproduction(config, "s" * 64, [_record(_drill.IDENTICAL, "s" * 64, 40)]) is None


def test_where_releases_are_fetched_from_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ReprotasksError, match=r"names no \{tag\}"):
        _drill.published_place("releases/", "v1", "1")
    with pytest.raises(ReprotasksError, match="is plain http"):
        _drill.published_place("http://example.com/{tag}", "v1", "1")
    assert _drill.published_place("http://127.0.0.1:8080/{tag}", "v1", "1") == "http://127.0.0.1:8080/v1"
    # A token in the URL, and a URL Python refuses: one paragraph, the token masked.
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    with pytest.raises(ReprotasksError) as caught:
        _drill._download(f"https://user:{token}@example.invalid/v1", "SHA256SUMS", tmp_path, required=True)
    assert token not in caught.value.message and "cannot be downloaded" in caught.value.message
