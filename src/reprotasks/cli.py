"""``reprotasks`` / ``python -m reprotasks``: the steps as commands."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from reprotasks import __version__
from reprotasks._app import STEPS, StepOptions, report_error, run_init, run_step
from reprotasks._run import Terminated, mask
from reprotasks.config import load_config
from reprotasks.errors import ReprotasksError
from reprotasks.schema import schema_json
from reprotasks.steps.release import RELEASE_STEPS

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
  reprotasks verify-signatures --offline --identity me@example.com \
      --issuer https://github.com/login/oauth file.txt
"""


def add_step_arguments(parser: argparse.ArgumentParser, step: str) -> None:
    """Options of one step; shared with the nox sessions (which parse their posargs with it)."""
    if step == "lock":
        parser.add_argument(
            "--upgrade", action="store_true", help="re-resolve every package to its newest allowed version"
        )
        parser.add_argument(
            "--upgrade-package",
            "-P",
            action="append",
            default=[],
            metavar="NAME",
            dest="upgrade_packages",
            help="upgrade only NAME (repeatable); other pins are kept",
        )
        parser.add_argument(
            "--backend", choices=("pip-tools", "uv"), help="resolver for this run (default: python.lock-backend)"
        )
        only = parser.add_mutually_exclusive_group()
        only.add_argument("--python-only", action="store_true", help="lock only the Python requirements")
        only.add_argument("--go-only", action="store_true", help="only tidy and download the Go module")
    elif step == "build":
        parser.add_argument(
            "--platform",
            action="append",
            default=[],
            metavar="OS/ARCH",
            dest="platforms",
            help="build Go binaries only for this platform (repeatable; default: go.platforms), e.g. for CI matrices",
        )
        only = parser.add_mutually_exclusive_group()
        only.add_argument("--python-only", action="store_true", help="build only the sdist and wheel")
        only.add_argument("--go-only", action="store_true", help="build only the Go binaries")
        parser.add_argument(
            "--force", action="store_true", help="rebuild even if the inputs are unchanged since the last build"
        )
    elif step == "reproduce":
        parser.add_argument("--ref", metavar="TAG", help="rebuild this tag (or commit) instead of HEAD")
        parser.add_argument(
            "--sums",
            metavar="FILE",
            type=Path,
            help="with --ref: the release's published SHA256SUMS to compare the rebuild with",
        )
    elif step == "checksum":
        parser.add_argument(
            "--check",
            action="store_true",
            help="verify dist/ against its SHA256SUMS instead of writing it (never reads outside dist/)",
        )
    elif step == "sign":
        parser.add_argument(
            "--identity-token",
            metavar="TOKEN",
            help="OIDC identity token (default: $SIGSTORE_ID_TOKEN, then ambient CI credentials, then the browser)",
        )
        _add_instance_arguments(parser)
    elif step in ("verify-signatures", "verify-release"):
        if step == "verify-signatures":
            parser.add_argument(
                "files",
                nargs="*",
                type=Path,
                metavar="FILE",
                help="check FILE against FILE.sigstore.json (default: every bundle in dist/ plus its checksums)",
            )
        else:
            parser.add_argument("directory", type=Path, metavar="DIR", help="the downloaded release directory")
        parser.add_argument(
            "--offline", action="store_true", help="use the trust root on this machine; do not refresh it over TUF"
        )
        _add_instance_arguments(parser)
        parser.add_argument("--identity", metavar="ID", help="exact signer identity (email or URI) (sign.identity)")
        parser.add_argument("--issuer", metavar="URL", help="OIDC issuer the signer used (sign.issuer)")
        parser.add_argument(
            "--github-repository", metavar="OWNER/REPO", help="accept this repository's workflow as signer"
        )
        parser.add_argument("--github-workflow", metavar="PATH", help="workflow path (sign.github-workflow)")
        parser.add_argument("--github-ref", metavar="GLOB", help="allowed refs, e.g. 'refs/tags/v*' (sign.github-ref)")
    elif step == "audit":
        parser.add_argument(
            "--format",
            choices=("text", "json", "sarif"),
            default="text",
            help="text (file:line:col: RULE-ID message), json, or SARIF 2.1.0 for GitHub code scanning",
        )
    elif step == "assemble":
        parser.add_argument(
            "parts", nargs="+", type=Path, metavar="DIR", help="a build job's dist/ (one per platform, plus Python)"
        )
    elif step == "release":
        parser.add_argument(
            "--dry-run", action="store_true", help="print the plan (every step and command) and run nothing"
        )
        parser.add_argument(
            "--skip",
            action="append",
            default=[],
            choices=RELEASE_STEPS,
            metavar="STEP",
            help=f"leave STEP out (repeatable), e.g. sign where no OIDC identity is at hand; one of: "
            f"{', '.join(RELEASE_STEPS)}",
        )
        parser.add_argument(
            "--identity-token",
            metavar="TOKEN",
            help="OIDC identity token for sign (default: $SIGSTORE_ID_TOKEN, ambient CI credentials, the browser)",
        )
        _add_instance_arguments(parser)
        parser.add_argument(
            "--trust-cache",
            action="store_true",
            help="reuse cached results: verify's memo of fresh locks and an unchanged build in dist/ (by default a "
            "release re-resolves every lock and rebuilds from scratch)",
        )
        parser.add_argument("--no-cache", action="store_true", help="the default for release (kept for old scripts)")
    if step == "verify":
        parser.add_argument(
            "--no-cache",
            action="store_true",
            help="re-resolve every lock even if its inputs are unchanged since the last passing verify",
        )


def _add_instance_arguments(parser: argparse.ArgumentParser) -> None:
    instance = parser.add_mutually_exclusive_group()
    instance.add_argument("--staging", action="store_true", help="use Sigstore's staging instance (sign.instance)")
    instance.add_argument(
        "--trust-config",
        metavar="FILE",
        help="ClientTrustConfig JSON of a private or local Sigstore instance (sign.trust-config)",
    )


def _sign_overrides(args: argparse.Namespace) -> dict[str, object]:
    overrides: dict[str, object] = {}
    if getattr(args, "staging", False):
        overrides["instance"] = "staging"
    if getattr(args, "trust_config", None):
        overrides["trust-config"] = str(Path(args.trust_config).resolve())
    for flag in ("identity", "issuer", "github_repository", "github_workflow", "github_ref"):
        value = getattr(args, flag, None)
        if value is not None:
            overrides[flag.replace("_", "-")] = value
    if "identity" in overrides:
        overrides.setdefault("github-repository", None)
    return overrides


def options_from(args: argparse.Namespace) -> StepOptions:
    return StepOptions(
        upgrade=getattr(args, "upgrade", False),
        upgrade_packages=tuple(getattr(args, "upgrade_packages", ())),
        backend=getattr(args, "backend", None),
        python=not getattr(args, "go_only", False),
        go=not getattr(args, "python_only", False),
        use_cache=not getattr(args, "no_cache", False),
        trust_cache=getattr(args, "trust_cache", False),
        check=getattr(args, "check", False),
        platforms=tuple(getattr(args, "platforms", ())),
        force=getattr(args, "force", False),
        ref=getattr(args, "ref", None),
        sums=None if getattr(args, "sums", None) is None else Path(args.sums).resolve(),
        identity_token=getattr(args, "identity_token", None),
        offline=getattr(args, "offline", False),
        files=tuple(Path(file).resolve() for file in getattr(args, "files", ())),
        directory=None if getattr(args, "directory", None) is None else Path(args.directory).resolve(),
        sign_overrides=_sign_overrides(args),
        parts=tuple(Path(part).resolve() for part in getattr(args, "parts", ())),
        format=getattr(args, "format", "text"),
        skip=tuple(getattr(args, "skip", ())),
        dry_run=getattr(args, "dry_run", False),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reprotasks",
        description="Reproducible, verifiable releases for Python + Go repositories.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"reprotasks {__version__}")
    parser.add_argument("-C", "--project", default=".", metavar="DIR", help="project directory (default: current)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for step, description in STEPS.items():
        add_step_arguments(commands.add_parser(step, help=description, description=description), step)
    init = commands.add_parser(
        "init",
        help="wire this repository up: [tool.reprotasks], noxfile.py/tasks.py imports, the release workflow",
        description="Write [tool.reprotasks] into pyproject.toml (your formatting and comments kept), add the "
        "import line to noxfile.py and tasks.py (creating them if absent), and write "
        ".github/workflows/release.yml from the template. Idempotent: running it again changes nothing.",
    )
    init.add_argument("--force", action="store_true", help="replace a release.yml that differs from the template")
    init.add_argument(
        "--install-command",
        action="append",
        default=[],
        metavar="CMD",
        help="how the workflow installs reprotasks (repeatable; default: pip install --require-hashes from "
        "requirements-release.txt)",
    )
    commands.add_parser("config", help="print the resolved configuration as JSON")
    commands.add_parser("schema", help="print the JSON schema of [tool.reprotasks]")
    return parser


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
    args = build_parser().parse_args(argv)
    try:
        if args.command == "schema":
            sys.stdout.write(schema_json())
        elif args.command == "init":
            run_init(Path(args.project), force=args.force, install=args.install_command)
        elif args.command == "config":
            # Index URLs may carry a user and password (also from REPROTASKS_* overrides): never shown.
            print(mask(json.dumps(load_config(args.project).describe(), indent=2)))
        else:
            run_step(args.command, options_from(args), root=args.project)
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
