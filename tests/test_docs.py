"""The documentation site (docs/, mkdocs): generated from the code where it can be, every link
working, every step, option and audit rule with its entry, and the built site looked at in
headless Chromium at desktop and phone width (screenshots in .test-artifacts/docs/)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reprotasks import _docs, registry
from reprotasks.audit.scan import RULES
from reprotasks.config import all_options
from tests.conftest import REPO

DOCS = REPO / "docs"
ARTIFACTS = REPO / ".test-artifacts" / "docs"
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def test_generated_pages_are_current() -> None:
    """Commands, steps, configuration and audit rules are rendered from the registry, the option
    tables and the rule list: the pages in docs/ must be exactly that (UPDATE_DOCS=1 rewrites them)."""
    if os.environ.get("UPDATE_DOCS") == "1":
        _docs.write(DOCS)
    stale = [str(path.relative_to(REPO)) for path, text in _docs.pages(DOCS).items() if _read(path) != text]
    assert not stale, f"{stale} differ from the code: run `python -m reprotasks._docs` (or UPDATE_DOCS=1 pytest)"


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def test_every_step_option_and_rule_has_its_entry() -> None:
    commands = (DOCS / "reference" / "commands.md").read_text(encoding="utf-8")
    for name in registry.names():
        assert (DOCS / "steps" / f"{name}.md").is_file(), name
        assert f"\n## {name}\n" in commands, name
    configuration = (DOCS / "reference" / "configuration.md").read_text(encoding="utf-8")
    assert not [option.dotted for option in all_options() if f"`{option.key}`" not in configuration]
    rules = (DOCS / "reference" / "audit-rules.md").read_text(encoding="utf-8")
    assert not [rule_id for rule_id in RULES if f"`{rule_id}`" not in rules]
    # Each command's --help names its page, and the page is there.
    for name in ("build", "drill", "verify-release"):
        page = _docs.docs_page(name).split(" ")[0]
        assert (REPO / page).is_file(), page


def _slug(heading: str) -> str:
    """Python-Markdown's toc slug: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading).strip().lower()
    text = re.sub(r"[^\w\s-]", "", text)
    return re.sub(r"[\s-]+", "-", text).strip("-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {_slug(match) for match in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}


def test_every_internal_link_resolves() -> None:
    """Every relative link of every page (and of README.md into docs/) names a file that exists,
    and an anchor that one of its headings makes."""
    broken = []
    for page in [REPO / "README.md", *sorted(DOCS.rglob("*.md"))]:
        text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
        for target in _LINK.findall(text):
            if re.match(r"^[a-z]+:", target):
                continue
            path_part, _, anchor = target.partition("#")
            resolved = (page.parent / path_part).resolve() if path_part else page
            if not resolved.is_file():
                broken.append(f"{page.relative_to(REPO)}: {target} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
                broken.append(f"{page.relative_to(REPO)}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site as `nox -s docs` builds it: mkdocs --strict, so any warning fails."""
    target = tmp_path_factory.mktemp("site")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(target)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert built.returncode == 0 and "WARNING" not in built.stderr, built.stderr
    return target


def test_the_site_builds_and_reads_at_desktop_and_phone_width(site: Path) -> None:
    from tests.browser import load

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pages = {
        "home": (site / "index.html", "Reproducible, verifiable releases"),
        "step": (site / "steps" / "drill" / "index.html", "reprotasks drill"),
        "reference": (site / "reference" / "configuration" / "index.html", "REPROTASKS_DIST_DIR"),
    }
    for name, (page, expected) in pages.items():
        assert page.is_file(), page
        for width, label in ((1400, "desktop"), (390, "phone")):
            shot = ARTIFACTS / f"{name}-{label}.png"
            loaded = load(page, screenshot=shot, width=width)
            assert expected in loaded.dom, (name, label)
            assert shot.stat().st_size > 10_000, shot  # a rendered page, not a blank one


_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
_RUNS = "<!-- example: runs in examples/hybrid (tests/test_docs.py) -->"
_MARKER = re.compile(
    r"^<!-- example: (runs in examples/hybrid \(tests/test_docs\.py\)|checked by (\S+)|not run here: (.+)) -->$"
)


def _command_blocks() -> list[tuple[Path, int, str, str]]:
    """(page, line, marker line, body) of every block that shows commands: a `sh` block, or one
    whose lines start with a `$ ` prompt."""
    found = []
    for page in [REPO / "README.md", *sorted(DOCS.rglob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for match in _FENCE.finditer(text):
            lang, body = match.group(1), match.group(2)
            if lang in ("sh", "bash", "console") or (not lang and re.search(r"^\$ ", body, re.M)):
                before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
                found.append((page, text[: match.start()].count("\n") + 1, before, body))
    return found


def test_every_command_example_runs_or_says_why_not() -> None:
    """Each command example is run as written (in examples/hybrid), checked by a named test, or
    marked as not runnable here with the reason: the marker is an HTML comment on the line before."""
    blocks = _command_blocks()
    assert len(blocks) >= 10
    unmarked = [f"{page.relative_to(REPO)}:{line}" for page, line, marker, _ in blocks if not _MARKER.match(marker)]
    assert not unmarked, f"command examples without an `<!-- example: ... -->` marker: {unmarked}"
    for page, line, marker, _body in blocks:
        match = _MARKER.match(marker)
        assert match is not None
        if match.group(2):  # checked by tests/FILE.py::TEST
            file, _, test = match.group(2).partition("::")
            assert f"def {test}(" in (REPO / file).read_text(encoding="utf-8"), f"{page}:{line}: no {match.group(2)}"
        if match.group(3):
            assert len(match.group(3)) > 20, f"{page}:{line}: say why it is not run here"


def _commands(body: str) -> list[str]:
    lines = [line.removeprefix("$ ") for line in body.splitlines() if line.startswith("$ ")] or body.splitlines()
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


@pytest.mark.slow
@pytest.mark.e2e
def test_the_examples_marked_as_running_run_as_written(hybrid: Path, go_env: dict[str, str]) -> None:
    """The blocks marked `runs in examples/hybrid`, each command through bash in a committed copy of
    the example (its pyproject.toml as committed, packages included), with reprotasks on PATH."""
    import shutil

    from tests.conftest import HYBRID, commit_all

    shutil.copy(HYBRID / "pyproject.toml", hybrid / "pyproject.toml")
    commit_all(hybrid)
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    ran = 0
    for page, line, marker, body in _command_blocks():
        if marker != _RUNS:
            continue
        for command in _commands(body):
            result = subprocess.run(
                ["bash", "-c", command], cwd=hybrid, capture_output=True, text=True, check=False,
                env={**os.environ, **go_env, "PATH": path},
            )  # fmt: skip
            assert result.returncode == 0, f"{page.relative_to(REPO)}:{line}: {command}\n{result.stdout}{result.stderr}"
            ran += 1
    assert ran >= 2


def test_the_audit_example_is_what_audit_prints(tmp_path: Path) -> None:
    """docs/concepts/audit.md shows the audit of a Dockerfile and a workflow: that very output."""
    page = (DOCS / "concepts" / "audit.md").read_text(encoding="utf-8")
    shown = page.split("$ reprotasks audit\n", 1)[1].split("```", 1)[0]
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "Dockerfile").write_text("FROM golang:1.23\nRUN true\n")
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "ci.yml").write_text(
        "name: ci\non: push\njobs:\n  test:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: actions/checkout@v4\n"
    )
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "1"\n')
    result = subprocess.run(
        [sys.executable, "-m", "reprotasks", "audit"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1 and result.stdout == shown, result.stdout
