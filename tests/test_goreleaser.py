"""A repository's own .goreleaser.yml is how reprotasks builds it when [tool.reprotasks.go] is silent."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from reprotasks.config import load_config
from reprotasks.errors import ConfigError
from reprotasks.go.binaries import Stamp, build_flags

MAIN = 'package main\n\nvar version = "dev"\n\nfunc main() { println(version) }\n'
GORELEASER = """\
version: 2
project_name: tool
before:
  hooks: [go mod tidy]
builds:
  - id: cli
    main: ./cmd/tool-cl
    binary: tool
    ldflags:
      - -s -w -X main.version={{ .Version }} -X main.revision={{ .ShortCommit }} -X main.built={{.CommitDate}}
      - -X main.who={{ .Env.USER }} -X main.full={{.FullCommit}}
    tags: [netgo]
    env: [CGO_ENABLED=0, GOFLAGS=-mod=vendor]
    goos: [linux, darwin, windows, js]
    goarch: [amd64, arm64, arm]
    goarm: ["6", "7"]
    ignore:
      - goos: darwin
        goarch: arm
      - goos: windows
        goarch: arm
      - goos: linux
        goarch: arm
        goarm: "6"
  - id: skipped
    main: ./cmd/other
    skip: true
archives:
  - name_template: "{{ .ProjectName }}_{{ .Version }}_{{ .Os }}_{{ .Arch }}"
    files: [LICENSE, "docs/*"]
"""


def _project(root: Path, goreleaser: str = GORELEASER, pyproject: str = "") -> Path:
    for package in ("cmd/tool-cl", "cmd/other"):
        (root / package).mkdir(parents=True)
        (root / package / "main.go").write_text(MAIN)
    (root / "go.mod").write_text("module example.com/acme/tool/v2\n\ngo 1.26.8\n")
    (root / "LICENSE").write_text("MIT\n")
    (root / ".goreleaser.yaml").write_text(goreleaser)
    (root / "pyproject.toml").write_text(pyproject)
    return root


def test_builds_archives_and_templates_are_mapped_and_the_rest_is_named(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text("# Guide\n")
    go = load_config(_project(tmp_path)).go
    assert go.goreleaser == ".goreleaser.yaml"
    assert go.main_packages == ("./cmd/tool-cl",)  # the skipped build is not one
    assert go.binary_names == {"./cmd/tool-cl": "tool"}
    assert go.ldflags == (
        "-s", "-w", "-X", "main.version={version}", "-X", "main.revision={short_commit}",
        "-X", "main.built={date}", "-X", "main.full={commit}",
    )  # fmt: skip
    assert go.tags == ("netgo",)
    assert go.platforms == (
        "linux/amd64", "linux/arm64", "linux/arm/v7", "darwin/amd64", "darwin/arm64", "windows/amd64", "windows/arm64",
    )  # fmt: skip
    # GoReleaser's .Arch is GOARCH alone: this template names no ARM variant (linux/arm/v7 -> `_arm`).
    assert go.archive_name == "tool_{version}_{os}_{arch}"
    assert go.archive_files == ("LICENSE", "docs/guide.md")  # a glob names the files it matches
    notes = "\n".join(go.goreleaser_notes)
    assert "{{ .Env.USER }}" in notes and "`before` hooks are not run" in notes
    assert "GOFLAGS=-mod=vendor" in notes and "docs" not in notes
    # What the build passes to the linker: every placeholder filled from the commit.
    flags = build_flags("1.2.3", version_variables=(), ldflags=go.ldflags, stamp=Stamp("1.2.3", "ab" * 20, 86400))
    assert flags[-1] == (
        "-ldflags=-buildid= -s -w -X main.version=1.2.3 -X main.revision=abababa "
        f"-X main.built=1970-01-02T00:00:00Z -X main.full={'ab' * 20}"
    )


def test_settings_of_ours_win_and_defaults_fill_the_rest(tmp_path: Path) -> None:
    pyproject = '[tool.reprotasks.go]\nplatforms = ["linux/amd64"]\nldflags = ["-s"]\n'
    go = load_config(_project(tmp_path, pyproject=pyproject)).go
    assert go.platforms == ("linux/amd64",) and go.ldflags == ("-s",)
    assert go.binary_names == {"./cmd/tool-cl": "tool"} and go.archive_name == "tool_{version}_{os}_{arch}"


def test_a_minimal_config_gets_goreleasers_defaults_and_a_templated_archive_name_is_left(tmp_path: Path) -> None:
    minimal = textwrap.dedent(
        """\
        builds:
          - main: ./cmd/tool-cl/main.go
        archives:
          - name_template: '{{ .ProjectName }}_{{- if eq .Os "darwin" }}macOS{{- else }}{{ .Os }}{{ end }}'
        """
    )
    go = load_config(_project(tmp_path, minimal)).go
    assert go.main_packages == ("./cmd/tool-cl",)
    assert go.platforms == (
        "darwin/amd64", "darwin/arm64", "linux/386", "linux/amd64", "linux/arm64", "windows/386", "windows/amd64",
        "windows/arm64",
    )  # fmt: skip
    assert go.archive_name == "{binary}_{version}_{os}_{arch}{variant}"  # reprotasks' own, and said so
    assert any("name_template" in note for note in go.goreleaser_notes)


def test_a_broken_goreleaser_file_is_one_paragraph(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(_project(tmp_path, "builds: [\n"))
    assert ".goreleaser.yaml cannot be read as YAML" in raised.value.message


def test_the_arm_suffix_idiom_of_archive_names_is_the_variant(tmp_path: Path) -> None:
    """fzf's `{{ .ProjectName }}-{{ .Version }}-{{ .Os }}_{{ .Arch }}{{ if .Arm }}v{{ .Arm }}{{ end }}`."""
    config = textwrap.dedent(
        """\
        project_name: fzf
        builds: [{main: ./cmd/tool-cl}]
        archives:
          - name_template: "{{ .ProjectName }}-{{ .Version }}-{{ .Os }}_{{ .Arch }}{{ if .Arm }}v{{ .Arm }}{{ end }}"
            formats: [tar.gz]
            format_overrides: [{goos: windows, formats: [zip]}]
        """
    )
    go = load_config(_project(tmp_path, config)).go
    assert go.archive_name == "fzf-{version}-{os}_{arch}{variant}" and go.goreleaser_notes == ()
    assert go.archive_files == ("LICENSE",)  # GoReleaser's default files (LICENSE*, README*, CHANGELOG*)


def test_targets_name_the_platforms(tmp_path: Path) -> None:
    """yq lists `targets` (os_arch[_variant]) instead of goos x goarch."""
    config = textwrap.dedent(
        """\
        builds:
          - binary: yq_{{ .Os }}_{{ .Arch }}
            main: ./cmd/tool-cl
            targets: [linux_amd64, linux_arm, linux_arm_7, linux_amd64_v3, darwin_arm64, js_wasm, plan8_x]
        """
    )
    go = load_config(_project(tmp_path, config)).go
    assert go.platforms == ("linux/amd64", "linux/arm/v6", "linux/arm/v7", "linux/amd64/v3", "darwin/arm64")
    assert go.binary_names == {"./cmd/tool-cl": "tool-cl"}  # a name per platform is not one name: said
    assert len([note for note in go.goreleaser_notes if "yq_{{ .Os }}_{{ .Arch }}" in note]) == 1  # said once


def test_a_placeholder_version_outside_main_is_stamped_and_a_literal_is_not(tmp_path: Path) -> None:
    """bazelisk keeps `BazeliskVersion = "development"` in package core: stamped. yq's `Version =
    "v4.53.6"` and gojq's `const version` are the version already: nothing to stamp or warn about."""
    root = _project(tmp_path, "builds: [{main: ./cmd/tool-cl}]\n")
    (root / "core").mkdir()
    (root / "core" / "core.go").write_text(
        'package core\n\n// BazeliskVersion is stamped.\nvar BazeliskVersion = "development" // set by the release\n'
        'var (\n\tbuildVersion string = "unknown"\n\tOtherVersion = "1.2.3"\n)\n\nconst Version = "dev"\n'
        'func f() { var version = "dev"; _ = version }\n'
    )
    (root / "internal" / "info").mkdir(parents=True)
    (root / "internal" / "info" / "info.go").write_text('package info\n\nvar Version = "v0.0.0-dev"\n')
    (root / "internal" / "version").mkdir(parents=True)  # receptor: `var Version string`, empty until stamped
    (root / "internal" / "version" / "version.go").write_text("package version\n\nvar Version string\n")
    go = load_config(root).go
    assert go.version_variables == (
        "main.version",
        "example.com/acme/tool/v2/core.BazeliskVersion",
        "example.com/acme/tool/v2/core.buildVersion",
        "example.com/acme/tool/v2/internal/info.Version",
        "example.com/acme/tool/v2/internal/version.Version",
    )


def test_a_binary_holding_its_version_as_text_carries_it(tmp_path: Path) -> None:
    from reprotasks.go.binaries import carries_version

    binary = tmp_path / "tool"
    binary.write_bytes(b"\0" * (1 << 20) + b"v4.53" + b".6 trailing")  # across a chunk boundary too
    assert carries_version(binary, "4.53.6") and not carries_version(binary, "4.53.7")
    assert not carries_version(binary, "4.5")  # too short to prove anything


def test_a_makefiles_commit_stamps_are_taken_without_a_goreleaser_file(tmp_path: Path) -> None:
    """gojq: `BUILD_LDFLAGS = "-s -w -X github.com/itchyny/$(BIN)/cli.revision=$(CURRENT_REVISION)"`."""
    root = _project(tmp_path)
    (root / ".goreleaser.yaml").unlink()
    (root / "Makefile").write_text(
        "BIN := tool\nCURRENT_REVISION = $(shell git rev-parse --short HEAD)\nFULL := $(shell git rev-parse HEAD)\n"
        'BUILD_LDFLAGS = "-s -w -X example.com/acme/$(BIN)/cli.revision=$(CURRENT_REVISION)"\n\n'
        "build:\n\tgo build -ldflags=$(BUILD_LDFLAGS) -X 'main.commit=$(FULL)' -X main.user=$(USER) ./cmd/$(BIN)\n"
    )
    go = load_config(root).go
    assert go.goreleaser == "Makefile"
    assert go.ldflags == ("-X", "example.com/acme/tool/cli.revision={short_commit}", "-X", "main.commit={commit}")


def test_goreleasers_default_archive_name_is_followed(tmp_path: Path) -> None:
    """`goreleaser init` writes this name_template: the OS title-cased, amd64 as x86_64, 386 as i386."""
    from reprotasks.go.binaries import archive_name

    default = GORELEASER.replace(
        '  - name_template: "{{ .ProjectName }}_{{ .Version }}_{{ .Os }}_{{ .Arch }}"\n',
        "  - name_template: >-\n"
        "      {{ .ProjectName }}_\n"
        "      {{- title .Os }}_\n"
        '      {{- if eq .Arch "amd64" }}x86_64\n'
        '      {{- else if eq .Arch "386" }}i386\n'
        "      {{- else }}{{ .Arch }}{{ end }}\n"
        "      {{- if .Arm }}v{{ .Arm }}{{ end }}\n",
    )
    go = load_config(_project(tmp_path, default)).go
    assert go.archive_name == "tool_{os:title}_{arch:amd64=x86_64,386=i386}{variant}"
    names = [archive_name("tool", "1.0", platform, go.archive_name) for platform in go.platforms]
    assert "tool_Linux_x86_64.tar.gz" in names and "tool_Darwin_arm64.tar.gz" in names
    assert "tool_Linux_armv7.tar.gz" in names and "tool_Windows_x86_64.zip" in names
    assert not [note for note in go.goreleaser_notes if "name_template" in note]


@pytest.mark.parametrize(
    "name", ["{binary}_{os:upper}_{arch}", "{binary}_{os}_{arch:amd64}", "{binary}_{os}_{arch:amd64=x/y}"]
)
def test_an_archive_name_modifier_must_be_one_reprotasks_knows(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="is not a usable archive name"):
        load_config(_project(tmp_path, "", f"[tool.reprotasks.go]\narchive-name = {name!r}\n"))


def test_archive_formats_and_mod_timestamp_other_than_reprotasks_are_named(tmp_path: Path) -> None:
    """reprotasks writes tar.gz (zip on windows) stamped with the commit time: GoReleaser settings
    asking for that are silent, any other is named."""
    config = textwrap.dedent(
        """\
        builds:
          - {main: ./cmd/tool-cl, mod_timestamp: "{{ .CommitTimestamp }}"}
          - {main: ./cmd/other, mod_timestamp: "{{ .Now.Unix }}"}
        archives:
          - format: tar.xz
        """
    )
    notes = "\n".join(load_config(_project(tmp_path, config)).go.goreleaser_notes)
    assert "`mod_timestamp: {{ .Now.Unix }}` is not followed" in notes and "CommitTimestamp" not in notes
    assert "archive formats tar.xz (tar.xz on windows) are not followed" in notes


def test_what_goreleaser_says_that_reprotasks_does_not_follow_is_named(tmp_path: Path) -> None:
    """A `/vN` module is named after the repository (GoReleaser's default project name), the tree is
    clean in every build (`IsGitDirty` is false), `wrap_in_directory: true` is followed, and
    `includes` and files a `before` hook would make are each named in a note instead of being
    dropped silently."""
    config = textwrap.dedent(
        """        includes: [{from_url: {url: https://example.invalid/goreleaser.yaml}}]
        gomod: {proxy: true}
        universal_binaries: [{replace: true}]
        builds:
          - main: ./cmd/tool-cl
            ldflags: ["-X main.dirty={{ .IsGitDirty }}"]
        archives:
          - wrap_in_directory: true
            files: [LICENSE, "completions/*", "none*"]
        """
    )
    go = load_config(_project(tmp_path, config)).go
    assert go.archive_name == "{binary}_{version}_{os}_{arch}{variant}"  # GoReleaser's default: reprotasks' names
    assert go.ldflags == ("-X", "main.dirty=false")
    notes = "\n".join(go.goreleaser_notes)
    assert "`includes` are not read" in notes
    assert "`gomod.proxy` is not followed" in notes and "`universal_binaries`" in notes
    assert go.archive_in_directory  # `wrap_in_directory: true`: a directory named like the archive
    assert "archive files 'completions/*' match no committed file: the archives lack them" in notes
    assert "none*" not in notes  # GoReleaser's way of adding no file
    named = textwrap.dedent(
        """        builds: [{main: ./cmd/tool-cl}]
        archives: [{name_template: "{{ .ProjectName }}_{{ .Os }}_{{ .Arch }}"}]
        """
    )
    (tmp_path / "v").mkdir()
    assert load_config(_project(tmp_path / "v", named)).go.archive_name == "tool_{os}_{arch}"  # not `v2_...`
