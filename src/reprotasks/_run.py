"""The one place that starts subprocesses.

Commands are argv lists (never shell strings). Each is logged as ``+ cmd`` with anything that
looks like a credential masked, runs with umask 022 and a normalized locale/timezone, and is
recorded so later steps (provenance) can list the exact command lineage.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

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
}

_SECRET_FLAGS = frozenset({"--identity-token", "--token", "--password", "-p"})
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")


def redact(argv: Sequence[str]) -> list[str]:
    """Mask credentials in an argv for logs and records: token flag values and URL userinfo."""
    masked: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            masked.append("***")
            hide_next = False
            continue
        flag, sep, _value = arg.partition("=")
        if flag in _SECRET_FLAGS:
            if sep:
                masked.append(f"{flag}=***")
            else:
                masked.append(arg)
                hide_next = True
            continue
        masked.append(_URL_CREDENTIALS.sub(r"\g<scheme>***@", arg))
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


def _stderr_log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class Runner:
    """Runs commands for the steps of one project and remembers every one of them."""

    root: Path
    log: Callable[[str], None] = _stderr_log
    history: list[CommandRecord] = field(default_factory=list)
    _epoch: str | None = field(default=None, init=False, repr=False)

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
    ) -> Completed:
        """Run ``argv`` in ``cwd``; output is captured and shown only when it fails.

        ``env`` is added to the caller's (normalized) environment, or with ``replace_env`` is
        the whole environment. ``umask`` is only ever changed by ``reproduce``, to prove that
        the build does not depend on it.
        """
        full_env = dict(env or {}) if replace_env else self.environment(env)
        argv = list(argv)
        if os.sep not in argv[0]:
            argv[0] = self.require(argv[0], purpose=purpose or f"run `{argv[0]}`", env=full_env)
        shown = redact(argv)
        shown[0] = "python" if argv[0] == sys.executable else Path(argv[0]).name
        where = self._relative(cwd)
        if not quiet:
            self.log(f"+ {shlex.join(shown)}" + ("" if where == "." else f"    (in {where})"))
        started = time.monotonic()
        try:
            proc = subprocess.run(
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
            raise CommandFailedError(
                f"`{shlex.join(shown)}` failed with exit code {proc.returncode} (in {where})",
                details=tail(result.stderr or result.stdout),
                hint=f"read the tool's output above; it ran in {where}",
            )
        return result

    def capture_bytes(self, argv: Sequence[str], *, cwd: Path, purpose: str) -> bytes | None:
        """The exact stdout bytes of a quiet command (e.g. a git blob), or None when it fails."""
        full = list(argv)
        full[0] = self.require(full[0], purpose=purpose)
        started = time.monotonic()
        try:
            proc = subprocess.run(
                full, cwd=cwd, env=self.environment(), stdin=subprocess.DEVNULL, capture_output=True, check=False
            )
        except OSError:
            return None
        shown = redact(full)
        shown[0] = Path(full[0]).name
        self.history.append(
            CommandRecord(tuple(shown), self._relative(cwd), proc.returncode, round(time.monotonic() - started, 3))
        )
        return proc.stdout if proc.returncode == 0 else None

    def _relative(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix() or "."
        except ValueError:
            return path.as_posix()


def tail(text: str, lines: int = 25) -> str:
    """The last ``lines`` lines of a tool's output, indented, for an error message."""
    kept = text.rstrip().splitlines()[-lines:]
    return "\n".join(f"    {line}" for line in kept)
