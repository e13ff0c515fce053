"""Invoke tasks over the core steps: ``from reprotasks.invoke import ns`` in tasks.py.

Settings come from [tool.reprotasks]; invoke's own configuration (``reprotasks:`` in
invoke.yaml, same keys) overrides them, and task flags override both.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import Task, task

from reprotasks._app import StepOptions, report_error, run_step
from reprotasks.errors import ReprotasksError

__all__ = ["extend_namespace", "ns"]


def _run(c: Context, step: str, options: StepOptions) -> None:
    overrides = c.config.get("reprotasks", None)
    if overrides is not None and not isinstance(overrides, Mapping):
        raise Exit("invoke configuration `reprotasks` must be a mapping of [tool.reprotasks] keys", code=2)
    plain: dict[str, Any] | None = _plain(overrides) if overrides else None
    try:
        run_step(step, options, root=Path.cwd(), overrides=plain, overrides_source="invoke configuration `reprotasks`")
    except ReprotasksError as error:
        report_error(error)
        raise Exit(code=error.exit_code) from None


def _plain(value: Any) -> Any:
    """invoke's DataProxy -> plain dicts/lists, so config validation sees ordinary types."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


@task(
    help={
        "upgrade": "re-resolve every package to its newest allowed version",
        "upgrade-package": "upgrade only this package (repeatable)",
        "backend": "pip-tools or uv (default: python.lock-backend)",
        "python-only": "lock only the Python requirements",
        "go-only": "only tidy and download the Go module",
    },
    iterable=["upgrade_package"],
)
def lock(
    c: Context,
    upgrade: bool = False,
    upgrade_package: list[str] | None = None,
    backend: str | None = None,
    python_only: bool = False,
    go_only: bool = False,
) -> None:
    """Lock Python requirements with hashes and tidy + download the Go module graph."""
    _run(
        c,
        "lock",
        StepOptions(
            upgrade=upgrade,
            upgrade_packages=tuple(upgrade_package or ()),
            backend=backend,
            python=not go_only,
            go=not python_only,
        ),
    )


@task(help={"no-cache": "re-resolve every lock even when its inputs are unchanged"})
def verify(c: Context, no_cache: bool = False) -> None:
    """Fail on drift: stale or unhashed locks, untidy go.mod/go.sum, unpinned toolchains."""
    _run(c, "verify", StepOptions(use_cache=not no_cache))


@task(help={"check": "verify dist/ against its SHA256SUMS instead of writing it"})
def checksum(c: Context, check: bool = False) -> None:
    """Write dist/SHA256SUMS; --check reports modified, missing, unlisted or unsafe entries."""
    _run(c, "checksum", StepOptions(check=check))


@task(
    help={
        "platform": "build Go binaries only for this OS/ARCH (repeatable; default: go.platforms)",
        "python-only": "build only the sdist and wheel",
        "go-only": "build only the Go binaries",
        "force": "rebuild even if the inputs are unchanged since the last build",
    },
    iterable=["platform"],
)
def build(
    c: Context,
    platform: list[str] | None = None,
    python_only: bool = False,
    go_only: bool = False,
    force: bool = False,
) -> None:
    """Build sdist + wheel and Go binaries from a clean copy of the last commit into dist/."""
    _run(
        c,
        "build",
        StepOptions(platforms=tuple(platform or ()), python=not go_only, go=not python_only, force=force),
    )


@task(help={"format": "text, json or sarif"})
def audit(c: Context, format: str = "text") -> None:
    """Pinning audit of Dockerfiles, workflows, scripts, Makefiles, go.mod and nox/invoke files."""
    _run(c, "audit", StepOptions(format=format))


@task(help={"part": "a build job's dist/ directory (repeatable)"}, iterable=["part"])
def assemble(c: Context, part: list[str] | None = None) -> None:
    """Merge the dist/ of each matrix build job into dist/ (digests checked, one manifest)."""
    _run(c, "assemble", StepOptions(parts=tuple(Path(item).resolve() for item in part or ())))


@task(
    help={
        "ref": "rebuild this tag (or commit) instead of HEAD",
        "sums": "with --ref: the release's published SHA256SUMS",
    }
)
def reproduce(c: Context, ref: str | None = None, sums: str | None = None) -> None:
    """Rebuild elsewhere under varied conditions and prove every artifact is byte-identical."""
    _run(c, "reproduce", StepOptions(ref=ref, sums=None if sums is None else Path(sums).resolve()))


@task
def sbom(c: Context) -> None:
    """Write dist/sbom.cdx.json (CycloneDX 1.6) from the locks, go.sum and the built binaries."""
    _run(c, "sbom", StepOptions())


@task
def provenance(c: Context) -> None:
    """Write dist/provenance.intoto.json (in-toto v1, SLSA provenance v1) over SHA256SUMS' entries."""
    _run(c, "provenance", StepOptions())


def _instance(staging: bool, trust_config: str | None) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    if staging:
        overrides["instance"] = "staging"
    if trust_config:
        overrides["trust-config"] = str(Path(trust_config).resolve())
    return overrides


@task(
    help={
        "identity-token": "OIDC token (default: $SIGSTORE_ID_TOKEN, ambient CI credentials, then the browser)",
        "staging": "use Sigstore's staging instance",
        "trust-config": "ClientTrustConfig JSON of a private or local Sigstore instance",
    }
)
def sign(c: Context, identity_token: str | None = None, staging: bool = False, trust_config: str | None = None) -> None:
    """Sign SHA256SUMS (and the provenance, as DSSE) with Sigstore; skips bundles that already verify."""
    _run(c, "sign", StepOptions(identity_token=identity_token, sign_overrides=_instance(staging, trust_config)))


@task(
    help={
        "skip": "leave this step out (repeatable): verify, build, sbom, checksum, provenance, sign, verify-signatures",
        "dry-run": "print the plan (every step and command) and run nothing",
        "identity-token": "OIDC token for sign (default: $SIGSTORE_ID_TOKEN, ambient CI credentials, the browser)",
        "staging": "use Sigstore's staging instance",
        "trust-config": "ClientTrustConfig JSON of a private or local Sigstore instance",
        "no-cache": "the default for release (kept for old scripts)",
        "trust-cache": "reuse cached results: verify's memo of fresh locks and an unchanged build in dist/",
    },
    iterable=["skip"],
)
def release(
    c: Context,
    skip: list[str] | None = None,
    dry_run: bool = False,
    identity_token: str | None = None,
    staging: bool = False,
    trust_config: str | None = None,
    no_cache: bool = False,
    trust_cache: bool = False,
) -> None:
    """verify, build, sbom, checksum, provenance, sign, verify-signatures; dist/ changes only if all pass."""
    options = StepOptions(
        skip=tuple(skip or ()),
        dry_run=dry_run,
        identity_token=identity_token,
        use_cache=not no_cache,
        trust_cache=trust_cache,
        sign_overrides=_instance(staging, trust_config),
    )
    _run(c, "release", options)


_VERIFY_HELP = {
    "offline": "use the trust root on this machine; no TUF refresh",
    "staging": "use Sigstore's staging instance",
    "trust-config": "ClientTrustConfig JSON of a private or local Sigstore instance",
    "identity": "exact signer identity (sign.identity)",
    "issuer": "OIDC issuer of the signer (sign.issuer)",
    "github-repository": "accept this OWNER/REPO's workflow as signer (sign.github-repository)",
}


def _verify_overrides(
    staging: bool, trust_config: str | None, identity: str | None, issuer: str | None, github_repository: str | None
) -> dict[str, Any]:
    given = {"identity": identity, "issuer": issuer, "github-repository": github_repository}
    return {**_instance(staging, trust_config), **{key: value for key, value in given.items() if value is not None}}


@task(
    help={**_VERIFY_HELP, "file": "check FILE against FILE.sigstore.json (repeatable; default: dist/)"},
    iterable=["file"],
)
def verify_signatures(
    c: Context,
    file: list[str] | None = None,
    offline: bool = False,
    staging: bool = False,
    trust_config: str | None = None,
    identity: str | None = None,
    issuer: str | None = None,
    github_repository: str | None = None,
) -> None:
    """Verify dist/'s bundles (or each --file) for the configured signer identity and issuer."""
    overrides = _verify_overrides(staging, trust_config, identity, issuer, github_repository)
    files = tuple(Path(item).resolve() for item in file or ())
    _run(c, "verify-signatures", StepOptions(files=files, offline=offline, sign_overrides=overrides))


@task(help={**_VERIFY_HELP, "directory": "the downloaded release directory"})
def verify_release(
    c: Context,
    directory: str,
    offline: bool = False,
    staging: bool = False,
    trust_config: str | None = None,
    identity: str | None = None,
    issuer: str | None = None,
    github_repository: str | None = None,
) -> None:
    """Verify a downloaded release end to end: checksums, every signature, provenance subjects."""
    overrides = _verify_overrides(staging, trust_config, identity, issuer, github_repository)
    options = StepOptions(directory=Path(directory).resolve(), offline=offline, sign_overrides=overrides)
    _run(c, "verify-release", options)


ns = Collection(
    lock,
    verify,
    audit,
    build,
    assemble,
    checksum,
    sbom,
    provenance,
    sign,
    verify_signatures,
    verify_release,
    reproduce,
    release,
)


def extend_namespace(module_globals: Mapping[str, Any]) -> Collection:
    """Your tasks.py's tasks plus reprotasks' (``ns = extend_namespace(globals())``).

    Uses your ``ns``/``namespace`` collection if tasks.py defines one, else collects its tasks;
    a task of yours with the same name as a reprotasks task wins.
    """
    existing = module_globals.get("ns", module_globals.get("namespace"))
    if isinstance(existing, Collection) and existing is not ns:
        collection = existing
    else:
        collection = Collection()
        for value in module_globals.values():
            if isinstance(value, Task):
                collection.add_task(value)
    for name, reprotasks_task in ns.tasks.items():
        if name not in collection.tasks:
            collection.add_task(reprotasks_task, name=name)
    return collection
