"""promote, rollback, status and verify-promotion: releases moving through the environments.

``promote`` checks a release directory against the policy of the target environment (every
failing check is reported at once, each with its fix), signs the decision as a VSA and appends it
to the ledger. ``verify-promotion`` is what a deploy job runs: the whole chain and every VSA must
verify, and the artifact must be one the environment holds now.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from reprotasks._run import Runner
from reprotasks.config import Config
from reprotasks.dist.checksum import read_sums
from reprotasks.dist.layout import PROVENANCE_NAME, SBOM_NAME, SUMS_NAME, kind_of, sha256_regular
from reprotasks.dist.manifest import MANIFEST_NAME, read_manifest
from reprotasks.errors import DriftError, Finding, ReprotasksError
from reprotasks.promote import ledger as _ledger
from reprotasks.promote import vsa as _vsa
from reprotasks.promote.ledger import Entry, Ledger
from reprotasks.promote.policy import PromoteConfig
from reprotasks.signing import sigstore as _sigstore
from reprotasks.signing.sigstore import AnyIdentityPolicy, SignatureError, SignerPolicy, bundle_path

if TYPE_CHECKING:
    from sigstore.verify import Verifier

REPRODUCED = "REPROTASKS_REPRODUCED"
AUDIT_CLEAN = "REPROTASKS_AUDIT_CLEAN"
_DIGEST = re.compile(r"^(?:sha256:)?([0-9a-f]{64})$")


@dataclass
class Outcome:
    rows_: list[tuple[str, str]] = field(default_factory=list)

    def rows(self) -> list[tuple[str, str]]:
        return self.rows_


@dataclass(frozen=True)
class Release:
    directory: Path
    shown: str
    version: str
    commit: str
    sums: str
    artifacts: dict[str, str]
    images: dict[str, str]


def promote_config(config: Config) -> PromoteConfig:
    promote = config.promote
    if promote.ledger is None:  # pragma: no cover - config.py always resolves it
        raise ReprotasksError("promote.ledger is not set", hint="set `ledger` in [tool.reprotasks.promote]")
    return promote


def _require_environment(promote: PromoteConfig, environment: str, step: str) -> None:
    if environment not in promote.environments:
        raise ReprotasksError(
            f"{step}: {environment!r} is not one of the environments ({', '.join(promote.environments)})",
            hint="pick one of them, or add it to `promote.environments` in [tool.reprotasks.promote]",
        )


def promoter_policy(config: Config, environment: str) -> SignerPolicy | AnyIdentityPolicy:
    """Who may sign a decision for ``environment``: its `promoters`, else the release signer policy."""
    rules = config.promote.rules_for(environment)
    if rules.promoters:
        assert rules.promoter_issuer is not None
        return AnyIdentityPolicy(rules.promoters, rules.promoter_issuer)
    return SignerPolicy(config.sign)


def open_ledger(config: Config, verifier: Verifier | None = None) -> tuple[Ledger, list[Finding]]:
    """The ledger with every entry's VSA checked: signature, signer, and that it says what the entry says."""
    promote = promote_config(config)
    assert promote.ledger is not None
    ledger = _ledger.read_ledger(promote.ledger, config.rel(promote.ledger))
    findings = list(ledger.findings)
    where = f"{ledger.shown}/{_ledger.LEDGER_NAME}"
    if ledger.entries and verifier is None:  # an empty ledger needs no trust root
        verifier = _sigstore.verifier(config.sign, offline=config.sign.offline)
    for entry in ledger.entries:
        assert verifier is not None
        problem = _entry_problem(config, ledger, entry, verifier)
        if problem:
            findings.append(
                Finding(
                    where,
                    entry.seq + 1,
                    f"entry {entry.seq} ({entry.action} {entry.version} to {entry.environment}): {problem}",
                    "restore the ledger and its vsa/ directory from version control; if a promoter's identity was "
                    "removed from the policy on purpose, that entry no longer counts",
                )
            )
    return ledger, findings


def _entry_problem(config: Config, ledger: Ledger, entry: Entry, verifier: Verifier) -> str:
    if entry.environment not in config.promote.environments:
        return f"names the environment {entry.environment!r}, which the policy no longer lists"
    path = ledger.vsa_path(entry.vsa)
    try:
        data = _read(path)
    except OSError:
        return f"its VSA {_ledger.VSA_DIR}/{path.name} is missing"
    if _sha256(data) != entry.vsa:
        return f"its VSA {_ledger.VSA_DIR}/{path.name} was changed (sha256 differs)"
    try:
        verified = _vsa.verify(data, verifier, promoter_policy(config, entry.environment))
    except SignatureError as exc:
        return f"its VSA does not verify: {exc}"
    said = _vsa.says(verified)
    expected = {
        "action": entry.action,
        "environment": entry.environment,
        "version": entry.version,
        "commit": entry.commit,
        "sequence": entry.seq,
    }
    for key, value in expected.items():
        if said.get(key) != value:
            return f"its VSA says {key} {said.get(key)!r}, the entry {value!r}"
    subjects = {**entry.artifacts, **{f"oci-image:{k}": v.removeprefix("sha256:") for k, v in entry.images.items()}}
    if _vsa.subjects(verified) != subjects:
        return "its VSA covers other artifacts than the entry lists"
    previous = _vsa.inputs(verified).get(f"ledger.jsonl#{entry.seq - 1}")
    if previous != entry.prev:
        return "its VSA was signed after another entry than the one before it (the chain was rearranged)"
    if _vsa.inputs(verified).get(SUMS_NAME) != entry.sums:
        return "its VSA names another SHA256SUMS than the entry"
    if verified.who != entry.who or _stamp(verified.when) != entry.when:
        return "its signer or time differs from the entry's `who`/`when`"
    return ""


def _read(path: Path) -> bytes:
    from reprotasks.dist.layout import read_regular

    return read_regular(path)


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _stamp(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_release(directory: Path, shown: str) -> Release:
    manifest_path = directory / MANIFEST_NAME
    if kind_of(manifest_path) is not None or kind_of(directory / SUMS_NAME) is not None:
        raise ReprotasksError(
            f"promote: {shown}/ is not a release directory ({MANIFEST_NAME} and {SUMS_NAME} are needed)",
            hint="pass --release DIR pointing at the downloaded release (or run the release steps first)",
        )
    manifest = read_manifest(manifest_path, f"{shown}/{MANIFEST_NAME}")
    problems, listed = read_sums(directory / SUMS_NAME, f"{shown}/{SUMS_NAME}")
    if problems:
        raise DriftError(problems, step="promote")
    images = {record.name: record.image for record in manifest.artifacts if record.image}
    return Release(
        directory=directory,
        shown=shown,
        version=str(manifest.project.get("version") or ""),
        commit=str(manifest.source.get("commit", "")),
        sums=sha256_regular(directory / SUMS_NAME),
        artifacts={name: digest for name, (digest, _line) in listed.items()},
        images={name: str(digest) for name, digest in images.items()},
    )


@dataclass(frozen=True, kw_only=True)
class Signing:
    """How to get the promoter's identity token (``sign.identity_token``'s inputs)."""

    token: str | None
    environ: Mapping[str, str]


def promote(
    config: Config,
    version: str,
    environment: str,
    *,
    release_dir: Path,
    signing: Signing,
    runner: Runner,
    log: Callable[[str], None],
) -> Outcome:
    promote_cfg = promote_config(config)
    _require_environment(promote_cfg, environment, "promote")
    verifier = _sigstore.verifier(config.sign, offline=config.sign.offline)
    ledger, chain = open_ledger(config, verifier)
    if chain:
        raise DriftError(chain, step="promote")
    release = load_release(release_dir, config.rel(release_dir))
    findings: list[Finding] = []
    rules = promote_cfg.rules_for(environment)
    where = f"{release.shown}/{MANIFEST_NAME}"
    if release.version != version:
        findings.append(
            Finding(where, None, f"is version {release.version}, not {version}", "pass the directory of that release")
        )
    for entry in ledger.of_version(release.version):
        if entry.sums != release.sums:
            findings.append(
                Finding(
                    f"{release.shown}/{SUMS_NAME}",
                    None,
                    f"differs from the {version} that entry {entry.seq} recorded ({entry.action} to "
                    f"{entry.environment}): a release is never replaced under the same version",
                    "promote the recorded artifacts (download them again), or release the change as a new version",
                )
            )
            break
    levels: list[str] = []
    inputs: list[tuple[str, str]] = []
    from reprotasks.signing.verify import verify_release

    report = verify_release(
        release.directory, config.sign, offline=config.sign.offline, shown_dir=release.shown,
        require_provenance=rules.provenance,
    )  # fmt: skip
    findings += report.findings
    for name in (SUMS_NAME, PROVENANCE_NAME):
        bundle = bundle_path(release.directory / name)
        if kind_of(bundle) is None:
            inputs.append((name, release.sums if name == SUMS_NAME else sha256_regular(release.directory / name)))
            inputs.append((bundle.name, sha256_regular(bundle)))
    if rules.provenance and not report.findings:
        levels.append("SLSA_BUILD_LEVEL_1")
    if rules.sbom and SBOM_NAME not in release.artifacts:
        findings.append(
            Finding(
                f"{release.shown}/{SUMS_NAME}",
                None,
                f"lists no {SBOM_NAME}: the {environment} policy requires an SBOM",
                "run `reprotasks sbom` before checksum and sign (release does)",
            )
        )
    current = ledger.current(environment)
    if not findings and current is not None and current.version == version and current.sums == release.sums:
        return Outcome([(environment, f"{version} is already there (entry {current.seq}); nothing to do")])
    findings += _order_findings(promote_cfg, ledger, release, environment)
    expensive = not findings  # a rebuild or an audit only when everything cheaper passed
    if rules.reproduced and not expensive:
        findings.append(_not_attempted(release, "a reproduction (rebuild) is required"))
    elif rules.reproduced:
        proof = _earlier_reproduction(ledger, release)
        if proof is not None:
            inputs.append((f"{_ledger.VSA_DIR}/{proof.vsa}.sigstore.json", proof.vsa))
            levels.append(REPRODUCED)
        else:
            problem = _reproduce_now(config, release, runner=runner, log=log)
            if problem is None:
                levels.append(REPRODUCED)
            else:
                findings.append(problem)
    if rules.audit and not expensive:
        findings.append(_not_attempted(release, "the pinning audit of the release commit is required"))
    elif rules.audit:
        problem = _audit_now(config, release, runner=runner)
        if problem is None:
            levels.append(AUDIT_CLEAN)
        else:
            findings.append(problem)
    if findings:
        error = DriftError(findings, step="promote")
        error.message = f"{version} may not enter {environment}: " + error.message
        raise error
    entry = _record(
        config, ledger, release, "promote", environment, levels, inputs, signing, log=log, verifier=verifier
    )
    return Outcome(
        [
            (environment, f"{version} promoted (entry {entry.seq}, signed by {entry.who})"),
            ("checks", ", ".join(levels) or "signatures"),
            ("ledger", f"{ledger.shown}/{_ledger.LEDGER_NAME} head {ledger.head}"),
        ]
    )


def _not_attempted(release: Release, what: str) -> Finding:
    return Finding(
        f"{release.shown}/{SUMS_NAME}",
        None,
        f"{what}, and was not attempted because the checks above failed",
        "fix those first; it runs on the next promote",
    )


def _order_findings(promote_cfg: PromoteConfig, ledger: Ledger, release: Release, environment: str) -> list[Finding]:
    previous = promote_cfg.previous(environment)
    if previous is None:
        return []
    where = f"{ledger.shown}/{_ledger.LEDGER_NAME}"
    entered = [
        entry
        for entry in ledger.history(previous)
        if entry.version == release.version and entry.sums == release.sums and entry.action == "promote"
    ]
    if not entered:
        return [
            Finding(
                where,
                None,
                f"records no promotion of {release.version} to {previous}: {environment} comes after {previous}, "
                "and no environment is skipped",
                f"promote it to {previous} first (`reprotasks promote {release.version} --to {previous}`)",
            )
        ]
    soak = promote_cfg.rules_for(environment).soak_seconds
    since = datetime.strptime(entered[0].when, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    waited = (datetime.now(timezone.utc) - since).total_seconds()
    if waited < soak:
        return [
            Finding(
                where,
                None,
                f"{release.version} entered {previous} at {entered[0].when}, {int(waited)}s ago; {environment} "
                f"requires {promote_cfg.rules_for(environment).soak} there first",
                f"promote again after {int(soak - waited)}s more",
            )
        ]
    return []


def _earlier_reproduction(ledger: Ledger, release: Release) -> Entry | None:
    """An earlier entry (whose VSA verified with the chain) that proved these very bytes reproducible."""
    for entry in ledger.entries:
        if entry.sums == release.sums and REPRODUCED in _levels_of(ledger, entry):
            return entry
    return None


def _levels_of(ledger: Ledger, entry: Entry) -> list[str]:
    import json

    try:
        payload = json.loads(_read(ledger.vsa_path(entry.vsa)))
        statement = json.loads(_b64(payload["dsseEnvelope"]["payload"]))
    except (OSError, ValueError, KeyError, TypeError):
        return []
    levels = statement.get("predicate", {}).get("verifiedLevels", [])
    return [level for level in levels if isinstance(level, str)] if isinstance(levels, list) else []


def _b64(text: str) -> bytes:
    import base64

    return base64.b64decode(text)


def _reproduce_now(config: Config, release: Release, *, runner: Runner, log: Callable[[str], None]) -> Finding | None:
    from reprotasks.dist.reproduce import reproduce

    log(f"promote: rebuilding {release.version} ({release.commit[:12]}) to prove it reproduces")
    try:
        reproduce(config, runner=runner, ref=release.commit, sums=release.directory / SUMS_NAME)
    except ReprotasksError as exc:
        return Finding(
            f"{release.shown}/{SUMS_NAME}",
            None,
            f"was not reproduced from commit {release.commit[:12]}: {exc.message}",
            "run `reprotasks reproduce --ref TAG --sums SHA256SUMS` to see what differs, fix the non-determinism, "
            "and release a new version",
        )
    return None


def _audit_now(config: Config, release: Release, *, runner: Runner) -> Finding | None:
    from reprotasks.audit.scan import audit
    from reprotasks.dist import source as _source

    head = _source.describe_source(config.root, runner=runner).commit
    if head != release.commit:
        return Finding(
            ".",
            None,
            f"the checkout is at {head[:12]}, not at {release.version}'s commit {release.commit[:12]}: the audit "
            "would judge other files",
            f"check out {release.commit[:12]} (the release tag) and promote from there",
        )
    audited = audit(config, runner=runner, use_cache=False)
    if audited.errors:
        return Finding(
            ".",
            None,
            f"the pinning audit of {release.commit[:12]} has {len(audited.errors)} error(s)",
            "run `reprotasks audit` and pin what it lists",
        )
    return None


def _record(
    config: Config,
    ledger: Ledger,
    release: Release,
    action: str,
    environment: str,
    levels: list[str],
    inputs: list[tuple[str, str]],
    signing: Signing,
    *,
    log: Callable[[str], None],
    verifier: Verifier,
    restores: int | None = None,
) -> Entry:
    """Sign the decision and append it, under the ledger lock (the chain is read again inside it)."""
    from sigstore.errors import Error as SigstoreError
    from sigstore.sign import SigningContext

    from reprotasks.signing.sign import identity_token

    promote_cfg = config.promote
    assert promote_cfg.ledger is not None
    trust = _sigstore.trust_config(config.sign, offline=False)
    token = identity_token(
        config.sign,
        explicit=signing.token,
        environ=signing.environ,
        oidc_url=lambda: trust.signing_config.get_oidc_url(),
    )
    policy = promoter_policy(config, environment)
    rules = promote_cfg.rules_for(environment)
    if rules.promoters and (token.identity not in rules.promoters or token.issuer != rules.promoter_issuer):
        raise ReprotasksError(
            f"{action}: {token.identity} (issuer {token.issuer}) may not {action} to {environment}",
            hint=f"the {environment} policy allows {policy.describe()}; ask one of them, or add the identity to "
            f"`promote.rules.{environment}.promoters`",
        )
    with _ledger.locked(promote_cfg.ledger, ledger.shown):
        fresh, chain = open_ledger(config, verifier)
        if chain:
            raise DriftError(chain, step=action)
        if fresh.head != ledger.head:
            raise ReprotasksError(
                f"{action}: another promotion was recorded while this one was checked",
                hint="run the command again: it re-checks against the ledger as it is now",
            )
        decision = _vsa.Decision(
            action=action,
            environment=environment,
            version=release.version,
            commit=release.commit,
            resource=f"pkg:generic/{config.project_name}@{release.version}",
            artifacts=release.artifacts,
            images=release.images,
            policy_uri=f"pyproject.toml#tool.reprotasks.promote.rules.{environment}",
            policy_digest=promote_cfg.rules_digest(environment),
            inputs=tuple(sorted({(SUMS_NAME, release.sums), *inputs})),
            levels=tuple(levels),
            sequence=len(fresh.entries),
            previous=fresh.head,
            time_verified=_vsa.now(),
        )
        log(f"{action}: signing the decision ({_sigstore.describe_instance(config.sign)})")
        try:
            with SigningContext.from_trust_config(trust).signer(token) as signer:
                bundle = _vsa.sign(decision.statement(), signer)
        except SigstoreError as exc:
            raise ReprotasksError(
                f"{action}: Sigstore refused or failed: {_sigstore.first_line(exc)}",
                hint=f"check the token and the instance ({_sigstore.describe_instance(config.sign)}); nothing was "
                "recorded",
            ) from None
        try:
            verified = _vsa.verify(bundle, verifier, policy)
        except SignatureError as exc:
            raise ReprotasksError(
                f"{action}: the new VSA does not verify for {policy.describe()}: {exc}",
                hint=f"the token is for {token.identity} (issuer {token.issuer}); nothing was recorded",
            ) from None
        entry = Entry(
            seq=decision.sequence,
            prev=decision.previous,
            action=action,
            environment=environment,
            version=release.version,
            commit=release.commit,
            sums=release.sums,
            artifacts=dict(release.artifacts),
            images=dict(release.images),
            vsa=_sha256(bundle),
            who=verified.who,
            when=_stamp(verified.when),
            restores=restores,
        )
        _ledger.append(fresh, entry, bundle)
        ledger.entries[:], ledger.lines[:] = fresh.entries, fresh.lines
    return entry


def rollback(
    config: Config,
    environment: str,
    version: str | None,
    *,
    signing: Signing,
    log: Callable[[str], None],
) -> Outcome:
    promote_cfg = promote_config(config)
    _require_environment(promote_cfg, environment, "rollback")
    verifier = _sigstore.verifier(config.sign, offline=config.sign.offline)
    ledger, chain = open_ledger(config, verifier)
    if chain:
        raise DriftError(chain, step="rollback")
    current = ledger.current(environment)
    where = f"{ledger.shown}/{_ledger.LEDGER_NAME}"
    if current is None:
        raise ReprotasksError(
            f"rollback: {where} records nothing in {environment}",
            hint=f"promote a release to {environment} first",
        )
    promoted = [entry for entry in ledger.history(environment) if entry.action == "promote"]
    if version is None:
        earlier = [entry for entry in promoted if entry.version != current.version]
        # The release that was there before the current one: the last distinct one before it.
        before = [entry for entry in earlier if entry.seq < _origin(ledger, current).seq]
        if not before:
            raise ReprotasksError(
                f"rollback: {environment} has held no release before {current.version}",
                hint="name a version that was promoted there: `reprotasks rollback --to ENV VERSION`",
            )
        target = before[-1]
    else:
        named = [entry for entry in promoted if entry.version == version]
        if not named:
            shown = ", ".join(sorted({entry.version for entry in promoted})) or "none"
            raise ReprotasksError(
                f"rollback: {version} was never promoted to {environment}",
                hint=f"roll back to a version {environment} held before (recorded: {shown})",
            )
        target = named[-1]
        if target.version == current.version and target.sums == current.sums:
            return Outcome([(environment, f"{version} is already there (entry {current.seq}); nothing to do")])
    release = Release(
        directory=Path(),
        shown="",
        version=target.version,
        commit=target.commit,
        sums=target.sums,
        artifacts=target.artifacts,
        images=target.images,
    )
    inputs = [(f"{_ledger.VSA_DIR}/{target.vsa}.sigstore.json", target.vsa)]
    entry = _record(
        config,
        ledger,
        release,
        "rollback",
        environment,
        _levels_of(ledger, target),
        inputs,
        signing,
        log=log,
        verifier=verifier,
        restores=target.seq,
    )
    return Outcome(
        [
            (environment, f"back at {target.version} (entry {entry.seq} restores entry {target.seq})"),
            ("was", current.version),
        ]
    )


def _origin(ledger: Ledger, entry: Entry) -> Entry:
    """The promotion an entry stands for (a rollback stands for the entry it restored)."""
    while entry.restores is not None:
        entry = ledger.entries[entry.restores]
    return entry


@dataclass(frozen=True)
class EnvironmentState:
    environment: str
    entry: Entry | None


def status(config: Config) -> tuple[list[EnvironmentState], Ledger, list[Finding]]:
    ledger, chain = open_ledger(config)
    states = [EnvironmentState(env, ledger.current(env)) for env in config.promote.environments]
    return states, ledger, chain


def status_rows(config: Config) -> Outcome:
    states, ledger, chain = status(config)
    if chain:
        raise DriftError(chain, step="status")
    rows = []
    for state in states:
        entry = state.entry
        if entry is None:
            rows.append((state.environment, "-"))
            continue
        how = "rolled back to" if entry.action == "rollback" else "promoted"
        rows.append((state.environment, f"{entry.version} ({how} {entry.when} by {entry.who}, entry {entry.seq})"))
    rows.append(("ledger", f"{len(ledger.entries)} entries, chain and signatures verified, head {ledger.head or '-'}"))
    return Outcome(rows)


def artifact_digest(artifact: str) -> tuple[str, str]:
    """(sha256 hex, how it was named) of a file path, `sha256:HEX`, or an image reference `REPO@sha256:HEX`."""
    match = _DIGEST.match(artifact) or _DIGEST.match(artifact.rpartition("@")[2])
    if match and (artifact.startswith("sha256:") or "@" in artifact or not Path(artifact).exists()):
        return match.group(1), artifact
    path = Path(artifact)
    try:
        return sha256_regular(path), path.name
    except OSError as exc:
        raise ReprotasksError(
            f"verify-promotion: {artifact}: {exc.strerror or 'not a regular file'}",
            hint="pass the artifact file the deploy would ship, its sha256:HEX digest, or an image as REPO@sha256:HEX",
        ) from None


def verify_promotion(config: Config, environment: str, artifact: str) -> Outcome:
    promote_cfg = promote_config(config)
    _require_environment(promote_cfg, environment, "verify-promotion")
    digest, named = artifact_digest(artifact)
    states, ledger, chain = status(config)
    if chain:
        error = DriftError(chain, step="verify-promotion")
        error.message = "the promotion ledger does not verify, so nothing it says can be trusted: " + error.message
        raise error
    current = next(state.entry for state in states if state.environment == environment)
    where = f"{ledger.shown}/{_ledger.LEDGER_NAME}"
    if current is None:
        raise ReprotasksError(
            f"verify-promotion: {where} records nothing in {environment}",
            hint=f"promote the release to {environment} before deploying it",
        )
    if digest not in current.digests():
        elsewhere = [entry for entry in ledger.entries if digest in entry.digests()]
        known = f"; it belongs to {elsewhere[-1].version}" if elsewhere else "; no promotion ever named it"
        raise ReprotasksError(
            f"verify-promotion: {named} (sha256 {digest[:16]}...) is not what {environment} holds "
            f"({current.version}, entry {current.seq}){known}",
            hint=f"deploy the artifacts of {current.version}, or promote this release to {environment} first",
        )
    return Outcome(
        [
            (environment, f"{current.version} (entry {current.seq}, {current.action} by {current.who})"),
            (named, f"sha256:{digest} is part of it"),
            ("ledger", f"{len(ledger.entries)} entries, chain and every VSA verified"),
        ]
    )


def write_report(config: Config, output: Path | None) -> Outcome:
    """The static dashboard; written even when the ledger is broken (it says so), then the error."""
    from reprotasks._files import write_atomic
    from reprotasks.promote.report import render

    ledger, findings = open_ledger(config)
    levels = {entry.seq: _levels_of(ledger, entry) for entry in ledger.entries}
    target = output or ledger.directory / "index.html"
    page = render(
        project=config.project_name or config.root.name,
        environments=config.promote.environments,
        ledger=ledger,
        findings=findings,
        levels=levels,
    )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, page)
    except OSError as exc:
        raise ReprotasksError(
            f"report: cannot write {config.rel(target)}: {exc.strerror or exc}",
            hint="pass --output FILE in a writable directory",
        ) from None
    if findings:
        error = DriftError(findings, step="report")
        error.message = f"wrote {config.rel(target)}, which shows the ledger as broken: " + error.message
        raise error
    return Outcome([(config.rel(target), f"{len(ledger.entries)} ledger entries, chain and every VSA verified")])
