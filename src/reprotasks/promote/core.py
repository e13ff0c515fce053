"""promote, rollback, status, verify-promotion and report: releases moving through the environments.

``promote`` checks a release directory against the policy of the target environment (every
failing check is reported at once, each with its fix), signs the decision as a VSA and appends it
to the ledger, all under the ledger's lock (concurrent promotions queue up). ``verify-promotion``
is what a deploy job runs: the whole ledger must verify (see ``trail``), and the artifact must be
part of the release the environment holds now.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprotasks._run import Runner
from reprotasks.artifacts.checksum import read_sums
from reprotasks.artifacts.layout import PROVENANCE_NAME, SBOM_NAME, SUMS_NAME, kind_of, read_regular, sha256_regular
from reprotasks.artifacts.manifest import MANIFEST_NAME, read_manifest
from reprotasks.config import Config
from reprotasks.errors import DriftError, Finding, ReprotasksError
from reprotasks.promote import ledger as _ledger
from reprotasks.promote import vsa as _vsa
from reprotasks.promote.ledger import Entry, Ledger
from reprotasks.promote.options import PromoteConfig
from reprotasks.promote.trail import (
    ledger_directory,
    ledger_where,
    open_ledger,
    policy_uri,
    promoter_policy,
    resource_uri,
)
from reprotasks.promote.vsa import Policy
from reprotasks.signing import sigstore as _sigstore
from reprotasks.signing.sigstore import SignatureError, bundle_path

if TYPE_CHECKING:
    from reprotasks.signing.sigstore import ClientTrustConfig, IdentityToken, Verifier

_DIGEST = re.compile(r"^(?:sha256:)?([0-9a-f]{64})$")


@dataclass
class Outcome:
    rows_: list[tuple[str, str]] = field(default_factory=list)

    def rows(self) -> list[tuple[str, str]]:
        return self.rows_


@dataclass(frozen=True)
class Release:
    shown: str
    version: str
    commit: str
    sums: str
    artifacts: dict[str, str]
    images: dict[str, str]
    directory: Path | None = None  # None for a rollback (the release is the restored entry's)

    @classmethod
    def of_entry(cls, entry: Entry) -> Release:
        """The release a ledger entry names (a rollback restores one)."""
        return cls("", entry.version, entry.commit, entry.sums, entry.artifacts, entry.images)


@dataclass(frozen=True, kw_only=True)
class Signing:
    """How to get the promoter's identity token (``sign.identity_token``'s inputs)."""

    token: str | None
    environ: Mapping[str, str]


def _ledger_dir(config: Config) -> Path:
    return ledger_directory(config)  # refused when it is (or lies under) a symlink


def _require_environment(promote: PromoteConfig, environment: str, step: str) -> None:
    if environment not in promote.environments:
        raise ReprotasksError(
            f"{step}: {environment!r} is not one of the environments ({', '.join(promote.environments)})",
            hint="pick one of them, or add it to `promote.environments` in [tool.reprotasks.promote]",
        )


def _trusted(config: Config, runner: Runner, step: str, verifier: Verifier | None = None) -> Ledger:
    ledger, findings = open_ledger(config, runner, verifier)
    if findings:
        error = DriftError(findings, step=step)
        error.message = "the promotion ledger does not verify, so nothing it says can be trusted: " + error.message
        raise error
    return ledger


def load_release(directory: Path, shown: str) -> Release:
    if kind_of(directory / MANIFEST_NAME) is not None or kind_of(directory / SUMS_NAME) is not None:
        raise ReprotasksError(
            f"promote: {shown}/ is not a release directory ({MANIFEST_NAME} and {SUMS_NAME} are needed)",
            hint="pass --release DIR pointing at the downloaded release (or run the release steps first)",
        )
    manifest = read_manifest(directory / MANIFEST_NAME, f"{shown}/{MANIFEST_NAME}")
    problems, listed = read_sums(directory / SUMS_NAME, f"{shown}/{SUMS_NAME}")
    if problems:
        raise DriftError(problems, step="promote")
    return Release(
        directory=directory,
        shown=shown,
        version=str(manifest.project.get("version") or ""),
        commit=str(manifest.source.get("commit", "")),
        sums=sha256_regular(directory / SUMS_NAME),
        artifacts={name: digest for name, (digest, _line) in listed.items()},
        images={record.name: str(record.image) for record in manifest.artifacts if record.image},
    )


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
    promote_cfg = config.promote
    _require_environment(promote_cfg, environment, "promote")
    verifier = _sigstore.verifier(config.sign, offline=config.sign.offline)
    directory = _ledger_dir(config)
    with _ledger.locked(directory, config.rel(directory), "promote"):
        ledger = _trusted(config, runner, "promote", verifier)
        release = load_release(release_dir, config.rel(release_dir))
        return _promote_locked(
            config, ledger, release, version, environment, signing=signing, runner=runner, log=log, verifier=verifier
        )


def _promote_locked(
    config: Config,
    ledger: Ledger,
    release: Release,
    version: str,
    environment: str,
    *,
    signing: Signing,
    runner: Runner,
    log: Callable[[str], None],
    verifier: Verifier,
) -> Outcome:
    evidence = _gather_evidence(config, ledger, release, version, environment, runner)
    current = ledger.current(environment)
    holds_it = current is not None and (current.version, current.sums) == (release.version, release.sums)
    if not evidence.findings and current is not None and holds_it:
        tagged = _tag_images(config, release, environment, runner)  # idempotent: the tags may lag
        return Outcome(
            [
                (environment, f"{release.version} is already there (entry {current.seq}); nothing to do"),
                *_push_pending(config, ledger, runner),
                *tagged,
            ]
        )
    order, since = _order_findings(config.promote, ledger, release, environment)
    evidence.findings += order
    _check_costly_rules(config, ledger, release, environment, evidence, runner=runner, log=log, verifier=verifier)
    if evidence.findings:
        error = DriftError(evidence.findings, step="promote")
        error.message = f"{release.version} may not enter {environment}: " + error.message
        raise error
    entry = _record(
        config, ledger, release, "promote", environment, evidence.levels, evidence.inputs, signing,
        log=log, verifier=verifier, runner=runner, soak_since=since,
    )  # fmt: skip
    tagged = _tag_images(config, release, environment, runner)
    return Outcome(
        [
            *tagged,
            (environment, f"{release.version} promoted (entry {entry.seq}, signed by {entry.who})"),
            ("checks", ", ".join(evidence.levels) or "signatures"),
            ("ledger", f"{ledger_where(ledger)} head {ledger.head}"),
        ]
    )


@dataclass
class _Evidence:
    """What the checks of a promotion found: the failures, the verified levels, the attestations relied on."""

    findings: list[Finding] = field(default_factory=list)
    levels: list[str] = field(default_factory=list)
    inputs: list[tuple[str, str]] = field(default_factory=list)


def _gather_evidence(
    config: Config, ledger: Ledger, release: Release, version: str, environment: str, runner: Runner
) -> _Evidence:
    """The cheap checks of a release against the environment's policy: its version, that it replaces no
    recorded release, its signatures (and provenance), its SBOM and that its images are published."""
    from reprotasks.signing.verify import verify_release

    rules = config.promote.rules_for(environment)
    assert release.directory is not None
    evidence = _Evidence(findings=_identity_findings(ledger, release, version))
    report = verify_release(
        release.directory, config.sign, offline=config.sign.offline, shown_dir=release.shown,
        require_provenance=rules.provenance,
    )  # fmt: skip
    evidence.findings += report.findings
    evidence.inputs = _signed_inputs(release.directory)
    if rules.provenance and not report.findings:
        evidence.levels.append("SLSA_BUILD_LEVEL_1")
    if rules.sbom and SBOM_NAME not in release.artifacts:
        evidence.findings.append(
            Finding(
                f"{release.shown}/{SUMS_NAME}",
                None,
                f"lists no {SBOM_NAME}: the {environment} policy requires an SBOM",
                "run `reprotasks sbom` before checksum and sign (release does)",
            )
        )
    evidence.findings += _unpublished_images(config, release, runner)
    return evidence


def _identity_findings(ledger: Ledger, release: Release, version: str) -> list[Finding]:
    """The release is the version asked for, and no other bytes were ever recorded under its version."""
    findings: list[Finding] = []
    if release.version != version:
        findings.append(
            Finding(
                f"{release.shown}/{MANIFEST_NAME}",
                None,
                f"is version {release.version}, not {version}",
                "pass the directory of that release",
            )
        )
    for entry in ledger.of_version(release.version):
        if entry.sums != release.sums:
            findings.append(
                Finding(
                    f"{release.shown}/{SUMS_NAME}",
                    None,
                    f"differs from the {release.version} that entry {entry.seq} recorded ({entry.action} to "
                    f"{entry.environment}): a release is never replaced under the same version",
                    "promote the recorded artifacts (download them again), or release the change as a new version",
                )
            )
            break
    return findings


def _signed_inputs(directory: Path) -> list[tuple[str, str]]:
    """(name, sha256) of the release's signature bundles and the provenance a decision relies on."""
    inputs: list[tuple[str, str]] = []
    for name in (SUMS_NAME, PROVENANCE_NAME):
        bundle = bundle_path(directory / name)
        if kind_of(bundle) is None:
            if name != SUMS_NAME:
                inputs.append((name, sha256_regular(directory / name)))
            inputs.append((bundle.name, sha256_regular(bundle)))
    return inputs


def _check_costly_rules(
    config: Config,
    ledger: Ledger,
    release: Release,
    environment: str,
    evidence: _Evidence,
    *,
    runner: Runner,
    log: Callable[[str], None],
    verifier: Verifier,
) -> None:
    """The rules that rebuild or audit, run only when the rest passed (else one finding says so)."""
    rules = config.promote.rules_for(environment)
    if (rules.reproduced or rules.audit) and evidence.findings:
        wanted = [
            what for what, on in (("a proven reproduction", rules.reproduced), ("a clean audit", rules.audit)) if on
        ]
        evidence.findings.append(
            Finding(
                f"{release.shown}/{SUMS_NAME}",
                None,
                f"the {environment} policy also requires {' and '.join(wanted)}, not attempted as the checks above "
                "failed",
                "fix those first; it runs on the next promote",
            )
        )
        return
    if rules.reproduced:
        _check_reproduced(config, ledger, release, environment, evidence, runner=runner, log=log, verifier=verifier)
    if rules.audit:
        problem = _audit_now(config, release, runner=runner)
        evidence.findings += [problem] if problem else []
        evidence.levels += [] if problem else [_vsa.AUDIT_CLEAN]


def _check_reproduced(
    config: Config,
    ledger: Ledger,
    release: Release,
    environment: str,
    evidence: _Evidence,
    *,
    runner: Runner,
    log: Callable[[str], None],
    verifier: Verifier,
) -> None:
    """An earlier promotion's signed proof of reproduction, else a fresh drill's, else a rebuild now."""
    from reprotasks.promote import drill as _drill

    proof = _earlier_reproduction(config, ledger, release, environment, verifier)
    if proof is not None:
        evidence.inputs.append((f"{_ledger.VSA_DIR}/{proof.vsa}.sigstore.json", proof.vsa))
        evidence.levels.append(_vsa.REPRODUCED)
        return
    records, _unverified = _drill.read_drills(config, lambda: verifier)
    drilled = _drill.fresh_reproduction(config, release.sums, records)
    if drilled is not None:
        log(f"promote: a drill reproduced {release.version} at {_vsa.stamp(drilled.when)} ({drilled.who})")
        evidence.inputs.append((f"{_drill.DRILL_DIR}/{drilled.digest}{_drill.BUNDLE_SUFFIX}", drilled.digest))
        evidence.levels.append(_vsa.REPRODUCED)
        return
    problem = _reproduce_now(config, release, runner=runner, log=log)
    evidence.findings += [problem] if problem else []
    evidence.levels += [] if problem else [_vsa.REPRODUCED]


def _image_repositories(config: Config, release: Release) -> list[tuple[str, str]]:
    """(REPOSITORY, digest) of each image of the release whose config names a repository."""
    from reprotasks.image.build import image_file

    found = []
    for image in config.images:
        digest = release.images.get(image_file(image.name, release.version))
        if digest and image.repository:
            if image.repository == config.promote.registry:
                raise ReprotasksError(
                    f"the image {image.name} and the ledger are both in {image.repository}",
                    hint="give `promote.registry` a repository of its own (its `ledger` tag must not be an image's)",
                )
            found.append((image.repository, digest))
    return found


def _push_pending(config: Config, ledger: Ledger, runner: Runner) -> list[tuple[str, str]]:
    """Push entries an earlier command recorded but could not push (the registry lacks them)."""
    registry = config.promote.registry
    if not registry or not ledger.unpushed:
        return []
    from reprotasks.promote import remote as _remote

    ledger.remote = _remote.push(registry, ledger, runner)
    ledger.unpushed = False
    return [(f"{registry}:{_remote.TAG}", f"pushed the entries it lacked ({ledger.remote})")]


def _unpublished_images(config: Config, release: Release, runner: Runner) -> list[Finding]:
    findings = []
    for repository, digest in _image_repositories(config, release):
        result = runner.run(
            ["crane", "digest", f"{repository}@{digest}"], cwd=config.root, check=False, quiet=True,
            purpose="check the image is published",
        )  # fmt: skip
        if result.returncode != 0:
            findings.append(
                Finding(
                    f"{repository}@{digest}",
                    None,
                    "is not in the registry: the environment tag would point at nothing",
                    "push it with `reprotasks publish` first",
                )
            )
    return findings


def _tag_images(config: Config, release: Release, environment: str, runner: Runner) -> list[tuple[str, str]]:
    """Point REPOSITORY:ENV at the promoted image (environment tags move; version tags never do)."""
    rows = []
    for repository, digest in _image_repositories(config, release):
        runner.run(
            ["crane", "tag", f"{repository}@{digest}", environment], cwd=config.root, quiet=True,
            purpose=f"tag {repository}:{environment}",
        )  # fmt: skip
        rows.append((f"{repository}:{environment}", digest))
    return rows


def _order_findings(
    promote_cfg: PromoteConfig, ledger: Ledger, release: Release, environment: str
) -> tuple[list[Finding], datetime | None]:
    """The previous environment must hold this very release now; returns since when it does."""
    previous = promote_cfg.previous(environment)
    if previous is None:
        return [], None
    where = ledger_where(ledger)
    holder = ledger.current(previous)
    if holder is None or (holder.version, holder.sums) != (release.version, release.sums):
        now = "nothing" if holder is None else f"{holder.version} (entry {holder.seq})"
        return [
            Finding(
                where,
                None,
                f"{previous} does not hold {release.version} (it holds {now}): {environment} comes after {previous}, "
                "and no environment is skipped",
                f"promote it to {previous} first (`reprotasks promote {release.version} --to {previous}`)",
            )
        ], None
    since = _vsa.parse_stamp(holder.when)
    assert since is not None  # the entry's time is its verified certificate's
    rules = promote_cfg.rules_for(environment)
    waited = (datetime.now(timezone.utc) - since).total_seconds()
    if waited < rules.soak_seconds:
        return [
            Finding(
                where,
                None,
                f"{release.version} is in {previous} since {holder.when}, {int(waited)}s; {environment} requires "
                f"{rules.soak} there first",
                f"promote again in {int(rules.soak_seconds - waited) + 1}s",
            )
        ], since
    return [], since


def _earlier_reproduction(
    config: Config, ledger: Ledger, release: Release, environment: str, verifier: Verifier
) -> Entry | None:
    """An earlier promotion of these very bytes whose VSA recorded a reproduction, signed by someone
    this environment's policy accepts now (a lower environment's signer, or a former promoter,
    cannot vouch for it)."""
    policy = promoter_policy(config, environment)
    for entry in ledger.entries:
        if (
            entry.action != "promote"
            or entry.sums != release.sums
            or _vsa.REPRODUCED not in ledger.levels.get(entry.seq, [])
        ):
            continue
        try:
            verified = _vsa.verify(read_regular(ledger.vsa_path(entry.vsa)), verifier, policy)
        except (OSError, SignatureError):
            continue
        if _vsa.REPRODUCED in _vsa.levels(verified) and _vsa.subjects(verified).keys() >= release.artifacts.keys():
            return entry
    return None


def _reproduce_now(config: Config, release: Release, *, runner: Runner, log: Callable[[str], None]) -> Finding | None:
    from reprotasks._distdir import DistDir
    from reprotasks.artifacts.reproduce import reproduce

    assert release.directory is not None
    log(f"promote: rebuilding {release.version} ({release.commit[:12]}) to prove it reproduces")
    try:
        reproduce(
            config,
            DistDir.of(config.dist_dir, config.root),
            runner=runner,
            ref=release.commit,
            sums=release.directory / SUMS_NAME,
        )
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
    from reprotasks.artifacts import source as _source
    from reprotasks.audit.scan import audit

    source = _source.describe_source(config.root, runner=runner)
    if source.commit != release.commit:
        return Finding(
            ".",
            None,
            f"the checkout is at {source.commit[:12]}, not at {release.version}'s commit {release.commit[:12]}: the "
            "audit would judge other files",
            f"check out {release.commit[:12]} (the release tag) and promote from there",
        )
    ledger = config.rel(_ledger_dir(config)).rstrip("/") + "/"
    changed = [
        name
        for name in _source.modified_files(source, runner=runner, outputs=config.rel(config.dist_dir))
        if not name.startswith(ledger)
    ]
    if changed:
        return Finding(
            ".",
            None,
            f"the checkout has uncommitted changes ({', '.join(changed[:5])}): the audit would not judge the commit",
            "commit or stash them (`git stash`), then promote",
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
    runner: Runner,
    restores: int | None = None,
    soak_since: datetime | None = None,
) -> Entry:
    """Sign the decision and append it (the caller holds the ledger lock)."""
    trust, token, policy = _authorized_promoter(config, action, environment, signing)
    decision = _decision(config, ledger, release, action, environment, levels, inputs, restores)
    bundle = _sign_decision(config, action, decision, trust, token, log=log)
    verified = _verify_new_vsa(config, action, environment, decision, bundle, verifier, policy, token, soak_since)
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
        vsa=_ledger.digest_of(bundle),
        who=verified.who,
        when=_vsa.stamp(verified.when),
        restores=restores,
    )
    _append_entry(config, ledger, entry, bundle, levels, action, runner)
    return entry


def _authorized_promoter(
    config: Config, action: str, environment: str, signing: Signing
) -> tuple[ClientTrustConfig, IdentityToken, Policy]:
    """(the signing instance's trust config, the promoter's token, who may sign for the environment);
    refused unless the environment's `promoters` (when it names any) include the token's identity."""
    from reprotasks.signing.sign import identity_token

    trust = _sigstore.trust_config(config.sign, offline=False)
    token = identity_token(
        config.sign,
        explicit=signing.token,
        environ=signing.environ,
        oidc_url=lambda: trust.signing_config.get_oidc_url(),
    )
    policy = promoter_policy(config, environment)
    rules = config.promote.rules_for(environment)
    if rules.promoters and not any(signer.accepts(token.identity, token.issuer) for signer in rules.signers()):
        raise ReprotasksError(
            f"{action}: {token.identity} (issuer {token.issuer}) may not {action} to {environment}",
            hint=f"the {environment} policy allows {policy.describe()}; ask one of them, or add the identity to "
            f"`promote.rules.{environment}.promoters`",
        )
    return trust, token, policy


def _decision(
    config: Config,
    ledger: Ledger,
    release: Release,
    action: str,
    environment: str,
    levels: list[str],
    inputs: list[tuple[str, str]],
    restores: int | None,
) -> _vsa.Decision:
    """What the VSA states: the release, the policy, the evidence and the decision's place in the ledger."""
    return _vsa.Decision(
        action=action,
        environment=environment,
        version=release.version,
        commit=release.commit,
        resource=resource_uri(config, release.version),
        artifacts=release.artifacts,
        images=release.images,
        policy_uri=policy_uri(environment),
        policy_digest=config.promote.rules_digest(environment),
        inputs=tuple(sorted({(SUMS_NAME, release.sums), *inputs})),
        levels=tuple(levels),
        sequence=len(ledger.entries),
        previous=ledger.head,
        time_verified=_vsa.now(),
        restores=restores,
    )


def _sign_decision(
    config: Config,
    action: str,
    decision: _vsa.Decision,
    trust: ClientTrustConfig,
    token: IdentityToken,
    *,
    log: Callable[[str], None],
) -> bytes:
    """The VSA's bundle (JSON)."""
    log(f"{action}: signing the decision ({_sigstore.describe_instance(config.sign)})")
    try:
        return _sigstore.sign_dsse(trust, token, decision.statement())
    except _sigstore.signing_errors() as exc:
        raise ReprotasksError(
            f"{action}: {_sigstore.signing_failure(exc)}",
            hint="check the token (its issuer and expiry) and the instance "
            f"({_sigstore.describe_instance(config.sign)}); nothing was recorded, run it again",
        ) from None


def _verify_new_vsa(
    config: Config,
    action: str,
    environment: str,
    decision: _vsa.Decision,
    bundle: bytes,
    verifier: Verifier,
    policy: Policy,
    token: IdentityToken,
    soak_since: datetime | None,
) -> _vsa.VerifiedVsa:
    """The new VSA verifies for the environment's promoters, and its signing time (the certificate's)
    agrees with this machine's clock and comes after the soak in the previous environment."""
    try:
        verified = _vsa.verify(bundle, verifier, policy)
    except SignatureError as exc:
        raise ReprotasksError(
            f"{action}: the new VSA does not verify for {policy.describe()}: {exc}",
            hint=f"the token is for {token.identity} (issuer {token.issuer}); nothing was recorded",
        ) from None
    if not _vsa.time_agrees(decision.time_verified, verified.when):
        raise ReprotasksError(
            f"{action}: this machine's clock ({decision.time_verified}) is far from the signing time "
            f"({_vsa.stamp(verified.when)})",
            hint="set the clock right (NTP) and run it again; nothing was recorded",
        )
    rules = config.promote.rules_for(environment)
    if soak_since is not None and (verified.when - soak_since).total_seconds() < rules.soak_seconds:
        raise ReprotasksError(
            f"{action}: signed at {_vsa.stamp(verified.when)}, before {rules.soak} in the previous environment had "
            f"passed (since {_vsa.stamp(soak_since)})",
            hint="promote again later; nothing was recorded (the signing time, not this machine's clock, counts)",
        )
    return verified


def _append_entry(
    config: Config, ledger: Ledger, entry: Entry, bundle: bytes, levels: list[str], action: str, runner: Runner
) -> None:
    """Append the entry and its VSA to the ledger, and push it to the registry (refused when another
    promotion reached the registry first)."""
    registry = config.promote.registry
    if registry:
        from reprotasks.promote import remote as _remote

        if _remote.remote_digest(registry, runner) != ledger.remote:
            raise ReprotasksError(
                f"{action}: another promotion was pushed to {registry}:{_remote.TAG} while this one was checked",
                hint="run it again: it pulls the ledger and checks against it; nothing was recorded",
            )
    _ledger.append(ledger, entry, bundle)
    ledger.levels[entry.seq] = list(levels)
    if registry:
        ledger.remote = _remote.push(registry, ledger, runner)
        ledger.unpushed = False


def rollback(
    config: Config,
    environment: str,
    version: str | None,
    *,
    signing: Signing,
    runner: Runner,
    log: Callable[[str], None],
) -> Outcome:
    _require_environment(config.promote, environment, "rollback")
    verifier = _sigstore.verifier(config.sign, offline=config.sign.offline)
    directory = _ledger_dir(config)
    with _ledger.locked(directory, config.rel(directory), "rollback"):
        ledger = _trusted(config, runner, "rollback", verifier)
        current = ledger.current(environment)
        if current is None:
            raise ReprotasksError(
                f"rollback: {ledger_where(ledger)} records nothing in {environment}",
                hint=f"promote a release to {environment} first",
            )
        promoted = [entry for entry in ledger.history(environment) if entry.action == "promote"]
        if version is None:
            # The release there before the current one: the last other one promoted before it.
            origin = current.seq if current.restores is None else current.restores
            before = [entry for entry in promoted if entry.seq < origin and entry.version != current.version]
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
            if (target.version, target.sums) == (current.version, current.sums):
                return Outcome(
                    [
                        (environment, f"{version} is already there (entry {current.seq}); nothing to do"),
                        *_push_pending(config, ledger, runner),
                        *_tag_images(config, Release.of_entry(target), environment, runner),
                    ]
                )
        release = Release.of_entry(target)
        unpublished = _unpublished_images(config, release, runner)
        if unpublished:
            raise DriftError(unpublished, step="rollback")
        # A rollback re-checks no release: its VSA claims no level, only the decision it restores.
        inputs = [(f"{_ledger.VSA_DIR}/{target.vsa}.sigstore.json", target.vsa)]
        entry = _record(
            config, ledger, release, "rollback", environment, [], inputs, signing,
            log=log, verifier=verifier, runner=runner, restores=target.seq,
        )  # fmt: skip
        tagged = _tag_images(config, release, environment, runner)
    return Outcome(
        [
            *tagged,
            (environment, f"back at {target.version} (entry {entry.seq} restores entry {target.seq})"),
            ("was", current.version),
        ]
    )


def status_rows(config: Config, runner: Runner) -> Outcome:
    ledger = _trusted(config, runner, "status")
    rows = []
    for environment in config.promote.environments:
        entry = ledger.current(environment)
        if entry is None:
            rows.append((environment, "-"))
            continue
        how = "rolled back to" if entry.action == "rollback" else "promoted"
        rows.append((environment, f"{entry.version} ({how} {entry.when} by {entry.who}, entry {entry.seq})"))
    rows.append(("ledger", f"{len(ledger.entries)} entries, chain and signatures verified, head {ledger.head or '-'}"))
    rows.append(("history", ledger.anchor))
    if config.promote.registry:
        pending = "; this copy holds entries it lacks (the next promote or rollback pushes them)"
        rows.append(
            ("registry", f"{config.promote.registry}:ledger {ledger.remote or '(none yet)'}{pending * ledger.unpushed}")
        )
    return Outcome(rows)


def artifact_digest(artifact: str) -> tuple[str, str]:
    """(sha256 hex, how it was named): an existing path is hashed; else `sha256:HEX` or `REPO@sha256:HEX`."""
    path = Path(artifact)
    if not path.exists() and not path.is_symlink():
        lowered = artifact.lower()
        match = _DIGEST.match(lowered) or ("@" in lowered and _DIGEST.match(lowered.rpartition("@")[2]))
        if match:
            return match.group(1), artifact
    try:
        return sha256_regular(path), path.name
    except OSError as exc:
        raise ReprotasksError(
            f"verify-promotion: {artifact}: {exc.strerror or 'not a regular file'}",
            hint="pass the artifact file the deploy would ship, its sha256:HEX digest, or an image as REPO@sha256:HEX",
        ) from None


def verify_promotion(
    config: Config, environment: str, artifact: str, *, runner: Runner, require_anchor: bool = False
) -> Outcome:
    _require_environment(config.promote, environment, "verify-promotion")
    digest, named = artifact_digest(artifact)
    ledger = _trusted(config, runner, "verify-promotion")
    if require_anchor and not ledger.anchored:
        error = DriftError(
            [
                Finding(
                    ledger_where(ledger),
                    None,
                    f"is not anchored in git ({ledger.anchor}): entries cut off its end, or a copy of it, could not "
                    "be told apart from the committed ledger",
                    f"deploy from a checkout whose {ledger.shown}/ is committed (the ledger branch, with its whole "
                    f"history: `fetch-depth: 0`); commit and push new entries first (`git -C {ledger.shown} add . "
                    f"&& git -C {ledger.shown} commit`)",
                )
            ],
            step="verify-promotion --require-anchor",
        )
        raise error
    current = ledger.current(environment)
    if current is None:
        raise ReprotasksError(
            f"verify-promotion: {ledger_where(ledger)} records nothing in {environment}",
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
            ("history", ledger.anchor),
        ]
    )


def _drill_views(config: Config) -> tuple[dict[str, Any], list[Finding]]:
    """The last verified drill of each version, for the dashboard (records that fail to verify are
    counted, never shown as proof)."""
    from reprotasks.promote import drill as _drill
    from reprotasks.promote.report import DrillView

    records, findings = _drill.read_drills(config, _sigstore.lazy_verifier(config.sign))
    views = {
        version: DrillView(record.version, record.tag, record.sums, _vsa.stamp(record.when), record.who,
                           record.result, record.reason)
        for version, record in _drill.latest_by_version(records).items()
    }  # fmt: skip
    return views, findings


def write_report(config: Config, output: Path | None, *, runner: Runner) -> Outcome:
    """The static dashboard; written even when the ledger is broken (it says so), then the error."""
    from reprotasks._files import write_atomic
    from reprotasks.promote.report import render

    ledger, findings = open_ledger(config, runner)
    target = output or ledger.directory / "index.html"
    drills, drill_findings = _drill_views(config)
    page = render(
        project=config.project_name or config.root.name,
        environments=config.promote.environments,
        ledger=ledger,
        findings=findings,
        levels=ledger.levels,
        soaks={env: config.promote.rules_for(env).soak_seconds for env in config.promote.environments},
        repository_url=f"https://github.com/{config.sign.github_repository}" if config.sign.github_repository else None,
        drills=drills,
        drill_problems=len(drill_findings),
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
    rows = [(config.rel(target), f"{len(ledger.entries)} ledger entries, chain and every VSA verified")]
    rows += [("drills", f"{len(drills)} releases drilled")] if drills else []
    rows += [(item.path, item.problem) for item in drill_findings]  # shown, and never counted as proof
    return Outcome(rows)
