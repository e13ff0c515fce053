"""The reproduce step: build the same commit again, somewhere else, under other conditions,
and prove every artifact comes out with the same digest.

The rebuild is a separate ``reprotasks build`` process in a fresh clone at another path, with
another umask, time zone, locale, HOME, user name, random extra environment variables and,
when ``faketime`` is installed, a clock three days ahead. Caches that are content-addressed
and verified (the Go build and module caches, the hash-locked build environment) are shared.

``reproduce --ref TAG --sums FILE`` rebuilds an older tag and compares with that release's
published SHA256SUMS instead of the current dist/.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from reprotasks import _cache
from reprotasks._distdir import DistDir
from reprotasks._files import sha256_file
from reprotasks._run import Runner
from reprotasks.artifacts import evidence as _evidence
from reprotasks.artifacts import source as _source
from reprotasks.artifacts.checksum import read_sums
from reprotasks.artifacts.explain import explain
from reprotasks.artifacts.layout import SUMS_NAME, kind_of, read_regular, sha256_regular
from reprotasks.artifacts.manifest import MANIFEST_NAME, Manifest, manifest_from_bytes, recorded_lock, require_manifest
from reprotasks.config import Config
from reprotasks.errors import DriftError, Finding, ReprotasksError

_FIX = (
    "find the non-determinism named above (a time stamp, an absolute path, an unordered listing, the "
    "machine's locale or user) and remove it, then run build and reproduce again"
)
_REBUILD = "run `reprotasks build` again to restore the first build (never edit dist/ by hand), then reproduce"
# Derived artifacts by kind, and the step that makes them again from the rebuilt archives.
_DERIVED_STEPS = (("oci-image", "image"), ("linux-package", "package"))
_VARIED_AWAY = ("HOME", "USER", "LOGNAME", "TZ", "LANG", "LANGUAGE")


@dataclass(frozen=True)
class Comparison:
    name: str
    status: str  # identical | differs | missing | extra | not rebuilt
    first: str | None = None
    second: str | None = None
    explanation: str = ""


@dataclass(frozen=True)
class ReproduceReport:
    reference: str
    commit: str
    conditions: tuple[str, ...]
    comparisons: tuple[Comparison, ...]

    def rows(self) -> list[tuple[str, str]]:
        rows = [("rebuilt under", ", ".join(self.conditions)), ("compared with", self.reference)]
        rows += [(item.name, item.status) for item in self.comparisons]
        return rows


@dataclass(frozen=True)
class _Baseline:
    """What the rebuild is compared with: the first build in dist/, or a release's published SHA256SUMS."""

    label: str
    expected: dict[str, str]  # file name -> sha256
    source: _source.Source
    build_args: list[str]
    derived: tuple[str, ...]  # the steps the rebuild runs after build (image, package)
    reference: Manifest | None = None  # dist/'s manifest (None for a release's SHA256SUMS)


def reproduce(
    config: Config,
    dist: DistDir,
    *,
    runner: Runner,
    ref: str | None = None,
    sums: Path | None = None,
    published: Path | None = None,
) -> ReproduceReport:
    """Rebuild and compare; raises DriftError naming (and explaining) every differing artifact.
    ``published``: a directory holding the release's files (with --ref), to explain differences."""
    dist_shown = dist.rel()
    if ref is None:
        if sums is not None:
            raise ReprotasksError(
                "--sums is only used with --ref", hint="pass --ref TAG too, or drop --sums to compare with dist/"
            )
        baseline = _first_build(config, dist, runner=runner)
    else:
        baseline = _published_release(config, ref, sums, runner=runner)
    with tempfile.TemporaryDirectory(prefix="reprotasks-reproduce-") as scratch:
        rebuilt_dist, conditions = _rebuild(
            config, baseline.source, Path(scratch), baseline.build_args, runner=runner, derived=baseline.derived
        )
        comparisons = _compare(
            published if ref is not None else dist.path,
            baseline.expected,
            rebuilt_dist,
            runner=runner,
            against_sums=ref is not None,
        )
    report = ReproduceReport(baseline.label, baseline.source.commit, conditions, tuple(comparisons))
    findings = [_finding(dist_shown, item) for item in comparisons if item.status in ("differs", "missing", "extra")]
    if ref is not None and not any(item.status == "identical" for item in comparisons):
        findings.append(
            Finding(str(sums), None, "no file it lists was produced by the rebuild", "pass the SHA256SUMS of this tag")
        )
    if findings:
        raise DriftError(findings, step="reproduce")
    if baseline.reference is not None:  # every file of dist/, manifest included, came out of the independent rebuild
        _evidence.record_reproduction(baseline.reference, conditions)
    return report


def _first_build(config: Config, dist: DistDir, *, runner: Runner) -> _Baseline:
    """dist/ as the first build of HEAD left it: every artifact its manifest lists, with that sha256."""
    dist_shown = dist.rel()
    manifest_path = require_manifest(
        dist.path,
        dist_shown,
        missing=f"{dist_shown}/{MANIFEST_NAME} is missing: there is no first build to compare with",
        hint="run `reprotasks build` first (or `nox -s build reproduce`)",
        step="reproduce",
    )
    # Read once: the bytes compared with the rebuild's are the bytes parsed (and later vouched for).
    manifest_data = read_regular(manifest_path)
    reference = _parsed(manifest_data, f"{dist_shown}/{MANIFEST_NAME}")
    source = _source.describe_source(config.root, runner=runner)
    _source.require_built_from(
        reference.source.get("commit"),
        source,
        dist_shown,
        hint="run `reprotasks build` to build HEAD, then reproduce it",
    )
    expected = _recorded_digests(dist, reference)
    expected[MANIFEST_NAME] = hashlib.sha256(manifest_data).hexdigest()
    build_args = _selection(reference)
    if recorded_lock(reference.python) is not None:
        # No committed build lock: the rebuild installs exactly what the first build resolved.
        build_args.append(f"--from-manifest={manifest_path.resolve()}")
    kinds = {record.kind for record in reference.artifacts}
    derived = tuple(step for kind, step in _DERIVED_STEPS if kind in kinds)
    return _Baseline(f"{dist_shown}/ (first build)", expected, source, build_args, derived, reference)


def _recorded_digests(dist: DistDir, reference: Manifest) -> dict[str, str]:
    """The sha256 of each artifact in dist/, refused unless it is there and has the recorded sha256."""
    dist_shown = dist.rel()
    # Never through a symlink: what is compared is what dist/ itself holds.
    missing = [record.name for record in reference.artifacts if kind_of(dist / record.name) is not None]
    if missing:
        raise ReprotasksError(
            f"{dist_shown}/ lacks {', '.join(missing)}, listed in its {MANIFEST_NAME}",
            hint="run `reprotasks build` again to restore the first build",
        )
    expected = {record.name: sha256_regular(dist / record.name) for record in reference.artifacts}
    unlike = [record.name for record in reference.artifacts if expected[record.name] != record.sha256]
    if unlike:
        raise DriftError(
            [
                Finding(f"{dist_shown}/{name}", None, f"does not have the sha256 its {MANIFEST_NAME} records", _REBUILD)
                for name in unlike
            ],
            step="reproduce",
        )
    return expected


def _published_release(config: Config, ref: str, sums: Path | None, *, runner: Runner) -> _Baseline:
    """The tag ``ref`` and the SHA256SUMS its release published."""
    if sums is None:
        raise ReprotasksError(
            f"--ref {ref} needs the release's published checksums to compare with",
            hint=f"download that release's {SUMS_NAME} and pass it with --sums FILE",
        )
    if not sums.is_file():
        raise ReprotasksError(f"--sums {sums}: no such file", hint=f"pass the path of the release's {SUMS_NAME}")
    problems, listed = read_sums(sums, str(sums))
    if problems:
        raise DriftError(problems, step="reproduce")
    if not listed:
        raise ReprotasksError(f"{sums} lists no file", hint=f"pass the release's real {SUMS_NAME}")
    expected = {name: digest for name, (digest, _line) in listed.items()}
    source = _source.describe_source(config.root, runner=runner, ref=ref)
    # A tag's own configuration says which images and packages it makes (none: the steps do nothing).
    return _Baseline(f"{sums} ({ref})", expected, source, [], derived=tuple(step for _kind, step in _DERIVED_STEPS))


def _parsed(data: bytes, shown: str) -> Manifest:
    try:
        return manifest_from_bytes(data)
    except (ValueError, TypeError) as exc:
        raise ReprotasksError(f"{shown} is not a reprotasks build manifest ({exc})", hint=_REBUILD) from None


def _selection(reference: Manifest) -> list[str]:
    """Build arguments that rebuild exactly the parts the first build made."""
    args: list[str] = []
    if reference.python is None:
        args.append("--go-only")
    if reference.go is None:
        args.append("--python-only")
    for record in reference.artifacts:
        if record.kind == "go-archive" and f"--platform={record.platform}" not in args:
            args.append(f"--platform={record.platform}")
    return args


def _go_caches(config: Config, runner: Runner) -> dict[str, str]:
    if config.go.module is None or runner.which("go") is None:
        return {}
    result = runner.run(
        ["go", "env", "GOCACHE", "GOMODCACHE", "GOPATH"],
        cwd=config.go.module,
        check=False,
        purpose="find the Go caches to share with the rebuild",
        quiet=True,
    )
    values = result.stdout.splitlines()
    if result.returncode != 0 or len(values) != 3:
        return {}
    return {name: value for name, value in zip(("GOCACHE", "GOMODCACHE", "GOPATH"), values, strict=True) if value}


def _rebuild(
    config: Config,
    source: _source.Source,
    scratch: Path,
    build_args: list[str],
    *,
    runner: Runner,
    derived: tuple[str, ...],
) -> tuple[Path, tuple[str, ...]]:
    """Clone ``source`` deeper under ``scratch`` and build it in a child process; returns its dist/."""
    place = scratch / "an" / "other" / "place"
    place.mkdir(parents=True)
    home = scratch / "home"
    home.mkdir()
    runner.log(f"reproduce: clean copy of commit {source.commit[:12]} in another directory")
    project = _source.clean_copy(
        source, place / "checkout", runner=runner, exclude_submodules=config.exclude_submodules
    )
    current_umask = os.umask(0o022)
    os.umask(current_umask)
    umask = 0o002 if current_umask & 0o077 == 0o077 else 0o077
    environment = {key: value for key, value in os.environ.items() if key not in _VARIED_AWAY}
    environment = {key: value for key, value in environment.items() if not key.startswith("LC_")}
    noise = f"NOISE_{secrets.token_hex(4).upper()}"
    environment.update(
        {
            "HOME": str(home),
            "USER": "rebuilder",
            "LOGNAME": "rebuilder",
            "TZ": "Pacific/Kiritimati",
            "LANG": "de_DE.UTF-8",
            "LC_ALL": "de_DE.UTF-8",
            noise: secrets.token_hex(16),
            # Its own cache: the rebuild makes a fresh build environment from the lock, so one
            # poisoned environment can never make both builds agree.
            "REPROTASKS_CACHE_DIR": str(scratch / "cache"),
            # Registry credentials for base images (another HOME would hide ~/.docker/config.json).
            "DOCKER_CONFIG": os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker"),
            # The tools reprotasks builds itself (nFPM), by version: shared like Go's module cache.
            "REPROTASKS_TOOLS_DIR": str(_cache.tools_dir()),
            **_go_caches(config, runner),
        }
    )
    conditions = [
        "another path",
        f"umask {umask:03o}",
        "TZ=Pacific/Kiritimati",
        "LC_ALL=de_DE.UTF-8",
        "another HOME and user",
        f"extra variable {noise}",
        "a fresh build environment",
    ]
    argv = [sys.executable, "-m", "reprotasks", "-C", str(project), "build", "--force", *build_args]
    if runner.which("faketime") is not None:
        argv = ["faketime", "-f", "+3d", *argv]
        conditions.append("clock +3 days (faketime)")
    else:
        conditions.append("same clock (install faketime to shift it)")
    runner.log("reproduce: rebuilding the commit elsewhere, under other conditions (the summary lists them)")
    runner.run(argv, cwd=place, env=environment, replace_env=True, umask=umask, purpose="rebuild the release")
    for step in derived:  # the first build's images and packages, made again from the rebuilt archives
        step_argv = [sys.executable, "-m", "reprotasks", "-C", str(project), step]
        if argv[0] == "faketime":
            step_argv = [*argv[:3], *step_argv]
        runner.run(step_argv, cwd=place, env=environment, replace_env=True, umask=umask, purpose=f"remake ({step})")
    rebuilt = project / config.rel(config.dist_dir)
    return rebuilt, tuple(conditions)


def _compare(
    first_dist: Path | None, expected: dict[str, str], rebuilt: Path, *, runner: Runner, against_sums: bool
) -> list[Comparison]:
    produced = {path.name: sha256_file(path) for path in sorted(rebuilt.iterdir()) if path.is_file()}
    comparisons: list[Comparison] = []
    for name in sorted(expected.keys() | produced.keys()):
        first, second = expected.get(name), produced.get(name)
        if first is None:
            comparisons.append(Comparison(name, "not in the published sums" if against_sums else "extra", None, second))
        elif second is None:
            comparisons.append(Comparison(name, "not rebuilt" if against_sums else "missing", first, None))
        elif first == second:
            comparisons.append(Comparison(name, "identical", first, second))
        else:
            if first_dist is None or not (first_dist / name).is_file():
                explanation = "download the published file and run `diffoscope` on it and the rebuilt one to see why"
            else:
                explanation = explain(first_dist / name, rebuilt / name, runner=runner)
            comparisons.append(Comparison(name, "differs", first, second, explanation))
    return comparisons


def _finding(dist_shown: str, item: Comparison) -> Finding:
    where = f"{dist_shown}/{item.name}"
    if item.status == "missing":
        return Finding(where, None, "was not produced by the rebuild", _FIX)
    if item.status == "extra":
        return Finding(where, None, "was produced only by the rebuild", _FIX)
    problem = f"differs when rebuilt: sha256 {item.first} (first) vs {item.second} (rebuild)"
    return Finding(where, None, problem, _FIX, item.explanation)
