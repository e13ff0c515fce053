"""Go binaries from examples/hybrid are byte-identical when built from two different places."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from reprotasks._run import Runner
from reprotasks.errors import ConfigError, ReprotasksError
from reprotasks.go.binaries import build_go, parse_platform

from .conftest import copy_hybrid

EPOCH = 1706933106


@pytest.mark.slow
def test_two_builds_in_different_directories_are_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOTOOLCHAIN", "local")
    outputs = []
    for index, umask in enumerate((0o022, 0o077)):
        copy = tmp_path / f"place-{index}" / ("deeper/" * index) / "hybrid"
        copy_hybrid(copy)
        old = os.umask(umask)
        try:
            artifacts = build_go(
                copy / "go",
                ["./cmd/worker"],
                version="0.3.0",
                out_dir=copy / "dist",
                runner=Runner(copy, log=lambda _line: None),
                mtime=EPOCH,
                platforms=("linux/amd64", "windows/amd64"),
            )
        finally:
            os.umask(old)
        outputs.append({artifact.path.name: artifact.path.read_bytes() for artifact in artifacts})
    assert sorted(outputs[0]) == ["worker_0.3.0_linux_amd64.tar.gz", "worker_0.3.0_windows_amd64.zip"]
    assert outputs[0] == outputs[1]


def test_platform_syntax_and_unpinned_toolchain(tmp_path: Path) -> None:
    assert parse_platform("linux/arm64") == ("linux", "arm64")
    with pytest.raises(ConfigError, match="is not OS/ARCH"):
        parse_platform("linux")
    module = tmp_path / "m"
    module.mkdir()
    (module / "go.mod").write_text("module example.com/m\n\ngo 1.23\n")
    (module / "cmd" / "x").mkdir(parents=True)
    (module / "cmd" / "x" / "main.go").write_text("package main\n\nfunc main() {}\n")
    # go.mod pins no toolchain: the local go builds (build warns, verify and release ask for the pin).
    [artifact] = build_go(
        module,
        ["./cmd/x"],
        version="1",
        out_dir=tmp_path / "d",
        runner=Runner(tmp_path),
        mtime=EPOCH,
        platforms=("linux/amd64",),
    )
    local = subprocess.run(
        ["go", "env", "GOVERSION"],
        cwd=module,
        env={**os.environ, "GOTOOLCHAIN": "local"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert artifact.compiler == local
    (module / "go.mod").write_text("module example.com/m\n\ngo 1.999\n")  # newer than any local go
    with pytest.raises(ReprotasksError) as refused:
        build_go(module, ["./cmd/x"], version="1", out_dir=tmp_path / "d", runner=Runner(tmp_path), mtime=EPOCH)
    assert "requires go >= 1.999" in refused.value.render()
