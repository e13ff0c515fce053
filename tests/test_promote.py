"""Promotion without a Sigstore instance: the policy config, the ledger's chain checks, the dashboard.

The signed path (promote, rollback, verify-promotion with real VSAs) is tests/test_promote_e2e.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reprotasks.config import load_config
from reprotasks.errors import ConfigError, Finding
from reprotasks.promote.ledger import LEDGER_NAME, Entry, Ledger, read_ledger
from reprotasks.promote.report import render

from .browser import load
from .conftest import REPO, MakeProject, run_cli


def entry(seq: int, prev: str | None, **changes: object) -> Entry:
    fields: dict[str, object] = {
        "seq": seq,
        "prev": prev,
        "action": "promote",
        "environment": "dev",
        "version": "1.0.0",
        "commit": "c" * 40,
        "sums": "a" * 64,
        "artifacts": {"app.whl": "b" * 64},
        "vsa": "d" * 64,
        "who": "release@example.test",
        "when": "2026-12-01T10:00:00Z",
    }
    fields.update(changes)
    return Entry(**fields)  # type: ignore[arg-type]


def chain(*entries: Entry) -> bytes:
    import hashlib

    lines: list[bytes] = []
    prev = None
    for item in entries:
        fixed = Entry(**{**item.as_json(), "seq": len(lines), "prev": prev, "images": item.images})
        lines.append(fixed.line())
        prev = hashlib.sha256(fixed.line()).hexdigest()
    return b"".join(line + b"\n" for line in lines)


def test_the_chain_names_the_line_where_an_edit_removal_or_reordering_shows(tmp_path: Path) -> None:
    good = chain(entry(0, None), entry(1, None, environment="staging"), entry(2, None, environment="prod"))
    (tmp_path / LEDGER_NAME).write_bytes(good)
    ledger = read_ledger(tmp_path, "promotions")
    assert ledger.findings == [] and [e.environment for e in ledger.entries] == ["dev", "staging", "prod"]

    lines = good.splitlines(keepends=True)
    cases = {
        # A self-consistent edit shows at the next line (the last line's own VSA catches an edit there).
        "edited": (lines[0] + lines[1].replace(b"staging", b"stagin2") + lines[2], 3, "does not chain"),
        "not canonical": (lines[0] + lines[1].replace(b'"seq":1', b'"seq": 1') + lines[2], 2, "was edited"),
        "removed": (lines[0] + lines[2], 2, "sequence number 2 where 1"),
        "reordered": (lines[1] + lines[0] + lines[2], 1, "sequence number 1 where 0"),
        "cut short": (good[:-5], 3, "is not a JSON entry"),
        "garbage": (lines[0] + b"\xff\xfe not json\n", 2, "is not a JSON entry"),
        "nested": (lines[0] + b"[" * 5000 + b"\n", 2, "is not a JSON entry"),
        "surrogate": (chain(entry(0, None), entry(1, None, version="1.0\ud800")), 2, "not valid Unicode"),
    }
    for name, (data, line, problem) in cases.items():
        (tmp_path / LEDGER_NAME).write_bytes(data)
        found = read_ledger(tmp_path, "promotions").findings
        assert any(f.line == line and problem in f.problem for f in found), (name, found)


def test_a_rollback_restores_an_earlier_entry_and_only_a_rollback_restores(tmp_path: Path) -> None:
    for restores, action, problem in (
        (1, "rollback", "does not come before it"),
        (5, "rollback", "does not come before it"),
        (-1, "rollback", "does not come before it"),
        (0, "promote", "only a rollback restores"),
        (None, "rollback", "only a rollback restores"),
    ):
        data = chain(entry(0, None), entry(1, None, action=action, restores=restores))
        (tmp_path / LEDGER_NAME).write_bytes(data)
        found = read_ledger(tmp_path, "promotions").findings
        assert any(f.line == 2 and problem in f.problem for f in found), (restores, action, found)


def test_verify_promotion_hashes_an_existing_file_whatever_its_name(tmp_path: Path) -> None:
    from reprotasks.promote.core import artifact_digest

    digest = "ab" * 32
    tricky = tmp_path / f"evil@sha256:{digest}"
    tricky.write_bytes(b"evil")
    assert artifact_digest(str(tricky))[0] != digest
    assert artifact_digest(f"sha256:{digest.upper()}") == (digest, f"sha256:{digest.upper()}")
    assert artifact_digest(f"ghcr.io/acme/worker@sha256:{digest}")[0] == digest


def test_a_symlinked_ledger_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "elsewhere.jsonl").write_bytes(chain(entry(0, None)))
    (tmp_path / LEDGER_NAME).symlink_to(tmp_path / "elsewhere.jsonl")
    ledger = read_ledger(tmp_path, "promotions")
    assert ledger.entries == [] and "is a symlink or not a regular file" in ledger.findings[0].problem


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("[tool.reprotasks.promote]\nenvironments = []\n", "`promote.environments` is empty"),
        ('[tool.reprotasks.promote]\nenvironments = ["dev", "dev"]\n', "names 'dev' twice"),
        ('[tool.reprotasks.promote]\nenvironments = ["Prod!"]\n', "is not an environment name"),
        ("[tool.reprotasks.promote.rules.qa]\nsbom = true\n", "names 'qa', which `promote.environments` does not"),
        ('[tool.reprotasks.promote.rules.prod]\nsoak = "1 day"\n', "is not a duration"),
        ("[tool.reprotasks.promote.rules.prod]\nsoak = 5\n", "`soak` must be a string"),
        ("[tool.reprotasks.promote.rules.prod]\nreproduce = true\n", "unknown key `reproduce`"),
        ('[tool.reprotasks.promote.rules.prod]\npromoters = ["a@b.c"]\n', "without `promoter-issuer`"),
        ('[tool.reprotasks.promote.rules.prod]\npromoters = [" a@b.c"]\npromoter-issuer = "x"\n', "spaces around"),
        ('[tool.reprotasks.promote]\nledger = "pyproject.toml"\n', "is not a directory"),
        ("[tool.reprotasks.promote]\nrules = 3\n", "must be a table of tables"),
        ("[tool.reprotasks.promote]\nwho = 3\n", "who"),
    ],
)
def test_a_bad_policy_is_a_clear_error(make_project: MakeProject, table: str, message: str) -> None:
    root = make_project(extra_config=table)
    with pytest.raises(ConfigError) as caught:
        load_config(root)
    assert message in str(caught.value) + (caught.value.hint or "")
    result = run_cli("status", cwd=root)
    assert result.returncode == 2 and "Traceback" not in result.stderr and message in result.stderr


def test_the_policy_and_its_digest(make_project: MakeProject) -> None:
    root = make_project(
        extra_config='[tool.reprotasks.promote.rules.prod]\nsoak = "2h"\nreproduced = true\n'
        'promoters = ["rm@example.test"]\npromoter-issuer = "https://issuer.example.test"\n'
    )
    promote = load_config(root).promote
    assert promote.environments == ("dev", "staging", "prod") and promote.ledger == root / "promotions"
    assert promote.rules_for("prod").soak_seconds == 7200 and promote.rules_for("dev").reproduced is False
    assert promote.previous("prod") == "staging" and promote.previous("dev") is None
    assert promote.rules_digest("prod") != promote.rules_digest("staging")
    again = load_config(root).promote
    assert again.rules_digest("prod") == promote.rules_digest("prod")


def test_status_of_an_empty_ledger_needs_no_trust_root(make_project: MakeProject) -> None:
    result = run_cli("status", cwd=make_project())
    assert result.returncode == 0, result.stderr
    assert "dev      -" in result.stdout and "0 entries" in result.stdout


def test_the_dashboard_escapes_every_value_and_loads_without_console_errors(tmp_path: Path) -> None:
    hostile = '</script><script>console.error("pwned")</script><img src=x onerror=alert(1)>'
    entries = [
        entry(0, None),
        entry(1, "0" * 64, environment="staging"),
        entry(2, "1" * 64, version=hostile, who="<b>mallory</b>"),
        entry(3, "2" * 64, action="rollback", restores=0),
    ]
    ledger = Ledger(directory=tmp_path, shown="promotions", entries=entries, lines=[e.line() for e in entries])
    levels = {1: ["SLSA_BUILD_LEVEL_1", "REPROTASKS_REPRODUCED"]}
    page = tmp_path / "index.html"
    page.write_bytes(
        render(project="demo", environments=("dev", "staging", "prod"), ledger=ledger, findings=[], levels=levels)
    )
    again = render(project="demo", environments=("dev", "staging", "prod"), ledger=ledger, findings=[], levels=levels)
    assert page.read_bytes() == again  # a function of the ledger alone
    shot = tmp_path / "dashboard.png"
    loaded = load(page, screenshot=shot)
    print(f"dashboard screenshot: {shot}")
    assert loaded.console == []
    assert 'data-rendered="4"' in loaded.dom  # the timeline script ran over every entry
    assert loaded.dom.count("<circle") == 4
    assert "<b>mallory</b>" not in loaded.dom and "&lt;b&gt;mallory&lt;/b&gt;" in loaded.dom
    assert "<img" not in loaded.dom and "<b>" not in loaded.dom
    assert "yes (rebuilt, same bytes)" in loaded.dom

    broken = render(
        project="demo",
        environments=("dev",),
        ledger=ledger,
        findings=[Finding("promotions/ledger.jsonl", 2, "does not chain", "restore it")],
        levels={},
    )
    page.write_bytes(broken)
    loaded = load(page)
    assert loaded.console == [] and 'class="broken"' in loaded.dom and "Ledger BROKEN" in loaded.dom
    data = json.loads(loaded.dom.split('id="data">', 1)[1].split("</script>", 1)[0])
    assert data["entries"][2]["version"] == hostile


ARTIFACTS = REPO / ".test-artifacts"  # screenshots a reviewer can open (ignored by git)


def _long_ledger(tmp_path: Path, releases: int) -> tuple[Ledger, dict[int, list[str]]]:
    """``releases`` releases, each promoted dev -> staging -> prod a few hours apart, every tenth
    prod one rolled back: 3 entries a release plus the rollbacks."""
    import datetime

    entries: list[Entry] = []
    levels: dict[int, list[str]] = {}
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    for number in range(releases):
        version = f"1.{number // 10}.{number % 10}"
        for step, environment in enumerate(("dev", "staging", "prod")):
            when = start + datetime.timedelta(hours=12 * number + 3 * step)
            seq = len(entries)
            entries.append(
                entry(seq, None, environment=environment, version=version, commit=f"{number:040x}",
                      sums=f"{number:064x}", when=when.strftime("%Y-%m-%dT%H:%M:%SZ"))
            )  # fmt: skip
            if environment == "staging" and number % 3 == 0:
                levels[seq] = ["SLSA_BUILD_LEVEL_1", "REPROTASKS_REPRODUCED"]
        if number % 10 == 9:
            seq = len(entries)
            when = start + datetime.timedelta(hours=12 * number + 8)
            back = len(entries) - 4  # the prod entry of the release before
            entries.append(entry(seq, None, environment="prod", version=entries[back].version, action="rollback",
                                 restores=back, commit=entries[back].commit, sums=entries[back].sums,
                                 when=when.strftime("%Y-%m-%dT%H:%M:%SZ")))  # fmt: skip
    ledger = Ledger(directory=tmp_path, shown="promotions", entries=entries, lines=[e.line() for e in entries])
    return ledger, levels


def test_the_dashboard_of_a_600_entry_ledger_reads_on_a_desktop_and_a_phone(tmp_path: Path) -> None:
    """200 releases, 620 entries: per environment the version, its age, the soak left before the
    next one, reproduced or not, the commit (linked), who signed; rollbacks say what they replaced;
    newest first with the rest folded away; no console message and no horizontal overflow at 1400
    and 390 px (screenshots in .test-artifacts/)."""
    ledger, levels = _long_ledger(tmp_path, 200)
    assert len(ledger.entries) == 620
    page = tmp_path / "index.html"
    data = render(
        project="demo",
        environments=("dev", "staging", "prod"),
        ledger=ledger,
        findings=[],
        levels=levels,
        soaks={"dev": 0, "staging": 0, "prod": 86400},
        repository_url="https://github.com/acme/widgets",
    )
    page.write_bytes(data)
    print(f"dashboard of {len(ledger.entries)} entries: {len(data) // 1024} KB")
    ARTIFACTS.mkdir(exist_ok=True)
    for width in (1400, 390):
        shot = ARTIFACTS / f"dashboard-600-entries-{width}px.png"
        loaded = load(page, screenshot=shot, width=width)
        print(f"screenshot: {shot}")
        assert loaded.console == [], loaded.console
        assert 'data-overflow="false"' in loaded.dom, f"the page is wider than {width} px"
        assert 'data-rendered="620"' in loaded.dom and loaded.dom.count("<circle") == 620
        assert loaded.dom.count("</title></circle>") == 620  # each dot has its own tooltip
    dom = loaded.dom
    # The cards: what runs where, since when, how proven, from which commit, signed by whom.
    prod = dom.split('data-env="prod"', 1)[1].split("</div>", 1)[0]
    assert ">1.19.8<" in prod and "rolled back here from 1.19.9 (restores #615)" in prod  # the last rollback
    assert " days ago (2026-04-10T20:00:00Z)" in prod and "&#10003; reproduced" in prod.replace("\u2713", "&#10003;")
    assert "signed by release@example.test (entry #619)" in prod
    assert f'href="https://github.com/acme/widgets/commit/{198:040x}"' in prod
    staging = dom.split('data-env="staging"', 1)[1].split("</div>", 1)[0]
    assert ">1.19.9<" in staging and "reproduction not proven" in staging
    assert "ready for prod" in staging  # its day of soak has passed (counted from when the page is read)
    # Newest first; beyond 50 rows the rest is folded, and the rollbacks name what they replaced.
    rows = dom.split("Ledger entries, newest first", 1)[1]
    assert rows.index("<td>619</td>") < rows.index("<td>618</td>") < rows.index("<details>")
    assert "older entries (570)" in dom and "older releases (150)" in dom
    assert "rollback to #" in dom and ", replacing 1.19.9" in dom
    assert render(
        project="demo", environments=("dev", "staging", "prod"), ledger=ledger, findings=[], levels=levels,
        soaks={"dev": 0, "staging": 0, "prod": 86400}, repository_url="https://github.com/acme/widgets",
    ) == data  # fmt: skip


def test_the_git_history_anchors_the_ledger_against_entries_cut_off_the_end(make_project: MakeProject) -> None:
    from reprotasks._run import Runner
    from reprotasks.promote.trail import _history_findings

    from .conftest import git

    root = make_project()
    promotions = root / "promotions"
    promotions.mkdir()
    full = chain(entry(0, None), entry(1, None, environment="staging"), entry(2, None, action="rollback", restores=0))
    short = b"".join(full.splitlines(keepends=True)[:2])
    runner = Runner(root, log=lambda _line: None)
    config = load_config(root)

    def check(data: bytes) -> list[str]:
        (promotions / LEDGER_NAME).write_bytes(data)
        ledger = read_ledger(promotions, "promotions")
        return [f.problem for f in _history_findings(config, ledger, runner)] or [ledger.anchor]

    assert check(full) == ["not in git: entries cut off the end could not be detected"]
    commit = ("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q")
    git("init", "-q", "-b", "main", cwd=root)
    (promotions / LEDGER_NAME).write_bytes(short)
    git("add", "-A", cwd=root)
    git(*commit, "-m", "two entries", cwd=root)
    (promotions / LEDGER_NAME).write_bytes(full)
    git(*commit, "-am", "the rollback", cwd=root)
    assert check(full) == ["all 2 versions committed to git are prefixes of it"]
    assert "is not an extension of a version committed" in check(short)[0]  # cut off, uncommitted
    # `merge -s ours` of the rollback into the commit before it, then a fast-forward: git log's
    # history simplification would follow only the parent without the rollback.
    (promotions / LEDGER_NAME).write_bytes(full)
    git("checkout", "-q", "-b", "side", "HEAD~1", cwd=root)
    git("-c", "user.name=t", "-c", "user.email=t@t", "merge", "-q", "-s", "ours", "main", "-m", "m", cwd=root)
    git("checkout", "-q", "main", cwd=root)
    git("merge", "-q", "--ff-only", "side", cwd=root)
    assert (promotions / LEDGER_NAME).read_bytes() == short
    assert "is not an extension of a version committed" in check(short)[0]
    # A shallow clone cannot vouch for anything.
    clone = root.parent / "shallow"
    git("clone", "-q", "--depth", "1", root.as_uri(), str(clone), cwd=root.parent)
    shallow = load_config(clone)
    ledger = read_ledger(clone / "promotions", "promotions")
    found = _history_findings(shallow, ledger, Runner(clone, log=lambda _line: None))
    assert found and "shallow git clone" in found[0].problem


def test_a_signed_but_malformed_vsa_is_a_finding_not_a_crash(make_project: MakeProject) -> None:
    from datetime import datetime, timezone

    from reprotasks.promote.trail import statement_problem
    from reprotasks.promote.vsa import VerifiedVsa

    config = load_config(make_project())
    item = entry(0, None)
    said = {"action": "promote", "environment": "dev", "version": "1.0.0", "commit": "c" * 40, "sequence": 0}
    when = datetime(2026, 12, 1, 10, tzinfo=timezone.utc)
    for predicate in ({"verifier": "x", "reprotasks": said}, {"policy": ["x"], "reprotasks": said}, "x", None):
        vsa = VerifiedVsa({"_type": "https://in-toto.io/Statement/v1", "predicate": predicate}, item.who, when)
        assert statement_problem(config, item, vsa)
    # `true` is not sequence 1, though True == 1 in Python.
    vsa = VerifiedVsa({"predicate": {"reprotasks": {**said, "sequence": True}}}, item.who, when)
    assert "sequence True" in statement_problem(config, entry(1, None), vsa)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("REPROTASKS_PROMOTE_ENVIRONMENTS", "dev prod staging"),  # reordered: staging skipped
        ("REPROTASKS_PROMOTE_RULES", '{"prod": {"soak": "0s"}}'),
        ("REPROTASKS_PROMOTE_LEDGER", "truncated-copy"),
        ("REPROTASKS_PROMOTE_REGISTRY", ""),
    ],
)
def test_promotion_policy_from_the_environment_is_refused(make_project: MakeProject, variable: str, value: str) -> None:
    root = make_project()
    for command in (("status",), ("verify-promotion", "prod", "sha256:" + "0" * 64)):
        result = run_cli(*command, cwd=root, env={variable: value})
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert f"environment variable {variable} is refused" in result.stderr
        assert "comes only from the committed [tool.reprotasks.promote]" in result.stderr
        assert f"hint: unset {variable}" in result.stderr


def test_promotion_policy_from_invoke_yaml_is_refused(make_project: MakeProject) -> None:
    from .conftest import run_module

    root = make_project()
    (root / "tasks.py").write_text("from reprotasks.invoke import ns  # noqa: F401\n")
    (root / "invoke.yaml").write_text("reprotasks:\n  promote:\n    rules:\n      prod:\n        soak: 0s\n")
    result = run_module("invoke", "status", cwd=root)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "invoke configuration `reprotasks`: `promote.rules` is refused" in result.stderr
    assert "hint: remove `promote` from it (invoke.yaml" in result.stderr
    with pytest.raises(ConfigError, match=r"`promote.environments` is refused"):
        load_config(root, overrides={"promote": {"environments": ["dev", "prod"]}})


def test_an_uncommitted_promotion_policy_is_refused(make_project: MakeProject) -> None:
    from .conftest import commit_all

    root = make_project(extra_config='\n[tool.reprotasks.promote.rules.prod]\nsoak = "24h"\n')
    commit_all(root, "policy")
    assert run_cli("status", cwd=root).returncode == 0
    pyproject = root / "pyproject.toml"
    committed = pyproject.read_text()
    pyproject.write_text(committed.replace('soak = "24h"', 'soak = "0s"'))
    result = run_cli("status", cwd=root)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "pyproject.toml: [tool.reprotasks.promote] differs from the one committed at HEAD" in result.stderr
    assert "hint: commit pyproject.toml" in result.stderr
    # Other settings may differ from HEAD (what is built is checked elsewhere); the policy may not.
    pyproject.write_text(committed + '\n[tool.reprotasks.sign]\nidentity = "a@b.c"\nissuer = "https://i"\n')
    assert run_cli("status", cwd=root).returncode == 0


def test_a_symlinked_ledger_directory_is_refused(make_project: MakeProject) -> None:
    root = make_project(extra_config='\n[tool.reprotasks.promote]\nledger = "deploy/promotions"\n')
    (root / "copy" / "promotions").mkdir(parents=True)
    (root / "copy" / "promotions" / LEDGER_NAME).write_bytes(chain(entry(0, None)))
    (root / "deploy").symlink_to(root / "copy")
    for command in (("status",), ("verify-promotion", "dev", "sha256:" + "b" * 64), ("report",)):
        result = run_cli(*command, cwd=root)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert "deploy/, a directory on the way to the ledger deploy/promotions/, is a symlink" in result.stderr
    (root / "deploy").unlink()
    (root / "deploy").mkdir()
    (root / "deploy" / "promotions").symlink_to(root / "copy" / "promotions")
    result = run_cli("status", cwd=root)
    assert result.returncode == 2 and "the ledger directory deploy/promotions/ is a symlink" in result.stderr


def test_require_anchor_refuses_a_ledger_git_does_not_vouch_for(make_project: MakeProject) -> None:
    from .conftest import commit_all

    root = make_project()
    args = ("verify-promotion", "dev", "sha256:" + "b" * 64)
    result = run_cli(*args, "--require-anchor", cwd=root)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert "is not anchored in git (not in git" in result.stderr and "fetch-depth: 0" in result.stderr
    commit_all(root, "project")
    result = run_cli(*args, "--require-anchor", cwd=root)
    assert result.returncode == 1 and "is not anchored in git (not committed yet)" in result.stderr, result.stderr
    # Without the flag it still only reports (here: an empty ledger records nothing in dev).
    result = run_cli(*args, cwd=root)
    assert "records nothing in dev" in result.stderr and "anchored" not in result.stderr


def test_every_promotion_is_rechecked_against_the_committed_policy(make_project: MakeProject) -> None:
    """From the ledger alone: order, soak (between the entries' signing times), verified levels, SBOM."""
    from reprotasks.promote.trail import policy_findings

    root = make_project(
        extra_config='\n[tool.reprotasks.promote.rules.staging]\nsoak = "1h"\nreproduced = true\n'
        "\n[tool.reprotasks.promote.rules.prod]\naudit = true\n"
    )
    config = load_config(root)
    sbom = {"app.whl": "b" * 64, "sbom.cdx.json": "e" * 64}
    entries = [
        entry(0, None, artifacts=sbom, when="2026-12-01T10:00:00Z"),
        entry(1, None, environment="staging", artifacts=sbom, when="2026-12-01T10:30:00Z"),  # 30 min < 1h
        entry(2, None, environment="prod", version="2.0.0", artifacts=sbom),  # staging never held 2.0.0
        entry(3, None, version="3.0.0"),  # no SBOM
    ]
    ledger = Ledger(directory=root, shown="promotions", entries=entries, lines=[e.line() for e in entries])
    ledger.levels = {0: ["SLSA_BUILD_LEVEL_1"], 1: ["SLSA_BUILD_LEVEL_1"], 2: ["SLSA_BUILD_LEVEL_1"], 3: []}
    found = [(f.line, f.problem) for f in policy_findings(config, ledger)]
    rules = [(line, problem.split("rule `")[1].split("`")[0]) for line, problem in found]
    assert rules == [(2, "soak"), (2, "reproduced"), (3, "order"), (3, "audit"), (4, "provenance"), (4, "sbom")]
    assert (
        "entry 1 (promote 1.0.0 to staging) breaks the committed policy, rule `soak`: signed 1800s after"
        in (found[0][1])
    )
    assert "the policy requires 1h" in found[0][1]
    assert "staging held 1.0.0 (entry 1), not 2.0.0: prod comes after staging" in found[2][1]
    # The same ledger under a policy it satisfies: nothing to report.
    ledger.entries, ledger.lines = entries[:1], ledger.lines[:1]
    assert policy_findings(config, ledger) == []


def test_a_truncated_bundle_and_a_fulcio_refusal_say_what_is_wrong() -> None:
    import requests
    from sigstore._internal.fulcio.client import FulcioClientError
    from sigstore.errors import Error as SigstoreError

    from reprotasks.promote import vsa
    from reprotasks.signing.sigstore import SignatureError, signing_errors, signing_failure

    bundle = json.dumps({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json", "x": "y" * 50}).encode()
    with pytest.raises(SignatureError) as caught:
        vsa.verify(bundle[:40], None, None)  # type: ignore[arg-type]
    assert "truncated JSON: it ends in the middle of a value at line 1 column 40" in str(caught.value)
    with pytest.raises(SignatureError, match=r"field `verificationMaterial`: Field required"):
        vsa.verify(b'{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}', None, None)  # type: ignore[arg-type]

    assert not issubclass(FulcioClientError, SigstoreError) and FulcioClientError in signing_errors()
    try:
        try:
            raise requests.HTTPError("401 Client Error: Unauthorized for url: http://fulcio/api/v2/signingCert")
        except requests.HTTPError as http_error:
            raise FulcioClientError from http_error
    except FulcioClientError as exc:
        text = signing_failure(exc)
    assert text == (
        "the certificate authority (Fulcio) refused or failed: 401 Client Error: Unauthorized for url: "
        "http://fulcio/api/v2/signingCert"
    )


WORKFLOW_PROMOTER = "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/*"
ACTIONS_ISSUER = "https://token.actions.githubusercontent.com"


@pytest.mark.parametrize(
    ("promoters", "message"),
    [
        ('["https://github.com/*/x/.github/workflows/r.yml@refs/tags/*"]', "has a `*` outside the ref"),
        ('["*@example.com"]', "has a `*` outside the ref"),
        ('["https://github.com/a/b/.github/workflows/r.yml@*"]', "accepts too many refs"),
        ('[{ identity = "a@b.c" }]', "is not { identity"),
        ('[{ identity = "a@b.c", issuer = "https://issuer.example.test", team = "x" }]', "is not { identity"),
        ('[{ identity = "a@b.c", issuer = "accounts.google.com" }]', "which is no https:// URL"),
        ('[{ identity = " a@b.c", issuer = "https://issuer.example.test" }]', "spaces around"),
        ('[{ identity = "a@b.c", issuer = "https://" }]', "which is no https:// URL"),
        ("[3]", "must list identities"),
        ('"a@b.c"', "must be an array of identities"),
    ],
)
def test_a_bad_promoter_is_a_clear_error(make_project: MakeProject, promoters: str, message: str) -> None:
    root = make_project(extra_config=f"[tool.reprotasks.promote.rules.prod]\npromoters = {promoters}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(root)
    assert message in str(caught.value), caught.value


def test_a_workflow_pattern_promoter_accepts_that_workflow_from_any_tag_and_nothing_else(
    make_project: MakeProject,
) -> None:
    """The release workflow, named once for every tag, beside a person with another issuer; checked
    against a real certificate Fulcio issued to a GitHub workflow (../shared/testdata)."""
    from cryptography import x509
    from sigstore.errors import VerificationError
    from sigstore.models import Bundle

    from reprotasks.promote.trail import promoter_policy

    data = REPO.parent / "shared" / "testdata" / "sigstore" / "bundle_v3_github.whl.sigstore"
    if not data.is_file():
        pytest.skip("../shared/testdata/sigstore is not beside the repository")
    cert: x509.Certificate = Bundle.from_json(data.read_bytes()).signing_certificate

    made: list[Path] = []

    def policy_for(promoters: str, issuer: str = "https://github.com/login/oauth") -> Any:
        made.append(
            make_project(
                extra_config=f"[tool.reprotasks.promote.rules.prod]\npromoters = {promoters}\n"
                f'promoter-issuer = "{issuer}"\n',
                name=f"p{len(made)}",
            )
        )
        return promoter_policy(load_config(made[-1]), "prod")

    accepted = policy_for(f'["rm@example.test", {{ identity = "{WORKFLOW_PROMOTER}", issuer = "{ACTIONS_ISSUER}" }}]')
    accepted.verify(cert)
    assert "rm@example.test (issuer https://github.com/login/oauth)" in accepted.describe()
    for wrong in (
        WORKFLOW_PROMOTER.replace("trailofbits/rfc8785.py", "trailofbits/rfc8785"),  # another repository
        WORKFLOW_PROMOTER.replace("release.yml", "ci.yml"),  # another workflow
        WORKFLOW_PROMOTER.replace("refs/tags/*", "refs/heads/*"),  # a branch run
        WORKFLOW_PROMOTER.replace("refs/tags/*", "refs/tags/v2.*"),  # other tags only
    ):
        with pytest.raises(VerificationError, match="expected one of"):
            policy_for(f'[{{ identity = "{wrong}", issuer = "{ACTIONS_ISSUER}" }}]').verify(cert)
    # The right workflow vouched for by another issuer is someone else.
    with pytest.raises(VerificationError, match=r"issuer https://token\.actions\.githubusercontent\.com"):
        policy_for(f'["{WORKFLOW_PROMOTER}"]').verify(cert)
    # Written as a plain string with the Actions issuer, the pattern works too.
    policy_for(f'["{WORKFLOW_PROMOTER}"]', issuer=ACTIONS_ISSUER).verify(cert)


PROD = "/repos/acme/widgets/environments/prod"


class _EnvironmentsApi:
    """GitHub's environments endpoint on 127.0.0.1 (GitHub cannot be reached here): one answer per
    environment name, and the Authorization header of each request kept."""

    def __init__(self, answers: dict[str, tuple[int, dict[str, Any]]]) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.seen: list[tuple[str, str | None]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api.seen.append((self.path, self.headers.get("Authorization")))
                code, body = answers.get(self.path, (404, {"message": "Not Found"}))
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def test_preflight_refuses_an_unguarded_last_environment(make_project: MakeProject) -> None:
    reviewers = {"type": "required_reviewers", "reviewers": [{"type": "User", "reviewer": {"login": "rm"}}]}
    api = _EnvironmentsApi(
        {
            f"{PROD}": (200, {"name": "prod", "protection_rules": [{"type": "wait_timer", "wait_timer": 5}]}),
            f"{PROD[:-4]}staging": (200, {"name": "staging", "protection_rules": []}),
        }
    )
    root = make_project()
    env = {"GITHUB_REPOSITORY": "acme/widgets", "GITHUB_API_URL": api.url, "GITHUB_TOKEN": "ghs_" + "x" * 36}
    try:
        # A wait timer decides nothing about who: refused, with the fix.
        result = run_cli("preflight", "--to", "prod", cwd=root, env=env)
        output = result.stdout + result.stderr
        assert result.returncode != 0 and "Traceback" not in output, output
        assert "has no required reviewers (protection rules: wait_timer)" in output
        assert "Required reviewers" in output and "`promoters` under [tool.reprotasks.promote.rules.prod]" in output
        assert api.seen[-1] == (PROD, f"Bearer {env['GITHUB_TOKEN']}")
        assert env["GITHUB_TOKEN"] not in output
        # No environment at all: GitHub would create it unprotected.
        result = run_cli("preflight", "--to", "prod", cwd=root, env={**env, "GITHUB_REPOSITORY": "acme/other"})
        assert result.returncode != 0 and "has no GitHub environment named prod" in result.stderr, result.stderr
        # Not the last environment: nothing to guard here.
        result = run_cli("preflight", "--to", "staging", cwd=root, env=env)
        assert result.returncode == 0 and "not the last environment" in result.stdout, result.stderr
    finally:
        api.close()
    api = _EnvironmentsApi({PROD: (200, {"name": "prod", "protection_rules": [reviewers]})})
    try:
        result = run_cli("preflight", "--to", "prod", cwd=root, env={**env, "GITHUB_API_URL": api.url})
        assert result.returncode == 0 and "required reviewers (1)" in result.stdout, result.stdout + result.stderr
    finally:
        api.close()
    # The API refuses (no token, a private repository): a warning, not a verdict.
    api = _EnvironmentsApi({PROD: (403, {"message": "Resource not accessible by integration"})})
    try:
        result = run_cli(
            "preflight", "--to", "prod", cwd=root, env={**env, "GITHUB_API_URL": api.url, "GITHUB_ACTIONS": "true"}
        )
        assert result.returncode == 0 and "NOT CHECKED (GitHub API unreadable)" in result.stdout, result.stderr
        assert "::warning::prod has no `promoters`" in result.stdout and "403" in result.stdout
    finally:
        api.close()
    # A token is never sent over plain http to another host.
    result = run_cli("preflight", "--to", "prod", cwd=root, env={**env, "GITHUB_API_URL": "http://api.example.com"})
    assert result.returncode != 0 and "is not an https:// URL" in result.stderr


def test_preflight_accepts_promoters_without_asking_github(make_project: MakeProject) -> None:
    root = make_project(
        extra_config="[tool.reprotasks.promote.rules.prod]\n"
        f'promoters = [{{ identity = "{WORKFLOW_PROMOTER}", issuer = "{ACTIONS_ISSUER}" }}]\n'
    )
    result = run_cli("preflight", "--to", "prod", cwd=root, env={"GITHUB_REPOSITORY": "acme/widgets"})
    assert result.returncode == 0 and f"the policy's promoters: {WORKFLOW_PROMOTER}" in result.stdout, result.stderr
    result = run_cli("preflight", "--to", "qa", cwd=root)
    assert result.returncode != 0 and "preflight needs --to ENV, one of dev, staging, prod" in result.stderr


def test_preflight_never_follows_a_redirect_nor_echoes_hostile_answers(make_project: MakeProject) -> None:
    """A redirect would carry the token to another host (urllib copies the header): never followed.
    A hostile answer (wrong types, control characters for the log) is no traceback and no echo."""
    elsewhere = _EnvironmentsApi(
        {PROD: (200, {"protection_rules": [{"type": "required_reviewers", "reviewers": [1]}]})}
    )
    hostile = {
        "type": "x\n::error file=a::pwned\x1b[2J",
    }
    api = _EnvironmentsApi(
        {PROD: (200, {"protection_rules": [hostile, {"type": "required_reviewers", "reviewers": 5}]})}
    )
    root = make_project()
    env = {"GITHUB_REPOSITORY": "acme/widgets", "GITHUB_TOKEN": "ghs_" + "y" * 36, "GITHUB_ACTIONS": "true"}
    try:
        import http.server

        redirect = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _redirect_to(elsewhere.url))
        import threading

        thread = threading.Thread(target=redirect.serve_forever, daemon=True)
        thread.start()
        try:
            moved = run_cli(
                "preflight",
                "--to",
                "prod",
                cwd=root,
                env={**env, "GITHUB_API_URL": f"http://127.0.0.1:{redirect.server_address[1]}"},
            )
        finally:
            redirect.shutdown()
            redirect.server_close()
        assert moved.returncode == 0 and "NOT CHECKED (GitHub API unreadable)" in moved.stdout, moved.stderr
        assert elsewhere.seen == []  # the token went nowhere else
        result = run_cli("preflight", "--to", "prod", cwd=root, env={**env, "GITHUB_API_URL": api.url})
        output = result.stdout + result.stderr
        assert result.returncode != 0 and "Traceback" not in output
        assert "protection rules: unknown, required_reviewers" in output and "pwned" not in output
        bad = run_cli("preflight", "--to", "prod", cwd=root, env={**env, "GITHUB_REPOSITORY": "../../orgs/x"})
        assert bad.returncode != 0 and "is not OWNER/NAME" in bad.stderr
    finally:
        api.close()
        elsewhere.close()


def _redirect_to(target: str) -> Any:
    from http.server import BaseHTTPRequestHandler

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    return Redirect


def test_a_ref_pattern_names_tags_or_branches_and_never_spans_an_at() -> None:
    from reprotasks._identity import matches, pattern_problem

    workflow = "https://github.com/a/b/.github/workflows/r.yml"
    for loose in (f"{workflow}@r*", f"{workflow}@refs/*", f"{workflow}@*/*"):
        assert pattern_problem(loose) is not None, loose
    assert pattern_problem(f"{workflow}@refs/tags/v*") is None
    assert matches(f"{workflow}@refs/tags/*", f"{workflow}@refs/tags/v1.2.3")
    assert not matches(f"{workflow}@refs/tags/*", f"{workflow}@refs/tags/x@refs/heads/evil")
    assert not matches(f"{workflow}@refs/tags/*", "https://github.com/a/b/.github/workflows/r.yml@refs/heads/main")
