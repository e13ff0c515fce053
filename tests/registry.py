"""A real OCI registry (`distribution`) on 127.0.0.1 and crane, for the image tests (installed by .ci/run)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest


def tools_dir() -> Path:
    return Path(os.environ.get("TOOLS_BIN") or Path.home() / ".cache" / "reprotasks-tools")


def tool(name: str) -> str:
    found = os.environ.get(name.upper()) or shutil.which(name) or str(tools_dir() / name)
    if not Path(found).is_file():
        message = f"{name} is not installed in {tools_dir()} (.ci/run installs it with `go install`)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def crane(*args: str, stdin: bytes | None = None) -> bytes:
    result = subprocess.run([tool("crane"), *args], input=stdin, capture_output=True, check=False)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def cosign(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """cosign (sigstore-go inside): the verifier a deploy job uses, run as the user would."""
    return subprocess.run([tool("cosign"), *map(str, args)], capture_output=True, text=True, check=False)


def crane_on_path_fixture(monkeypatch: pytest.MonkeyPatch) -> str:
    crane = tool("crane")
    monkeypatch.setenv("PATH", f"{Path(crane).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return crane


def registry_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A `distribution` registry on 127.0.0.1 (filesystem storage in a temporary directory)."""
    binary = tool("registry")
    work = tmp_path_factory.mktemp("registry")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = work / "config.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {work / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    # Its log goes to a file: a pipe nobody reads fills up and then blocks every request.
    log = work / "registry.log"
    with log.open("wb") as sink:
        quiet = {**os.environ, "OTEL_TRACES_EXPORTER": "none", "OTEL_SDK_DISABLED": "true"}  # no trace exports
        process = subprocess.Popen([binary, "serve", str(config)], stdout=sink, stderr=subprocess.STDOUT, env=quiet)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the registry did not start: {log.read_text(errors='replace')}") from None
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def referrers_registry_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A registry with the OCI 1.1 referrers API on 127.0.0.1 (`distribution` has none):
    go-containerregistry's, with the API on (tests/data/referrers-registry, built here with go)."""
    source = Path(__file__).resolve().parent / "data" / "referrers-registry"
    binary = tmp_path_factory.mktemp("referrers-registry") / "referrers-registry"
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly", "CGO_ENABLED": "0"}
    built = subprocess.run(["go", "build", "-o", str(binary), "."], cwd=source, env=env, capture_output=True, text=True)
    assert built.returncode == 0, f"building the referrers registry failed: {built.stderr}"
    process = subprocess.Popen([binary], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        address = process.stdout.readline().strip()
        assert address.startswith("127.0.0.1:"), f"the referrers registry did not start ({address!r})"
        yield address
    finally:
        process.terminate()
        process.wait(timeout=10)
