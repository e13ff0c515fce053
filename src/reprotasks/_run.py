"""The one place that starts subprocesses.

Commands are argv lists (never shell strings). Each is logged as ``+ cmd`` with anything that
looks like a credential masked, runs with umask 022 and a normalized locale/timezone, and is
recorded so later steps (provenance) can list the exact command lineage.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reprotasks import _cache
from reprotasks.errors import CommandFailedError, ReprotasksError, ToolMissingError

UMASK = 0o022

# Set for every command: output must not depend on the caller's timezone or locale.
NORMALIZED_ENV: Mapping[str, str] = {"TZ": "UTC", "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"}
_DROPPED_ENV = ("LANGUAGE",)

INSTALL_HINTS: Mapping[str, str] = {
    "go": (
        "install Go 1.23 or newer (the official tarball or your distribution's golang package) and put its bin/ on PATH"
    ),
    "git": "install git (e.g. `apt-get install git`) and put it on PATH",
    "uv": "install uv with `pip install 'reprotasks[uv]'` (or `pip install uv`)",
    "crane": (
        "install crane (go-containerregistry's registry client): "
        "`go install github.com/google/go-containerregistry/cmd/crane@v0.22.1`, and put $(go env GOPATH)/bin on PATH"
    ),
}

_SECRET_FLAGS = frozenset({"--identity-token", "--token", "--password", "-p"})
MASK = "***"

# URL userinfo runs up to the LAST "@" before the host (passwords may hold a raw "@"); it cannot
# hold "/", "?", "#", whitespace, quotes or brackets, so a later "@" in a path or query is left alone.
_USERINFO = r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#\s\"'<>\[\]{}\\]+@"
# Token shapes that are secret wherever they appear (in a URL path, a query string, free text).
TOKEN_SHAPES = (
    r"\bgh[pousr]_[A-Za-z0-9]{20,}",  # GitHub: personal, OAuth, user-to-server, server-to-server, refresh
    r"\bgithub_pat_[A-Za-z0-9_]{20,}",  # GitHub fine-grained personal access token
    r"\bglpat-[A-Za-z0-9_-]{20,}",  # GitLab personal access token
    r"\bpypi-AgE[A-Za-z0-9_-]{16,}",  # PyPI / TestPyPI API token (a macaroon)
    r"(?-i:\b(?:AKIA|ASIA)[0-9A-Z]{16}\b)",  # AWS access key id
    r"\bxox[abposre]-[A-Za-z0-9-]{10,}",  # Slack
    r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",  # JWT (e.g. an OIDC identity token)
    r"-----BEGIN (?P<pem>[A-Z ]*)PRIVATE KEY-----(?:.*?-----END (?P=pem)PRIVATE KEY-----)?",
)
_SECRET_VALUES = (
    # ?token=... &access_token=... ;password=... in URLs, also "token=..." in free text
    r"(?P<param>[?&;](?:access_token|auth_token|private_token|id_token|token|password|passwd|pwd|secret"
    r"|client_secret|api_key|apikey|key|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token)=)"
    r"[^&#\s\"'<>]+",
    # Authorization: Bearer xxx / Authorization: Basic xxx / Bearer xxx
    r"(?P<auth>\bauthorization\s*[:=]\s*(?:(?:bearer|basic|token)\s+)?)[^\s\"']+",
    r"(?P<bearer>\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}",
    # --token=xxx / --password xxx in free text (argv is also masked flag by flag)
    r"(?P<flag>--(?:identity-token|token|password)(?:=|\s+))[^\s\"']+",
    # NAME_TOKEN=xxx, PASSWORD=xxx, AWS_SECRET_ACCESS_KEY=xxx in free text (e.g. an echoed environment)
    r"(?-i:(?P<env>\b[A-Z0-9_]*(?:TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|ACCESS_KEY)[A-Z0-9_]*=)[^\s\"']+)",
)
_SECRETS = re.compile(
    "|".join([_USERINFO, *(f"(?:{shape})" for shape in TOKEN_SHAPES), *_SECRET_VALUES]), re.IGNORECASE | re.DOTALL
)
_KEEP = ("scheme", "param", "auth", "bearer", "flag", "env")


def _masked(match: re.Match[str]) -> str:
    for group in _KEEP:
        kept = match.group(group)
        if kept is not None:
            return f"{kept}{MASK}@" if group == "scheme" else f"{kept}{MASK}"
    return MASK


def mask(text: str) -> str:
    """``text`` with every credential replaced by ``***``: the one masking rule for all output.

    URL userinfo (``https://user:p@ss@host/`` -> ``https://***@host/``), known token shapes
    anywhere (GitHub, GitLab, PyPI, AWS, Slack, JWTs, PEM private keys), secret query values
    (``?token=``, ``access_token=``, ``password=``, ...), Authorization/Bearer values, token
    flags and ``*_TOKEN=``-style assignments.
    """
    return _SECRETS.sub(_masked, text) if text else text


def redact(argv: Sequence[str]) -> list[str]:
    """Mask credentials in an argv for logs and records: token flag values, then ``mask`` on each word."""
    masked: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            masked.append(MASK)
            hide_next = False
            continue
        flag, sep, _value = arg.partition("=")
        if flag in _SECRET_FLAGS:
            if sep:
                masked.append(f"{flag}={MASK}")
            else:
                masked.append(arg)
                hide_next = True
            continue
        masked.append(mask(arg))
    return masked


@dataclass(frozen=True)
class CommandRecord:
    """What ran: redacted argv, working directory relative to the project, outcome."""

    argv: tuple[str, ...]
    cwd: str
    returncode: int
    seconds: float


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Failure:
    """A command that exited non-zero, as a step may explain it: every text here is already masked."""

    command: str  # the shown command line
    where: str  # its working directory, relative to the project when inside it
    returncode: int
    output: str  # stdout then stderr
    log: Path | None  # the full output, kept where it outlives the step (None when it was short)

    def default_error(self) -> CommandFailedError:
        return CommandFailedError(
            f"`{self.command}` failed with exit code {self.returncode} (in {self.where})",
            details=excerpt(self.output) + self.log_note(),
            hint="the lines above are the ones of its output that carry the error"
            if self.output
            else "it printed nothing; run that command yourself (with its verbose flag) to see why",
        )

    def log_note(self) -> str:
        return f"\n    (full output: {self.log})" if self.log is not None else ""


@dataclass(frozen=True)
class Started:
    """A command as a Runner starts it (for ``watching``)."""

    argv: tuple[str, ...]  # as the caller gave it: argv[0] before the PATH lookup
    cwd: Path
    env: Mapping[str, str]  # the whole environment it gets


_WATCHERS: list[Callable[[Started], None]] = []


@contextlib.contextmanager
def watching(callback: Callable[[Started], None]) -> Iterator[None]:
    """Call ``callback`` with every command any Runner starts until the block ends (from any
    thread): how a test records what a build really ran."""
    _WATCHERS.append(callback)
    try:
        yield
    finally:
        _WATCHERS.remove(callback)


def _stderr_log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class Runner:
    """Runs commands for the steps of one project and remembers every one of them."""

    root: Path
    log: Callable[[str], None] = _stderr_log
    history: list[CommandRecord] = field(default_factory=list)
    _epoch: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        # Every line a step logs goes through the one masking rule, not only the commands.
        unmasked = self.log
        self.log = lambda line: unmasked(mask(line))

    def which(self, tool: str, env: Mapping[str, str] | None = None) -> str | None:
        path = (env if env is not None else os.environ).get("PATH", os.defpath)
        return shutil.which(tool, path=path)

    def require(self, tool: str, *, purpose: str, env: Mapping[str, str] | None = None) -> str:
        """Absolute path of ``tool`` or a ToolMissingError that says what to install."""
        found = self.which(tool, env)
        if found is None:
            raise ToolMissingError(
                f"`{tool}` is needed to {purpose} but was not found on PATH",
                hint=INSTALL_HINTS.get(tool, f"install {tool} and make sure it is on PATH"),
            )
        return found

    def source_date_epoch(self) -> str:
        """Seconds since the epoch of the last commit: the one clock reproducible steps may use.

        An explicit SOURCE_DATE_EPOCH in the environment wins (reproducing an old release).
        """
        if self._epoch is None:
            explicit = os.environ.get("SOURCE_DATE_EPOCH")
            if explicit is not None:
                if not explicit.isdigit():
                    raise ReprotasksError(
                        f"SOURCE_DATE_EPOCH={explicit!r} is not a whole number of seconds",
                        hint="unset it to use the last commit's time, or set it to e.g. `git log -1 --format=%ct`",
                    )
                self._epoch = explicit
            else:
                result = self.run(
                    ["git", "log", "-1", "--format=%ct"],
                    cwd=self.root,
                    check=False,
                    purpose="read the last commit's time (SOURCE_DATE_EPOCH)",
                    quiet=True,
                )
                value = result.stdout.strip()
                if result.returncode != 0 or not value.isdigit():
                    raise ReprotasksError(
                        f"cannot take SOURCE_DATE_EPOCH from git in {self.root}: "
                        + (result.stderr.strip().splitlines() or ["no commits"])[-1],
                        hint="run inside a git checkout with at least one commit, or set SOURCE_DATE_EPOCH",
                    )
                self._epoch = value
        return self._epoch

    def deterministic_environment(self) -> dict[str, str]:
        """Variables for steps whose outputs must be bit-for-bit reproducible."""
        return {**NORMALIZED_ENV, "SOURCE_DATE_EPOCH": self.source_date_epoch()}

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key not in _DROPPED_ENV and not key.startswith("LC_")}
        env.update(NORMALIZED_ENV)
        if extra:
            env.update(extra)
        return env

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        purpose: str = "",
        quiet: bool = False,
        replace_env: bool = False,
        umask: int = UMASK,
        on_failure: Callable[[Failure], ReprotasksError] | None = None,
    ) -> Completed:
        """Run ``argv`` in ``cwd``; output is captured and shown only when it fails.

        ``env`` is added to the caller's (normalized) environment, or with ``replace_env`` is
        the whole environment. ``umask`` is only ever changed by ``reproduce``, to prove that
        the build does not depend on it. A failure raises ``on_failure(failure)`` (a step's own
        explanation) or a CommandFailedError with the lines of the output that carry the error.
        """
        full_env = dict(env or {}) if replace_env else self.environment(env)
        argv = list(argv)
        for watcher in list(_WATCHERS):
            watcher(Started(tuple(argv), cwd, dict(full_env)))
        if os.sep not in argv[0]:
            argv[0] = self.require(argv[0], purpose=purpose or f"run `{argv[0]}`", env=full_env)
        shown = redact(argv)
        shown[0] = "python" if argv[0] == sys.executable else Path(argv[0]).name
        where = self._relative(cwd)
        if not quiet:
            self.log(f"+ {shlex.join(shown)}" + ("" if where == "." else f"    (in {where})"))
        started = time.monotonic()
        try:
            proc = _complete(
                argv,
                cwd=cwd,
                env=full_env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                umask=umask,
                check=False,
            )
        except FileNotFoundError:
            raise ToolMissingError(
                f"`{argv[0]}` could not be started",
                hint=INSTALL_HINTS.get(Path(argv[0]).name, "check that it is installed and executable"),
            ) from None
        except OSError as exc:
            raise ReprotasksError(
                f"`{shown[0]}` could not be started: {exc.strerror}", hint="check that it is installed and executable"
            ) from None
        self.history.append(CommandRecord(tuple(shown), where, proc.returncode, round(time.monotonic() - started, 3)))
        result = Completed(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            output = mask("\n".join(part.rstrip() for part in (proc.stdout, proc.stderr) if part.strip()))
            failure = Failure(shlex.join(shown), where, proc.returncode, output, keep_log(output, shown[0]))
            raise (on_failure or Failure.default_error)(failure)
        return result

    def output_bytes(self, argv: Sequence[str], *, cwd: Path, purpose: str) -> bytes:
        """The exact stdout bytes of a command (a registry blob, say); a CommandFailedError naming
        its error output when it fails."""
        result = self._capture(argv, cwd=cwd, purpose=purpose)
        if result.returncode != 0:
            shown = redact(list(argv))
            output = mask(result.stderr.decode("utf-8", "replace").strip())
            failure = Failure(shlex.join(shown), self._relative(cwd), result.returncode, output, None)
            raise failure.default_error()
        return bytes(result.stdout)

    def capture_bytes(self, argv: Sequence[str], *, cwd: Path, purpose: str) -> bytes | None:
        """The exact stdout bytes of a quiet command (e.g. a git blob), or None when it fails."""
        try:
            result = self._capture(argv, cwd=cwd, purpose=purpose)
        except OSError:
            return None
        return bytes(result.stdout) if result.returncode == 0 else None

    def _capture(self, argv: Sequence[str], *, cwd: Path, purpose: str) -> subprocess.CompletedProcess[bytes]:
        full = list(argv)
        full[0] = self.require(full[0], purpose=purpose)
        started = time.monotonic()
        proc = _complete(
            full, cwd=cwd, env=self.environment(), stdin=subprocess.DEVNULL, capture_output=True, check=False
        )
        shown = redact(full)
        shown[0] = Path(full[0]).name
        self.history.append(
            CommandRecord(tuple(shown), self._relative(cwd), proc.returncode, round(time.monotonic() - started, 3))
        )
        return proc

    def _relative(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix() or "."
        except ValueError:
            return path.as_posix()


def _complete(argv: Sequence[str], **options: Any) -> subprocess.CompletedProcess[Any]:
    """``subprocess.run`` whose whole process tree dies with it.

    The command gets a process group of its own. On Ctrl-C or SIGTERM ``stop_commands`` kills
    every group still running (also those of worker threads) and no new command starts; on an
    error while waiting the group is killed too. So no grandchild (git's helpers, go's
    compilers) keeps writing into a directory that the clean-up is removing.
    """
    options.pop("check", None)
    _raise_if_stopping()
    # A signal handler must not raise while the child is forked but not yet registered (the
    # child would escape the kill); during that window it only records the signal.
    _STARTING.depth = getattr(_STARTING, "depth", 0) + 1
    try:
        process = subprocess.Popen(argv, start_new_session=True, preexec_fn=_die_with_parent, **_pipes(options))
        with _LIVE_LOCK:
            _LIVE.add(process)
    finally:
        _STARTING.depth -= 1
    with process:
        try:
            _raise_if_stopping()
            stdout, stderr = process.communicate()
        except BaseException:
            _kill_group(process)
            raise
        finally:
            with _LIVE_LOCK:
                _LIVE.discard(process)
    _raise_if_stopping()  # killed by stop_commands: its output means nothing
    return subprocess.CompletedProcess(list(argv), process.returncode, stdout, stderr)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: unwind like Ctrl-C, then exit 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


_LIVE: set[subprocess.Popen[Any]] = set()
_LIVE_LOCK = threading.Lock()
_STOPPING = threading.Event()
_stop_signal = 0
_STARTING = threading.local()


def starting_a_command() -> bool:
    """Is this thread between forking a command and registering it (see ``_complete``)?"""
    return bool(getattr(_STARTING, "depth", 0))


def stop_commands(signum: int) -> None:
    """Kill every running command's process group and refuse new ones (until ``resume_commands``)."""
    global _stop_signal
    _stop_signal = signum
    _STOPPING.set()
    with _LIVE_LOCK:
        running = list(_LIVE)
    for process in running:
        _kill_group(process)


def stop_requested() -> int:
    """The signal that asked this run to stop, or 0."""
    return _stop_signal if _STOPPING.is_set() else 0


def _raise_if_stopping() -> None:
    """A signal handler's exception can be swallowed (Python ignores one raised inside a fork
    hook), so the flag it set is checked again around every command."""
    signum = stop_requested()
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    if signum:
        raise Terminated(signum)


def resume_commands() -> None:
    global _stop_signal
    _stop_signal = 0
    _STOPPING.clear()


def _kill_group(process: subprocess.Popen[Any]) -> None:
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    # The group outlives its leader for a moment: wait until its last member is gone.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except OSError:
            return
        time.sleep(0.01)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block is over (a few renames that must not be cut)."""
    deferred = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, deferred)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, be killed when reprotasks dies, even by SIGKILL,
    so no orphaned tool goes on writing beside the outputs after the next run cleaned up."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _pipes(options: dict[str, Any]) -> dict[str, Any]:
    if options.pop("capture_output", False):
        options["stdout"] = options["stderr"] = subprocess.PIPE
    return options


def tail(text: str, lines: int = 25) -> str:
    """The last ``lines`` lines of a tool's output, indented and masked, for an error message."""
    kept = mask(text).rstrip().splitlines()[-lines:]
    return "\n".join(f"    {line}" for line in kept)


EXCERPT_LINES = 40
# Lines that carry an error in compiler, build backend and installer output.
_ERROR_LINE = re.compile(
    r"\berror\b|\w(?:Error|Exception|Exit)\b|:\d+:\d+:|:\d+: |\bundefined: |\bfatal\b|\bfailed\b|\bcannot\b"
    r"|\bcould not\b|\bnot found\b|no such file|\bpermission denied\b|\bunsatisfiable\b|\bconflict",
    re.IGNORECASE,
)
_TRACEBACK = "Traceback (most recent call last):"
_CHAINED = (
    "The above exception was the direct cause of the following exception:",
    "During handling of the above exception, another exception occurred:",
)


def compact_tracebacks(lines: Sequence[str], *, last_frame: bool = True) -> list[str]:
    """Python tracebacks reduced to their last frame and the exception line; chain notes dropped.

    A tool's traceback is noise around one fact (the exception) and one place (the last frame,
    left out too with ``last_frame=False``).
    """
    kept: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.strip() in _CHAINED:
            index += 1
            continue
        if line.strip() != _TRACEBACK:
            kept.append(line)
            index += 1
            continue
        indent = len(line) - len(line.lstrip())
        index += 1
        frames: list[str] = []
        while index < len(lines) and (
            not lines[index].strip() or len(lines[index]) - len(lines[index].lstrip()) > indent
        ):
            frames.append(lines[index])
            index += 1
        starts = [number for number, frame in enumerate(frames) if frame.lstrip().startswith('File "')]
        last = (frames[starts[-1] :] if starts else frames[-2:]) if last_frame else []
        kept += [frame for frame in last if frame.strip() and set(frame.strip()) - set("^~")]
    return kept


def excerpt(text: str, limit: int = EXCERPT_LINES, context: int = 2) -> str:
    """The lines of a tool's output that carry its error, with a little context, at most ``limit``.

    Tracebacks are compacted first; short output is shown whole; otherwise lines that look like
    errors (``error``, ``FooError``, ``file:12:3:``, ``undefined:``, ...) with ``context`` lines
    around each, plus the last lines; gaps are marked ``...``. Never more than ``limit`` lines.
    """
    lines = [line.rstrip() for line in compact_tracebacks(mask(text).splitlines())]
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) > limit:
        wanted: set[int] = set(range(len(lines) - 3, len(lines)))
        for number, line in enumerate(lines):
            if _ERROR_LINE.search(line):
                wanted.update(range(max(0, number - context), min(len(lines), number + context + 1)))
        chosen = sorted(wanted)
        if len(chosen) > limit:  # the first errors (often the cause) and the last (the verdict)
            chosen = chosen[: limit - limit // 4] + chosen[-(limit // 4) :]
        selected: list[str] = []
        for position, number in enumerate(chosen):
            if number and (position == 0 or chosen[position - 1] != number - 1):
                selected.append("...")
            selected.append(lines[number])
        if len(selected) > limit:  # the gap markers count too
            selected = [*selected[: limit - 1 - limit // 4], "...", *selected[-(limit // 4) :]]
        lines = selected
    return "\n".join(f"    {line}" for line in lines)


_KEPT_LOGS = 20


def keep_log(output: str, tool: str) -> Path | None:
    """Save a failed command's full (masked) output where it outlives the step; None when short.

    In the cache directory's ``logs/`` (the newest few are kept), else in the system's temporary
    directory: never inside a scratch directory that is removed before the message is read.
    """
    if output.count("\n") < EXCERPT_LINES:
        return None
    name = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}-{re.sub(r'[^A-Za-z0-9.-]', '_', tool)}"
    data = (output.rstrip() + "\n").encode("utf-8", "replace")
    directory = _cache.cache_dir() / "logs"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle, path = tempfile.mkstemp(prefix=f"{name}-", suffix=".log", dir=directory)
        _prune_logs(directory)
    except OSError:
        system = Path(tempfile.gettempdir())
        if system.name.startswith("reprotasks-run-"):  # this run's scratch (see _guard): removed at its end
            system = system.parent
        try:
            handle, path = tempfile.mkstemp(prefix=f"reprotasks-{name}-", suffix=".log", dir=system)
        except OSError:
            return None
    with os.fdopen(handle, "wb") as stream:
        stream.write(data)
    return Path(path)


def _prune_logs(directory: Path) -> None:
    logs = sorted(directory.glob("*.log"), key=lambda path: path.name)
    for old in logs[:-_KEPT_LOGS]:
        old.unlink(missing_ok=True)
