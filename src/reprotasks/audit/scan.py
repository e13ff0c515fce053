"""The pinning audit: mutable inputs in Dockerfiles, workflows, scripts, Makefiles, go.mod, nox/invoke files.

Files come from ``git ls-files`` (tracked plus untracked-but-not-ignored) when the project is a
git work tree, else from a walk that skips tool directories. Every file is read once; unreadable
files, binary files and invalid YAML are findings, never crashes.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import os
import re
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from reprotasks import __version__
from reprotasks._run import Runner
from reprotasks.audit import files as _audit_files
from reprotasks.audit import memo, yamldoc
from reprotasks.audit import shell as _audit_shell
from reprotasks.config import Config
from reprotasks.discover import shown_name
from reprotasks.errors import Finding, ReprotasksError


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str  # error | warning
    name: str
    why: str
    fix: str


RULES: Mapping[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule(
            "RT-D001",
            "error",
            "image-not-pinned",
            "an image without a digest (FROM, COPY --from, a job's container or service, a `uses: docker://` "
            "step, docker/podman run or pull) is whatever its tag points to today",
            "pin the digest: `FROM python:3.12-slim@sha256:<digest>` (`docker buildx imagetools inspect` shows it)",
        ),
        Rule(
            "RT-D002",
            "error",
            "remote-add-unchecked",
            "ADD of a URL without a checksum accepts any bytes served",
            "add `--checksum=sha256:<digest>` to the ADD, or download in RUN and verify with sha256sum -c",
        ),
        Rule(
            "RT-S001",
            "error",
            "pip-install-unhashed",
            "pip install without --require-hashes resolves whatever the index serves today",
            "install from a hashed lock: `pip install --require-hashes -r requirements.txt` (`reprotasks lock`)",
        ),
        Rule(
            "RT-S002",
            "error",
            "go-install-unpinned",
            "go install/run @latest or @branch, or go get without an exact version, floats with upstream",
            "pin an exact version: `go install example.com/tool@v1.2.3` (never @latest or a branch), or "
            "run it without @ inside a module whose go.mod requires it",
        ),
        Rule(
            "RT-S003",
            "error",
            "pipe-to-shell",
            "a download run as code without a checksum check (piped into a shell, or saved and run) is unverified",
            "download to a file, check its sha256 (sha256sum -c), then run it",
        ),
        Rule(
            "RT-S004",
            "warning",
            "apt-unversioned",
            "apt-get install without versions installs whatever is current",
            "pin versions (`apt-get install -y curl=8.5.0-2`) or use a digest-pinned base image that has them",
        ),
        Rule(
            "RT-S005",
            "warning",
            "system-package-unversioned",
            "apk add / dnf, yum, microdnf, zypper install without versions installs whatever is current",
            "pin versions (`apk add curl=8.9.1-r0`, `dnf install curl-8.6.0`, `zypper in curl=8.6.0`) or use a "
            "digest-pinned base image that has them",
        ),
        Rule(
            "RT-S006",
            "error",
            "tool-unversioned",
            "an npm/npx/yarn/pnpm, gem, cargo, pipx, uv tool or conda/mamba install without an exact version "
            "takes whatever is latest today",
            "name the exact version: `npm install -g pkg@1.2.3`, `npx pkg@1.2.3`, `gem install pkg -v 1.2.3`, "
            "`cargo install pkg --version 1.2.3 --locked` (`--git URL --rev <sha>`), `pipx install pkg==1.2.3`, "
            "`uv tool install pkg==1.2.3`, `mamba install pkg==1.2.3`",
        ),
        Rule(
            "RT-S007",
            "error",
            "remote-package-unchecked",
            "a package installed straight from a URL (`rpm -i URL`, `dnf install URL`) is whatever bytes the "
            "server sends, and its install scripts run as root",
            "download it to a file, check its sha256 (`sha256sum -c`), then install the file",
        ),
        Rule(
            "RT-W001",
            "error",
            "action-not-pinned",
            "an action referenced by tag or branch can change under you (tags are mutable)",
            "pin the full commit SHA with the tag in a comment: `uses: actions/checkout@<40-hex sha> # v4.2.2`",
        ),
        Rule(
            "RT-W002",
            "error",
            "workflow-permissions-missing",
            "without top-level `permissions` (or `permissions` in every job), a job gets the repository's default "
            "token scopes",
            "add `permissions: contents: read` at the top and grant more per job only where needed",
        ),
        Rule(
            "RT-G001",
            "warning",
            "go-replace-local",
            "a replace to a directory outside this repository builds code that neither go.sum nor the commit pins",
            "replace with a module version, or move the code into this repository",
        ),
        Rule(
            "RT-G002",
            "error",
            "go-toolchain-unpinned",
            "a `go 1.N` line without a patch version and no `toolchain` line lets the Go toolchain float",
            "add `toolchain go1.N.P` (or write `go 1.N.P`) to go.mod",
        ),
        Rule(
            "RT-F001",
            "error",
            "unreadable",
            "a file that cannot be read cannot be audited",
            "fix its permissions (or the broken symlink), or exclude it with `audit.exclude`",
        ),
        Rule(
            "RT-F002",
            "error",
            "binary",
            "a binary file where a text file is expected cannot be audited",
            "replace it with the text file, or exclude it with `audit.exclude`",
        ),
        Rule(
            "RT-F003",
            "error",
            "invalid-yaml",
            "a workflow that does not parse cannot be audited (nor run)",
            "fix the YAML (actionlint shows where)",
        ),
        Rule(
            "RT-A001",
            "warning",
            "unused-allow",
            "an allow entry that matches nothing hides nothing",
            "remove the entry from [[tool.reprotasks.audit.allow]] (or fix its rule/path/match)",
        ),
    )
}

_SKIPPED_DIRS = frozenset({".git", ".nox", ".tox", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache"})
_DOCKERFILE = re.compile(r"^(?:(?:Docker|Container)file(?:\..+)?|.+\.(?:docker|container)file)$", re.I)
# `templates/dockerfile.go`, `Dockerfile.md`: source code or documentation about a Dockerfile, never one.
_NOT_DOCKERFILES = frozenset(
    {".go", ".py", ".rs", ".js", ".ts", ".rb", ".java", ".kt", ".c", ".h", ".cpp", ".cs", ".php", ".md", ".rst",
     ".txt", ".json", ".toml", ".yml", ".yaml", ".html", ".lock", ".sum", ".mod", ".orig", ".rej", ".bak"}
)  # fmt: skip
_SHEBANG = re.compile(rb"^#!\s*\S*(?:/|env\s+)(?:ba|z|da|k)?sh\b")


@dataclass(frozen=True)
class AuditFinding:
    path: str
    line: int
    col: int
    rule: str
    severity: str
    message: str
    snippet: str = ""
    fix: str = ""  # the fix this finding's message ends with (the rule's, or one naming the case at hand)

    def text(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.rule} {self.message}"


@dataclass
class AuditReport:
    files: int = 0
    findings: list[AuditFinding] = field(default_factory=list)
    allowed: int = 0
    excluded: int = 0  # files the audit would read that `audit.exclude` skipped

    @property
    def errors(self) -> list[AuditFinding]:
        return [finding for finding in self.findings if finding.severity == "error"]

    def summary(self) -> str:
        warnings = len(self.findings) - len(self.errors)
        skipped = f", {self.excluded} skipped by audit.exclude" if self.excluded else ""
        return (
            f"audit: {self.files} files{skipped}, {len(self.errors)} error(s), {warnings} warning(s), "
            f"{self.allowed} allowed by [[tool.reprotasks.audit.allow]]"
        )


def _included_makefile(name: str, suffix: str) -> bool:
    """`Makefile.common` (prometheus' shared rules, included by its Makefile), `Makefile.inc`: make
    syntax under another name; never `Makefile.md` and the like."""
    return name.startswith(("Makefile.", "makefile.", "GNUmakefile.")) and suffix.lower() not in _NOT_DOCKERFILES


def _kind(relative: str) -> str | None:
    # Plain string work: this runs for every file of the tree (pathlib objects cost 10x more).
    directory, _, name = relative.rpartition("/")
    stem, dot, suffix = name.rpartition(".")
    suffix = f".{suffix}" if dot and stem else ""
    if _DOCKERFILE.match(name) and suffix.lower() not in _NOT_DOCKERFILES:
        return "dockerfile"
    if suffix in (".yml", ".yaml"):
        if directory.endswith(".github/workflows"):
            return "workflow"
        if stem == "action":
            return "action"
        return None
    if name in ("Makefile", "GNUmakefile", "makefile") or suffix == ".mk" or _included_makefile(name, suffix):
        return "makefile"
    if name == "go.mod":
        return "go.mod"
    if name in ("noxfile.py", "tasks.py"):
        return "python-tasks"
    if suffix in (".sh", ".bash"):
        return "shell"
    if not suffix:
        return "maybe-shell"
    return None


def candidate_files(
    root: Path, exclude: tuple[str, ...], dist: str, runner: Runner, excluded_count: list[int] | None = None
) -> Iterator[tuple[str, str]]:
    """(project-relative path, kind) of every file the audit reads; ``excluded_count[0]`` counts the
    files it would read that ``exclude`` skips."""
    parent, _, name = dist.rpartition("/")
    staging = f"{parent}/.{name}-" if parent else f".{name}-"
    excluded = re.compile("|".join(fnmatch.translate(pattern) for pattern in exclude) or "(?!)")
    for relative in _listing(root, runner):
        kind = _kind(relative)
        # dist/ and, beside it, the staging directories of build and release (.dist-stage-*, .dist-release-*).
        if kind is None or relative.startswith((f"{dist}/", staging)):
            continue
        if excluded.match(relative):
            if excluded_count is not None:
                excluded_count[0] += 1
            continue
        # A submodule is listed as one entry (a gitlink): a directory, audited in its own repository.
        # A symlink is audited where its target is (a tracked file is listed itself); one to a
        # directory, outside the project or nowhere is not a file of this project to audit.
        try:
            mode = os.lstat(os.path.join(root, relative)).st_mode  # noqa: PTH118 - once per file of the tree
        except OSError:
            mode = stat.S_IFREG  # gone or unreadable: reading it says which (RT-F001)
        if stat.S_ISDIR(mode) or stat.S_ISLNK(mode):
            continue
        yield relative, kind


def _listing(root: Path, runner: Runner) -> list[str]:
    try:
        result = runner.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--deduplicate"],
            cwd=root,
            check=False,
            purpose="list the files to audit",
            quiet=True,
        )
    except ReprotasksError:  # no git: walk the tree instead
        result = None
    if result is not None and result.returncode == 0:
        names = {name for name in result.stdout.split("\0") if name}
    else:
        names = set()
        for directory, subdirs, files in os.walk(root):
            subdirs[:] = sorted(d for d in subdirs if d not in _SKIPPED_DIRS)
            base = Path(directory).relative_to(root)
            names.update((base / name).as_posix() for name in files)
    return sorted(names)


def _read(path: Path, kind: str) -> tuple[str | None, memo.Raw | None, str]:
    """(text or None when there is none to audit, the problem reading it, digest of its bytes or "")."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, (1, 1, "RT-F001", f"cannot be read ({exc.strerror or exc})", ""), ""
    digest = memo.content_digest(data)
    if kind == "maybe-shell" and not _SHEBANG.match(data[:128]):
        return None, None, digest
    if b"\0" in data[:8192]:
        return None, (1, 1, "RT-F002", "is a binary file", ""), digest
    try:
        return data.decode("utf-8"), None, digest
    except UnicodeDecodeError:
        return None, (1, 1, "RT-F002", "is not UTF-8 text", ""), digest


def _finding(path: str, line: int, col: int, rule: str, detail: str = "", snippet: str = "") -> AuditFinding:
    spec = RULES[rule]
    what = detail or (f"`{snippet}`" if snippet else spec.name)
    fix = spec.fix
    if rule == "RT-W001" and "@" in snippet:  # name the action at hand, not an example
        action, _, ref = snippet.partition("@")
        fix = f"pin the full commit SHA with the tag in a comment: `uses: {action}@<40-hex sha> # {ref}`"
    if rule == "RT-D001" and snippet and not set("@$ ") & set(snippet):  # the image at hand
        fix = f"pin the digest: `{snippet}@sha256:<digest>` (`docker buildx imagetools inspect {snippet}` shows it)"
    return AuditFinding(path, line, col, rule, spec.severity, f"{what}: {spec.why} -- {fix}", str(snippet), fix)


_FROM_LINE = re.compile(r"^[ \t]*FROM[ \t]+\S", re.I | re.M)


def _hits(kind: str, text: str, relative: str) -> Iterator[tuple[str, int, int, str]]:
    if kind == "dockerfile":
        # Dockerfile.NAME and NAME.dockerfile are often something else (a template, a note): one
        # holds a FROM instruction (a bare Dockerfile without one is a finding of its own).
        named = relative.rpartition("/")[2] in ("Dockerfile", "Containerfile", "dockerfile", "containerfile")
        if named or _FROM_LINE.search(text):
            yield from _audit_files.dockerfile(text)
    elif kind in ("workflow", "action"):
        document = yamldoc.load(text)
        yield from _audit_files.workflow(document, is_workflow=kind == "workflow", lines=text.splitlines())
    elif kind == "makefile":
        yield from _audit_files.makefile(text)
    elif kind == "go.mod":
        yield from _audit_files.go_mod(text, relative)
    elif kind == "python-tasks":
        yield from _audit_files.python_tasks(text)
    else:
        yield from _audit_files._script_hits(text, 1, 1)


@functools.lru_cache(maxsize=256)
def _is_hashed_lock(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    requirements = [
        line
        for line in text.replace("\\\n", " ").splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "-"))
    ]
    return bool(requirements) and all("--hash=" in line for line in requirements)


def _lock_checker(root: Path, relative: str) -> Callable[[str], bool]:
    """`-r NAME` resolved against the project root, then the file's own directory (inside the project only)."""
    base = PurePosixPath(relative).parent

    def check(name: str) -> bool:
        for candidate in (root / name, root / base / name):
            try:
                resolved = candidate.resolve()
            except (RuntimeError, OSError):  # a symlink loop (RuntimeError before Python 3.13)
                continue
            if resolved.is_relative_to(root.resolve()) and resolved.is_file():
                return _is_hashed_lock(resolved)
        return False

    return check


def _audit_file(root: Path, relative: str, kind: str) -> memo.Entry:
    """One file's result, independent of every other (runs in a pool); records the locks it consulted."""
    check = _lock_checker(root, relative)
    asked: dict[str, bool] = {}

    def recorded(name: str) -> bool:
        asked[name] = check(name)
        return asked[name]

    token = _audit_shell.hashed_lock.set(recorded)
    try:
        entry = _audit_text(root, relative, kind)
    finally:
        _audit_shell.hashed_lock.reset(token)
    entry.locks = asked
    return entry


def _real_path(root: Path, relative: str) -> Path:
    """The file ``relative`` names. git lists a name that is not UTF-8 with U+FFFD in place of the
    bad bytes; such a name is matched against the directory's raw names (one match or none)."""
    path = root / relative
    if "\ufffd" not in relative or os.path.lexists(path):
        return path
    try:
        names = os.listdir(os.fsencode(path.parent))  # noqa: PTH208 - raw bytes names
    except OSError:
        return path
    matches = [name for name in names if name.decode("utf-8", "replace") == path.name]
    return path.parent / os.fsdecode(matches[0]) if len(matches) == 1 else path


def _audit_text(root: Path, relative: str, kind: str) -> memo.Entry:
    text, problem, digest = _read(_real_path(root, relative), kind)
    entry = memo.Entry(kind, digest, text is not None, [problem] if problem else [])
    if text is None:
        return entry
    try:
        # dict.fromkeys: a YAML alias (`steps: *steps`) repeats the same lines; each is reported once
        hits = dict.fromkeys(_hits("shell" if kind == "maybe-shell" else kind, text, relative))
        entry.raws += [(line, col, rule, "", snippet) for rule, line, col, snippet in hits]
    except SyntaxError as exc:  # a noxfile.py/tasks.py that does not parse
        entry.raws.append((exc.lineno or 1, exc.offset or 1, "RT-F003", f"is not valid Python ({exc.msg})", ""))
    except RecursionError:  # e.g. YAML nested hundreds of levels deep: the parsers recurse
        entry.raws.append((1, 1, "RT-F003", "is nested too deeply to be parsed", ""))
    except yamldoc.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = (mark.line + 1) if mark is not None else 1
        col = (mark.column + 1) if mark is not None else 1
        detail = f"is not valid YAML ({getattr(exc, 'problem', exc)})"
        entry.raws.append((line, col, "RT-F003", detail, ""))
    return entry


def _audit_chunk(root: Path, chunk: list[tuple[str, str]]) -> list[memo.Entry]:
    return [_audit_file(root, relative, kind) for relative, kind in chunk]


# YAML parsing dominates on big trees; below this many files a process pool costs more than it saves.
_PARALLEL_FROM = 400


def _audit_fresh(root: Path, files: list[tuple[str, str]]) -> list[memo.Entry]:
    workers = min(os.cpu_count() or 1, 8)
    if len(files) < _PARALLEL_FROM or workers < 2:
        return _audit_chunk(root, files)
    import concurrent.futures

    size = max(50, len(files) // (workers * 4))
    chunks = [files[start : start + size] for start in range(0, len(files), size)]
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
        return [result for part in pool.map(_audit_chunk, [root] * len(chunks), chunks) for result in part]


def _unchanged(root: Path, relative: str, kind: str, entry: memo.Entry | None) -> bool:
    if entry is None or entry.kind != kind:
        return False
    try:
        with open(os.path.join(root, relative), "rb") as file:  # noqa: PTH118 - the hot path of a re-audit
            digest = memo.content_digest(file.read())
    except OSError:
        return False
    return memo.still_valid(entry, digest, _lock_checker(root, relative))


def _audit_all(root: Path, files: list[tuple[str, str]], *, use_cache: bool) -> list[memo.Entry]:
    """Every file's result: reused from the last run where its bytes and the rules are unchanged."""
    previous = memo.load(root) if use_cache else {}
    entries = {
        relative: previous[relative]
        for relative, kind in files
        if _unchanged(root, relative, kind, previous.get(relative))
    }
    stale = [(relative, kind) for relative, kind in files if relative not in entries]
    entries.update(zip((relative for relative, _ in stale), _audit_fresh(root, stale), strict=True))
    if stale or len(previous) != len(entries):
        memo.save(root, entries)
    return [entries[relative] for relative, _ in files]


def audit(config: Config, *, runner: Runner, use_cache: bool = True) -> AuditReport:
    report = AuditReport()
    allow = list(config.audit.allow)
    used = [False] * len(allow)
    skipped = [0]
    files = list(candidate_files(config.root, config.audit.exclude, config.rel(config.dist_dir), runner, skipped))
    report.excluded = skipped[0]
    for (relative, _), result in zip(files, _audit_all(config.root, files, use_cache=use_cache), strict=True):
        report.files += result.was_read
        shown = shown_name(relative)  # a name that is not UTF-8 (from the walk) is shown with \\x escapes
        for line, col, rule, detail, snippet in result.raws:
            finding = _finding(shown, line, col, rule, detail, snippet)
            matches = [i for i, entry in enumerate(allow) if _allows(entry, finding)]
            for index in matches:
                used[index] = True
            if matches:
                report.allowed += 1
            else:
                report.findings.append(finding)
    where = config.settings_file
    for index, entry in enumerate(allow):
        if not used[index]:
            described = ", ".join(f"{key} = {value!r}" for key, value in entry.items() if key != "reason")
            detail = f"[[tool.reprotasks.audit.allow]] entry {index + 1} ({described}) matched nothing"
            report.findings.append(_finding(where, 1, 1, "RT-A001", detail))
    report.findings.sort(key=lambda f: (f.path, f.line, f.col, f.rule))
    return report


def _allows(entry: Mapping[str, str], finding: AuditFinding) -> bool:
    if finding.rule == "RT-A001":
        return False
    if "rule" in entry and entry["rule"] != finding.rule:
        return False
    if "path" in entry and not fnmatch.fnmatch(finding.path, entry["path"]):
        return False
    return not ("match" in entry and entry["match"] not in finding.snippet + " " + finding.message)


def as_findings(report: AuditReport) -> list[Finding]:
    """Errors as verify-style findings (warnings are shown, never fail)."""
    findings = []
    for f in report.errors:
        fix = f.fix or RULES[f.rule].fix
        findings.append(Finding(f.path, f.line, f"{f.rule} {f.message.removesuffix(' -- ' + fix)}", fix))
    return findings


# --- output ---------------------------------------------------------------------------------


def as_text(report: AuditReport) -> str:
    return "".join(finding.text() + "\n" for finding in report.findings) + report.summary() + "\n"


def as_json(report: AuditReport) -> str:
    data = {
        "files": report.files,
        "errors": len(report.errors),
        "warnings": len(report.findings) - len(report.errors),
        "allowed": report.allowed,
        "findings": [asdict(finding) for finding in report.findings],
    }
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def as_sarif(report: AuditReport) -> str:
    rules = [
        {
            "id": rule.id,
            "name": rule.name,
            "shortDescription": {"text": rule.why},
            "help": {"text": rule.fix},
            "defaultConfiguration": {"level": rule.severity},
        }
        for rule in RULES.values()
    ]
    index = {rule_id: position for position, rule_id in enumerate(RULES)}
    results: list[dict[str, Any]] = [
        {
            "ruleId": finding.rule,
            "ruleIndex": index[finding.rule],
            "level": finding.severity,
            "message": {"text": finding.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": finding.path, "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": finding.line, "startColumn": finding.col},
                    }
                }
            ],
        }
        for finding in report.findings
    ]
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "reprotasks-audit",
                        "version": __version__,
                        "informationUri": "https://github.com/reprotasks/reprotasks",
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2, sort_keys=True) + "\n"
