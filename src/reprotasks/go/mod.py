"""Go module helpers: read go.mod pins, tidy atomically, and find drift with go's own checks."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from reprotasks import _journal
from reprotasks._run import Runner, tail
from reprotasks.errors import Finding
from reprotasks.python.lockfile import read_text

_GO_LINE = re.compile(r"^go\s+(?P<version>\S+)")
_TOOLCHAIN_LINE = re.compile(r"^toolchain\s+(?P<name>\S+)")
_EXACT = re.compile(r"^\d+\.\d+\.\d+$")
_MISMATCH = re.compile(r"verifying (?P<module>\S+?)@(?P<version>\S+?)(?P<gomod>/go\.mod)?: checksum mismatch")
_RELOCK = "run `reprotasks lock` (go mod tidy) and commit go.mod and go.sum"


@dataclass(frozen=True)
class GoPins:
    go_version: str | None
    go_line: int | None
    toolchain: str | None
    toolchain_line: int | None
    # An exact version in a `.go-version` file (actions/setup-go's `go-version-file`, goenv):
    # what the repository's own CI builds with.
    version_file: Path | None = None
    file_version: str | None = None

    @property
    def pinned(self) -> str | None:
        """The exact toolchain this module is built with (``go1.X.Y``), or None when none is exact:
        go.mod's `toolchain` line, else `.go-version`, else an exact `go X.Y.Z` line (the oldest Go
        the module accepts, which a `.go-version` beside it overrides, as the repository's CI does)."""
        if self.toolchain and self.toolchain != "default":
            return self.toolchain
        if self.file_version:
            return f"go{self.file_version}"
        if self.go_version and _EXACT.match(self.go_version):
            return f"go{self.go_version}"
        return None

    @property
    def from_version_file(self) -> bool:
        """Whether the pin is `.go-version`'s (go.mod has no `toolchain` line)."""
        return (
            self.pinned is not None and not (self.toolchain and self.toolchain != "default") and bool(self.file_version)
        )


def read_pins(module: Path, shown: str | None = None) -> GoPins:
    """The ``go`` and ``toolchain`` lines of go.mod (``shown``: how messages name go.mod)."""
    go_version = toolchain = None
    go_line = toolchain_line = None
    text = read_text(module / "go.mod", shown, fix="go.mod is UTF-8 text: fix it (or restore it), then " + _RELOCK)
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.split("//", 1)[0].strip()
        if match := _GO_LINE.match(stripped):
            go_version, go_line = match["version"], number
        elif match := _TOOLCHAIN_LINE.match(stripped):
            toolchain, toolchain_line = match["name"], number
    version_file, file_version = go_version_file(module)
    return GoPins(go_version, go_line, toolchain, toolchain_line, version_file, file_version)


def go_version_file(module: Path) -> tuple[Path | None, str | None]:
    """The nearest `.go-version` from ``module`` up to its repository's root, and the exact version
    it names (``1.26.5`` or ``go1.26.5``); (None, None) without one, (path, None) when it names no
    exact version (``1.26``, ``stable``): then it pins nothing."""
    for directory in (module, *module.resolve().parents):
        candidate = directory / ".go-version"
        if candidate.is_file():
            lines = [line.strip() for line in read_text(candidate, ".go-version").splitlines() if line.strip()]
            version = (lines or [""])[0].removeprefix("go")
            return candidate, version if _EXACT.match(version) else None
        if (directory / ".git").exists():
            break
    return None, None


def tidy(module: Path, *, runner: Runner) -> bool:
    """``go mod tidy`` through -modfile on temporary copies, then move both into place as one change.

    go rewrites go.mod/go.sum in place; tidying copies means an interrupted run leaves the
    previous files whole, and the journal of ``replace_files`` means a kill between the two
    renames never leaves a new go.sum beside an old go.mod. Returns whether anything changed.
    """
    go_mod, go_sum = module / "go.mod", module / "go.sum"
    fd, name = tempfile.mkstemp(prefix=".reprotasks-tidy-", suffix=".mod", dir=module)
    os.close(fd)
    temp_mod = Path(name)
    temp_sum = temp_mod.with_suffix(".sum")
    try:
        shutil.copyfile(go_mod, temp_mod)
        if go_sum.exists():
            shutil.copyfile(go_sum, temp_sum)
        runner.run(["go", "mod", "tidy", f"-modfile={temp_mod.name}"], cwd=module, purpose="tidy go.mod and go.sum")
        changed = temp_mod.read_bytes() != go_mod.read_bytes()
        pairs = [(temp_mod, go_mod)]
        if temp_sum.exists():
            changed |= not go_sum.exists() or temp_sum.read_bytes() != go_sum.read_bytes()
            os.chmod(temp_sum, 0o644)
            pairs.insert(0, (temp_sum, go_sum))
        os.chmod(temp_mod, 0o644)
        if changed:
            _journal.replace_files(pairs, journal=_journal.journal_path(module, "go.mod"))
        return changed
    finally:
        temp_mod.unlink(missing_ok=True)
        temp_sum.unlink(missing_ok=True)


def download(module: Path, *, runner: Runner) -> None:
    runner.run(["go", "mod", "download"], cwd=module, purpose="download Go modules")


def running_version(module: Path, *, runner: Runner, toolchain: str | None = None) -> tuple[str | None, str]:
    """(GOVERSION the go command will use in ``module``, error text if go refused to run).

    ``toolchain``: a GOTOOLCHAIN to ask with (``local``: the version of the go binary itself).
    """
    result = runner.run(
        ["go", "env", "GOVERSION"],
        cwd=module,
        env={"GOTOOLCHAIN": toolchain} if toolchain else None,
        check=False,
        purpose="check the Go toolchain",
        quiet=True,
    )
    if result.returncode != 0:
        return None, (result.stderr or result.stdout).strip()
    words = result.stdout.split()
    return (words[0] if words else None), ""


def tidy_findings(module: Path, rel_module: str, *, runner: Runner) -> list[Finding]:
    """Drift between go.mod/go.sum and the code, from ``go mod tidy -diff`` (Go 1.23+)."""
    result = runner.run(["go", "mod", "tidy", "-diff"], cwd=module, check=False, purpose="check go.mod/go.sum")
    if result.returncode == 0:
        return []
    prefix = f"{rel_module}/" if rel_module != "." else ""
    mismatches = list(_MISMATCH.finditer(result.stderr))
    if mismatches:
        return [_checksum_finding(module, prefix, m) for m in mismatches]
    findings = _diff_findings(result.stdout, prefix)
    if findings:
        return findings
    return [
        Finding(
            f"{prefix}go.mod",
            None,
            "`go mod tidy -diff` failed:\n" + tail(result.stderr or result.stdout, 10),
            "fix the error go reports (Go 1.23 or newer is needed for -diff), then " + _RELOCK,
        )
    ]


def _checksum_finding(module: Path, prefix: str, match: re.Match[str]) -> Finding:
    entry = f"{match['module']} {match['version']}{match['gomod'] or ''}"
    line = None
    go_sum = module / "go.sum"
    if go_sum.is_file():
        data = read_text(go_sum, f"{prefix}go.sum", fix="restore go.sum (`git checkout -- go.sum`): it is UTF-8 text")
        for number, text in enumerate(data.splitlines(), start=1):
            if text.startswith(entry + " "):
                line = number
                break
    return Finding(
        f"{prefix}go.sum",
        line,
        f"checksum of {entry} does not match the module that was downloaded (go reports a SECURITY ERROR)",
        "if go.sum was edited by hand, restore it (`git checkout -- go.sum`); otherwise treat the "
        "dependency as tampered and investigate before releasing",
    )


def _diff_findings(diff: str, prefix: str) -> list[Finding]:
    findings: list[Finding] = []
    current: str | None = None
    line: int | None = None
    changes: list[str] = []

    def flush() -> None:
        if current is not None:
            shown = "; ".join(changes[:3]) + (f"; and {len(changes) - 3} more" if len(changes) > 3 else "")
            findings.append(
                Finding(f"{prefix}{current}", line, f"not tidy: {shown or 'differs from go mod tidy'}", _RELOCK)
            )

    for text in diff.splitlines():
        if text.startswith("diff "):
            flush()
            current = text.split()[-1].split("/", 1)[-1]
            line, changes = None, []
        elif text.startswith("@@") and line is None:
            hunk = re.match(r"@@ -(\d+)", text)
            line = int(hunk.group(1)) if hunk else None
        elif text.startswith(("+++", "---")):
            continue
        elif text.startswith("+") and text[1:].strip():
            changes.append(f"missing `{text[1:].strip()}`")
        elif text.startswith("-") and text[1:].strip():
            changes.append(f"extra `{text[1:].strip()}`")
    flush()
    return findings


def verify_findings(
    module: Path, rel_module: str, *, runner: Runner, env: dict[str, str] | None = None
) -> list[Finding]:
    result = runner.run(
        ["go", "mod", "verify"], cwd=module, check=False, purpose="verify downloaded Go modules", env=env
    )
    if result.returncode == 0:
        return []
    prefix = f"{rel_module}/" if rel_module != "." else ""
    output = result.stdout + result.stderr
    toolchain = re.search(r"go: download (go\d[\w.-]*): (golang\.org/toolchain@\S+): [^\n]*", output)
    if toolchain:  # go could not switch to the pinned toolchain: nothing was compared with go.sum
        return [
            Finding(
                f"{prefix}go.mod",
                None,
                f"the Go toolchain {toolchain.group(1)} it pins cannot be downloaded ({toolchain.group(2)}):\n"
                + tail(output, 4),
                f"check GOPROXY reaches {toolchain.group(1)} (a released Go version), or install it; to move to "
                "another Go, change the pin with `go mod edit -toolchain=...` and re-lock",
            )
        ]
    return [
        Finding(
            f"{prefix}go.sum",
            None,
            "`go mod verify` failed: the module cache does not match go.sum:\n"
            + tail(result.stdout + result.stderr, 10),
            "clear the cache with `go clean -modcache`, then run `reprotasks lock` and review the go.sum diff",
        )
    ]
