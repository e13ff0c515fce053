"""Go side of lock and verify, with the real go command on a copy of examples/hybrid."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reprotasks import DriftError, load_config, lock, verify
from reprotasks._run import Runner

from .conftest import run_cli

GO_ONLY = {"REPROTASKS_PYTHON_LOCKS": "", "REPROTASKS_PYTHON_VERSION_PIN": "none", "REPROTASKS_PYTHON_BUILD": "0"}


@pytest.fixture
def go_project(hybrid: Path, go_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Path:
    """examples/hybrid with only its Go module checked (the Python lock has its own tests)."""
    for name, value in {**go_env, **GO_ONLY}.items():
        monkeypatch.setenv(name, value)
    return hybrid


def findings(root: Path) -> list[str]:
    with pytest.raises(DriftError) as caught:
        verify(load_config(root), runner=Runner(root, log=lambda _line: None))
    return [finding.render() for finding in caught.value.findings]


def test_example_module_verifies(go_project: Path) -> None:
    report = verify(load_config(go_project), runner=Runner(go_project, log=lambda _line: None))
    rows = dict(report.rows())
    assert rows.pop("pinning audit").startswith("ok (")  # go.mod is audited too: pinned, no local replace
    assert rows == {
        "go toolchain pin": "ok",
        "go: go mod tidy -diff": "ok",
        "go: go mod verify": "ok",
    }


def test_removed_go_sum_entry(go_project: Path) -> None:
    go_sum = go_project / "go" / "go.sum"
    lines = go_sum.read_text().splitlines(keepends=True)
    go_sum.write_text("".join(line for line in lines if "/go.mod " in line))
    [message] = findings(go_project)
    assert message.startswith("go/go.sum:1: not tidy: missing `github.com/google/uuid v1.6.0 h1:")
    assert "run `reprotasks lock` (go mod tidy)" in message


def test_altered_go_sum_entry_is_a_security_finding(go_project: Path) -> None:
    go_sum = go_project / "go" / "go.sum"
    go_sum.write_text(go_sum.read_text().replace("h1:NIva", "h1:AAAA"))
    [message] = findings(go_project)
    assert message.startswith("go/go.sum:1: checksum of github.com/google/uuid v1.6.0 does not match")
    assert "SECURITY ERROR" in message and "git checkout -- go.sum" in message


def test_untidy_go_mod(go_project: Path) -> None:
    go_mod = go_project / "go" / "go.mod"
    go_mod.write_text(go_mod.read_text() + "\nrequire golang.org/x/mod v0.22.0 // unused\n")
    messages = findings(go_project)
    assert any(
        m.startswith("go/go.mod:") and "not tidy: extra `require golang.org/x/mod v0.22.0" in m for m in messages
    )


def test_wrong_toolchain_version(go_project: Path) -> None:
    go_mod = go_project / "go" / "go.mod"
    running = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, check=True).stdout.strip()
    major, minor, patch = running.removeprefix("go").split(".")
    older = f"go{major}.{minor}.{int(patch) - 1}" if int(patch) > 0 else f"go{major}.{int(minor) - 1}.0"
    go_mod.write_text(re.sub(r"(?m)^toolchain .*$", f"toolchain {older}", go_mod.read_text()))
    [message] = findings(go_project)
    assert message.startswith(f"go/go.mod:5: pins {older} but the go command runs {running}")
    assert f"GOTOOLCHAIN={older}" in message and f"go mod edit -toolchain={running}" in message


def test_verify_asks_for_the_pinned_toolchain_as_build_does(go_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without GOTOOLCHAIN=local in the environment, build runs GOTOOLCHAIN=<pin> (a newer local go is
    no obstacle): verify asks the same way, so only a pin go cannot provide is a finding."""
    go_mod = go_project / "go" / "go.mod"
    go_mod.write_text(re.sub(r"(?m)^toolchain .*$", "toolchain go1.26.7", go_mod.read_text()))
    monkeypatch.delenv("GOTOOLCHAIN")
    monkeypatch.setenv("GOPROXY", "off")  # the pin cannot be fetched here
    [message] = findings(go_project)
    assert message.startswith("go/go.mod:5: the go command refuses this module:"), message
    assert "download go1.26.7 for linux/amd64: toolchain not available" in message
    assert "let go fetch it through GOPROXY" in message


def test_a_go_version_file_pins_the_toolchain_as_the_repository_ci_does(go_project: Path) -> None:
    """`.go-version` (actions/setup-go's go-version-file) pins Go when go.mod has no `toolchain`
    line, and outranks an exact `go` line (the oldest Go the module accepts)."""
    from reprotasks.artifacts.manifest import read_manifest

    from .conftest import commit_all

    running = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, check=True).stdout.strip()
    gomod = go_project / "go" / "go.mod"
    gomod.write_text(re.sub(r"go 1\.23\.0\n\ntoolchain go[\d.]+\n", "go 1.23.0\n", gomod.read_text()))
    (go_project / ".go-version").write_text(running.removeprefix("go") + "\n")
    commit_all(go_project)
    verify(load_config(go_project), runner=Runner(go_project, log=lambda _line: None))
    built = run_cli("build", "--go-only", "--platform", "linux/amd64", cwd=go_project)
    assert built.returncode == 0, built.stderr
    assert "pins no Go toolchain" not in built.stderr and "WARNING" not in built.stderr, built.stderr
    manifest = read_manifest(go_project / "dist" / "manifest.json", "dist/manifest.json")
    assert {record.compiler for record in manifest.artifacts} == {running}
    # Another version there is named there, with the fix, not go.mod's `go 1.23.0`.
    major, minor, patch = running.removeprefix("go").split(".")
    older = f"{major}.{minor}.{int(patch) - 1}" if int(patch) > 0 else f"{major}.{int(minor) - 1}.0"
    (go_project / ".go-version").write_text(f"go{older}\n")
    [message] = findings(go_project)
    assert message.startswith(f".go-version:1: pins go{older} but the go command runs {running}"), message
    # A `.go-version` naming no exact version (`1.26`, `stable`) pins nothing: go.mod's exact line does.
    (go_project / ".go-version").write_text("stable\n")
    [message] = findings(go_project)
    assert message.startswith("go/go.mod:3: pins go1.23.0 but the go command runs"), message


def test_go_refusing_a_newer_go_line(go_project: Path) -> None:
    go_mod = go_project / "go" / "go.mod"
    go_mod.write_text("module example.com/hybrid/worker\n\ngo 1.99.0\n")
    messages = findings(go_project)
    assert any(m.startswith("go/go.mod:3: pins go1.99.0 but the go command runs go1.") for m in messages)
    assert any("go.mod requires go >= 1.99.0" in m for m in messages)


def test_unpinned_toolchain(go_project: Path) -> None:
    go_mod = go_project / "go" / "go.mod"
    go_mod.write_text(go_mod.read_text().replace("go 1.23.0", "go 1.23").replace("toolchain go1.26.8\n", ""))
    messages = findings(go_project)
    assert "go/go.mod:3: the Go toolchain is not pinned (`go 1.23` without a `toolchain` line)" in messages[0]
    assert "go mod edit -toolchain=" in messages[0]
    # Said once: the pinning audit's RT-G002 for the same line is not repeated.
    assert [m for m in messages if m.startswith("go/go.mod:3:")] == messages[:1], messages


def test_lock_tidies_atomically_and_restores_drift(go_project: Path) -> None:
    go_sum = go_project / "go" / "go.sum"
    good = go_sum.read_bytes()
    go_sum.write_text("")
    result = lock(load_config(go_project), runner=Runner(go_project, log=lambda _line: None))
    assert result.go_modules == (("go", True),)
    assert go_sum.read_bytes() == good
    assert [p.name for p in (go_project / "go").iterdir() if p.name.startswith(".")] == []
    verify(load_config(go_project), runner=Runner(go_project, log=lambda _line: None))


def test_missing_go_binary(go_project: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = run_cli("verify", cwd=go_project, env={"PATH": str(empty)})
    assert result.returncode == 2, result.stderr
    assert "error: `go` is needed to check the Go toolchain but was not found on PATH" in result.stderr
    assert "hint: install Go 1.23 or newer" in result.stderr
    assert "Traceback" not in result.stderr
    assert sys.executable  # the CLI itself ran from an absolute interpreter path


def test_unpinned_go_builds_with_the_local_go_records_it_and_reproduces(go_project: Path) -> None:
    from reprotasks.artifacts.manifest import read_manifest

    from .conftest import commit_all

    gomod = go_project / "go" / "go.mod"
    gomod.write_text(re.sub(r"go 1\.23\.0\n\ntoolchain go[\d.]+\n", "go 1.23\n", gomod.read_text()))
    assert "toolchain" not in gomod.read_text()
    commit_all(go_project)
    local = subprocess.run(
        ["go", "env", "GOVERSION"],
        cwd=go_project / "go",
        env={**os.environ, "GOTOOLCHAIN": "local"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    built = run_cli("build", "--go-only", "--platform", "linux/amd64", cwd=go_project)
    assert built.returncode == 0, built.stderr
    assert f"go/go.mod pins no Go toolchain: built with the local {local}, so these binaries reproduce only" in (
        built.stderr
    )
    manifest = read_manifest(go_project / "dist" / "manifest.json", "dist/manifest.json")
    assert manifest.toolchains["go"] == local
    assert {record.compiler for record in manifest.artifacts} == {local}
    reproduced = run_cli("reproduce", cwd=go_project)
    assert reproduced.returncode == 0, reproduced.stderr
    # verify (hence release) still asks for the pin ...
    assert any("toolchain" in line for line in findings(go_project))
    # ... unless the project says it pins none: then no warning either.
    quiet = run_cli(
        "build",
        "--go-only",
        "--platform",
        "linux/amd64",
        "--force",
        cwd=go_project,
        env={"REPROTASKS_GO_TOOLCHAIN_PIN": "none"},
    )
    assert quiet.returncode == 0 and "WARNING" not in quiet.stderr, quiet.stderr


def test_a_version_variable_that_matches_nothing_is_a_warning(go_project: Path) -> None:
    from .conftest import commit_all

    commit_all(go_project)
    stamped = run_cli("build", "--go-only", "--platform", "linux/amd64", "--platform", "linux/arm64", cwd=go_project)
    assert stamped.returncode == 0 and "WARNING" not in stamped.stderr, stamped.stderr
    missed = run_cli(
        "build",
        "--go-only",
        "--platform",
        "linux/amd64",
        "--platform",
        "linux/arm64",
        "--force",
        cwd=go_project,
        env={"REPROTASKS_GO_VERSION_VARIABLE": "main.Version"},
    )
    assert missed.returncode == 0, missed.stderr
    warning = "./cmd/worker: `-X main.Version=...` matched no string variable, so the binary does not carry"
    assert missed.stderr.count(warning) == 1, missed.stderr  # once per package, not per platform


def test_extra_ldflags_and_tags_are_used_recorded_and_reproduced(go_project: Path) -> None:
    from reprotasks.artifacts.manifest import read_manifest

    from .conftest import commit_all

    with (go_project / "pyproject.toml").open("a") as handle:
        handle.write('\n[tool.reprotasks.go]\nldflags = ["-s", "-w"]\ntags = ["netgo"]\n')
    commit_all(go_project)
    built = run_cli("build", "--go-only", "--platform", "linux/amd64", cwd=go_project)
    assert built.returncode == 0, built.stderr
    assert "-tags=netgo '-ldflags=-buildid= -X main.version=0.3.0 -s -w'" in built.stderr
    manifest = read_manifest(go_project / "dist" / "manifest.json", "dist/manifest.json")
    assert manifest.go is not None and "-tags=netgo" in manifest.go["command"]
    assert run_cli("reproduce", cwd=go_project).returncode == 0
    assert run_cli("sbom", cwd=go_project).returncode == 0  # the trusted manifest re-derives the same flags
    bad = run_cli("build", cwd=go_project, env={"REPROTASKS_GO_LDFLAGS": "-buildid=x"})
    assert bad.returncode == 2 and "`go.ldflags` entry '-buildid=x'" in bad.stderr
    bad_tag = run_cli("build", cwd=go_project, env={"REPROTASKS_GO_TAGS": "a,b"})
    assert bad_tag.returncode == 2 and "`go.tags` entry 'a,b' is not a Go build tag" in bad_tag.stderr


def test_platform_variants_set_goarm_and_goamd64_and_name_the_archive(go_project: Path) -> None:
    from reprotasks.artifacts.manifest import read_manifest

    from .conftest import commit_all

    commit_all(go_project)
    built = run_cli("build", "--go-only", "--platform", "linux/arm/v6", "--platform", "linux/amd64/v3", cwd=go_project)
    assert built.returncode == 0, built.stderr
    manifest = read_manifest(go_project / "dist" / "manifest.json", "dist/manifest.json")
    names = sorted(record.name for record in manifest.artifacts)
    assert names == ["worker_0.3.0_linux_amd64v3.tar.gz", "worker_0.3.0_linux_armv6.tar.gz"]
    embedded = {record.platform: record.embedded for record in manifest.artifacts}
    assert "build\tGOARM=6" in "\n".join(embedded["linux/arm/v6"])
    assert "build\tGOAMD64=v3" in "\n".join(embedded["linux/amd64/v3"])
    assert run_cli("reproduce", cwd=go_project).returncode == 0
    assert run_cli("sbom", cwd=go_project).returncode == 0
    bad = run_cli("build", "--go-only", "--platform", "linux/arm/v9", cwd=go_project)
    assert bad.returncode == 2 and "platform 'linux/arm/v9': 'arm' has no variant 'v9'" in bad.stderr


def test_a_main_package_is_built_only_where_its_build_constraints_allow(go_project: Path) -> None:
    """A windows-only service and a `js && wasm` main: each built only for its platforms; the
    WebAssembly module's build information (which `go version -m` cannot read) is read and recorded."""
    import json

    from .conftest import commit_all

    service = go_project / "go" / "cmd" / "winservice"
    service.mkdir()
    (service / "main.go").write_text("//go:build windows\n\npackage main\n\nfunc main() {}\n")
    web = go_project / "go" / "cmd" / "web"
    web.mkdir()
    (web / "main.go").write_text(
        '//go:build js && wasm\n\npackage main\n\nimport "syscall/js"\n\nvar version = "dev"\n\n'
        'func main() { js.Global().Set("version", version) }\n'
    )
    commit_all(go_project)
    platforms = ["--platform", "linux/amd64", "--platform", "windows/amd64", "--platform", "js/wasm"]
    built = run_cli("build", "--go-only", *platforms, cwd=go_project)
    assert built.returncode == 0, built.stderr
    assert "./cmd/winservice is not built for linux/amd64: its build constraints exclude every file" in built.stderr
    assert "./cmd/web is not built for windows/amd64" in built.stderr
    assert sorted(path.name for path in (go_project / "dist").iterdir() if path.suffix in (".gz", ".zip")) == [
        "web_0.3.0_js_wasm.tar.gz",
        "winservice_0.3.0_windows_amd64.zip",
        "worker_0.3.0_js_wasm.tar.gz",
        "worker_0.3.0_linux_amd64.tar.gz",
        "worker_0.3.0_windows_amd64.zip",
    ]
    manifest = json.loads((go_project / "dist" / "manifest.json").read_text())
    [wasm] = [record for record in manifest["artifacts"] if record["name"] == "web_0.3.0_js_wasm.tar.gz"]
    assert wasm["compiler"] == manifest["toolchains"]["go"]
    assert "path\texample.com/hybrid/worker/cmd/web" in wasm["embedded"]
    assert "build\tGOOS=js" in wasm["embedded"]
    assert run_cli("sbom", cwd=go_project).returncode == 0  # the trusted manifest asks go, and agrees
    assert run_cli("reproduce", cwd=go_project).returncode == 0


def test_gotoolchain_local_with_another_pin_is_refused_by_build_as_by_verify(go_project: Path) -> None:
    from .conftest import commit_all

    gomod = go_project / "go" / "go.mod"
    gomod.write_text(re.sub(r"toolchain go[\d.]+", "toolchain go1.24.0", gomod.read_text()))
    commit_all(go_project)
    built = run_cli("build", "--go-only", "--platform", "linux/amd64", cwd=go_project, env={"GOTOOLCHAIN": "local"})
    assert built.returncode == 2, built.stderr
    assert "GOTOOLCHAIN=local, but go/go.mod pins go1.24.0 and the local go is go1." in built.stderr
    assert "unset GOTOOLCHAIN so go fetches go1.24.0" in built.stderr


def test_a_version_variable_that_is_not_a_string_gets_a_hint(go_project: Path) -> None:
    from .conftest import commit_all

    main = go_project / "go" / "cmd" / "worker" / "main.go"
    main.write_text(main.read_text().replace('var version = "dev"', "var version = 3"))
    commit_all(go_project)
    auto = run_cli("build", "--go-only", "--platform", "linux/amd64", cwd=go_project)
    assert auto.returncode == 0 and "no version variable to stamp" in auto.stderr, auto.stderr
    built = run_cli(
        "build",
        "--go-only",
        "--platform",
        "linux/amd64",
        "--force",
        cwd=go_project,
        env={"REPROTASKS_GO_VERSION_VARIABLE": "main.version"},
    )
    assert built.returncode == 1, built.stderr
    assert "the version variable is not a string variable" in built.stderr
    assert "set `go.version-variable`" in built.stderr


def test_goreleaser_knobs_root_main_binary_names_archive_files_and_names(go_project: Path, tmp_path: Path) -> None:
    """A root main package named after the module path (without /v2), a detected `Version`
    variable, an excluded tool, renamed binaries, LICENSE in every archive and a custom archive name."""
    import json
    import tarfile
    import zipfile

    from .conftest import commit_all

    module = go_project / "go"
    for source in [module / "go.mod", *module.rglob("*.go")]:
        source.write_text(source.read_text().replace("example.com/hybrid/worker", "example.com/acme/v2"))
    (module / "main.go").write_text(
        'package main\n\nimport "fmt"\n\nvar (\n\tVersion string\n\tcommit = "none"\n)\n\n'
        "func main() { fmt.Println(Version, commit) }\n"
    )
    (module / "cmd" / "devtool").mkdir()
    (module / "cmd" / "devtool" / "main.go").write_text("package main\n\nfunc main() {}\n")
    worker = module / "cmd" / "worker" / "main.go"
    worker.write_text(worker.read_text().replace("version", "Version"))
    (go_project / "LICENSE").write_text("MIT\n")
    settings = (
        "\n[tool.reprotasks.go]\n"
        'exclude-packages = ["./cmd/devtool"]\n'
        'binary-names = ["./cmd/worker=acme-worker"]\n'
        'archive-files = ["LICENSE"]\n'
        'archive-name = "{binary}-{version}-{os}-{arch}"\n'
    )
    pyproject = go_project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + settings)
    commit_all(go_project)
    shown = json.loads(run_cli("config", cwd=go_project).stdout)["go"]
    assert shown["main-packages"] == ["./cmd/worker", "."]
    assert shown["binary-names"] == [".=acme", "./cmd/worker=acme-worker"]
    built = run_cli("build", "--go-only", "--platform", "linux/amd64", "--platform", "windows/amd64", cwd=go_project)
    assert built.returncode == 0 and "WARNING" not in built.stderr, built.stderr
    assert "-X main.Version=0.3.0" in built.stderr
    dist = go_project / "dist"
    assert sorted(path.name for path in dist.iterdir()) == [
        "acme-0.3.0-linux-amd64.tar.gz",
        "acme-0.3.0-windows-amd64.zip",
        "acme-worker-0.3.0-linux-amd64.tar.gz",
        "acme-worker-0.3.0-windows-amd64.zip",
        "manifest.json",
    ]
    with tarfile.open(dist / "acme-0.3.0-linux-amd64.tar.gz") as archive:
        assert archive.getnames() == ["LICENSE", "acme"]
        archive.extractall(tmp_path / "x", filter="data")
    with zipfile.ZipFile(dist / "acme-worker-0.3.0-windows-amd64.zip") as archive:
        assert sorted(archive.namelist()) == ["LICENSE", "acme-worker.exe"]
    ran = subprocess.run([str(tmp_path / "x" / "acme")], capture_output=True, text=True, check=True)
    assert ran.stdout == "0.3.0 none\n"
    manifest = json.loads((dist / "manifest.json").read_text())
    assert manifest["go"]["archives"] == {
        "name": "{binary}-{version}-{os}-{arch}",
        "files": ["LICENSE"],
        "binaries": {".": "acme", "./cmd/worker": "acme-worker"},
    }
    for step in ("sbom", "checksum", "provenance"):
        done = run_cli(step, cwd=go_project)
        assert done.returncode == 0, done.stderr
    reproduced = run_cli("reproduce", cwd=go_project)
    assert reproduced.returncode == 0, reproduced.stderr
    # A member the archive should not hold is refused by every step that re-derives the manifest.
    with tarfile.open(dist / "acme-0.3.0-linux-amd64.tar.gz") as archive:
        names = archive.getnames()
    extra = tmp_path / "extra.tar.gz"
    with tarfile.open(extra, "w:gz") as archive:
        archive.add(tmp_path / "x" / "acme", "acme")
    os.replace(extra, dist / "acme-0.3.0-linux-amd64.tar.gz")
    refused = run_cli("sbom", cwd=go_project)
    assert refused.returncode != 0 and "regular members LICENSE, acme expected" in refused.stderr, refused.stderr
    assert names == ["LICENSE", "acme"]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('exclude-packages = ["./cmd/nope"]', "`go.exclude-packages` entry './cmd/nope' is not one of the main"),
        ('binary-names = ["./cmd/worker=../x"]', "`go.binary-names` entry './cmd/worker=../x' is not PACKAGE=NAME"),
        ('binary-names = ["./cmd/other=x"]', "`go.binary-names` entry './cmd/other=x' is not PACKAGE=NAME"),
        ('archive-name = "{binary}_{version}"', "`go.archive-name` = '{binary}_{version}' is not a usable"),
        ('archive-name = "{binary}/{os}_{arch}"', "is not a usable archive name"),
        ('archive-name = "{name}_{os}_{arch}"', "is not a usable archive name"),
        ('archive-files = ["../etc/passwd"]', "points outside the project"),
        ('archive-files = ["NOPE"]', "`go.archive-files` entry 'NOPE' is not a regular file"),
        ('archive-files = [".git/config"]', "`go.archive-files` entry '.git/config' is not a regular file"),
        ('archive-files = ["NOTICE"]', "`go.archive-files` entry 'NOTICE' is not a regular file"),  # a symlink
    ],
)
def test_bad_goreleaser_knobs_are_config_errors(go_project: Path, setting: str, message: str) -> None:
    (go_project / ".git").mkdir()
    (go_project / ".git" / "config").write_text("[core]\n")
    (go_project / "NOTICE").symlink_to("README.md")
    pyproject = go_project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + f"\n[tool.reprotasks.go]\n{setting}\n")
    result = run_cli("config", cwd=go_project)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_every_go_module_is_locked_and_verified(go_project: Path) -> None:
    """A second module (tools, no commands) is tidied by lock and checked by verify; go/ is still released."""
    tools = go_project / "tools"
    tools.mkdir()
    (tools / "go.mod").write_text("module example.com/tools\n\ngo 1.23\n")
    (tools / "tools.go").write_text('package tools\n\nimport _ "github.com/google/uuid"\n')
    config = load_config(go_project)
    assert [config.rel(module) for module in config.go.modules] == ["go", "tools"]
    assert config.rel(config.go.module) == "go"  # type: ignore[arg-type]
    found = findings(go_project)
    assert any(f.startswith("tools/go.mod:3: the Go toolchain is not pinned") for f in found), found
    assert any(f.startswith("tools/go.mod") and "not tidy" in f for f in found), found
    result = lock(load_config(go_project), runner=Runner(go_project, log=lambda _line: None))
    assert dict(result.go_modules) == {"go": False, "tools": True}
    assert "github.com/google/uuid" in (tools / "go.mod").read_text()


def test_an_archive_name_that_would_collide_is_refused_before_building(go_project: Path) -> None:
    pyproject = go_project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + '\n[tool.reprotasks.go]\narchive-name = "{binary}_{os}_{arch}"\n')
    from .conftest import commit_all

    commit_all(go_project)
    built = run_cli("build", "--go-only", "--platform", "linux/arm/v6", "--platform", "linux/arm/v7", cwd=go_project)
    assert built.returncode == 2 and "the same archive name as ./cmd/worker for linux/arm/v6" in built.stderr
    assert not (go_project / "dist").exists()


def test_webassembly_build_information_that_could_be_forged_is_refused(tmp_path: Path) -> None:
    from reprotasks.errors import ReprotasksError
    from reprotasks.go.binaries import _MODINFO_END, _MODINFO_START, wasm_build_info

    real = _MODINFO_START + b"path\texample.com/app\nbuild\tGOOS=js\n" + _MODINFO_END
    module = tmp_path / "app.wasm"
    module.write_bytes(b"\0asm\x01\0\0\0" + b"go1.26.8" + b"\0" + real + b"requires go1.21 or later")
    assert wasm_build_info(module, "go1.26.8") == ("go1.26.8", ("path\texample.com/app", "build\tGOOS=js"))
    with pytest.raises(ReprotasksError, match=r"2 Go version strings and none is go1\.25\.0"):
        wasm_build_info(module, "go1.25.0")
    planted = _MODINFO_START + b"dep\tgithub.com/totally/legit\tv9.9.9\n" + _MODINFO_END
    module.write_bytes(b"\0asm\x01\0\0\0go1.26.8\0" + planted + real)
    with pytest.raises(ReprotasksError, match="not marked exactly once"):
        wasm_build_info(module, "go1.26.8")


GGCR_GORELEASER = """\
builds:
  - id: crane
    main: ./cmd/crane/main.go
    binary: crane
    flags: [-trimpath]
    ldflags: ["-s -w -X example.com/ggcr/pkg/v.Version={{.Version}}"]
    goos: [linux, darwin]
    goarch: [amd64]
  - id: gcrane
    main: ./cmd/gcrane/main.go
    binary: gcrane
    ldflags: ["-s -w -X example.com/ggcr/pkg/v.Version={{.Version}}"]
    goos: [linux, darwin]
    goarch: [amd64]
  - id: krane
    dir: ./cmd/krane
    main: ./main.go
    binary: krane
archives:
  - name_template: >-
      {{ .ProjectName }}_
      {{- title .Os }}_
      {{- if eq .Arch "amd64" }}x86_64{{- else }}{{ .Arch }}{{ end }}
"""


def test_a_goreleaser_config_of_several_binaries_and_a_nested_module_builds_with_no_settings(
    tmp_path: Path, go_env: dict[str, str]
) -> None:
    """go-containerregistry's shape: crane and gcrane in the root module, stamped and stripped
    (`-s -w`) by the GoReleaser ldflags, krane in a module of its own under cmd/."""
    from .conftest import commit_all, git

    root = tmp_path / "ggcr"
    (root / "pkg" / "v").mkdir(parents=True)
    (root / "pkg" / "v" / "v.go").write_text('package v\n\nvar Version = "dev"\n')
    for name in ("crane", "gcrane"):
        (root / "cmd" / name).mkdir(parents=True)
        (root / "cmd" / name / "main.go").write_text(
            f'package main\n\nimport "example.com/ggcr/pkg/v"\n\nfunc main() {{ println("{name}", v.Version) }}\n'
        )
    (root / "cmd" / "krane").mkdir()
    (root / "cmd" / "krane" / "go.mod").write_text("module example.com/ggcr/cmd/krane\n\ngo 1.26.8\n")
    (root / "cmd" / "krane" / "main.go").write_text("package main\n\nfunc main() {}\n")
    (root / "go.mod").write_text("module example.com/ggcr\n\ngo 1.26.8\n")
    (root / ".goreleaser.yml").write_text(GGCR_GORELEASER)
    commit_all(root)
    git("tag", "v0.21.9", cwd=root)
    built = run_cli("build", cwd=root, env=go_env)
    output = built.stdout + built.stderr
    assert built.returncode == 0, output
    assert "WARNING" not in output, output  # stripped binaries carry the version: no false warning
    assert "builds[krane] (`dir: ./cmd/krane`) is in another Go module: left out" in output, output
    assert "each binary gets an archive of its own" in output
    assert output.count("-X example.com/ggcr/pkg/v.Version=0.21.9") == 4, output  # once per go build
    dist = root / "dist"
    assert sorted(path.name for path in dist.iterdir()) == [  # GoReleaser's default names, one binary each
        "crane_Darwin_x86_64.tar.gz",
        "crane_Linux_x86_64.tar.gz",
        "gcrane_Darwin_x86_64.tar.gz",
        "gcrane_Linux_x86_64.tar.gz",
        "manifest.json",
    ]
    import tarfile

    with tarfile.open(dist / "gcrane_Linux_x86_64.tar.gz") as archive:
        archive.extractall(tmp_path / "x", filter="data")
    ran = subprocess.run([str(tmp_path / "x" / "gcrane")], capture_output=True, text=True, check=True)
    assert ran.stderr == "gcrane 0.21.9\n"  # println writes to stderr


def test_a_pinned_toolchain_not_on_this_machine_is_announced_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh runner waits for go to fetch go.mod's toolchain: one line says so (nothing is fetched here)."""
    import platform

    from reprotasks.go import binaries

    module = tmp_path / "m"
    module.mkdir()
    (module / "go.mod").write_text("module example.com/m\n\ngo 1.26.0\n\ntoolchain go1.99.1\n")
    cache = tmp_path / "modcache"
    monkeypatch.setenv("GOMODCACHE", str(cache))
    monkeypatch.delenv("GOTOOLCHAIN", raising=False)
    monkeypatch.setattr(binaries, "_ANNOUNCED", set())
    lines: list[str] = []
    runner = Runner(module, log=lines.append)
    assert binaries.go_toolchain(module, runner=runner).setting == "go1.99.1"
    binaries.go_toolchain(module, runner=runner)
    announced = [line for line in lines if "go1.99.1 (m/go.mod's pin) is not on this machine" in line]
    assert len(announced) == 1, lines
    host = f"{platform.system().lower()}-{binaries._GOARCH[platform.machine().lower()]}"
    (cache / "golang.org" / f"toolchain@v0.0.1-go1.99.1.{host}").mkdir(parents=True)
    monkeypatch.setattr(binaries, "_ANNOUNCED", set())
    lines.clear()
    binaries.go_toolchain(module, runner=runner)
    assert not [line for line in lines if "is not on this machine" in line], lines


def test_an_empty_go_build_cache_is_announced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh runner's first build compiles the standard library: one line says why it takes minutes."""
    from reprotasks.go import binaries

    module = tmp_path / "m"
    module.mkdir()
    (module / "go.mod").write_text("module example.com/m\n\ngo 1.26.0\n")
    lines: list[str] = []
    runner = Runner(module, log=lines.append)
    warm = tmp_path / "warm"
    for index in range(256):
        (warm / f"{index:02x}").mkdir(parents=True)
        (warm / f"{index:02x}" / f"{index:02x}aa-a").write_bytes(b"")
        (warm / f"{index:02x}" / f"{index:02x}bb-d").write_bytes(b"")
    monkeypatch.setenv("GOCACHE", str(warm))
    monkeypatch.setattr(binaries, "_HERMETIC", {})
    binaries.say_if_cold_cache(module, runner=runner)
    assert not lines
    empty = tmp_path / "gocache"
    monkeypatch.setenv("GOCACHE", str(empty))
    monkeypatch.setattr(binaries, "_HERMETIC", {})
    binaries.say_if_cold_cache(module, runner=runner)
    assert lines == [
        f"go: the build cache ({empty}) is empty: this first build compiles the standard library and every "
        "dependency for each platform (minutes on a small runner); later builds reuse it"
    ]


def test_archives_in_a_directory_named_like_them_build_check_and_reproduce(go_project: Path) -> None:
    """`go.archive-in-directory` (GoReleaser's `wrap_in_directory: true`): every member sits in
    `<archive name>/`; the attesting steps re-derive and accept it, and reproduce gives the same bytes."""
    import tarfile

    from .conftest import commit_all

    with (go_project / "pyproject.toml").open("a") as handle:
        handle.write(
            '\n[tool.reprotasks.go]\narchive-in-directory = true\narchive-files = ["README.md"]\n'
            'platforms = ["linux/amd64"]\n'
        )
    commit_all(go_project)
    built = run_cli("release", "--skip", "sign", "--skip", "verify-signatures", cwd=go_project)
    assert built.returncode == 0, built.stderr
    with tarfile.open(go_project / "dist" / "worker_0.3.0_linux_amd64.tar.gz") as archive:
        assert archive.getnames() == ["worker_0.3.0_linux_amd64/README.md", "worker_0.3.0_linux_amd64/worker"]
    reproduced = run_cli("reproduce", cwd=go_project)
    assert reproduced.returncode == 0, reproduced.stderr
