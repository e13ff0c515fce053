"""Reproducibility drills: rebuild past releases and record each outcome as a signed attestation.

For each release (the last N version tags, or the tags given), a drill fetches what was
published (``promote.published``: a directory or an https URL per tag), checks SHA256SUMS'
signature for the release signer policy and every published file against SHA256SUMS, then
rebuilds the tag with ``reproduce``'s machinery and compares. The outcome is one of:

- ``identical``: every listed file came out of the rebuild with its published digest;
- ``differs``: the signature, a published file or a rebuilt file does not match (with why);
- ``cannot rebuild``: the rebuild itself failed (a toolchain, a dependency or a base image that
  can no longer be fetched: the first one missing is named).

Each outcome is recorded as an in-toto statement with a SLSA Verification Summary predicate
(``verificationResult`` PASSED or FAILED, ``REPROTASKS_REPRODUCED`` among the levels when
identical), DSSE-signed with Sigstore and stored under ``drills/`` in the ledger directory.
Readers (``report``, ``status``, ``promote``'s `reproduced` rule) trust a record only through its
signature, for the drill signer policy (``promote.drill-signers``, else the release signer policy).
"""

from __future__ import annotations

import dataclasses
import platform
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprotasks import __version__
from reprotasks._files import write_atomic
from reprotasks._identity import Signer
from reprotasks._run import Runner, mask
from reprotasks.artifacts.checksum import read_sums
from reprotasks.artifacts.layout import SUMS_NAME, read_regular
from reprotasks.config import Config
from reprotasks.errors import DriftError, Finding, ReprotasksError
from reprotasks.promote import vsa as _vsa
from reprotasks.promote.ledger import canonical, digest_of
from reprotasks.signing import sigstore as _sigstore
from reprotasks.signing.sigstore import AnyIdentityPolicy, SignatureError, SignerPolicy

if TYPE_CHECKING:
    from reprotasks.signing.sigstore import Verifier

DRILL_DIR = "drills"
VERIFIER_ID = "https://reprotasks.invalid/drill/v1"
POLICY_URI = "https://reprotasks.invalid/drill/bit-for-bit-rebuild/v1"
BUNDLE_SUFFIX = ".sigstore.json"
IDENTICAL, DIFFERS, CANNOT = "identical", "differs", "cannot rebuild"
_MAX_DOWNLOAD = 2 << 30  # bytes: a published file larger than this is refused, not filled into the disk
_REASON_LIMIT = 1500


@dataclass(frozen=True, kw_only=True)
class DrillResult:
    tag: str
    version: str
    commit: str
    result: str  # identical | differs | cannot rebuild
    reason: str
    artifacts: Mapping[str, str] = field(default_factory=dict)  # published: file -> sha256
    inputs: tuple[tuple[str, str], ...] = ()  # (uri, sha256): SHA256SUMS and its bundle
    recorded: str = ""  # the signed attestation, as shown (empty: not recorded)


@dataclass(frozen=True, kw_only=True)
class DrillRecord:
    """A verified drill attestation, as ``report``, ``status`` and ``promote`` read it."""

    digest: str  # sha256 of the bundle (its name under drills/)
    sums: str  # sha256 of the published SHA256SUMS it checked ("" when none was fetched)
    tag: str
    version: str
    commit: str
    result: str
    reason: str
    artifacts: Mapping[str, str]
    who: str
    when: datetime


@dataclass(frozen=True, kw_only=True)
class Drill:
    """How to run one drill: where releases are published, whether to sign and store the results."""

    published: str  # a template with {tag} / {version}: a directory or an https:// URL
    record: bool
    token: Callable[[], Any] | None = None  # the signer's identity token, asked for once when recording


def signer(config: Config, explicit: str | None, environ: Mapping[str, str]) -> Callable[[], Any]:
    """(trust config, identity token) of whoever records drills, asked for once and refused unless
    the drill signer policy accepts the identity (a record nobody would trust is not written)."""
    made: list[Any] = []

    def get() -> Any:
        if made:
            return made[0]
        from reprotasks.signing.sign import identity_token

        trust = _sigstore.trust_config(config.sign, offline=False)
        token = identity_token(
            config.sign, explicit=explicit, environ=environ, oidc_url=lambda: trust.signing_config.get_oidc_url()
        )
        policy = drill_policy(config)
        if not _accepts(policy, token.identity, token.issuer):
            raise ReprotasksError(
                f"drill: {token.identity} (issuer {token.issuer}) may not sign drill records: the policy is "
                f"{policy.describe()}",
                hint="run it as that signer (the scheduled workflow), list the identity in `promote.drill-signers`, "
                "or pass --no-record to report only",
            )
        made.append((trust, token))
        return made[0]

    return get


def release_tags(config: Config, last: int, *, runner: Runner) -> list[str]:
    """The ``last`` highest full semantic version tags of the repository, highest first."""
    from reprotasks.artifacts.source import _FULL_VERSION, _version_order

    listed = runner.run(["git", "tag", "--list"], cwd=config.root, check=False, quiet=True, purpose="list the tags")
    tags = [tag for tag in listed.stdout.split() if _FULL_VERSION.match(tag)] if listed.returncode == 0 else []
    return sorted(tags, key=_version_order, reverse=True)[:last]


def default_published(config: Config) -> str:
    """GitHub's release download URL for the project's repository, when [project.urls] names one."""
    match = re.match(r"^https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?$", config.project_source or "")
    return f"https://github.com/{match.group(1)}/{match.group(2)}/releases/download/{{tag}}" if match else ""


def run_drills(
    config: Config, tags: list[str], drill: Drill, *, runner: Runner, log: Callable[[str], None]
) -> list[DrillResult]:
    """Drill each tag in turn: a release that fails is a result, never the end of the run (a
    record that cannot be signed is: none after it could be either)."""
    results = []
    # One verifier for the whole run: the published signatures' (with `sign.offline`), and the new
    # records' (the trust root refreshed, as before a record is written).
    verifier = _sigstore.lazy_verifier(config.sign)
    recording = _sigstore.lazy_verifier(dataclasses.replace(config.sign, offline=False))
    for number, tag in enumerate(tags, 1):
        log(f"drill: [{number}/{len(tags)}] {tag}")
        result = _drill_one(config, tag, drill, verifier, runner=runner, log=log)
        if drill.record:
            result = _record(config, result, drill, recording, runner=runner, log=log)
        results.append(result)
    return results


def _drill_one(
    config: Config, tag: str, drill: Drill, verifier: Callable[[], Verifier], *, runner: Runner,
    log: Callable[[str], None],
) -> DrillResult:  # fmt: skip
    published = drill.published
    version = tag.removeprefix("v")
    resolved = runner.run(
        ["git", "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}^{{commit}}"],
        cwd=config.root, check=False, quiet=True, purpose=f"find the commit of {tag}",
    )  # fmt: skip
    if resolved.returncode != 0:
        missing = f"the tag {tag} is not in this clone (fetch the tags: `git fetch --tags`)"
        return DrillResult(tag=tag, version=version, commit="", result=CANNOT, reason=missing)
    commit = resolved.stdout.strip()
    with tempfile.TemporaryDirectory(prefix="reprotasks-drill-") as scratch:
        where = Path(scratch) / "published"
        where.mkdir()
        base = DrillResult(tag=tag, version=version, commit=commit, result=CANNOT, reason="")
        try:
            place = published_place(published, tag, version)
            _fetch_signed(place, where)
        except ReprotasksError as exc:
            return dataclasses.replace(base, reason=_short(exc.message))
        problems, listed = read_sums(where / SUMS_NAME, f"{place}/{SUMS_NAME}")
        artifacts = {name: digest for name, (digest, _line) in listed.items()}
        base = dataclasses.replace(base, result=DIFFERS, artifacts=artifacts, inputs=_inputs(where))
        failed = _signature_problem(config, verifier, where, mask(place), problems, len(artifacts))
        if not failed:
            try:
                _fetch_listed(place, where, sorted(artifacts))
            except ReprotasksError as exc:
                return dataclasses.replace(base, result=CANNOT, reason=_short(exc.message))
            failed = _published_problem(where, artifacts)
        if failed:
            return dataclasses.replace(base, reason=_short(failed))
        log(f"drill: {tag}: published files verified; rebuilding commit {commit[:12]}")
        return _rebuilt(config, base, where, runner=runner)


def _inputs(where: Path) -> tuple[tuple[str, str], ...]:
    from reprotasks._files import sha256_file

    return tuple(
        (name, sha256_file(where / name)) for name in (SUMS_NAME, SUMS_NAME + BUNDLE_SUFFIX) if (where / name).is_file()
    )


def published_place(template: str, tag: str, version: str) -> str:
    if not template:
        raise ReprotasksError(
            "drill: where are the releases published?",
            hint='set `published` in [tool.reprotasks.promote] (e.g. "https://example.com/releases/{tag}" or a '
            "directory), or pass --published; a GitHub project's [project.urls] gives the default",
        )
    if "{tag}" not in template and "{version}" not in template:
        raise ReprotasksError(
            f"drill: the published place {mask(template)!r} names no {{tag}} or {{version}}",
            hint="every release is published in a place of its own, e.g. 'drilled/{tag}'",
        )
    place = template.replace("{tag}", tag).replace("{version}", version)
    if place.startswith("http://") and not _loopback(place):
        raise ReprotasksError(
            f"drill: {mask(place)} is plain http",
            hint="use https:// (http only on this machine, 127.0.0.1)",
        )
    return place


def _loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).hostname in ("127.0.0.1", "::1", "localhost")
    except ValueError:
        return False


def _getter(place: str) -> Callable[..., None]:
    return _download if place.startswith(("https://", "http://")) else _copy


def _fetch_signed(place: str, where: Path) -> None:
    """SHA256SUMS and its bundle: all that is fetched before the signature is checked."""
    get = _getter(place)
    get(place, SUMS_NAME, where, required=True)
    get(place, SUMS_NAME + BUNDLE_SUFFIX, where, required=False)


def _fetch_listed(place: str, where: Path, names: list[str]) -> None:
    """The files a verified SHA256SUMS lists (one not published is left to the rebuild to prove)."""
    get = _getter(place)
    for name in names:
        get(place, name, where, required=False)


def _copy(place: str, name: str, where: Path, *, required: bool) -> None:
    import shutil

    source = Path(place) / name
    if not source.is_file() or source.is_symlink():
        if required:
            raise ReprotasksError(
                f"{place}/{name} is not published (no such file, or a symlink)",
                hint="publish the release there, or point `published` (--published) at where it is",
            )
        return
    shutil.copyfile(source, where / name)


def _download(place: str, name: str, where: Path, *, required: bool) -> None:
    import http.client
    import urllib.error
    import urllib.parse
    import urllib.request

    url = f"{place.rstrip('/')}/{urllib.parse.quote(name)}"
    shown = mask(url)
    try:
        with urllib.request.urlopen(url, timeout=60) as response, (where / name).open("wb") as out:  # noqa: S310
            expected = response.headers.get("Content-Length")
            size = 0
            while chunk := response.read(1 << 20):
                size += len(chunk)
                if size > _MAX_DOWNLOAD:
                    raise ReprotasksError(f"{shown} is larger than {_MAX_DOWNLOAD >> 30} GiB", hint="check the URL")
                out.write(chunk)
            if expected is not None and expected.isdigit() and int(expected) != size:
                raise ReprotasksError(
                    f"{shown} was cut short ({size} of {expected} bytes)",
                    hint="run the drill again (the connection broke); nothing was compared",
                )
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        (where / name).unlink(missing_ok=True)
        code = getattr(exc, "code", None)
        if required or code not in (404, 410):
            reason = mask(str(code or getattr(exc, "reason", None) or type(exc).__name__))
            raise ReprotasksError(
                f"{shown} cannot be downloaded: {reason}",
                hint="check the release is published there (`published` in [tool.reprotasks.promote], or "
                "--published) and that this machine reaches it",
            ) from None


def _signature_problem(
    config: Config, verifier: Callable[[], Verifier], where: Path, source: str, problems: list[Finding], listed: int
) -> str:
    """Why the published SHA256SUMS is not what the release signer signed ("" when it is)."""
    if problems or not listed:
        return f"{source}/{SUMS_NAME} is not a checksum list: {problems[0].problem if problems else 'it lists no file'}"
    bundle = where / (SUMS_NAME + BUNDLE_SUFFIX)
    if not bundle.is_file():
        return f"{source}/{SUMS_NAME} has no signature ({SUMS_NAME}{BUNDLE_SUFFIX} is not published)"
    try:
        sums_bundle = _sigstore.load_bundle(bundle)
        _sigstore.verify_artifact(verifier(), SignerPolicy(config.sign), where / SUMS_NAME, sums_bundle)
    except SignatureError as exc:
        return f"{source}/{SUMS_NAME} is not what the release signer signed: {exc}"
    except ReprotasksError as exc:
        return f"{source}/{SUMS_NAME}'s signature cannot be checked: {exc.message}"
    return ""


def _published_problem(where: Path, artifacts: Mapping[str, str]) -> str:
    """A published file that is not the one the (verified) SHA256SUMS lists ("" when none)."""
    from reprotasks._files import sha256_file

    for name, digest in sorted(artifacts.items()):
        path = where / name
        if not path.is_file():
            continue  # not published beside it (a URL that 404s): the rebuild still proves the digest
        actual = sha256_file(path)
        if actual != digest:
            return f"the published {name} (sha256 {actual}) is not the file SHA256SUMS lists (sha256 {digest})"
    return ""


def _rebuilt(config: Config, base: DrillResult, published: Path, *, runner: Runner) -> DrillResult:
    """The result and reason of rebuilding ``commit`` and comparing with the published digests; when
    identical, the artifacts are only the files the rebuild proved (not the SBOM or provenance,
    documents no build makes again)."""
    from reprotasks._distdir import DistDir
    from reprotasks.artifacts.reproduce import reproduce

    try:
        report = reproduce(
            config, DistDir.of(config.dist_dir, config.root), runner=runner, ref=base.commit,
            sums=published / SUMS_NAME, published=published,
        )  # fmt: skip
    except DriftError as exc:
        lines = [
            f"{item.path} {item.problem}" + (f" ({item.details})" if item.details else "") for item in exc.findings
        ]
        return dataclasses.replace(base, result=DIFFERS, reason=_short("; ".join(lines)))
    except ReprotasksError as exc:
        return dataclasses.replace(base, result=CANNOT, reason=_short(missing_input(exc.message + "\n" + exc.details)))
    proved = {item.name: item.first for item in report.comparisons if item.status == "identical" and item.first}
    others = sorted(item.name for item in report.comparisons if item.status != "identical")
    reason = f"{len(proved)} published files came out of the rebuild with their digests" + (
        f" (not rebuilt, so not attested: {', '.join(others)})" if others else ""
    )
    return dataclasses.replace(base, result=IDENTICAL, reason=reason, artifacts=proved)


# What a failed rebuild's output says is gone, first match wins: (pattern, what to say).
_NETWORK = (
    r"(?:NewConnectionError|Temporary failure in name resolution|Network is unreachable|no such host"
    r"|connection refused|i/o timeout|TLS handshake timeout)"
)
_MISSING = (
    (
        re.compile(r"(?:proxy\.golang\.org|GOPROXY|golang\.org/toolchain|sum\.golang\.org)[^\n]*" + _NETWORK),
        "the Go proxy cannot be reached from here",
    ),
    (
        re.compile(r"(?:Retrying \(Retry|HTTPSConnectionPool)[^\n]*" + _NETWORK),
        "the package index cannot be reached from here",
    ),
    (
        re.compile(r"(?:Requires-Python|requires a different Python)[: ]*([^\n]*)"),
        "a locked package needs another Python than the drill's ({0})",
    ),
    (
        re.compile(r"go: download (go\d[\w.-]*)(?: for [\w/]+)?: (?:toolchain not available|golang\.org/toolchain@)"),
        "the Go toolchain {0} cannot be downloaded any more",
    ),
    (
        re.compile(r"go\.mod requires go >= ([\d.]+\S*) \(running go [\d.]+; GOTOOLCHAIN=local\)"),
        "the Go toolchain go{0} is not installed and GOTOOLCHAIN=local forbids downloading it",
    ),
    (
        re.compile(r"THESE PACKAGES DO NOT MATCH THE HASHES[\s\S]*?\n\s+(\S+==\S+)"),
        "{0} on the index does not match its locked hash: the index serves other bytes than were locked "
        "(find out why before trusting it)",
    ),
    (
        re.compile(
            r"(?:No matching distribution found for|Could not find a version that satisfies the requirement"
            r"|[Nn]o version of) (\S+)"
        ),
        "{0} is no longer on the package index (removed)",
    ),
    (
        re.compile(
            r"manifest for (\S+) not found"
            r"|(\S+@sha256:[0-9a-f]{64})[^\n]*(?:not found|MANIFEST_UNKNOWN|manifest unknown)"
        ),
        "the base image {0} is gone from its registry",
    ),
    (re.compile(r"(?:MANIFEST_UNKNOWN|manifest unknown|NAME_UNKNOWN)[^\n]*"), "a base image is gone from its registry"),
    (
        re.compile(
            r"(\S+@v\S+): (?:invalid version: )?(?:unknown revision|(?:reading|verifying) [^\n]*(?:404|410|not found))"
        ),
        "the Go module {0} cannot be downloaded any more",
    ),
)


def missing_input(text: str) -> str:
    """The first input a failed rebuild could not fetch, in words; else the error's own first lines."""
    for pattern, words in _MISSING:
        match = pattern.search(text)
        if match:
            found = next((group for group in match.groups() if group), match.group(0))
            line = match.group(0).strip().splitlines()[-1][:300]
            return words.format(found.strip()) + f" ({line})"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " / ".join(lines[:3]) or "the rebuild failed"


def _short(text: str) -> str:
    text = mask(text)
    return text if len(text) <= _REASON_LIMIT else text[: _REASON_LIMIT - 3] + "..."


def rebuilder() -> dict[str, str]:
    """Where the drill ran, as far as it says nothing secret: the tool, the interpreter, the OS, and a
    GitHub runner's labels (never an environment value that could be a credential)."""
    import os

    found = {
        "reprotasks": __version__,
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
    }
    for name in ("RUNNER_OS", "RUNNER_ARCH", "ImageOS", "ImageVersion", "GITHUB_REPOSITORY", "GITHUB_RUN_ID",
                 "GITHUB_WORKFLOW_REF"):  # fmt: skip
        value = os.environ.get(name, "")
        if value and re.match(r"^[\w./@:+-]{1,200}$", value):
            found[name] = value
    return {key: mask(value) for key, value in found.items()}


def statement(config: Config, result: DrillResult, time_verified: str) -> bytes:
    """The drill's in-toto statement: a SLSA VSA whose subjects are the published files."""
    from reprotasks.promote.trail import resource_uri

    document: dict[str, Any] = {
        "_type": _vsa.STATEMENT_TYPE,
        "subject": [{"name": name, "digest": {"sha256": digest}} for name, digest in sorted(result.artifacts.items())],
        "predicateType": _vsa.VSA_TYPE,
        "predicate": {
            "verifier": {"id": VERIFIER_ID, "version": {"reprotasks": __version__}},
            "timeVerified": time_verified,
            "resourceUri": resource_uri(config, result.version),
            "policy": {"uri": POLICY_URI},
            "inputAttestations": [{"uri": uri, "digest": {"sha256": digest}} for uri, digest in result.inputs],
            "verificationResult": "PASSED" if result.result == IDENTICAL else "FAILED",
            "verifiedLevels": [_vsa.REPRODUCED] if result.result == IDENTICAL else [],
            "slsaVersion": "1.0",
            "reprotasks": {
                "action": "drill",
                "tag": result.tag,
                "version": result.version,
                "commit": result.commit,
                "result": result.result,
                "reason": result.reason,
                "rebuilder": rebuilder(),
            },
        },
    }
    return canonical(document)


def drill_policy(config: Config) -> SignerPolicy | AnyIdentityPolicy:
    """Who may sign a drill record: `promote.drill-signers`, else the release signer policy; a GitHub
    workflow policy then takes that workflow on `main` too (a scheduled drill runs on the default
    branch, not on a release tag; never any branch, which anyone who may push one could sign from)."""
    signers = config.promote.drill_signer_list()
    if signers:
        return AnyIdentityPolicy(signers)
    sign = config.sign
    if sign.github_repository is not None and sign.identity is None and sign.issuer is not None:
        workflow = f"https://github.com/{sign.github_repository}/{sign.github_workflow.lstrip('/')}"
        return AnyIdentityPolicy(
            (Signer(f"{workflow}@refs/heads/main", sign.issuer), Signer(f"{workflow}@{sign.github_ref}", sign.issuer))
        )
    return SignerPolicy(sign)


def _accepts(policy: SignerPolicy | AnyIdentityPolicy, identity: str, issuer: str) -> bool:
    import fnmatch

    if isinstance(policy, AnyIdentityPolicy):
        return any(signer.accepts(identity, issuer) for signer in policy.signers)
    if policy.issuer != issuer:
        return False
    return (
        identity == policy.identity
        if policy.identity is not None
        else fnmatch.fnmatchcase(identity, policy.pattern or "")
    )


def drills_directory(config: Config) -> Path:
    from reprotasks.promote.trail import ledger_directory

    return ledger_directory(config) / DRILL_DIR


def _record(
    config: Config, result: DrillResult, drill: Drill, verifier: Callable[[], Verifier], *, runner: Runner,
    log: Callable[[str], None],
) -> DrillResult:  # fmt: skip
    """Sign the outcome, check the signature for the drill policy, and store it under drills/."""
    assert drill.token is not None
    trust, token = drill.token()
    time_verified = _vsa.now()
    log(f"drill: {result.tag}: signing the outcome ({_sigstore.describe_instance(config.sign)})")
    try:
        bundle = _sigstore.sign_dsse(trust, token, statement(config, result, time_verified))
    except _sigstore.signing_errors() as exc:
        raise ReprotasksError(
            f"drill: {_sigstore.signing_failure(exc)}",
            hint="check the token (its issuer and expiry) and the instance; the outcome above was not recorded",
        ) from None
    policy = drill_policy(config)
    try:
        verified = _vsa.verify(bundle, verifier(), policy)
    except SignatureError as exc:
        raise ReprotasksError(
            f"drill: the new attestation does not verify for {policy.describe()}: {exc}",
            hint=f"the token is for {token.identity}: sign as one of `promote.drill-signers` (or the release "
            "signer policy); nothing was recorded",
        ) from None
    if not _vsa.time_agrees(time_verified, verified.when):
        raise ReprotasksError(
            f"drill: this machine's clock ({time_verified}) is far from the signing time", hint="set the clock right"
        )
    directory = drills_directory(config)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{digest_of(bundle)}{BUNDLE_SUFFIX}"
    write_atomic(directory / name, bundle)
    return dataclasses.replace(result, recorded=f"{config.rel(directory)}/{name}")


def read_drills(config: Config, verifier: Callable[[], Verifier]) -> tuple[list[DrillRecord], list[Finding]]:
    """Every drill record whose signature verifies for the drill policy, oldest first; the others
    are findings (a record that does not verify proves nothing)."""
    directory = drills_directory(config)
    if not directory.is_dir():
        return [], []
    policy = drill_policy(config)
    trust = _sigstore.trust_root_key(config.sign)
    records, findings = [], []
    for path in sorted(directory.glob(f"*{BUNDLE_SUFFIX}")):
        shown = f"{config.rel(directory)}/{path.name}"
        try:
            data = read_regular(path)
            if f"{digest_of(data)}{BUNDLE_SUFFIX}" != path.name:
                raise SignatureError("is not named by its own sha256 (renamed or edited)")
            verified = _vsa.verify_remembered(data, verifier, policy, trust)
            records.append(_parsed_record(digest_of(data), verified))
        except (OSError, SignatureError, ValueError) as exc:
            findings.append(Finding(shown, None, f"is not a drill record signed for {policy.describe()}: {exc}",
                                    "remove it, or run the drill again"))  # fmt: skip
    return sorted(records, key=lambda record: record.when), findings


def _parsed_record(digest: str, verified: _vsa.VerifiedVsa) -> DrillRecord:
    said = _vsa.says(verified)
    predicate = _vsa.predicate_of(verified)
    if said.get("action") != "drill" or predicate.get("verifier", {}).get("id") != VERIFIER_ID:
        raise ValueError("is a VSA, but not a drill's")
    result = str(said.get("result", ""))
    passed = predicate.get("verificationResult") == "PASSED" and _vsa.REPRODUCED in _vsa.levels(verified)
    if (result == IDENTICAL) != passed:
        raise ValueError("says identical and FAILED (or the reverse)")
    return DrillRecord(
        digest=digest,
        sums=_vsa.inputs(verified).get(SUMS_NAME, ""),
        tag=str(said.get("tag", "")),
        version=str(said.get("version", "")),
        commit=str(said.get("commit", "")),
        result=result,
        reason=str(said.get("reason", "")),
        artifacts=_vsa.subjects(verified),
        who=verified.who,
        when=verified.when,
    )


def latest_by_version(records: list[DrillRecord]) -> dict[str, DrillRecord]:
    """The last drill of each version (records are oldest first)."""
    return {record.version: record for record in records}


def fresh_reproduction(
    config: Config, sums: str, records: list[DrillRecord], now: datetime | None = None
) -> DrillRecord | None:
    """The newest drill, within `promote.drill-fresh`, that rebuilt the release whose SHA256SUMS has
    sha256 ``sums`` and found it identical: the proof a rebuild now would give."""
    now = now or datetime.now(timezone.utc)
    for record in reversed(records):
        if (now - record.when).total_seconds() > config.promote.drill_fresh_seconds:
            break
        if record.sums == sums:  # the newest drill of this release decides: a later failure wins
            return record if record.result == IDENTICAL else None
    return None
