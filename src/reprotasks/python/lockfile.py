"""Read a hashed requirements lock and report every line that is not a reproducible pin."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from reprotasks._run import redact
from reprotasks.discover import resolve_path, shown_name
from reprotasks.errors import ReprotasksError
from reprotasks.python.lockmodel import LockProblem, ParsedLock, Pin

_INDEX_OPTIONS = frozenset(
    {"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host", "--no-index"}
)
_INCLUDE_OPTIONS = frozenset({"-r", "--requirement", "-c", "--constraint", "-e", "--editable"})
_COMMENT = re.compile(r"(^|\s+)#.*$")
_HASH = re.compile(r"--hash[=\s]+(?P<algo>\w+):(?P<digest>\S+)")


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, text) of each logical line: comments removed, ``\\`` joined."""
    start = 0
    parts: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _COMMENT.sub("", raw)
        if not parts:
            start = number
        if line.endswith("\\"):
            parts.append(line[:-1])
            continue
        parts.append(line)
        joined = " ".join(part.strip() for part in parts).strip()
        parts = []
        if joined:
            yield start, joined
    if parts:
        joined = " ".join(part.strip() for part in parts).strip()
        if joined:
            yield start, joined


_RELOCK = "run `reprotasks lock` to regenerate the lock"


def project_relative(path: Path) -> str:
    """``path`` as messages show it: relative to the project (the nearest directory above it holding
    pyproject.toml or .git), POSIX style, bytes that are not UTF-8 escaped."""
    for parent in path.parents:
        if (parent / "pyproject.toml").is_file() or (parent / ".git").exists():
            return shown_name(path.relative_to(parent).as_posix())
    return shown_name(path.name)


def read_text(path: Path, shown: str | None = None, *, fix: str = "") -> str:
    """A user's text file as UTF-8; a ReprotasksError naming ``shown`` (the project-relative path)
    when it cannot be read or is not UTF-8, never a traceback."""
    shown = shown or project_relative(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReprotasksError(
            f"{shown}: cannot be read ({exc.strerror or exc})",
            hint=fix or "check that it is a regular file you can read (not a directory, a broken symlink or a loop)",
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ReprotasksError(
            f"{shown}: line {line} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            hint=fix or f"save {shown} as UTF-8, or restore it from version control",
        ) from None


def is_pylock(path: Path | str) -> bool:
    """A PEP 751 lock: ``pylock.toml`` or ``pylock.NAME.toml``."""
    name = Path(path).name
    return name == "pylock.toml" or (name.startswith("pylock.") and name.endswith(".toml") and name.count(".") == 2)


def parse_lock(path: Path, shown: str | None = None) -> ParsedLock:
    text = read_text(path, shown, fix=f"regenerate it: {_RELOCK} (locks are UTF-8 text)")
    return parse_lock_text(text, pylock=is_pylock(path))


def parse_lock_text(text: str, *, pylock: bool = False) -> ParsedLock:
    """The pins of a hashed requirements lock (or, with ``pylock``, of a PEP 751 ``pylock.toml``)."""
    if pylock:
        from reprotasks.python.pylock import parse_pylock_text

        return parse_pylock_text(text)
    pins: list[Pin] = []
    problems: list[LockProblem] = []
    for number, line in logical_lines(text):
        first = line.split()[0].split("=")[0]
        if first in _INDEX_OPTIONS:
            shown = " ".join(redact(line.split()))
            problems.append(
                LockProblem(
                    number,
                    f"`{shown}` leaks index configuration into the lock",
                    "delete the line; set indexes with `index-url`/`extra-index-urls`/`find-links` under "
                    "[tool.reprotasks.python] (used to resolve, never written), then " + _RELOCK,
                )
            )
            continue
        if first in _INCLUDE_OPTIONS:
            problems.append(
                LockProblem(
                    number,
                    f"`{line}` is an include or editable entry, not a hashed pin",
                    "a lock must list every package as `name==version --hash=...`; " + _RELOCK,
                )
            )
            continue
        if line.startswith("-"):
            problems.append(LockProblem(number, f"`{line}` is an option, not a pin", "delete it, then " + _RELOCK))
            continue
        requirement_text = line.split(" --", 1)[0].strip()
        hashes = tuple(f"{m['algo']}:{m['digest']}" for m in _HASH.finditer(line))
        try:
            requirement = Requirement(requirement_text)
        except InvalidRequirement:
            problems.append(
                LockProblem(
                    number,
                    f"`{requirement_text}` is a local path or malformed requirement, not an index pin",
                    "publish the package to an index (or drop it from the input), then " + _RELOCK,
                )
            )
            continue
        if requirement.url:
            problems.append(
                LockProblem(
                    number,
                    f"`{requirement.name}` comes from a direct URL or local path ({redact([requirement.url])[0]})",
                    "depend on a released version from an index instead, then " + _RELOCK,
                )
            )
            continue
        specs = list(requirement.specifier)
        exact = len(specs) == 1 and specs[0].operator in {"==", "==="} and "*" not in specs[0].version
        if not exact:
            problems.append(
                LockProblem(
                    number,
                    f"`{requirement_text}` is not pinned to one exact version with ==",
                    "locks must pin `name==version`; " + _RELOCK,
                )
            )
            continue
        if not hashes:
            problems.append(
                LockProblem(
                    number,
                    f"`{requirement_text}` has no --hash",
                    "every pin needs at least one sha256 hash; " + _RELOCK + " (it passes --generate-hashes)",
                )
            )
        elif not all(h.startswith("sha256:") and len(h) == len("sha256:") + 64 for h in hashes):
            problems.append(
                LockProblem(
                    number,
                    f"`{requirement_text}` has a malformed hash",
                    "hashes are sha256 with 64 hex digits; " + _RELOCK,
                )
            )
        pins.append(Pin(canonicalize_name(requirement.name), specs[0].version, number, hashes))
    return ParsedLock(tuple(pins), tuple(problems))


def canonical_lines(pins: tuple[Pin, ...]) -> list[str]:
    """One ``name==version --hash=...`` line per pin, sorted: a lock as a manifest records it."""
    return [
        " ".join([f"{pin.name}=={pin.version}", *(f"--hash={digest}" for digest in sorted(pin.hashes))])
        for pin in sorted(pins, key=lambda pin: pin.name)
    ]


def canonical_text(pins: tuple[Pin, ...]) -> str:
    """``canonical_lines`` as lock text (what the build installs from and the manifest's sha256 covers)."""
    return "\n".join(canonical_lines(pins)) + "\n"


def split_header(text: str) -> tuple[str, str]:
    """(header, body): the header is the leading comment block a resolver writes."""
    lines = text.splitlines(keepends=True)
    index = 0
    while index < len(lines) and (lines[index].startswith("#") or not lines[index].strip()):
        index += 1
    return "".join(lines[:index]), "".join(lines[index:])


def included_paths(path: Path) -> set[Path]:
    """Every file ``path`` names with -r/-c, recursively, whether or not it exists yet."""
    named: set[Path] = set()
    pending = [path]
    while pending:
        current = pending.pop()
        current = resolve_path(current, project_relative(current))
        if not current.is_file():
            continue
        text = read_text(current, fix="save it as UTF-8 (requirements files are UTF-8 text), then " + _RELOCK)
        for target in _include_targets(text):
            resolved = resolve_path(current.parent / target, target)
            if resolved not in named:
                named.add(resolved)
                pending.append(resolved)
    return named


def _include_targets(text: str) -> list[str]:
    targets = []
    for _number, line in logical_lines(text):
        words = line.split()
        flag, _, inline = words[0].partition("=")
        if flag in {"-r", "--requirement", "-c", "--constraint"}:
            target = inline or (words[1] if len(words) > 1 else "")
            if target and "://" not in target:
                targets.append(target)
    return targets


def input_files(path: Path, seen: set[Path] | None = None) -> list[Path]:
    """``path`` and every file it includes with -r/-c, recursively (existing ones only)."""
    seen = set() if seen is None else seen
    path = resolve_path(path, project_relative(path))
    if path in seen or not path.is_file():
        return []
    seen.add(path)
    found = [path]
    text = read_text(path, fix="save it as UTF-8 (requirements files are UTF-8 text), then " + _RELOCK)
    for target in _include_targets(text):
        found += input_files(path.parent / target, seen)
    return found


def check_lock_files(input_path: Path | None, output: Path, shown_output: str) -> None:
    """Before resolving: the input (with its -r/-c includes) and the current lock must be readable
    UTF-8 text. The resolver reads both and would otherwise fail with its own traceback."""
    if input_path is not None:
        input_files(input_path)
    if output.exists() or output.is_symlink():
        read_text(
            output,
            shown_output,
            fix=f"delete {shown_output} (`reprotasks lock` writes it again, without the kept pins) or save it as UTF-8",
        )
