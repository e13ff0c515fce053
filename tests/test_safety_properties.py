"""Property tests: the readers of user data end in success or a clean ReprotasksError, nothing else.

Hypothesis feeds arbitrary bytes and arbitrary JSON/TOML values to the SHA256SUMS reader, the
manifest reader, the lock parser, the go.mod/go.sum readers and the configuration loader.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reprotasks.artifacts.checksum import MAX_LINE_BYTES, check_findings, listed_digests, read_sums
from reprotasks.artifacts.manifest import manifest_from_bytes, manifest_from_json, read_manifest
from reprotasks.config import all_options, load_config
from reprotasks.errors import ReprotasksError
from reprotasks.go import mod as _gomod
from reprotasks.python.lockfile import check_lock_files, input_files, parse_lock, parse_lock_text

SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

# Text that looks like the real thing often enough to get past the first checks.
_HEX = st.text(alphabet="0123456789abcdefABCDEF", min_size=60, max_size=66)
_NAME = st.text(alphabet=string.ascii_letters + string.digits + "._-/\\ \t*:\x00\x7f\u00e9", max_size=20)
_SUMS_LINE = st.one_of(
    st.builds(lambda d, sep, n: f"{d}{sep}{n}", _HEX, st.sampled_from(["  ", " *", " ", "\t"]), _NAME),
    st.text(max_size=80),
)
_SUMS = st.one_of(
    st.binary(max_size=600),
    st.lists(_SUMS_LINE, max_size=8).map(lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass")),
    st.builds(lambda n: b"0" * 64 + b"  " + b"x" * n, st.integers(MAX_LINE_BYTES - 70, MAX_LINE_BYTES + 5)),
)


@SETTINGS
@given(data=_SUMS)
def test_sums_reader_never_crashes(tmp_path: Path, data: bytes) -> None:
    dist = tmp_path / "dist"
    dist.mkdir(exist_ok=True)
    (dist / "SHA256SUMS").write_bytes(data)
    findings, listed = read_sums(dist / "SHA256SUMS", "dist/SHA256SUMS")
    for finding in findings:
        assert finding.path == "dist/SHA256SUMS"
        assert len(finding.render()) < 1000  # an overlong line is never echoed
    for name, (digest, line) in listed.items():
        assert "/" not in name and "\n" not in name and len(name.encode()) <= 255
        assert len(digest) == 64 and line >= 1
    check_findings(dist, shown_dist="dist")  # findings, never an exception
    assert set(listed_digests(dist, "dist")) == set(listed)


# --- manifest.json --------------------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
_ARTIFACT = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(_NAME, _JSON),
        "size": st.one_of(st.integers(), _JSON),
        "sha256": st.one_of(_HEX, _JSON),
        "kind": st.one_of(st.sampled_from(["sdist", "wheel", "go-archive"]), _JSON),
        "platform": st.one_of(st.just("any"), _JSON),
        "package": _JSON,
        "embedded": st.one_of(st.lists(st.text(max_size=10), max_size=3), _JSON),
        "compiler": _JSON,
        "extra": _JSON,
    },
)
_MANIFEST = st.fixed_dictionaries(
    {},
    optional={
        "manifest_version": st.one_of(st.just(2), _JSON),
        "project": st.one_of(st.dictionaries(st.text(max_size=5), st.one_of(st.text(max_size=5), _JSON)), _JSON),
        "source": st.one_of(
            st.fixed_dictionaries(
                {}, optional={"commit": st.one_of(st.text(max_size=5), _JSON), "source_date_epoch": _JSON}
            ),
            _JSON,
        ),
        "inputs_digest": st.one_of(st.text(max_size=5), _JSON),
        "toolchains": st.one_of(st.dictionaries(st.text(max_size=5), _JSON), _JSON),
        "python": _JSON,
        "go": st.one_of(st.fixed_dictionaries({}, optional={"platforms": _JSON}), _JSON),
        "artifacts": st.one_of(st.lists(_ARTIFACT, max_size=3), _JSON),
    },
)


@SETTINGS
@given(data=_MANIFEST)
def test_manifest_from_json_never_crashes(data: dict[str, Any]) -> None:
    try:
        manifest = manifest_from_json(data)
    except (ValueError, TypeError):
        return
    # What the steps then do with an accepted manifest must work too.
    manifest.to_json()
    assert isinstance(manifest.source["commit"], str)
    for record in manifest.artifacts:
        assert isinstance(record.size, int) and record.size >= 0 and isinstance(record.sha256, str)
        assert all(isinstance(line, str) for line in record.embedded)
    if manifest.go is not None:
        dict(manifest.go.get("platforms", {}))
    int(manifest.source.get("source_date_epoch") or 0)


@SETTINGS
@given(
    data=st.one_of(
        st.binary(max_size=300),
        _MANIFEST.map(lambda value: json.dumps(value).encode()),
        st.integers(1, 5000).map(lambda depth: b'{"a":' * depth + b"1" + b"}" * depth),
    )
)
def test_manifest_reader_never_crashes(tmp_path: Path, data: bytes) -> None:
    (tmp_path / "manifest.json").write_bytes(data)
    try:
        manifest_from_bytes(data)
    except (ValueError, TypeError) as exc:
        assert len(str(exc)) < 400
    try:
        read_manifest(tmp_path / "manifest.json", "dist/manifest.json")
    except ReprotasksError as error:
        assert error.message.startswith("dist/manifest.json") and error.hint


# --- locks ----------------------------------------------------------------------------------

_LOCK_LINE = st.one_of(
    st.text(max_size=60),
    st.builds(
        lambda name, op, version, hashes: f"{name}{op}{version} " + " ".join(f"--hash={h}" for h in hashes),
        st.text(alphabet=string.ascii_letters + "-_.[]@;", min_size=1, max_size=10),
        st.sampled_from(["==", "===", ">=", "~=", "@ ", ""]),
        st.text(alphabet=string.digits + ".*+abrc", max_size=8),
        st.lists(st.one_of(st.just("sha256:" + "0" * 64), st.text(max_size=10)), max_size=2),
    ),
    st.sampled_from(["-r other.txt", "-e .", "--index-url https://u:p@x/", "\\", "-i", "--hash", "#", "-"]),
)


@SETTINGS
@given(lines=st.lists(_LOCK_LINE, max_size=8), raw=st.binary(max_size=200))
def test_lock_parser_never_crashes(tmp_path: Path, lines: list[str], raw: bytes) -> None:
    text = "\n".join(lines)
    parsed = parse_lock_text(text)
    for pin in parsed.pins:
        assert pin.line >= 1 and pin.name
    for problem in parsed.problems:
        assert problem.line >= 1 and problem.fix
    (tmp_path / "pyproject.toml").write_text("")
    for data in (text.encode("utf-8", "surrogatepass"), raw):
        lock = tmp_path / "requirements.txt"
        lock.write_bytes(data)
        (tmp_path / "requirements.in").write_bytes(data)
        for call, args in (
            (parse_lock, (lock,)),
            (input_files, (tmp_path / "requirements.in",)),
            (check_lock_files, (tmp_path / "requirements.in", lock, "requirements.txt")),
        ):
            try:
                call(*args)
            except ReprotasksError as error:
                assert error.message.startswith(("requirements.txt: ", "requirements.in: ")), error.message


# --- go.mod and go.sum ----------------------------------------------------------------------

_GO_LINE = st.one_of(
    st.text(max_size=40),
    st.builds(lambda v: f"go {v}", st.text(max_size=10)),
    st.builds(lambda v: f"toolchain {v}", st.text(max_size=10)),
    st.sampled_from(["go", "toolchain", "go 1.22.0 // x", "toolchain default", "module x"]),
)


@SETTINGS
@given(lines=st.lists(_GO_LINE, max_size=6), raw=st.binary(max_size=200))
def test_go_mod_and_go_sum_readers_never_crash(tmp_path: Path, lines: list[str], raw: bytes) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    module = tmp_path / "go"
    module.mkdir(exist_ok=True)
    for data in ("\n".join(lines).encode("utf-8", "surrogatepass"), raw):
        (module / "go.mod").write_bytes(data)
        try:
            pins = _gomod.read_pins(module)
        except ReprotasksError as error:
            assert error.message.startswith("go/go.mod: "), error.message
        else:
            assert pins.pinned is None or pins.pinned.startswith("go") or pins.toolchain
        (module / "go.sum").write_bytes(data)
        match = _gomod._MISMATCH.search("verifying example.com/x@v1.0.0: checksum mismatch")
        assert match is not None
        try:
            _gomod._checksum_finding(module, "go/", match)
        except ReprotasksError as error:
            assert error.message.startswith("go/go.sum: "), error.message


# --- pyproject.toml -------------------------------------------------------------------------

_TOML_VALUE = st.recursive(
    st.booleans() | st.integers() | st.text(max_size=8) | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=10,
)
_KEYS = st.sampled_from(
    [
        *("project", "tool", "build-system", "reprotasks", "name", "version", "dynamic", "requires-python"),
        *("requires", "python", "go", "sign", "audit", "dist-dir", "locks", "module", "platforms", "allow", "x"),
    ]
)
_TABLE = st.recursive(
    st.dictionaries(_KEYS, _TOML_VALUE, max_size=4),
    lambda children: st.dictionaries(_KEYS, st.one_of(children, _TOML_VALUE), max_size=4),
    max_leaves=12,
)


_OPTION_VALUE = st.one_of(
    _TOML_VALUE,
    st.text(alphabet=string.ascii_letters + "./\\\x00\u00e9 *:-", max_size=12),
    st.lists(st.text(alphabet=string.ascii_letters + "./\x00 -", max_size=8), max_size=3),
    st.sampled_from(["dist", ".", "..", "/", "", "go", "linux/amd64", "a/b/c", "requirements.in", "x.txt"]),
)
_SETTINGS = st.dictionaries(st.sampled_from([option.dotted for option in all_options()] + ["nope"]), _OPTION_VALUE)


def _reprotasks_table(settings: dict[str, Any]) -> dict[str, Any]:
    """{"tool": {"reprotasks": ...}} from dotted keys (``python.locks`` -> a ``python`` table)."""
    table: dict[str, Any] = {}
    for dotted, value in settings.items():
        head, _, tail = dotted.partition(".")
        if tail:
            table.setdefault(head, {})[tail] = value
        else:
            table[head] = value
    return {"tool": {"reprotasks": table}}


def _toml(value: Any) -> str:
    """A TOML document for a table of arbitrary values (inline tables for nested ones)."""

    def render(item: Any) -> str:
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, (int, float)):
            return repr(item)
        if isinstance(item, str):
            return json.dumps(item)
        if isinstance(item, list):
            return "[" + ", ".join(render(part) for part in item) + "]"
        return "{" + ", ".join(f"{json.dumps(key)} = {render(part)}" for key, part in item.items()) + "}"

    return "".join(f"{json.dumps(key)} = {render(part)}\n" for key, part in value.items())


@SETTINGS
@given(
    document=st.one_of(
        _TABLE.map(_toml).map(str.encode),
        _SETTINGS.map(_reprotasks_table).map(_toml).map(str.encode),
        st.binary(max_size=200),
        st.integers(1, 3000).map(lambda depth: b"a = " + b"[" * depth + b"]" * depth),
    )
)
def test_config_loader_never_crashes(tmp_path: Path, document: bytes) -> None:
    root = tmp_path / "proj"
    root.mkdir(exist_ok=True)
    (root / "pyproject.toml").write_bytes(document)
    try:
        config = load_config(root, environ={})
    except ReprotasksError as error:
        assert error.message and error.hint
        assert "Traceback" not in error.render()
        return
    config.describe()
    assert config.project_name is None or isinstance(config.project_name, str)
    assert config.project_version is None or isinstance(config.project_version, str)
