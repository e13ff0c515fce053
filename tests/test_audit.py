"""The pinning audit: exact findings on a seeded fixture, SARIF validity, bad files, allow-list, verify."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import jsonschema
import pytest

from reprotasks._run import Runner
from reprotasks.audit import yamldoc
from reprotasks.audit.scan import RULES, as_findings, audit
from reprotasks.audit.shell import check_script
from reprotasks.config import load_config

from .conftest import MakeProject, commit_all, run_cli

DATA = Path(__file__).resolve().parent / "data"
TREE = DATA / "audit" / "tree"
HYBRID = Path(__file__).resolve().parent.parent / "examples" / "hybrid"


def shell_rules(script: str) -> list[str]:
    """The rules the shell checks find in ``script``, in order."""
    return [issue.rule for issue in check_script(script)]


def expected() -> set[str]:
    return {line.strip() for line in (DATA / "audit" / "expected.txt").read_text().splitlines() if line.strip()}


def test_fixture_findings_are_exactly_the_seeded_ones() -> None:
    report = audit(load_config(TREE), runner=Runner(TREE, log=lambda _line: None))
    found = {f"{f.path}:{f.line}:{f.col}: {f.rule}" for f in report.findings}
    seeded = expected()
    assert len(seeded) >= 40
    assert found - seeded == set(), "false positives (precision < 100%)"
    assert seeded - found == set(), "missed findings (recall < 100%)"
    assert report.allowed == 1  # the allow entry for docker/Containerfile.dev
    fixes: dict[tuple[str, int | None], str] = {(f.path, f.line): f.fix for f in report.errors}
    for finding in as_findings(report):  # verify's form: the fix whole, once, even when a command holds " -- "
        rule = finding.problem.split()[0]
        fix = fixes[(finding.path, finding.line)]
        assert finding.fix == fix and " -- " not in finding.problem.removeprefix(rule)
        assert fix == RULES[rule].fix or rule in ("RT-W001", "RT-D001")  # those name the action or image at hand
    kinds = {line.split(":")[0].rsplit("/", 1)[-1] for line in seeded}
    assert {"Dockerfile", "ci.yml", "action.yml", "install.sh", "Makefile", "tools.mk", "noxfile.py", "go.mod"} <= kinds


def test_text_output_exit_codes_and_messages() -> None:
    result = run_cli("audit", cwd=TREE)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = [line for line in result.stdout.splitlines() if ": RT-" in line]
    assert len(lines) == len(expected())
    first = next(line for line in lines if line.startswith("docker/Dockerfile:3:6: RT-D001"))
    assert "`golang:1.23`" in first and "@sha256:" in first  # why it matters and the pinned form
    assert "audit: 33 files, 3 skipped by audit.exclude, " in result.stdout and "1 allowed" in result.stdout
    assert "audit found" in result.stderr and "hint:" in result.stderr
    clean = run_cli("audit", cwd=HYBRID)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert " 0 error(s), 0 warning(s)" in clean.stdout


def test_sarif_is_valid_sarif_2_1_0() -> None:
    result = run_cli("audit", "--format", "sarif", cwd=TREE)
    assert result.returncode == 1
    log = json.loads(result.stdout)
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    jsonschema.validate(log, schema, cls=jsonschema.Draft4Validator)
    run = log["runs"][0]
    assert log["version"] == "2.1.0" and run["tool"]["driver"]["name"] == "reprotasks-audit"
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == list(RULES)
    assert len(run["results"]) == len(expected())
    for item in run["results"]:
        region = item["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
        assert item["level"] in ("error", "warning")
    as_json = json.loads(run_cli("audit", "--format", "json", cwd=TREE).stdout)
    assert as_json["errors"] + as_json["warnings"] == len(expected())


def test_unreadable_binary_and_invalid_files_are_findings(make_project: MakeProject) -> None:
    root = make_project()
    (root / "Dockerfile").symlink_to(root / "missing-target")  # a dangling link: no file to audit, no error
    (root / "docs").symlink_to("/usr", target_is_directory=True)  # a link to a directory: skipped too
    (root / "Containerfile").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0")
    workflows = root / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "bad.yml").write_text("jobs: [\n  - :\n")
    # GitHub refuses a key given twice; which `uses:` would count is unclear, so it is no workflow to trust
    (workflows / "twice.yml").write_text("jobs:\n  a:\n    steps: []\n  a:\n    steps: []\n")
    (root / "noxfile.py").write_text("def broken(:\n")
    (root / "latin1.sh").write_bytes(b"#!/bin/sh\necho \xe9\n")
    result = run_cli("audit", cwd=root)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    for expected_line in (
        "Containerfile:1:1: RT-F002 is a binary file",
        ".github/workflows/bad.yml:",
        "noxfile.py:1:",
        "latin1.sh:1:1: RT-F002 is not UTF-8 text",
        ".github/workflows/twice.yml:4:3: RT-F003 is not valid YAML (the key 'a' is given twice in one mapping)",
    ):
        assert expected_line in result.stdout, result.stdout
    assert "RT-F003 is not valid YAML" in result.stdout and "RT-F003 is not valid Python" in result.stdout
    assert "Dockerfile:" not in result.stdout.replace("Containerfile:", "") and "docs" not in result.stdout


def test_allow_entries_need_a_reason_and_unused_ones_are_reported(make_project: MakeProject) -> None:
    root = make_project(extra_config='[[tool.reprotasks.audit.allow]]\nrule = "RT-D001"\npath = "Dockerfile"\n')
    (root / "Dockerfile").write_text("FROM python:3.12\n")
    missing = run_cli("audit", cwd=root)
    assert missing.returncode == 2 and "entry 1 has no `reason`" in missing.stderr
    text = (root / "pyproject.toml").read_text()
    (root / "pyproject.toml").write_text(
        text + 'reason = "local dev image"\n\n[[tool.reprotasks.audit.allow]]\nmatch = "nothing-like-this"\n'
        'reason = "stale"\n'
    )
    result = run_cli("audit", cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr  # the unused entry is a warning
    assert "RT-A001" in result.stdout and "entry 2 (match = 'nothing-like-this') matched nothing" in result.stdout
    assert "1 allowed" in result.stdout and "RT-D001" not in result.stdout.split("RT-A001")[0]


def test_verify_includes_the_audit(make_project: MakeProject) -> None:
    root = make_project()
    assert run_cli("lock", cwd=root).returncode == 0
    (root / "Dockerfile").write_text("FROM python:3.12-slim\nRUN pip install requests\n")
    commit_all(root)
    result = run_cli("verify", cwd=root)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Dockerfile:1: RT-D001" in result.stderr and "Dockerfile:2: RT-S001" in result.stderr
    assert "pinning audit" in result.stderr
    disabled = run_cli("verify", cwd=root, env={"REPROTASKS_AUDIT_ENABLED": "0"})
    assert disabled.returncode == 0, disabled.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied_is_a_finding(make_project: MakeProject) -> None:
    root = make_project()
    script = root / "deploy.sh"
    script.write_text("#!/bin/sh\npip install x\n")
    script.chmod(0)
    result = run_cli("audit", cwd=root)
    assert "deploy.sh:1:1: RT-F001 cannot be read" in result.stdout


def test_submodules_are_not_read_as_files_and_w001_names_the_action(make_project: MakeProject, tmp_path: Path) -> None:
    from .conftest import git

    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("x\n")
    commit_all(other)
    root = make_project()
    commit_all(root)
    git("-c", "protocol.file.allow=always", "submodule", "add", "--quiet", str(other), "vendored", cwd=root)
    workflow = root / ".github" / "workflows" / "ci.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text("permissions: {}\njobs:\n  a:\n    steps:\n      - uses: ncipollo/release-action@v1\n")
    commit_all(root)
    result = run_cli("audit", cwd=root)
    assert "vendored" not in result.stdout, result.stdout
    assert "`uses: ncipollo/release-action@<40-hex sha> # v1`" in result.stdout


@pytest.mark.parametrize(
    ("line", "rules"),
    [
        ("curl -fsSL https://get.example/x.sh | sh", ["RT-S003"]),
        ("curl -fsSL https://get.example/x | sudo bash -s -- -y", ["RT-S003"]),
        ("curl https://get.example/x.py | python3 -", ["RT-S003"]),
        ("curl https://get.example/x | bash -x", ["RT-S003"]),
        # What is piped in is data for an inline program, not code (curlie's args/gen.sh):
        ("curl -h all|perl -pe 's/^ *//'", []),
        ("curl https://get.example/data.json | python3 -c 'import json,sys; json.load(sys.stdin)'", []),
        ("wget -qO- https://get.example/x | sh -c 'wc -c'", []),
        ("curl https://get.example/x | ruby -ne 'puts $_'", []),
    ],
)
def test_a_download_piped_into_a_shell_is_flagged_only_when_it_runs_as_code(line: str, rules: list[str]) -> None:
    assert shell_rules(line) == rules


@pytest.mark.parametrize(
    ("line", "rules"),
    [
        ("go get github.com/acme/tool", ["RT-S002"]),  # moves go.mod to whatever is latest
        ("go run github.com/acme/tool/cmd/gen", []),  # the version the current go.mod requires
        ("go install github.com/google/ko", []),  # likewise (outside a module go refuses to run)
        ("go install github.com/google/ko@main", ["RT-S002"]),
        ("curl -sLf -o /dev/null https://x/y 2> /dev/null || echo gone", []),  # an existence check, no file
        ("wget -qO cross https://x/cross\nchmod +x cross\nmv cross /usr/local/bin/\ncross build", ["RT-S003"]),
        ("curl -fsSLo k https://x/k && sha256sum -c k.sha256 && mv k /usr/local/bin/k && k version", []),
        ("go install golang.org/x/tools/gopls@" + "0123456789abcdef" * 2 + "01234567", []),  # a full commit
        ("go get github.com/acme/tool@v1.2.3", []),
        ("go run ./cmd/gen", []),
        ("go run main.go", []),
        ("pip install --no-index --find-links wheels/ flask", []),  # nothing from an index
        ("uv pip install dist/a-1.tar.gz --find-links crates/dist --offline --no-deps", []),  # local, nothing more
        ("pip install --no-deps -p venv/bin/python dist/a-1-py3-none-any.whl", []),  # -p's value is no package
        ("pip install --no-deps -e . requests", ["RT-S001"]),  # requests comes from the index
        ("pip install --no-deps dist/a-1.tar.gz --find-links https://x/simple", []),  # local with no deps
        ("pip install dist/a-1.tar.gz", ["RT-S001"]),  # its dependencies come from the index
        ("pip install --no-deps a @ https://example.com/a-1.whl", ["RT-S001"]),  # a URL, unhashed
        ("apt-get install --snapshot 20240301T000000Z -y curl", []),  # pinned by the snapshot
        ("apt-get install -y curl", ["RT-S004"]),
    ],
)
def test_go_pip_and_apt_inputs_pinned_or_not(line: str, rules: list[str]) -> None:
    assert shell_rules(line) == rules


def test_vendored_and_test_data_trees_and_staging_directories_are_not_audited(tmp_path: Path) -> None:
    from reprotasks.audit.scan import candidate_files

    for relative in ("vendor/x/install.sh", "pkg/testdata/Dockerfile", "third_party/a/Makefile", ".dist-stage-1/x.sh"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("#!/bin/sh\ncurl https://x | sh\n")
    (tmp_path / "Dockerfile").write_text("FROM alpine\n")
    (tmp_path / "pyproject.toml").write_text("")
    config = load_config(tmp_path)
    runner = Runner(tmp_path, log=lambda _line: None)
    found = [path for path, _kind in candidate_files(tmp_path, config.audit.exclude, "dist", runner)]
    assert found == ["Dockerfile"]
    everything = [path for path, _kind in candidate_files(tmp_path, (), "dist", runner)]
    assert "vendor/x/install.sh" in everything and ".dist-stage-1/x.sh" not in everything


@pytest.mark.parametrize(
    ("line", "rules"),
    [
        ("apk add --no-cache curl", ["RT-S005"]),
        ("apk add --no-cache -X https://dl-cdn.alpinelinux.org/alpine/v3.20/main curl=8.9.1-r0", []),
        ("dnf install -y curl", ["RT-S005"]),
        ("yum install -y curl-8.6.0", []),
        ("microdnf install ./local.rpm", []),
        ("npm install -g typescript", ["RT-S006"]),
        ("npm install -g typescript@5.4.5 @scope/tool@1.2.3", []),
        ("npm install", []),  # the project's package-lock.json decides
        ("npx eslint .", []),  # the project's own, locked copy
        ("npx --yes prettier --check .", ["RT-S006"]),
        ("npx --yes prettier@3.3.3 --check .", []),
        ("gem install bundler", ["RT-S006"]),
        ("gem install bundler -v 2.5.0", []),
        ("cargo install ripgrep", ["RT-S006"]),
        ("cargo install ripgrep --version 14.1.0 --locked", []),
        ("cargo install --path .", []),
    ],
)
def test_other_package_managers(line: str, rules: list[str]) -> None:
    assert shell_rules(line) == rules


@pytest.mark.parametrize(
    ("script", "rules"),
    [
        ("curl -fsSL https://get.example/install.sh |\n  sh -s -- -y", ["RT-S003"]),  # the pipe goes on
        ("bash <(curl -fsSL https://get.example/install.sh)", ["RT-S003"]),
        ("source <(curl -s https://get.example/env)", ["RT-S003"]),
        ("diff <(curl -s https://get.example/a) b", []),
        ("curl -o x.sh https://get.example/install.sh && sh x.sh", ["RT-S003"]),
        ("wget -O f https://get.example/f; chmod +x f; ./f", ["RT-S003"]),
        ("curl -LO https://get.example/install.sh\nbash install.sh", ["RT-S003"]),
        (
            "curl -o /usr/local/bin/kubectl https://dl.example/kubectl && chmod +x /usr/local/bin/kubectl && kubectl",
            ["RT-S003"],
        ),
        # A checksum check of the file between download and run makes it a pinned input:
        ('curl -o x.sh https://get.example/install.sh && echo "abc  x.sh" | sha256sum -c && sh x.sh', []),
        ("curl -LO https://get.example/install.sh\nsha256sum -c install.sh.sha256\nbash install.sh", []),
        ("curl -fsSLO https://get.example/tool.tar.gz && tar xzf tool.tar.gz", []),  # not run
        ("curl -o data.json https://get.example/data.json && jq . data.json", []),
    ],
)
def test_download_then_run(script: str, rules: list[str]) -> None:
    assert shell_rules(script) == rules


def test_workflow_yaml_keeps_positions_aliases_and_merges() -> None:
    text = (
        "base: &base {runs-on: ubuntu-24.04, container: node:20}\n"
        "loop: &loop [1, *loop]\n"
        "job:\n  <<: *base\n  container: node:22\n  env:\n    EMPTY:\n  run: |\n    echo hi\n"
    )
    document = yamldoc.load(text)
    job = document["job"]
    assert job["runs-on"] == "ubuntu-24.04" and job["container"] == "node:22"  # its own key wins over the merge
    assert (job["container"].line, job["container"].col) == (5, 14) and job["run"].style == "|"
    assert job["env"]["EMPTY"] is None and document["loop"][1] is document["loop"]  # a cycle, not a copy
    assert type(pickle.loads(pickle.dumps(job["run"]))) is str  # findings cross process pools as plain text
    laughs = "a: &a [x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 8)}]\n" for i in range(12)
    )
    assert len(yamldoc.load(laughs)["m"]) == 8  # 8**13 strings if expanded: shared instead
    assert yamldoc.load("") is None


def test_unchanged_files_reuse_their_results_and_any_change_is_seen(make_project: MakeProject) -> None:
    root = make_project()
    (root / "requirements.txt").write_text("idna==3.10 \\\n    --hash=sha256:" + "a" * 64 + "\n")
    (root / "Dockerfile").write_text("FROM scratch\nRUN pip install -r requirements.txt\n")
    (root / "setup.sh").write_text("#!/bin/sh\ngo install example.com/tool@v1.2.3\n")
    assert run_cli("audit", cwd=root).returncode == 0
    store = next((Path(os.environ["REPROTASKS_CACHE_DIR"]) / "audit").glob("*.json"))
    # Reused: a result planted for the file's exact bytes is what a plain re-audit reports...
    data = json.loads(store.read_text())
    data["files"]["setup.sh"][3] = [[2, 1, "RT-S002", "", "planted"]]
    store.write_text(json.dumps(data))
    assert "setup.sh:2:1: RT-S002 `planted`" in run_cli("audit", cwd=root).stdout
    # ...and never once the bytes change, nor with --no-cache.
    assert run_cli("audit", "--no-cache", cwd=root).returncode == 0
    (root / "setup.sh").write_text("#!/bin/sh\ngo install example.com/tool@latest\n")
    changed = run_cli("audit", cwd=root)
    assert "setup.sh:2:1: RT-S002 `go install example.com/tool@latest`" in changed.stdout, changed.stdout
    # A lock that loses its hashes changes the Dockerfile's finding though the Dockerfile is unchanged.
    (root / "requirements.txt").write_text("idna==3.10\n")
    assert "Dockerfile:2:5: RT-S001" in run_cli("audit", cwd=root).stdout
    # Rules of another version, or a cache that is not JSON, are ignored, never trusted or fatal.
    data = json.loads(store.read_text())
    data["rules"] = "older"
    data["files"]["Dockerfile"][3] = []
    store.write_text(json.dumps(data))
    assert "Dockerfile:2:5: RT-S001" in run_cli("audit", cwd=root).stdout
    store.write_text("{not json")
    again = run_cli("audit", cwd=root)
    assert "Dockerfile:2:5: RT-S001" in again.stdout and "Traceback" not in again.stderr
