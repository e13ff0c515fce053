"""Layout discovery: where a project's lock inputs, Go module and ``main`` packages are, when
``[tool.reprotasks]`` does not say; and the path rules every configured path goes through."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from reprotasks import _cache
from reprotasks._version import __version__
from reprotasks.errors import ConfigError

# The names GoReleaser reads its configuration from.
GORELEASER_FILES = (".goreleaser.yaml", ".goreleaser.yml", "goreleaser.yaml", "goreleaser.yml")

# Directories never searched when detecting the layout.
SKIP_DIRS = frozenset({"node_modules", "vendor", "testdata", "dist", "build", "site-packages"})


def resolve_path(path: Path, shown: str) -> Path:
    """``path.resolve()``; a ConfigError naming ``shown`` for a symlink loop instead of a traceback."""
    try:
        return path.resolve()
    except RuntimeError:  # Python < 3.13: "Symlink loop from ..."
        what = "is a symlink loop (or passes through one)"
    except OSError as exc:
        what = f"cannot be resolved ({exc.strerror or exc})"
    raise ConfigError(f"{shown} {what}", hint="fix or remove the symlinks on that path")


def shown_name(name: str) -> str:
    """A file name as messages show it: bytes that are not UTF-8 escaped as ``\\xff``."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def inside(root: Path, relative: str, key: str) -> Path:
    path = resolve_path(root / relative, f"`{key}` = {relative!r}")
    if not path.is_relative_to(root):
        raise ConfigError(
            f"`{key}` = {relative!r} points outside the project ({root})",
            hint=f"use a path inside the project for `{key}`",
        )
    return path


def python_version_file(root: Path) -> str:
    """X.Y from the project's committed ``.python-version`` (pyenv, uv), or ""."""
    try:
        text = (root / ".python-version").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
    match = re.match(r"^\s*(3\.\d+)", text)
    return match.group(1) if match else ""


def lock_inputs(root: Path, configured: list[str] | None, python_dir: Path | None = None) -> tuple[Path, ...]:
    """The configured lock inputs, else ``requirements*.in`` and ``requirements/*.in`` at the root
    and in the Python project's directory (``python.project``)."""
    if configured is None:
        inputs = []
        for directory in (root,) if python_dir is None else (root, python_dir):
            inputs += sorted(directory.glob("requirements*.in")) + sorted((directory / "requirements").glob("*.in"))
        for path in inputs:
            _require_input(root, path)
    else:
        inputs = []
        for entry in configured:
            path = inside(root, entry, "python.locks")
            if path.suffix != ".in":
                raise ConfigError(
                    f"`python.locks` entry {entry!r} is not a `.in` file",
                    hint="list lock inputs such as `requirements.in`; each is locked into the `.txt` beside it",
                )
            if path.is_symlink() or path.exists():
                _require_input(root, path)
            if not path.is_file():
                raise ConfigError(
                    f"`python.locks` entry {entry!r} does not exist",
                    hint=f"create {entry} with your top-level requirements, or remove it from `python.locks`",
                )
            inputs.append(path)
    return tuple(inputs)


def _require_input(root: Path, path: Path) -> None:
    """A lock input found or configured must be a regular file with a UTF-8 name."""
    relative = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    shown = shown_name(relative)
    if shown != relative:
        raise ConfigError(
            f"{shown}: the file name is not valid UTF-8",
            hint="rename it: lock inputs are named in the locks and in messages",
        )
    if not path.is_file():
        if path.is_dir():
            what = "a directory"
        elif path.is_symlink():
            what = "a broken symlink (or a symlink loop)"
        else:
            what = "not a regular file"
        raise ConfigError(
            f"{shown}: is {what}, but its name makes it a lock input (requirements*.in)",
            hint="remove or rename it, or list the real inputs with `locks = [...]` under [tool.reprotasks.python]",
        )


def project_directories(root: Path) -> Iterator[Path]:
    """Directories of the project, skipping hidden, vendored and nested-project ones: a directory
    with its own pyproject.toml, and a git submodule or nested repository (its own `.git`): another
    project's go.mod is not this project's to release."""
    for dirpath, dirnames, _files in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(
            name
            for name in dirnames
            if not name.startswith((".", "_"))
            and name not in SKIP_DIRS
            and not (here / name / "pyproject.toml").is_file()
            and not os.path.lexists(here / name / ".git")
        )
        yield here


def _module_at(root: Path, configured: str, key: str) -> Path:
    module = inside(root, configured, key)
    if not (module / "go.mod").is_file():
        raise ConfigError(
            f"`{key}` = {configured!r} has no go.mod",
            hint=f"point `{key}` at the directory holding go.mod, or run `go mod init` in {configured}",
        )
    return module


def go_modules(root: Path, configured: list[str] | None) -> tuple[Path, ...]:
    """Every Go module lock tidies and verify checks: the configured ones, else each go.mod in the tree."""
    if configured is not None:
        return tuple(dict.fromkeys(_module_at(root, entry, "go.modules") for entry in configured))
    return tuple(directory for directory in project_directories(root) if (directory / "go.mod").is_file())


def go_module(root: Path, configured: str | None, modules: tuple[Path, ...]) -> tuple[Path | None, tuple[Path, ...]]:
    """(the module whose commands are released, the candidates when that cannot be told).

    ``go.module`` if set; else the only module; else the only one with main packages (the others
    are libraries, tools or examples: locked and verified, not released)."""
    if configured is not None:
        return _module_at(root, configured, "go.module"), ()
    if len(modules) <= 1:
        return (modules[0] if modules else None), ()
    with_commands = [module for module in modules if main_packages(module)]
    if len(with_commands) == 1:
        return with_commands[0], ()
    # The module beside the repository's GoReleaser configuration is the one its releases build.
    released = [module for module in with_commands if any((module / name).is_file() for name in GORELEASER_FILES)]
    if len(released) == 1:
        return released[0], ()
    return None, tuple(with_commands)


def main_packages(module: Path) -> tuple[str, ...]:
    """Every ``cmd/*`` that is a main package, then the module root (``.``) if it is one."""
    root_main = (".",) if any(_is_main(source) for source in sorted(module.glob("*.go"))) else ()
    cmd = module / "cmd"
    if not cmd.is_dir():
        return root_main
    packages = []
    try:
        candidates = sorted(cmd.iterdir())
    except OSError as exc:
        raise ConfigError(
            f"{shown_name(cmd.relative_to(module).as_posix())} in the Go module cannot be listed "
            f"({exc.strerror or exc})",
            hint="fix its permissions, or set `main-packages` under [tool.reprotasks.go]",
        ) from None
    for candidate in candidates:
        if shown_name(candidate.name) != candidate.name:
            continue  # not a name Go accepts as a package directory
        if candidate.is_dir() and any(_is_main(source) for source in candidate.glob("*.go")):
            packages.append(f"./cmd/{candidate.name}")
    return (*packages, *root_main)


_MODULE_LINE = re.compile(r"^\s*module\s+\"?(?P<path>[^\s\"]+)", re.MULTILINE)
_MAJOR = re.compile(r"^v[0-9]+$")
# A package-level string variable named version/Version, as declared on a `var` line or inside a
# `var ( ... )` block: `version = "dev"`, `Version string`, `Version string = "dev"`.
_VERSION_VAR = re.compile(r"^(?P<name>[Vv]ersion)(?:\s+string\b|\s*(?:string\s*)?=\s*[\"`])")


def go_module_path(module: Path) -> str:
    """The module path go.mod declares ("" if it cannot be read: names then fall back to the directory)."""
    try:
        match = _MODULE_LINE.search((module / "go.mod").read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return ""
    return match["path"] if match else ""


def default_binary_name(package: str, module_path: str) -> str:
    """The name `go build` gives a package's binary: its last path element; for the module root,
    the module path's (a major-version suffix such as /v2 skipped)."""
    if package.strip("./") == "":
        parts = [part for part in module_path.split("/") if part]
        if len(parts) > 1 and _MAJOR.match(parts[-1]):
            parts.pop()
        return parts[-1] if parts else "main"
    return PurePosixPath(package).name


# A version variable outside main that is only a placeholder until a release stamps it
# (bazelisk's `core.BazeliskVersion = "development"`).
_PLACEHOLDER_VERSION = re.compile(
    r'^(?P<name>[Vv]ersion|\w+Version)(?:\s+string|\s*(?:string\s*)?=\s*"(?:|dev|devel|development|unknown|undefined'
    r'|snapshot|0\.0\.0(?:-dev)?|v0\.0\.0(?:-dev)?)")\s*$'
)


# A line that could be one of them (a necessary condition, checked before parsing the file).
_VERSION_LINE = re.compile(r'ersion(?:[ \t]+string|[ \t]*(?:string[ \t]*)?=[ \t]*")')  # starts with a literal: fast


def placeholder_version_variables(module: Path) -> tuple[str, ...]:
    """``import/path.Name`` for each package-level string variable outside main named ``version``,
    ``Version`` or ``...Version`` whose value is a placeholder ("dev", "development", "unknown"...):
    what a release stamps with ``-X`` (the linker ignores it for a package a binary does not link).

    Every command loads the configuration, and a module of thousands of files must not be read each
    time: the answer is kept, keyed by every candidate file's path, size and modification time."""
    sources = list(_library_sources(module))
    stats = []
    for relative, source in sources:
        try:
            info = source.stat()
        except OSError:
            continue
        stats.append((relative, info.st_size, info.st_mtime_ns))
    key = _cache.digest([__version__, "placeholder-version-variables", str(module), go_module_path(module), stats])
    remembered = _cache.load("go-version-variables", key)
    if remembered is not None:
        return tuple(remembered.split()[1:])  # after the count: none found is an answer too
    module_path = go_module_path(module)
    found: set[str] = set()
    for relative, source in sources:
        try:
            text = source.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if "ersion" not in text or not _VERSION_LINE.search(text) or _declares_main(text):
            continue  # (most files: no line that could declare such a variable, and no parse)
        directory = PurePosixPath(relative).parent.as_posix()
        import_path = module_path if directory == "." else f"{module_path}/{directory}"
        for declaration in _package_variables(text, literals=True):
            match = _PLACEHOLDER_VERSION.match(declaration.split("//", 1)[0].strip())
            if match:
                found.add(f"{import_path}.{match['name']}")
    result = tuple(sorted(found))
    _cache.store("go-version-variables", key, " ".join((str(len(result)), *result)))
    return result


def _library_sources(module: Path) -> Iterator[tuple[str, Path]]:
    """(module-relative path, path) of each non-test .go file of the module (nested modules,
    vendor/testdata and hidden directories left out), in a stable order."""
    for directory, names, files in os.walk(module):
        names[:] = sorted(name for name in names if name not in SKIP_DIRS and not name.startswith((".", "_")))
        if directory != str(module) and (Path(directory) / "go.mod").exists():
            names[:] = []  # another module
            continue
        relative = Path(directory).relative_to(module).as_posix()
        for name in sorted(files):
            if name.endswith(".go") and not name.endswith("_test.go"):
                yield (name if relative == "." else f"{relative}/{name}"), Path(directory) / name


def _declares_main(text: str) -> bool:
    """Whether Go source ``text`` is in ``package main`` (its first package clause)."""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("package "):
            return stripped.split()[1:2] == ["main"]
    return False


def version_variables(module: Path, packages: tuple[str, ...]) -> tuple[str, ...]:
    """``main.version`` / ``main.Version`` for each such variable a main package declares (sorted)."""
    found: set[str] = set()
    for package in packages:
        directory = module / package
        for source in sorted(directory.glob("*.go")) if directory.is_dir() else ():
            if source.name.endswith("_test.go") or not source.is_file():
                continue
            try:
                text = source.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            for declaration in _package_variables(text):
                match = _VERSION_VAR.match(declaration)
                if match:
                    found.add(f"main.{match['name']}")
    return tuple(sorted(found))


# Go comments and literals, whose braces and keywords are not code; a literal keeps its quotes
# (a version variable is recognised by its `= "`), a raw string's lines are kept (line counts).
_GO_NOISE = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|`[^`]*`|\'(?:\\.|[^\'\\\n])+\'', re.DOTALL)


def _code_only(text: str) -> str:
    def blank(match: re.Match[str]) -> str:
        found = match.group(0)
        if found.startswith(("//", "/*")):
            return "\n" * found.count("\n")
        return found[0] + "\n" * found.count("\n") + found[0]

    return _GO_NOISE.sub(blank, text)


def _package_variables(text: str, *, literals: bool = False) -> Iterator[str]:
    """The declarations of package-level variables: what follows `var` on its line, and each line
    of a `var ( ... )` block (not constants, function bodies, parameters or struct fields). The
    structure is read without comments and literals; ``literals`` gives the lines as written."""
    depth, in_block = 0, False
    written = text.splitlines()
    for number, line in enumerate(_code_only(text).splitlines()):
        stripped = line.strip()
        shown = written[number].strip() if literals and number < len(written) else stripped
        if depth == 0:
            if in_block:
                if stripped.startswith(")"):
                    in_block = False
                else:
                    yield shown
            elif re.match(r"^var\s*\($", stripped):
                in_block = True
            elif stripped.startswith("var "):
                yield shown[4:].strip()
        depth = max(depth + line.count("{") - line.count("}"), 0)


def _is_main(source: Path) -> bool:
    """Does this Go file declare ``package main``? (Directories, broken links, unreadable files: no.)"""
    if source.name.endswith("_test.go") or not source.is_file():
        return False
    try:
        with source.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                stripped = line.strip()
                if stripped.startswith("package "):
                    return stripped.split()[1] == "main"
    except OSError:
        return False  # vanished or unreadable: go build reports it with its own words
    return False
