"""The lock step: hashed Python locks and a tidy, downloaded Go module graph."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from packaging.utils import canonicalize_name

from reprotasks._files import atomic_path
from reprotasks._run import Runner, mask
from reprotasks.config import Config, LockSpec
from reprotasks.errors import ReprotasksError
from reprotasks.go import mod as _gomod
from reprotasks.python import behind as _behind
from reprotasks.python.lockfile import check_lock_files, included_paths, is_pylock, parse_lock, parse_lock_text
from reprotasks.python.resolve import compile_lock


@dataclass(frozen=True)
class LockedFile:
    path: str
    packages: int
    changed: bool


@dataclass(frozen=True)
class LockResult:
    python: tuple[LockedFile, ...]
    go_modules: tuple[tuple[str, bool], ...]  # (module directory, go.mod/go.sum changed)
    warnings: tuple[str, ...] = ()

    def rows(self) -> list[tuple[str, str]]:
        """(what, outcome) pairs for a summary table."""
        rows = [(f.path, f"{'updated' if f.changed else 'unchanged'}, {f.packages} packages") for f in self.python]
        for module, changed in self.go_modules:
            rows.append((f"{module} (go.mod, go.sum)", "updated" if changed else "unchanged"))
        if self.warnings:
            rows.append(("warnings", f"{len(self.warnings)}, shown above as `lock: WARNING: ...`"))
        return rows


def lock(
    config: Config,
    *,
    runner: Runner,
    upgrade: bool = False,
    upgrade_packages: Sequence[str] = (),
    backend: str | None = None,
    python: bool = True,
    go: bool = True,
) -> LockResult:
    """Write every configured lock; each file is replaced atomically, only when resolution succeeded."""
    backend = backend or config.python.lock_backend
    specs = lock_order(config.python.locks) if python else ()
    if python and config.python.build_lock is not None:
        specs = (*specs, config.python.build_lock)
    if upgrade_packages:
        _check_known_packages(config, upgrade_packages)
    locked: list[LockedFile] = []
    warnings: list[str] = []
    for number, spec in enumerate(specs, start=1):
        writer = "uv" if is_pylock(spec.output) else backend  # only uv writes pylock.toml
        count = f"[{number}/{len(specs)}] " if len(specs) > 1 else ""  # a running count over many locks
        runner.log(f"lock: {count}{spec.describe_input(config.root)} -> {config.rel(spec.output)} ({writer})")
        check_lock_files(None if spec.generated is not None else spec.input, spec.output, config.rel(spec.output))
        before = spec.output.read_bytes() if spec.output.exists() else None
        with atomic_path(spec.output) as temp:
            compile_lock(
                config, spec, temp, runner=runner, backend=backend, upgrade=upgrade, upgrade_packages=upgrade_packages
            )
            after = temp.read_bytes()
            _refuse_credentials(after, config.rel(spec.output), spec.describe_input(config.root))
            pins = parse_lock_text(after.decode("utf-8", "replace"), pylock=is_pylock(spec.output)).versions()
        locked.append(LockedFile(config.rel(spec.output), len(pins), before != after))
        for warning in _far_behind(config, spec, before, pins, backend=writer):
            runner.log(f"lock: WARNING: {warning}")
            warnings.append(warning)
    go_modules = []
    for module in config.go.modules if go else ():
        runner.log(f"lock: Go module {config.rel(module)}")
        changed = _gomod.tidy(module, runner=runner)
        _gomod.download(module, runner=runner)
        go_modules.append((config.rel(module), changed))
    if not locked and not go_modules:
        raise ReprotasksError(
            "nothing to lock: no `requirements*.in` files and no go.mod were found",
            hint=(
                f"add a requirements.in in {config.root.name}, or list inputs in `locks` under [tool.reprotasks.python]"
            ),
        )
    return LockResult(tuple(locked), tuple(go_modules), tuple(warnings))


def _far_behind(
    config: Config, spec: LockSpec, before: bytes | None, pins: dict[str, str], *, backend: str
) -> list[str]:
    """A warning for each direct requirement this run pinned (new or moved) a major version or more
    behind the newest release that fits it: a resolver that backtracked, most often (``python.behind``)."""
    if spec.generated is not None:
        return []
    previous = (
        parse_lock_text(before.decode("utf-8", "replace"), pylock=is_pylock(spec.output)).versions() if before else {}
    )
    moved = {name: version for name, version in pins.items() if previous.get(name) != version}
    python = config.python
    behind = _behind.far_behind(
        _behind.direct_requirements(spec.input),
        moved,
        index_urls=_behind.index_urls(python.index_url, python.extra_index_urls, python.no_index),
        find_links=[config.root / link for link in python.find_links if "://" not in link],
    )
    shown_input = config.rel(spec.input)
    return [
        f"{config.rel(spec.output)}: {name} resolved to {locked}, though {newest} fits `{name}` "
        f"({specifier}) in {shown_input}: the resolver ({backend}) went back a major version or more, most often "
        f"to satisfy another requirement; add `{name}>={newest.split('.')[0]}` to {shown_input} and lock again to "
        "see which one conflicts (or pin the old version there deliberately)"
        for name, locked, newest, specifier in behind
    ]


def lock_order(specs: Sequence[LockSpec]) -> tuple[LockSpec, ...]:
    """Locks whose input includes (``-r``/``-c``) another lock or its input come after that lock,
    so one ``lock`` run is a fixed point (``-c requirements.txt`` sees the new requirements.txt).
    Otherwise the configured order is kept; a cycle keeps it too (pip then reads what is there)."""
    included = {spec.output: included_paths(spec.input) if spec.generated is None else set() for spec in specs}
    first = {
        spec.output: {
            other.output
            for other in specs
            if other is not spec and {other.output.resolve(), other.input.resolve()} & included[spec.output]
        }
        for spec in specs
    }
    ordered: list[LockSpec] = []
    pending = list(specs)
    while pending:
        ready = [spec for spec in pending if not (first[spec.output] & {s.output for s in pending})]
        chosen = ready[0] if ready else pending[0]  # a cycle: the configured order
        ordered.append(chosen)
        pending.remove(chosen)
    return tuple(ordered)


def _refuse_credentials(data: bytes, lock_rel: str, input_rel: str) -> None:
    """A lock is committed and published: one that would carry a user, password or token is never written."""
    text = data.decode("utf-8", "replace")
    for number, line in enumerate(text.splitlines(), start=1):
        if mask(line) != line:
            raise ReprotasksError(
                f"{lock_rel}:{number}: the new lock would carry a credential ({mask(line).strip()}), so it was not "
                "written",
                hint=f"keep credentials out of {input_rel} and [tool.reprotasks]: give them to pip through a netrc "
                "file, a keyring, or PIP_INDEX_URL / PIP_EXTRA_INDEX_URL in the environment",
            )


def _check_known_packages(config: Config, names: Sequence[str]) -> None:
    known: set[str] = set()
    for spec in config.python.all_locks:
        if spec.output.exists():
            known.update(pin.name for pin in parse_lock(spec.output).pins)
    if not known:
        return  # first lock: nothing to compare with
    for name in names:
        if canonicalize_name(name) not in known:
            close = difflib.get_close_matches(canonicalize_name(name), sorted(known), n=1)
            suggestion = f"did you mean `{close[0]}`? " if close else ""
            raise ReprotasksError(
                f"--upgrade-package {name}: no lock contains a package of that name",
                hint=f"{suggestion}name a package that appears in one of the locks",
            )
