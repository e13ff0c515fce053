"""What surrounds every step: one writer per project, SIGTERM as Ctrl-C, and no litter.

- **Project lock.** Steps that write (dist/, locks, go.mod) hold an exclusive ``flock`` on the
  project directory, readers a shared one; a second run waits with a message, up to
  ``REPROTASKS_LOCK_TIMEOUT`` seconds. The kernel drops the lock when a process dies, so a
  SIGKILL never leaves a stale lock behind.
- **Recovery.** Under the exclusive lock, before anything else, interrupted replacements are
  finished or undone from their journals (``_journal``) and what a killed run left (staging
  directories, ``*.reprotasks-*.tmp`` files, tidy copies, scratch directories) is removed.
- **Signals.** SIGTERM and SIGHUP (CI cancellation, ``timeout``, a closed terminal) raise
  ``Terminated``, a KeyboardInterrupt, so every ``finally`` cleans up as on Ctrl-C.
- **Scratch.** Temporary directories of the run (``tempfile``, and TMPDIR for the tools it
  starts) live in one ``reprotasks-run-*`` directory, removed at the end; one whose owner is
  gone (its lock file is free) is removed by the next run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from reprotasks import _journal, _run
from reprotasks._files import TEMP_MARK, remove_path
from reprotasks._run import Terminated
from reprotasks.errors import ReprotasksError

LOCK_TIMEOUT_ENV = "REPROTASKS_LOCK_TIMEOUT"
_DEFAULT_TIMEOUT = 900.0
_POLL = 0.2
_SCRATCH_PREFIX = "reprotasks-run-"
_OWNER = ".owner"


@dataclass(frozen=True)
class Places:
    """Where a project's steps write, hence where a killed run can leave something behind."""

    root: Path
    dist: Path
    go_modules: tuple[Path, ...] = ()
    lock_dirs: tuple[Path, ...] = field(default=())

    def shown(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()


@contextlib.contextmanager
def guarded(places: Places, *, exclusive: bool, log: Callable[[str], None]) -> Iterator[None]:
    """Run a step's body under the project lock, with signals, recovery and scratch handled."""
    with _terminate_as_interrupt(), _ProjectLock(_lock_directories(places), log=log) as lock:
        if exclusive or _pending(places):
            lock.acquire(exclusive=True)
            for line in recover(places):
                log(line)
        if not exclusive:
            lock.acquire(exclusive=False)
        _clean_dead_scratch()  # not the project's: each has a lock of its own that says if its run is alive
        try:
            with _scratch():
                yield
        except KeyboardInterrupt:
            if exclusive:  # a signal between a mkdtemp and its try/finally: sweep as the next run would
                with _run.signals_deferred():
                    recover(places)
            raise


def recover(places: Places) -> list[str]:
    """Replay journals and remove what killed runs left; returns what was done, for the log."""
    done = []
    journals = [(_journal.journal_path(places.dist.parent, places.dist.name), f"{places.shown(places.dist)}/")]
    for go_module in places.go_modules:
        module = places.shown(go_module)
        journals.append((_journal.journal_path(go_module, "go.mod"), f"{module}/go.mod and go.sum"))
    for journal, shown in journals:
        outcome = _journal.recover(journal)
        if outcome == "rolled back":
            done.append(f"reprotasks: {shown}: a killed run was replacing this; the previous content is back")
        elif outcome is not None:
            done.append(f"reprotasks: {shown}: a killed run had just replaced this; finished its clean-up")
    leftovers = _leftovers(places)
    for path in leftovers:
        remove_path(path)
    if leftovers:
        done.append(f"reprotasks: removed {len(leftovers)} leftover(s) of an interrupted run: " + _names(leftovers))
    return done


def _names(paths: list[Path]) -> str:
    shown = ", ".join(path.name for path in paths[:5])
    return shown + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")


def is_leftover_name(name: str) -> bool:
    """A file or directory name only a (killed) reprotasks run writes: staging, temp, tidy copies, backups."""
    return bool(_LEFTOVER.match(name))


_LEFTOVER = re.compile(
    r"^\.(?:"
    r".+-(?:stage|release|assemble|old)-[a-z0-9_]{8}"  # staging directories beside dist/
    r"|.+" + re.escape(TEMP_MARK) + r"[a-z0-9_]{8}\.tmp"  # atomic writes
    r"|reprotasks-tidy-[a-z0-9_]{8}\.(?:mod|sum)"  # go mod tidy -modfile copies
    r"|.+\.reprotasks-old"  # backups a journal names
    r")$"
)


def _leftovers(places: Places) -> list[Path]:
    found = []
    # Staging directories are named after dist/, and release's build stages inside its own stage.
    staging = re.compile(r"^\.\.?" + re.escape(places.dist.name) + r"-")
    for directory in {places.root, places.dist.parent, places.dist, *places.lock_dirs, *places.go_modules}:
        try:
            names = [path.name for path in directory.iterdir()]
        except OSError:
            continue
        for name in names:
            if name.endswith(_journal.JOURNAL_SUFFIX):
                # dist/'s and go.mod's journals are replayed; one for a staging directory is litter.
                name_of_target = name[1 : -len(_journal.JOURNAL_SUFFIX)]
                if is_leftover_name(name_of_target) and staging.match(name_of_target):
                    found.append(directory / name)
                continue
            if not is_leftover_name(name):
                continue
            if _STAGING.match(name) and not staging.match(name):
                continue  # another tool's directory that merely looks alike
            found.append(directory / name)
    return sorted(found)


_STAGING = re.compile(r"^\..+-(?:stage|release|assemble|old)-[a-z0-9_]{8}$")


def _pending(places: Places) -> bool:
    """Is there anything to recover? Cheap: a few directory listings."""
    return bool(_leftovers(places)) or any(
        path.exists()
        for path in (
            _journal.journal_path(places.dist.parent, places.dist.name),
            *(_journal.journal_path(module, "go.mod") for module in places.go_modules),
        )
    )


def _lock_directories(places: Places) -> list[Path]:
    directories = [places.root]
    parent = places.dist.parent
    if not parent.resolve().is_relative_to(places.root.resolve()):
        directories.append(parent)  # dist-dir outside the project: guard that directory too
    return directories


_HELD: dict[str, tuple[int, bool, int]] = {}  # realpath of a locked directory -> (fd, exclusive, depth)


class _ProjectLock:
    """``flock`` on the project directory (re-entrant within a process: release runs other steps)."""

    def __init__(self, directories: list[Path], *, log: Callable[[str], None]) -> None:
        self.directories = directories
        self.log = log
        self.timeout = _timeout()  # read up front: a bad value is an error even when nobody waits
        self.taken: list[str] = []

    def __enter__(self) -> _ProjectLock:
        return self

    def acquire(self, *, exclusive: bool) -> None:
        for directory in self.directories:
            key = os.path.realpath(directory)
            held = _HELD.get(key)
            if held is not None and key in self.taken:
                fd, was_exclusive, depth = held
                if was_exclusive and not exclusive:
                    if depth == 1:  # our own recovery is over: let other readers in
                        fcntl.flock(fd, fcntl.LOCK_SH)
                        _HELD[key] = (fd, False, depth)
                elif exclusive and not was_exclusive:
                    self._wait(fd, directory, exclusive=True)
                    _HELD[key] = (fd, True, depth)
                continue
            if held is not None:  # an outer step of this process holds it already
                fd, was_exclusive, depth = held
                if exclusive and not was_exclusive:
                    self._wait(fd, directory, exclusive=True)
                _HELD[key] = (fd, was_exclusive or exclusive, depth + 1)
                self.taken.append(key)
                continue
            try:
                fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
            except OSError:
                continue  # not there yet (dist-dir's parent) or unreadable: the step reports it
            try:
                self._wait(fd, directory, exclusive=exclusive)
            except BaseException:
                os.close(fd)
                raise
            _HELD[key] = (fd, exclusive, 1)
            self.taken.append(key)

    def _wait(self, fd: int, directory: Path, *, exclusive: bool) -> None:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        timeout = self.timeout
        self.log(
            f"reprotasks: another reprotasks run{_holder(fd)} is using {directory}; waiting for it to finish "
            f"(at most {timeout:g}s, set {LOCK_TIMEOUT_ENV} to change)"
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ReprotasksError(
                        f"another reprotasks run{_holder(fd)} still holds the lock on {directory} after {timeout:g}s",
                        hint="wait for it to finish (two runs writing dist/, the locks or go.mod at once would "
                        f"throw one's work away), stop it, or raise {LOCK_TIMEOUT_ENV}",
                    ) from None
                time.sleep(_POLL)

    def __exit__(self, *_exc: object) -> None:
        for key in reversed(self.taken):
            fd, exclusive, depth = _HELD[key]
            if depth > 1:
                _HELD[key] = (fd, exclusive, depth - 1)
                continue
            del _HELD[key]
            os.close(fd)  # closing the last descriptor releases the flock
        self.taken.clear()


def _timeout() -> float:
    raw = os.environ.get(LOCK_TIMEOUT_ENV)
    if raw is None:
        return _DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also NaN
        raise ReprotasksError(
            f"{LOCK_TIMEOUT_ENV}={raw!r} is not a number of seconds",
            hint=f"set it to e.g. 600, or 0 to fail at once when another run holds the project; unset it for "
            f"the default of {_DEFAULT_TIMEOUT:g}s",
        )
    return value


def _holder(fd: int) -> str:
    """` (pid N: cmdline)` of the process holding the flock, from /proc/locks (Linux), else ''."""
    try:
        inode = os.fstat(fd).st_ino
        with open("/proc/locks", encoding="ascii", errors="replace") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) > 5 and fields[1] == "FLOCK" and fields[5].rsplit(":", 1)[-1] == str(inode):
                    pid = fields[4]
                    if pid == str(os.getpid()):
                        continue
                    with open(f"/proc/{pid}/cmdline", "rb") as cmd:
                        words = cmd.read().split(b"\0")
                    shown = " ".join(word.decode("utf-8", "replace") for word in words[:4] if word)
                    return f" (pid {pid}: {shown[:80]})"
    except (OSError, ValueError):
        pass
    return ""


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    owner = os.getpid()

    def handler(signum: int, _frame: FrameType | None) -> None:
        if os.getpid() != owner:
            return  # a child between fork and exec runs pending handlers too: not its business
        # The commands run in process groups of their own (the terminal's Ctrl-C does not reach
        # them): kill them here, also those worker threads wait for, then unwind.
        _run.stop_commands(signum)
        if _run.starting_a_command():
            return  # raised once the command is registered (and killed), see _run._complete
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated(signum)

    previous = {signum: signal.signal(signum, handler) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
        signum = _run.stop_requested()
        if signum:  # the handler only recorded it (see above)
            raise KeyboardInterrupt if signum == signal.SIGINT else Terminated(signum)
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
        _run.resume_commands()


@contextlib.contextmanager
def _scratch() -> Iterator[None]:
    """Point tempfile (and the tools' TMPDIR) at one directory of this run, removed at the end."""
    if tempfile.tempdir is not None and Path(tempfile.tempdir).name.startswith(_SCRATCH_PREFIX):
        yield  # an outer step of this process made one already
        return
    starting = Path(tempfile.mkdtemp(prefix=f".{_SCRATCH_PREFIX}", dir=tempfile.gettempdir()))
    owner = os.open(starting / _OWNER, os.O_WRONLY | os.O_CREAT, 0o600)
    fcntl.flock(owner, fcntl.LOCK_EX)  # held while we live: a free lock means the owner is gone
    # Only now does it get the name the next run looks for, so it is never seen unlocked.
    scratch = starting.with_name(starting.name[1:])
    starting.rename(scratch)
    saved_tempdir, saved_env = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = str(scratch)
    os.environ["TMPDIR"] = str(scratch)
    try:
        yield
    finally:
        tempfile.tempdir = saved_tempdir
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env
        with _run.signals_deferred():  # a SIGTERM here would leave half a scratch directory
            _remove_scratch(scratch)
        os.close(owner)


def _remove_scratch(scratch: Path) -> None:
    """Remove a scratch directory, its owner file last.

    Cut short (SIGKILL), what is left still has its owner file, free, so the next run sees a dead
    run's scratch. A directory without one is dead too: the name is only given once the owner
    file is locked (see ``_scratch``). An orphaned grandchild of a killed run (a compiler that
    outlived ``go``) may still write into it for a moment, hence a few rounds.
    """
    for _round in range(5):
        try:
            names = [path.name for path in scratch.iterdir() if path.name != _OWNER]
        except FileNotFoundError:
            return
        except OSError:
            break
        for name in names:
            remove_path(scratch / name)
        if not names:
            (scratch / _OWNER).unlink(missing_ok=True)
            try:
                scratch.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                pass  # something appeared meanwhile
        time.sleep(0.05)
    remove_path(scratch)


def _clean_dead_scratch() -> None:
    system = Path(tempfile.gettempdir())
    try:
        candidates = [entry for entry in os.scandir(system) if entry.name.startswith(_SCRATCH_PREFIX)]
    except OSError:
        return
    for entry in candidates:
        try:
            if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
            fd = os.open(Path(entry.path) / _OWNER, os.O_RDONLY)
        except FileNotFoundError:
            # Named only after its owner file was locked (see _scratch): a run removed this
            # one's owner file and was cut short before the directory was gone.
            _remove_scratch(Path(entry.path))
            continue
        except OSError:
            continue  # not ours
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # alive
        finally:
            os.close(fd)
        _remove_scratch(Path(entry.path))
