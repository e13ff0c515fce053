"""``reprotasks`` / ``python -m reprotasks``: the registered steps as commands.

Imports stay light until a command runs: ``reprotasks --help`` reads only the specs.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence

from reprotasks._version import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_EPILOG = """\
Configuration lives in [tool.reprotasks] of pyproject.toml (see `reprotasks schema`);
REPROTASKS_<TABLE>_<KEY> environment variables override it, e.g.
REPROTASKS_PYTHON_LOCK_BACKEND=uv.

examples:
  reprotasks init                      add [tool.reprotasks], nox/invoke imports, release workflow
  reprotasks lock                      lock every requirements*.in, tidy go.mod
  reprotasks lock --upgrade-package click
  reprotasks verify                    fail on any drift, listing every problem
  reprotasks -C examples/hybrid verify
  reprotasks audit                     unpinned images, actions, installs (also part of verify)
  reprotasks audit --format sarif > audit.sarif
  reprotasks build                     sdist, wheel and Go archives from the last commit
  reprotasks build --go-only --platform linux/arm64
  reprotasks assemble parts/*          merge the dist/ of each CI matrix job (build --platform X)
  reprotasks checksum --check          verify a downloaded dist/ against SHA256SUMS
  reprotasks reproduce                 rebuild elsewhere and compare every digest with dist/
  reprotasks reproduce --ref v1.2.0 --sums ~/Downloads/SHA256SUMS
  reprotasks sbom && reprotasks checksum && reprotasks provenance && reprotasks sign
  reprotasks release                   all of it, staged: dist/ changes only if every step passed
  reprotasks release --dry-run         print every step and command without running them
  reprotasks release --skip sign       no OIDC identity here: everything but signing
  reprotasks verify-release ./v1.2.0 --github-repository acme/widgets
  reprotasks verify-signatures --offline --identity me@example.com \\
      --issuer https://github.com/login/oauth file.txt
"""


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's, wrapping at spaces only: `verify-signatures` is never cut at its hyphen."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        import textwrap

        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False, break_long_words=False)


def build_parser(command: str | None = "") -> argparse.ArgumentParser:
    """The CLI's parser. When ``command`` names one, only its step is loaded and given its options;
    ``None`` (the top-level help) lists the commands and their summaries and loads no step; ``""``
    (an unknown word) loads them all, options too."""
    parser = argparse.ArgumentParser(
        prog="reprotasks",
        description="Reproducible, verifiable releases for Python + Go repositories.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"reprotasks {__version__}")
    parser.add_argument("-C", "--project", default=".", metavar="DIR", help="project directory (default: current)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    if command is None and "reprotasks.registry" not in sys.modules:
        # The top-level help of a fresh process: names and summaries need neither the registry nor
        # the step machinery (nothing can have registered a step of its own yet).
        from reprotasks.steps import RELEASE_STEPS, SUMMARIES, release_summary

        # Listed, not built: a parser per command is most of the cost of the help (argparse lists
        # a subcommand by this entry; the help exits before any command would be parsed).
        listed = {**SUMMARIES, "release": release_summary(RELEASE_STEPS), **_BUILTINS}
        for name, text in listed.items():
            commands._choices_actions.append(commands._ChoicesPseudoAction(name, (), text))
        return parser
    from reprotasks import _frontend, registry
    from reprotasks.steps import docs_page

    for name in registry.names():
        if command is None:  # the top-level help: names and summaries, no step loaded
            commands.add_parser(name, help=registry.summary(name))
        elif command and command != name:  # another command's parser: its name is all argparse needs
            commands.add_parser(name)
        else:
            spec = registry.get(name)
            sub = commands.add_parser(
                name,
                help=spec.summary,
                description=spec.description or spec.summary,
                epilog=f"documentation: {docs_page(name)}",
                formatter_class=_HelpFormatter,
            )
            _frontend.add_arguments(sub, spec)
    _add_builtins(commands)
    return parser


_BUILTINS = {
    "config": "print the resolved configuration as JSON",
    "schema": "print the JSON schema of [tool.reprotasks]",
}


def _add_builtins(commands: Any) -> None:
    for name, text in _BUILTINS.items():
        commands.add_parser(name, help=text)


# What a shell reports for a process ended by SIGPIPE: `reprotasks config | head -1` is not an error.
CLOSED_STDOUT = 128 + signal.SIGPIPE


def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _main(argv)
        sys.stdout.flush()  # here, not at exit: a closed pipe must not become "Exception ignored"
    except BrokenPipeError:
        return _stdout_closed()
    return code


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser(_command_named(sys.argv[1:] if argv is None else argv)).parse_args(argv)
    from reprotasks._report import report_error
    from reprotasks._run import Terminated
    from reprotasks.errors import ReprotasksError

    try:
        _command(args)
    except ReprotasksError as error:
        if isinstance(error.__context__, BrokenPipeError):
            raise error.__context__ from None  # a step's own output (audit) met a closed stdout
        report_error(error)
        return error.exit_code
    except KeyboardInterrupt as stop:
        signum = stop.signum if isinstance(stop, Terminated) else signal.SIGINT
        print(
            f"{signal.Signals(signum).name}: stopped; outputs are replaced atomically, so each is the old or the "
            "new one, and temporary files were removed",
            file=sys.stderr,
        )
        return 128 + signum
    return 0


def _command_named(argv: Sequence[str]) -> str | None:
    """The command word of a command line, read as argparse reads it (``-C DIR``, ``--proj DIR``,
    ``-CDIR``), or None. An unknown word gets every command's arguments (argparse then says so)."""
    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("-C", "--project")
    first.add_argument("--version", action="store_true")
    first.add_argument("command", nargs="?")
    try:
        known, _rest = first.parse_known_args(argv)
    except (argparse.ArgumentError, SystemExit):
        return ""
    command: str | None = known.command
    if command is not None and command not in ("config", "schema"):
        from reprotasks import registry

        return command if command in registry.names() else ""
    return command


def _command(args: argparse.Namespace) -> None:
    if args.command == "schema":
        from reprotasks.schema import schema_json

        sys.stdout.write(schema_json())
    elif args.command == "config":
        import json

        from reprotasks._run import mask
        from reprotasks.config import load_config

        # Index URLs may carry a user and password (also from REPROTASKS_* overrides): never shown.
        print(mask(json.dumps(load_config(args.project).describe(), indent=2)))
    else:
        from reprotasks import _frontend, registry
        from reprotasks._app import run_step

        spec = registry.get(args.command)
        run_step(spec.name, _frontend.parse(spec, args), root=args.project)


def _stdout_closed() -> int:
    """The reader of stdout went away (``| head``): exit quietly, as SIGPIPE would end a C tool.

    stdout is pointed at /dev/null so the interpreter's last flush cannot fail again.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no file descriptor behind sys.stdout (embedded use)
        pass
    return CLOSED_STDOUT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
