"""Reading the ledger so that it can be trusted: the chain, every VSA, and the ledger's git history.

``open_ledger`` is what every promotion command starts with. A finding means nothing the ledger
says counts: an entry whose VSA is missing, changed, signed by someone the policy does not
accept, or says something other than the entry; a rollback that restores the wrong entry; a
promotion the committed policy does not allow (order, soak, promoters, the verified levels its
rules require: re-checked from the ledger alone, whatever the promoter ran with); or a ledger
that is no longer an extension of a version committed to git (entries cut off the end leave a
valid chain, so the committed history is the anchor). The policy itself is only what is
committed (``require_committed_policy``), and the ledger is never read through a symlink.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reprotasks._identity import matches
from reprotasks._run import Runner
from reprotasks.artifacts.layout import SBOM_NAME, SUMS_NAME, read_regular
from reprotasks.config import Config
from reprotasks.errors import ConfigError, Finding, ReprotasksError
from reprotasks.promote import ledger as _ledger
from reprotasks.promote import vsa as _vsa
from reprotasks.promote.ledger import Entry, Ledger
from reprotasks.signing import sigstore as _sigstore
from reprotasks.signing.sigstore import AnyIdentityPolicy, EitherPolicy, SignatureError, SignerPolicy

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

if TYPE_CHECKING:
    from reprotasks.signing.sigstore import Verifier

# The verifiedLevels a promotion's VSA must record when its environment's rule is on.
RULE_LEVELS = (("provenance", "SLSA_BUILD_LEVEL_1"), ("reproduced", _vsa.REPRODUCED), ("audit", _vsa.AUDIT_CLEAN))


def _fix(ledger: Ledger) -> str:
    return (
        f"restore {ledger.shown}/ (ledger.jsonl and vsa/) from version control; when the policy changed on purpose, "
        "list a former promoter under `former-promoters` and keep every environment the ledger names"
    )


def promoter_policy(
    config: Config, environment: str, *, reading: bool = False
) -> SignerPolicy | AnyIdentityPolicy | EitherPolicy:
    """Who may sign a decision for ``environment``: its `promoters`, else the release signer policy
    of [tool.reprotasks.sign]; when reading past decisions, its `former-promoters` as well."""
    rules = config.promote.rules_for(environment)
    now: SignerPolicy | AnyIdentityPolicy
    now = AnyIdentityPolicy(rules.signers()) if rules.promoters else SignerPolicy(config.sign)
    if reading and rules.former_promoters:
        return EitherPolicy(now, AnyIdentityPolicy(rules.signers(former=True)))
    return now


def policy_uri(environment: str) -> str:
    return f"pyproject.toml#tool.reprotasks.promote.rules.{environment}"


def resource_uri(config: Config, version: str) -> str:
    return f"pkg:generic/{config.project_name or config.root.name}@{version}"


def ledger_where(ledger: Ledger) -> str:
    return f"{ledger.shown}/{_ledger.LEDGER_NAME}"


def _git(runner: Runner, cwd: Path, *args: str, purpose: str) -> tuple[int, str]:
    result = runner.run(["git", *args], cwd=cwd, check=False, quiet=True, purpose=purpose)
    return result.returncode, result.stdout


def ledger_directory(config: Config) -> Path:
    """``promote.ledger``, refused when it, or a directory between the project root and it, is a
    symlink: the ledger is read (and anchored in git) where it is, never through a link."""
    directory = config.promote.ledger
    assert directory is not None  # config.py always resolves it
    lexical = Path(os.path.normpath(directory))
    for component in reversed((lexical, *lexical.parents)):
        if component != config.root and component.is_relative_to(config.root) and component.is_symlink():
            shown = config.rel(component)
            what = (
                f"the ledger directory {shown}/"
                if component == lexical
                else f"{shown}/, a directory on the way to the ledger {config.rel(lexical)}/,"
            )
            raise ReprotasksError(
                f"{what} is a symlink (to {component.readlink()}): a ledger is never read or written through a symlink",
                hint=f"make {shown} a plain directory: the committed ledger, or a checkout of the ledger branch",
            )
    return lexical


def _promote_table(document: dict[str, Any], settings_file: str) -> Any:
    if settings_file == "pyproject.toml":
        tool = document.get("tool")
        document = tool.get("reprotasks") if isinstance(tool, dict) else None  # type: ignore[assignment]
    return document.get("promote") if isinstance(document, dict) else None


def require_committed_policy(config: Config, runner: Runner) -> None:
    """Promotion policy is what is committed: the settings file's promote table must be HEAD's.

    Outside git there is nothing to compare with (the `history` row then says "not in git", and
    `verify-promotion --require-anchor` refuses)."""
    name = config.settings_file
    purpose = "compare the promotion policy with the committed one"
    code, inside = _git(runner, config.root, "rev-parse", "--is-inside-work-tree", purpose=purpose)
    if code != 0 or inside.strip() != "true":
        return
    code, committed_text = _git(runner, config.root, "cat-file", "blob", f"HEAD:./{name}", purpose=purpose)
    try:
        committed = tomllib.loads(committed_text) if code == 0 else {}
    except tomllib.TOMLDecodeError:
        committed = {"tool": {"reprotasks": {"promote": "(HEAD's file is not valid TOML)"}}, "promote": "-"}
    path = config.root / name
    working = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    if _promote_table(working, name) != _promote_table(committed, name):
        table = "[tool.reprotasks.promote]" if name == "pyproject.toml" else "[promote]"
        raise ConfigError(
            f"{name}: {table} differs from the one committed at HEAD: promotion policy is only what is committed, "
            "so a changed policy is not used before it is committed",
            hint=f"commit {name} (`git commit {name}`) and run it again, or restore the committed policy "
            f"(`git checkout -- {name}`)",
        )


def open_ledger(config: Config, runner: Runner, verifier: Verifier | None = None) -> tuple[Ledger, list[Finding]]:
    """The ledger, every entry checked (chain, VSAs, and the committed policy each promotion had to
    satisfy); ``ledger.levels`` holds each verified entry's levels."""
    require_committed_policy(config, runner)
    directory = ledger_directory(config)
    pulled: list[Finding] = []
    remote: str | None = None
    unpushed = False
    if config.promote.registry:
        remote, unpushed, pulled = _pull(config, directory, runner, verifier)
    ledger = _ledger.read_ledger(directory, config.rel(directory))
    ledger.remote, ledger.unpushed = remote, unpushed
    findings = pulled + list(ledger.findings) + _history_findings(config, ledger, runner)
    findings += _verify_entries(config, ledger, verifier)
    return ledger, findings


def _verify_entries(config: Config, ledger: Ledger, verifier: Verifier | None) -> list[Finding]:
    findings = []
    where = ledger_where(ledger)
    trusted_verifier = _sigstore.lazy_verifier(config.sign, verifier)
    trust = _sigstore.trust_root_key(config.sign)
    for entry in ledger.entries:
        problem, levels = _entry_problem(config, ledger, entry, trusted_verifier, trust)
        if problem:
            findings.append(
                Finding(
                    where,
                    entry.seq + 1,
                    f"entry {entry.seq} ({entry.action} {entry.version} to {entry.environment}): {problem}",
                    _fix(ledger),
                )
            )
        else:
            ledger.levels[entry.seq] = levels
    return findings + policy_findings(config, ledger)


def policy_findings(config: Config, ledger: Ledger) -> list[Finding]:
    """Every promotion re-checked against the committed policy, from the ledger alone: the previous
    environment held that release when it was promoted (order), the time between the two entries'
    signing times (soak), the levels its VSA verified (provenance, reproduced, audit), an SBOM among
    its files. Who signed is checked with each VSA (``promoter_policy``). Entries whose VSA did not
    verify are reported as such, not here."""
    findings = []
    holds: dict[str, Entry] = {}  # environment -> the entry whose release it held at that point
    for entry in ledger.entries:
        if entry.action == "promote" and entry.seq in ledger.levels:
            for rule, problem in _policy_problems(config, entry, holds, ledger.levels[entry.seq]):
                findings.append(
                    Finding(
                        ledger_where(ledger),
                        entry.seq + 1,
                        f"entry {entry.seq} (promote {entry.version} to {entry.environment}) breaks the committed "
                        f"policy, rule `{rule}`: {problem}",
                        "it was recorded under another policy than the committed [tool.reprotasks.promote] (one "
                        "made stricter since, or bypassed): restore the rule it was recorded under, or, after "
                        "reviewing how it got there, start a new ledger",
                    )
                )
        holds[entry.environment] = entry
    return findings


def _policy_problems(config: Config, entry: Entry, holds: dict[str, Entry], levels: list[str]) -> list[tuple[str, str]]:
    rules = config.promote.rules_for(entry.environment)
    problems = []
    previous = config.promote.previous(entry.environment)
    holder = holds.get(previous) if previous else None
    if previous is not None and (holder is None or (holder.version, holder.sums) != (entry.version, entry.sums)):
        held = "nothing" if holder is None else f"{holder.version} (entry {holder.seq})"
        problems.append(
            ("order", f"{previous} held {held}, not {entry.version}: {entry.environment} comes after {previous}")
        )
    elif holder is not None and rules.soak_seconds:
        since, when = _vsa.parse_stamp(holder.when), _vsa.parse_stamp(entry.when)
        waited = None if since is None or when is None else int((when - since).total_seconds())
        if waited is None or waited < rules.soak_seconds:
            problems.append(
                (
                    "soak",
                    f"signed {waited}s after {entry.version} entered {previous} (entry {holder.seq}, {holder.when}); "
                    f"the policy requires {rules.soak}",
                )
            )
    for rule, level in RULE_LEVELS:
        if getattr(rules, rule) and level not in levels:
            problems.append((rule, f"its VSA records no {level}, which the {entry.environment} policy requires"))
    if rules.sbom and SBOM_NAME not in entry.artifacts:
        problems.append(("sbom", f"its files include no {SBOM_NAME}, which the {entry.environment} policy requires"))
    return problems


def _pull(
    config: Config, directory: Path, runner: Runner, verifier: Verifier | None
) -> tuple[str | None, bool, list[Finding]]:
    """Fetch the registry's ledger; adopt it when it extends the local copy *and* verifies.

    Returns (its digest, whether the local copy holds entries the registry lacks, findings).
    A registry ledger that does not verify is never written here, so the local copy stays good.
    """
    from reprotasks._files import write_atomic
    from reprotasks.promote import remote as _remote

    registry = config.promote.registry
    assert registry is not None
    shown = config.rel(directory)
    fetched = _remote.fetch(registry, runner)
    try:
        local = read_regular(directory / _ledger.LEDGER_NAME)
    except FileNotFoundError:
        local = b""
    except OSError:
        return None, False, []  # read_ledger reports it
    if fetched is None:
        return None, bool(local), []
    where = f"{registry}:{_remote.TAG}"
    if local.startswith(fetched.ledger):
        return fetched.digest, len(local) > len(fetched.ledger), []
    if not fetched.ledger.startswith(local):
        return (
            fetched.digest,
            False,
            [
                Finding(
                    where,
                    None,
                    f"and {shown}/{_ledger.LEDGER_NAME} have forked: neither extends the other (two promotions were "
                    "recorded from the same point)",
                    f"keep one history: compare {shown}/{_ledger.LEDGER_NAME} with the registry's (`crane manifest "
                    f"{where}` names its layers, the first is {_ledger.LEDGER_NAME}), move the other ledger aside, "
                    "and promote its release again",
                )
            ],
        )
    with tempfile.TemporaryDirectory(prefix="reprotasks-ledger-") as scratch:
        candidate_dir = Path(scratch)
        (candidate_dir / _ledger.VSA_DIR).mkdir()
        (candidate_dir / _ledger.LEDGER_NAME).write_bytes(fetched.ledger)
        for digest, data in fetched.vsas.items():
            (candidate_dir / _ledger.VSA_DIR / f"{digest}.sigstore.json").write_bytes(data)
        candidate = _ledger.read_ledger(candidate_dir, where)
        problems = candidate.findings + _verify_entries(config, candidate, verifier)
        if problems:
            return (
                fetched.digest,
                False,
                [Finding(where, None, f"does not verify, so it was not taken: {p.render()}", p.fix) for p in problems],
            )
        if directory.is_symlink() or (directory / _ledger.VSA_DIR).is_symlink():
            raise ReprotasksError(f"{shown}/ (or its vsa/) is a symlink", hint="make the ledger a plain directory")
        (directory / _ledger.VSA_DIR).mkdir(parents=True, exist_ok=True)
        for entry in candidate.entries:  # the VSAs first: every line added has its VSA in place
            target = directory / _ledger.VSA_DIR / f"{entry.vsa}.sigstore.json"
            if not target.exists():
                write_atomic(target, read_regular(candidate.vsa_path(entry.vsa)))
        write_atomic(directory / _ledger.LEDGER_NAME, fetched.ledger)
    return fetched.digest, False, []


def _entry_problem(
    config: Config, ledger: Ledger, entry: Entry, verifier: Callable[[], Verifier], trust: str | None
) -> tuple[str, list[str]]:
    if entry.environment not in config.promote.environments:
        return f"names the environment {entry.environment!r}, which `promote.environments` no longer lists", []
    if entry.restores is not None:
        target = ledger.entries[entry.restores]  # read_ledger checked it comes before
        if target.action != "promote" or target.environment != entry.environment:
            return f"restores entry {entry.restores}, which is no promotion to {entry.environment}", []
        if (target.version, target.sums, target.artifacts, target.images) != (
            entry.version,
            entry.sums,
            entry.artifacts,
            entry.images,
        ):
            return f"restores entry {entry.restores} but names another release than it", []
    rules = config.promote.rules_for(entry.environment)
    if rules.promoters and not any(
        matches(signer.identity, entry.who) for signer in (*rules.signers(), *rules.signers(former=True))
    ):
        return (
            f"breaks the committed policy, rule `promoters`: signed by {entry.who}, whom the {entry.environment} "
            "policy lists neither as a promoter nor as a former promoter",
            [],
        )
    path = ledger.vsa_path(entry.vsa)
    shown = f"{_ledger.VSA_DIR}/{path.name}"
    try:
        data = read_regular(path)
    except FileNotFoundError:
        return f"its VSA {shown} is missing", []
    except OSError:
        return f"its VSA {shown} is a symlink or not a regular file", []
    if _ledger.digest_of(data) != entry.vsa:
        return f"its VSA {shown} was changed (sha256 differs)", []
    try:
        policy = promoter_policy(config, entry.environment, reading=True)
        verified = _vsa.verify_remembered(data, verifier, policy, trust)
    except SignatureError as exc:
        return f"its VSA does not verify: {exc}", []
    problem = statement_problem(config, entry, verified)
    return problem, ([] if problem else _vsa.levels(verified))


def statement_problem(config: Config, entry: Entry, verified: _vsa.VerifiedVsa) -> str:
    """'' when the verified VSA says exactly what the entry says, else what differs."""
    predicate = _vsa.predicate_of(verified)
    said = _vsa.says(verified)
    expected = {
        "action": entry.action,
        "environment": entry.environment,
        "version": entry.version,
        "commit": entry.commit,
        "sequence": entry.seq,
        "restores": entry.restores,
    }
    for key, value in expected.items():
        if said.get(key) != value or type(said.get(key)) is not type(value):  # True == 1 in Python
            return f"its VSA says {key} {said.get(key)!r}, the entry {value!r}"
    if verified.statement.get("_type") != _vsa.STATEMENT_TYPE or predicate.get("verificationResult") != "PASSED":
        return "its VSA is no in-toto statement whose verificationResult is PASSED"
    if _vsa.table(predicate, "verifier").get("id") != _vsa.VERIFIER_ID:
        return "its VSA was not made by reprotasks promote"
    if predicate.get("resourceUri") != resource_uri(config, entry.version):
        return f"its VSA is about {predicate.get('resourceUri')!r}, not {resource_uri(config, entry.version)!r}"
    if _vsa.table(predicate, "policy").get("uri") != policy_uri(entry.environment):
        return f"its VSA names the policy {_vsa.table(predicate, 'policy').get('uri')!r}"
    subjects = {**entry.artifacts, **{f"oci-image:{k}": v.removeprefix("sha256:") for k, v in entry.images.items()}}
    if _vsa.subjects(verified) != subjects:
        return "its VSA covers other artifacts than the entry lists"
    inputs = _vsa.inputs(verified)
    if inputs.get(f"ledger.jsonl#{entry.seq - 1}") != entry.prev:
        return "its VSA was signed after another entry than the one before it (the chain was rearranged)"
    if inputs.get(SUMS_NAME) != entry.sums:
        return "its VSA names another SHA256SUMS than the entry"
    if verified.who != entry.who or _vsa.stamp(verified.when) != entry.when:
        return "its signer or time differs from the entry's `who`/`when`"
    if not _vsa.time_agrees(str(predicate.get("timeVerified")), verified.when):
        return f"its VSA claims timeVerified {predicate.get('timeVerified')!r}, far from its signing time {entry.when}"
    return ""


def _history_findings(config: Config, ledger: Ledger, runner: Runner) -> list[Finding]:
    """Every version of ledger.jsonl ever committed (any branch merged into HEAD) must be a prefix
    of the current one. Sets ``ledger.anchor`` to what was (or could not be) checked."""
    base = ledger.directory if ledger.directory.is_dir() else config.root
    if not ledger.path.is_relative_to(base):
        ledger.anchor = "no ledger yet"
        return []
    relative = ledger.path.relative_to(base).as_posix()

    def git(*args: str) -> tuple[int, str]:
        return _git(runner, base, *args, purpose="read the ledger's history")

    code, inside = git("rev-parse", "--is-inside-work-tree", "--is-shallow-repository")
    if code != 0 or not inside.startswith("true"):
        ledger.anchor = "not in git: entries cut off the end could not be detected"
        return []
    if inside.split()[-1] == "true":
        return [
            Finding(
                ledger_where(ledger),
                None,
                "is in a shallow git clone: its history cannot show whether entries were cut off the end",
                f"fetch the whole history (`git -C {ledger.shown} fetch --unshallow`, or `fetch-depth: 0` in "
                "actions/checkout)",
            )
        ]
    # Every blob the file ever had, on every path of the history (--full-history, -m: also the
    # side of a merge that git's simplification would skip).
    code, raw = git("log", "--full-history", "-m", "--format=", "--raw", "--no-abbrev", "--", relative)
    if code != 0:
        ledger.anchor = "git could not read its history: entries cut off the end could not be detected"
        return []
    blobs = sorted(
        {field for line in raw.splitlines() if line.startswith(":") for field in line.split()[2:4]} - {"0" * 40}
    )
    if not blobs:
        ledger.anchor = "not committed yet"
        return []
    current = b"".join(line + b"\n" for line in ledger.lines)
    head_code, at_head = git("cat-file", "blob", f"HEAD:./{relative}")
    for blob in blobs:
        code, committed = git("cat-file", "blob", blob)
        if code == 0 and not current.startswith(committed.encode("utf-8", errors="surrogateescape")):
            return [
                Finding(
                    ledger_where(ledger),
                    None,
                    f"is not an extension of a version committed to git (blob {blob[:12]}): entries were removed "
                    "or rewritten since (the ledger only ever grows)",
                    f"restore it (`git -C {ledger.shown} log --full-history -p -- {relative}` shows the versions); "
                    "protect the ledger branch against force-pushes",
                )
            ]
    ledger.anchor = f"all {len(blobs)} versions committed to git are prefixes of it"
    at_head_bytes = at_head.encode("utf-8", errors="surrogateescape") if head_code == 0 else b""
    ledger.anchored = at_head_bytes == current
    if not ledger.anchored:
        extra = len(ledger.lines) - at_head_bytes.count(b"\n")
        ledger.anchor += f"; {extra} entries are not committed yet" if extra > 0 else "; it is not HEAD's version"
    return []
