"""A repository's own GoReleaser configuration, read for what reprotasks can build the same way.

Without `[tool.reprotasks.go]` settings, a Go module with a `.goreleaser.y(a)ml` beside its
go.mod (or at the project root) is built as its own release is: the main packages and binary
names of `builds[]` (`main`, `binary`), their `ldflags` (with GoReleaser's templates mapped to
placeholders filled from the commit: `{{.Version}}`, `{{.Tag}}`, `{{.Commit}}`, `{{.FullCommit}}`,
`{{.ShortCommit}}`, `{{.Date}}`, `{{.CommitDate}}`, `{{.Timestamp}}`, `{{.CommitTimestamp}}`,
`{{.ProjectName}}`), `tags`, the platforms of `goos` x `goarch` (`goarm`, `goamd64`, `ignore`,
GoReleaser's defaults when absent), and the first archive's `name_template` and plain `files`.
What cannot be mapped (another template, a hook, `env` other than CGO_ENABLED=0, a glob of
files) is listed in ``notes`` for `init`/`build` to show; it never silently changes a build.
``{{.Date}}`` is the commit's time, not the clock's: that is what keeps the binary reproducible.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from reprotasks.discover import GORELEASER_FILES
from reprotasks.errors import ConfigError

NAMES = GORELEASER_FILES

# `go tool dist list` of Go 1.26 without the targets that need cgo or a JavaScript host.
_VALID = frozenset(
    {
        "aix/ppc64",
        "android/arm64",
        "darwin/amd64",
        "darwin/arm64",
        "dragonfly/amd64",
        "freebsd/386",
        "freebsd/amd64",
        "freebsd/arm",
        "freebsd/arm64",
        "illumos/amd64",
        "linux/386",
        "linux/amd64",
        "linux/arm",
        "linux/arm64",
        "linux/loong64",
        "linux/mips",
        "linux/mips64",
        "linux/mips64le",
        "linux/mipsle",
        "linux/ppc64",
        "linux/ppc64le",
        "linux/riscv64",
        "linux/s390x",
        "netbsd/386",
        "netbsd/amd64",
        "netbsd/arm",
        "netbsd/arm64",
        "openbsd/386",
        "openbsd/amd64",
        "openbsd/arm",
        "openbsd/arm64",
        "openbsd/ppc64",
        "openbsd/riscv64",
        "plan9/386",
        "plan9/amd64",
        "plan9/arm",
        "solaris/amd64",
        "wasip1/wasm",
        "windows/386",
        "windows/amd64",
        "windows/arm64",
    }
)
_DEFAULT_GOOS = ("darwin", "linux", "windows")
_DEFAULT_GOARCH = ("386", "amd64", "arm64")
_TEMPLATE = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}")
_FIELD = re.compile(r"^\.(\w+)$")
_PLACEHOLDERS = {
    "Version": "{version}",
    "RawVersion": "{version}",
    "Tag": "{tag}",
    "Commit": "{commit}",
    "FullCommit": "{commit}",
    "ShortCommit": "{short_commit}",
    "Date": "{date}",
    "CommitDate": "{date}",
    "Timestamp": "{timestamp}",
    "CommitTimestamp": "{timestamp}",
    "IsGitDirty": "false",  # every build is of a clean checkout of the commit
    "IsGitClean": "true",
    "GitTreeState": "clean",
}
_ARCHIVE_FIELDS = {"Version": "{version}", "Os": "{os}", "Arch": "{arch}", "Binary": "{binary}", "Variant": "{variant}"}
_ARM_SUFFIX = re.compile(r"\{\{-?\s*if\s+\.Arm\s*-?\}\}v\{\{-?\s*\.Arm\s*-?\}\}\{\{-?\s*end\s*-?\}\}")


@dataclass(frozen=True)
class GoReleaser:
    path: str  # the configuration file, relative to the project root
    main_packages: tuple[str, ...] = ()
    binary_names: Mapping[str, str] = field(default_factory=dict)
    ldflags: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    archive_name: str | None = None
    archive_files: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    archive_in_directory: bool = False


# `NAME = value` (also `:=`, `::=`, `?=`) on one line of a Makefile.
_ASSIGNMENT = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*(?:::=|:=|\?=|=)\s*(?P<value>.*?)\s*$")
_REFERENCE = re.compile(r"\$[({](?P<name>[A-Za-z_][A-Za-z0-9_]*)[)}]")
_STAMP = re.compile(r"-X\s*['\"]?(?P<symbol>[^\s='\"]+)=(?P<value>[^\s'\"]+)")
# What a Makefile's shell commands give, as placeholders filled from the commit.
_SHELL_VALUES = {
    "$(shell git rev-parse --short HEAD)": "{short_commit}",
    "$(shell git rev-parse --short=7 HEAD)": "{short_commit}",
    "$(shell git rev-parse HEAD)": "{commit}",
    "$(shell git log -1 --format=%H)": "{commit}",
    "$(shell git log -1 --format=%h)": "{short_commit}",
}


def read_makefile(root: Path, module: Path) -> GoReleaser | None:
    """The ``-X`` stamps of a Makefile beside ``module`` (or at ``root``) whose values are the commit
    (``$(shell git rev-parse --short HEAD)`` and the like, through simple variables): gojq's
    ``-X github.com/itchyny/$(BIN)/cli.revision=$(CURRENT_REVISION)``. None without such a stamp."""
    path = next((directory / "Makefile" for directory in (module, root) if (directory / "Makefile").is_file()), None)
    if path is None:
        return None
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    variables: dict[str, str] = {}
    for line in lines:
        match = _ASSIGNMENT.match(line)
        if match and not line.startswith("\t"):
            variables.setdefault(match["name"], match["value"])
    shown = path.relative_to(root).as_posix()
    flags: list[str] = []
    for line in lines:
        expanded = _expand(line, variables)
        for command, placeholder in _SHELL_VALUES.items():
            expanded = expanded.replace(command, placeholder)
        for stamp in _STAMP.finditer(expanded):
            symbol, value = stamp["symbol"], stamp["value"]
            if "$" in symbol or "$" in value or not re.fullmatch(r"[\w./-]+\.\w+", symbol):
                continue
            if value.startswith("{") and ["-X", f"{symbol}={value}"] not in _units(flags):
                flags += ["-X", f"{symbol}={value}"]
    return GoReleaser(shown, ldflags=tuple(flags)) if flags else None


def _expand(text: str, variables: Mapping[str, str], depth: int = 0) -> str:
    """``$(NAME)``/``${NAME}`` replaced by simple variables' values (a `$(shell ...)` value is kept as
    written, for ``_SHELL_VALUES`` to recognise); five levels at most."""
    if depth > 5:
        return text

    def value(match: re.Match[str]) -> str:
        found = variables.get(match["name"])
        if found is None:
            return match.group(0)
        return _expand(found.strip('"'), variables, depth + 1)

    return _REFERENCE.sub(value, text)


def find(root: Path, module: Path) -> Path | None:
    for directory in (module, root):
        for name in NAMES:
            if (directory / name).is_file():
                return directory / name
    return None


def _not_followed(document: Mapping[str, Any]) -> list[str]:
    """Notes for the top-level parts of a GoReleaser file a build from the commit does not follow."""
    notes = []
    if document.get("includes"):
        notes.append(
            "`includes` are not read (they come from other files or URLs): only what this file says is followed; "
            "set [tool.reprotasks.go] keys for the rest"
        )
    if isinstance(document.get("source"), dict) and document["source"].get("enabled"):
        notes.append("`source` archive is not made (the sdist, when there is a Python project, is the source)")
    gomod = document.get("gomod")
    if isinstance(gomod, dict) and gomod.get("proxy"):
        notes.append(
            "`gomod.proxy` is not followed: binaries are built from the commit, so their main module is `(devel)` "
            "with no module sum (GoReleaser builds the tagged module from the proxy)"
        )
    if document.get("universal_binaries"):
        notes.append("`universal_binaries` (one darwin binary for both arches) are not made")
    notes += [
        f"`{key}` hooks are not run (the build uses only committed files)"
        for key in ("before", "after", "hooks")
        if document.get(key)
    ]
    return notes


def read(root: Path, module: Path, module_path: str) -> GoReleaser | None:
    """The GoReleaser configuration next to ``module`` (or at ``root``), mapped; None without one."""
    path = find(root, module)
    if path is None:
        return None
    import yaml

    shown = path.relative_to(root).as_posix()
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"{shown} cannot be read as YAML ({str(exc).splitlines()[0]})",
            hint="fix the file, or set [tool.reprotasks.go] keys yourself (they take precedence over it)",
        ) from None
    if not isinstance(document, dict):
        return GoReleaser(shown, notes=(f"{shown} is not a mapping: ignored",))
    project = str(document.get("project_name") or _project_name(module_path))
    reader = _Reader(shown, project, module, root)
    builds = [item for item in document.get("builds") or [{}] if isinstance(item, dict) and not item.get("skip")]
    for build in builds:
        reader.build(build)
    archives = [item for item in document.get("archives") or [{}] if isinstance(item, dict)]
    if archives:  # none written: GoReleaser's default archive
        reader.archive(archives[0], several=len(reader.packages) > 1)
    for note in _not_followed(document):
        reader.note(note)
    return reader.result()


def _project_name(module_path: str) -> str:
    """GoReleaser's default project name, the repository's: the module path's last element, or the
    one before a major-version suffix (`github.com/goreleaser/goreleaser/v2` -> `goreleaser`)."""
    parts = module_path.rstrip("/").split("/")
    if len(parts) > 1 and re.fullmatch(r"v[2-9][0-9]*", parts[-1]):
        return parts[-2]
    return parts[-1]


class _Reader:
    def __init__(self, shown: str, project: str, module: Path, root: Path) -> None:
        self.shown, self.project, self.module, self.root = shown, project, module, root
        # GoReleaser's fields in ldflags and names, as reprotasks fills them.
        self.fields: Mapping[str, str] = {**_PLACEHOLDERS, "ProjectName": project}
        self.packages: list[str] = []
        self.names: dict[str, str] = {}
        self.ldflags: list[str] = []
        self.tags: list[str] = []
        self.platforms: list[str] = []
        self.archive_name: str | None = None
        self.files: list[str] = []
        self.notes: list[str] = []
        self.wrapped = False

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def result(self) -> GoReleaser:
        return GoReleaser(
            self.shown,
            tuple(self.packages),
            dict(self.names),
            tuple(self.ldflags),
            tuple(self.tags),
            tuple(self.platforms),
            self.archive_name,
            tuple(self.files),
            tuple(self.notes),
            self.wrapped,
        )

    def build(self, build: Mapping[str, Any]) -> None:
        package = self._package(build.get("main", "."), build.get("dir", "."), build.get("id"))
        if package is None:
            return
        if package not in self.packages:
            self.packages.append(package)
        binary = self._text(build.get("binary"), f"builds[{package}].binary")
        if binary:
            self.names[package] = binary
        # One flag set serves every main package: each build's flags are added once (`-X` with its value).
        flags = self._ldflags(build.get("ldflags"))
        known = {tuple(unit) for unit in _units(self.ldflags)}
        for unit in _units(flags):
            if tuple(unit) not in known:
                self.ldflags += unit
                known.add(tuple(unit))
        self.tags += [tag for tag in _flags(build.get("tags")) if tag not in self.tags]
        for entry in _flags(build.get("env")):
            if entry != "CGO_ENABLED=0":
                self.note(
                    f"`env: {entry}` is not applied (reprotasks builds with CGO_ENABLED=0 and a clean environment)"
                )
        for platform in _platforms(build):
            if platform not in self.platforms:
                self.platforms.append(platform)
        stamp = build.get("mod_timestamp")
        if stamp is not None and _TEMPLATE.sub(lambda match: match.group(1), str(stamp)).strip() != ".CommitTimestamp":
            self.note(f"`mod_timestamp: {stamp}` is not followed: archived files carry the commit's time")

    def archive(self, archive: Mapping[str, Any], *, several: bool) -> None:
        self._formats(archive)
        wrap = archive.get("wrap_in_directory")
        if wrap in (True, "true"):
            self.wrapped = True  # a directory named like the archive
        elif wrap not in (None, False, "false", ""):
            self.note(f"`wrap_in_directory: {wrap}` is not followed: only `true` (the archive's own name) is")
        template = archive.get("name_template")
        if isinstance(template, str):
            self.archive_name = self._archive_name(template, several=several)
        if several:
            self.note("each binary gets an archive of its own (GoReleaser puts a platform's binaries in one)")
        entries = archive["files"] if "files" in archive else list(_DEFAULT_FILES)
        for entry in entries if isinstance(entries, list) else []:
            name = entry.get("src") if isinstance(entry, dict) else entry
            matched = self._matched(name) if isinstance(name, str) else []
            self.files += [path for path in matched if path not in self.files]
            if matched or "files" not in archive:
                continue
            if not (isinstance(name, str) and any(char in name for char in "*?[")):
                self.note(f"archive file {name!r} is not a plain file of the project: not added")
            elif not re.fullmatch(r"none\*?|non-existent\*?", name):  # GoReleaser's idiom for "no file"
                # A glob of files a `before` hook makes (completions/*, manpages/*) matches nothing here.
                self.note(f"archive files {name!r} match no committed file: the archives lack them")

    def _formats(self, archive: Mapping[str, Any]) -> None:
        """reprotasks writes tar.gz, and zip for windows: a note for any other format the config asks."""
        main = _format_list(archive.get("formats", archive.get("format", "tar.gz")))
        windows = main
        for override in archive.get("format_overrides") or []:
            if isinstance(override, dict) and override.get("goos") == "windows":
                windows = _format_list(override.get("formats", override.get("format")))
        if main != ["tar.gz"] or windows != ["zip"]:
            self.note(
                f"archive formats {'/'.join(main)} ({'/'.join(windows)} on windows) are not followed: reprotasks "
                "writes tar.gz, and zip on windows"
            )

    def _matched(self, pattern: str) -> list[str]:
        """The regular files ``pattern`` (a path or a glob, from the project root) names, sorted."""
        if pattern.startswith("/") or ".." in PurePosixPath(pattern).parts:
            return []
        if not any(char in pattern for char in "*?["):
            path = self.root / pattern
            return [PurePosixPath(pattern).as_posix()] if path.is_file() and not path.is_symlink() else []
        found = {
            path.relative_to(self.root).as_posix()
            for path in self.root.glob(pattern)
            if path.is_file() and not path.is_symlink() and ".git" not in path.relative_to(self.root).parts
        }
        return sorted(found)

    def _ldflags(self, value: object) -> list[str]:
        """Each entry's templates mapped, then split into flags (as GoReleaser splits them); a flag
        with a template reprotasks cannot fill is left out with its `-X`, and noted."""
        flags: list[str] = []
        for entry in [value] if isinstance(value, str) else value if isinstance(value, list) else []:
            if not isinstance(entry, str):
                continue
            mapped, _unknown = _fill(entry, self.fields, missing="\0")
            for token in mapped.split():
                if "\0" in token:
                    self.note(
                        f"ldflags `{entry.strip()}` uses a template reprotasks does not fill: that flag is left out"
                    )
                    if flags and flags[-1] == "-X":
                        flags.pop()
                    continue
                flags.append(token)
        return flags

    def _package(self, main: object, directory: object, build_id: object) -> str | None:
        """The main package a build names (``dir`` + ``main``, as GoReleaser joins them), relative to
        the module; None, with a note, for one reprotasks cannot build with this module."""
        if not isinstance(main, str) or "{{" in main or not isinstance(directory, str) or "{{" in directory:
            self.note(f"`main: {main!r}` (`dir: {directory!r}`) cannot be mapped")
            return None
        path = (self.module / directory / main).resolve()
        if path.suffix == ".go":
            path = path.parent
        if self._in_another_module(path):
            name = f"builds[{build_id}]" if isinstance(build_id, str) else "a build"
            where = f"`dir: {directory}`" if directory not in ("", ".") else f"`main: {main}`"
            self.note(f"{name} ({where}) is in another Go module: left out (a release builds one module)")
            return None
        try:
            relative = path.relative_to(self.module.resolve()).as_posix()
        except ValueError:
            self.note(f"`main: {main}` is outside the Go module")
            return None
        return "." if relative == "." else f"./{relative}"

    def _in_another_module(self, path: Path) -> bool:
        """Whether ``path`` lies in a nested module (a go.mod between it and this module's root)."""
        module = self.module.resolve()
        for parent in (path, *path.parents):
            if parent == module or module not in parent.parents:
                return False
            if (parent / "go.mod").is_file():
                return True
        return False

    def _text(self, value: object, where: str) -> str | None:
        """A setting that must be one fixed text (a binary name): one note when it is not."""
        if not isinstance(value, str):
            return None
        mapped, unknown = _fill(value, self.fields)
        if unknown or any(placeholder in mapped for placeholder in _PLACEHOLDERS.values()):
            self.note(f"`{where}: {value}` depends on the release or the platform: not mapped")
            return None
        return mapped

    def _archive_name(self, written: str, *, several: bool) -> str | None:
        template = _ARM_SUFFIX.sub("{{ .Variant }}", _trimmed(written))  # `{{ if .Arm }}v{{ .Arm }}{{ end }}`
        template = _TITLE_OS.sub("{os:title}", template)
        template = _ARCH_CHAIN.sub(_renamed_arch, template)
        fields = {**_ARCHIVE_FIELDS, "ProjectName": "{binary}" if several else self.project}
        mapped, unknown = _fill(template, fields)
        if unknown or not {"os", "arch"} <= set(re.findall(r"\{(\w+)(?::[^{}]*)?\}", mapped)):
            shown = " ".join(written.split())
            self.note(f"archive `name_template: {shown}` cannot be mapped: archives keep reprotasks' names")
            return None
        return mapped  # (GoReleaser's .Arch is GOARCH alone: a template without .Arm names no variant)


# The files GoReleaser puts in every archive when `files` is not set.
_DEFAULT_FILES = ("LICENSE*", "README*", "CHANGELOG*", "license*", "readme*", "changelog*")

# GoReleaser's default archive name: `{{ title .Os }}`, and an if-chain over .Arch.
_TITLE_OS = re.compile(r"\{\{ title \.Os \}\}")
_ARCH_CHAIN = re.compile(
    r'\{\{ if eq \.Arch "(\w+)" \}\}([A-Za-z0-9._+-]*)((?:\{\{ else if eq \.Arch "\w+" \}\}[A-Za-z0-9._+-]*)*)'
    r"\{\{ else \}\}\{\{ \.Arch \}\}\{\{ end \}\}"
)
_ARCH_BRANCH = re.compile(r'\{\{ else if eq \.Arch "(\w+)" \}\}([A-Za-z0-9._+-]*)')


def _trimmed(template: str) -> str:
    """A Go template with its trim markers applied (``{{- x -}}`` eats the spaces around it) and each
    action written ``{{ x }}``."""
    template = re.sub(r"\s*\{\{-\s+", "{{ ", template)
    template = re.sub(r"\s+-\}\}\s*", " }}", template)
    return re.sub(r"\{\{\s*(.*?)\s*\}\}", lambda match: "{{ " + " ".join(match.group(1).split()) + " }}", template)


def _renamed_arch(match: re.Match[str]) -> str:
    """`{{ if eq .Arch "amd64" }}x86_64{{ else if eq .Arch "386" }}i386{{ else }}{{ .Arch }}{{ end }}`
    as reprotasks' `{arch:amd64=x86_64,386=i386}`."""
    pairs = [(match.group(1), match.group(2)), *_ARCH_BRANCH.findall(match.group(3))]
    return "{arch:" + ",".join(f"{arch}={name}" for arch, name in pairs) + "}"


def _fill(text: str, fields: Mapping[str, str], *, missing: str = "") -> tuple[str, list[str]]:
    """``text`` with each ``{{ .Field }}`` replaced from ``fields``; a template that is not one of
    them becomes ``missing`` and is returned among the unknown."""
    unknown: list[str] = []

    def field(match: re.Match[str]) -> str:
        name = _FIELD.match(match.group(1))
        value = fields.get(name.group(1)) if name is not None else None
        if value is None:
            unknown.append(match.group(0))
            return missing
        return value

    return _TEMPLATE.sub(field, text), unknown


def _units(flags: list[str]) -> list[list[str]]:
    """Linker flags as units: ``-X`` with its ``name=value``, any other flag alone."""
    units: list[list[str]] = []
    index = 0
    while index < len(flags):
        width = 2 if flags[index] == "-X" and index + 1 < len(flags) else 1
        units.append(flags[index : index + width])
        index += width
    return units


def _format_list(value: object) -> list[str]:
    """An archive's `formats` (a list) or `format` (one), as GoReleaser v1 and v2 write them."""
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value] if isinstance(value, list) and value else ["tar.gz"]


def _flags(value: object) -> list[str]:
    """A YAML string or list of strings, split on spaces."""
    entries = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    return [flag for entry in entries if isinstance(entry, str) for flag in entry.split()]


def _platforms(build: Mapping[str, Any]) -> list[str]:
    """``targets`` if given, else ``goos`` x ``goarch`` (x ``goarm``) minus ``ignore``; valid targets
    only, in a stable order."""
    targets = _strings(build.get("targets"))
    if targets:
        return [platform for platform in map(_target, targets) if platform is not None]
    goos = _strings(build.get("goos")) or list(_DEFAULT_GOOS)
    goarch = _strings(build.get("goarch")) or list(_DEFAULT_GOARCH)
    goarm = _strings(build.get("goarm")) or ["6"]
    ignored = [item for item in build.get("ignore") or [] if isinstance(item, dict)]
    platforms = []
    for system in goos:
        for arch in goarch:
            if f"{system}/{arch}" not in _VALID:
                continue
            for variant in goarm if arch == "arm" else [""]:
                if any(_ignores(item, system, arch, variant) for item in ignored):
                    continue
                platforms.append(f"{system}/{arch}/v{variant}" if variant else f"{system}/{arch}")
    return platforms


def _target(target: str) -> str | None:
    """A GoReleaser target (``linux_arm_7``, ``linux_amd64_v3``, ``darwin_arm64``) as OS/ARCH[/VARIANT]."""
    system, _, rest = target.partition("_")
    arch, _, variant = rest.partition("_")
    if f"{system}/{arch}" not in _VALID:
        return None
    if arch == "arm":
        return f"{system}/arm/v{variant or '6'}"
    if arch == "amd64" and variant in ("v2", "v3", "v4"):
        return f"{system}/amd64/{variant}"
    return f"{system}/{arch}"  # amd64 v1, arm64 v8.0, mips float modes: the defaults


def _ignores(item: Mapping[str, Any], system: str, arch: str, variant: str) -> bool:
    wanted = {"goos": system, "goarch": arch, "goarm": variant}
    return all(str(item[key]) == value for key, value in wanted.items() if key in item)


def _strings(value: object) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []
