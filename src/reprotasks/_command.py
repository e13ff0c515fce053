"""A command as data: what ``release --dry-run`` prints is what the build runs.

A ``Command`` holds an argv, a working directory and only the environment variables its step
sets (on top of the runner's normalized environment). Paths known only at run time are
placeholders (``PLACEHOLDERS``) that the step fills in when it runs the command, so the plan and
the run come from one value.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from reprotasks._run import Completed, Failure, Runner, mask, redact
from reprotasks.errors import ReprotasksError

# Placeholder -> what it stands for (``release --dry-run`` prints this legend).
PLACEHOLDERS: Mapping[str, str] = {
    "SCRATCH": "the build's temporary directory (the clean copy of the commit is $SCRATCH/src)",
    "BUILD_ENV": "the build environment installed from the build lock (cached, keyed by the lock's digest)",
}
_PLACEHOLDER = re.compile(r"\$(" + "|".join(PLACEHOLDERS) + r")(?![A-Za-z0-9_])")
_PLAIN = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")


def fill(text: str, places: Mapping[str, str]) -> str:
    """``text`` with each placeholder named in ``places`` replaced by its value."""
    return _PLACEHOLDER.sub(lambda match: places.get(match.group(1), match.group(0)), text)


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]
    cwd: str
    description: str
    env: Mapping[str, str] = field(default_factory=dict)  # set on top of the normalized environment
    unset: tuple[str, ...] = ()  # removed from the inherited environment
    path_first: tuple[str, ...] = ()  # put before the inherited PATH
    output: str = ""  # the file or directory it writes, when the step reads it back

    def filled(self, places: Mapping[str, str]) -> Command:
        return replace(
            self,
            argv=tuple(fill(word, places) for word in self.argv),
            cwd=fill(self.cwd, places),
            env={key: fill(value, places) for key, value in self.env.items()},
            path_first=tuple(fill(entry, places) for entry in self.path_first),
            output=fill(self.output, places),
        )

    def placeholders(self) -> set[str]:
        words = [*self.argv, self.cwd, *self.env.values(), *self.path_first, self.output]
        return {match.group(1) for word in words for match in _PLACEHOLDER.finditer(word)}

    def environment(self, runner: Runner) -> dict[str, str]:
        """The whole environment the command runs with (placeholders filled first)."""
        env = {key: value for key, value in runner.environment(self.env).items() if key not in self.unset}
        if self.path_first:
            inherited = runner.environment().get("PATH", "")
            env["PATH"] = os.pathsep.join([*self.path_first, *filter(None, [inherited])])
        return env

    def run(
        self,
        runner: Runner,
        places: Mapping[str, str],
        *,
        check: bool = True,
        quiet: bool = False,
        on_failure: Callable[[Failure], ReprotasksError] | None = None,
    ) -> Completed:
        """Fill in the placeholders and run it; every placeholder must have a value."""
        command = self.filled(places)
        missing = command.placeholders()
        if missing:
            raise ReprotasksError(
                f"internal error: no value for ${', $'.join(sorted(missing))} in `{self}`",
                hint="report this: a build step ran a planned command without filling it in",
            )
        return runner.run(
            command.argv,
            cwd=Path(command.cwd),
            env=command.environment(runner),
            replace_env=True,
            check=check,
            quiet=quiet,
            purpose=self.description,
            on_failure=on_failure,
        )

    def __str__(self) -> str:
        """A shell line (``cd DIR && [env -u NAME] NAME=VALUE argv``), credentials masked; placeholders
        stay shell variables."""
        words = ["cd", _quoted(self.cwd), "&&"]
        if self.unset:
            words += ["env", *(part for name in self.unset for part in ("-u", name))]
        settings = dict(self.env)
        if self.path_first:
            settings["PATH"] = os.pathsep.join([*self.path_first, "$PATH"])
        words += [_quoted(mask(f"{key}={value}"), inherited_path=key == "PATH") for key, value in settings.items()]
        words += [_quoted(word) for word in redact(self.argv)]
        return " ".join(words)


def _quoted(word: str, *, inherited_path: bool = False) -> str:
    """``word`` for a shell: placeholders (and ``$PATH`` in a PATH setting) left to expand, all else literal."""
    names = f"{'|'.join(PLACEHOLDERS)}{'|PATH' if inherited_path else ''}"
    variable = re.compile(r"\$(" + names + r")(?![A-Za-z0-9_])")
    if not variable.search(word):
        return shlex.quote(word)
    pieces = variable.split(word)  # literal, name, literal, name, ..., literal
    if all(_PLAIN.fullmatch(piece) or not piece for piece in pieces[::2]):
        return "".join(piece if index % 2 == 0 else f"${piece}" for index, piece in enumerate(pieces))
    return (
        '"'
        + "".join(
            re.sub(r'([\\"`$])', r"\\\1", piece) if index % 2 == 0 else f"${piece}"
            for index, piece in enumerate(pieces)
        )
        + '"'
    )
