"""Shared fixtures: a local wheelhouse of real wheels, small projects, copies of examples/hybrid
(fresh, or in a state prepared once per session), the local Sigstore instance and an OCI registry."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import registry as _registry
from tests import sigstack as _sigstack

REPO = Path(__file__).resolve().parent.parent
HYBRID = REPO / "examples" / "hybrid"
RUNNING_PYTHON = ".".join(str(part) for part in sys.version_info[:3])

# name, version, requirements
WHEELS = [
    ("alpha", "1.0", ["beta>=1"]),
    ("alpha", "1.1", ["beta>=1"]),
    ("beta", "1.0", []),
    ("beta", "2.0", []),
    ("gamma", "0.1", []),
    ("gamma", "0.2", []),
]


def build_wheel(directory: Path, name: str, version: str, requires: list[str]) -> Path:
    """A real, installable pure-Python wheel (what a build backend would write)."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f'__version__ = "{version}"\n',
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            + "".join(f"Requires-Dist: {req}\n" for req in requires)
        ),
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: reprotasks-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    path = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in files.items():
            data = text.encode()
            archive.writestr(zipfile.ZipInfo(member, (2020, 1, 1, 0, 0, 0)), data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{member},sha256={digest},{len(data)}")
        record.append(f"{dist_info}/RECORD,,")
        archive.writestr(zipfile.ZipInfo(f"{dist_info}/RECORD", (2020, 1, 1, 0, 0, 0)), "\n".join(record) + "\n")
    return path


# A test that starts from examples/hybrid runs its real build (and often sign, release) end to end.
END_TO_END_FIXTURES = frozenset({"hybrid", "hybrid_repo", "prepared_hybrid", "stack"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark end-to-end tests ``e2e`` and run them first, the Sigstore ones first of all: the longest
    tests start while the other worker still has short ones to take (xdist deals tests in order).

    Tests that share what a worker makes once per session run on one worker (``--dist loadgroup``):
    those of the local Sigstore instance, and those of each module that start from a prepared
    state of examples/hybrid. Each is then made once per run, not once per worker."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if END_TO_END_FIXTURES & fixtures:
            item.add_marker(pytest.mark.e2e)
        if item.get_closest_marker("sigstack") is not None:
            item.add_marker(pytest.mark.xdist_group("sigstack"))
        elif "prepared_hybrid" in fixtures:
            item.add_marker(pytest.mark.xdist_group(f"prepared-{item.path.stem}"))
    items.sort(key=lambda item: (item.get_closest_marker("sigstack") is None, item.get_closest_marker("e2e") is None))


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("wheelhouse")
    for name, version, requires in WHEELS:
        build_wheel(directory, name, version, requires)
    return directory


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own verify cache, and no stray REPROTASKS_* settings leak in."""
    for name in list(os.environ):
        if name.startswith("REPROTASKS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("REPROTASKS_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


MakeProject = Callable[..., Path]


@pytest.fixture
def make_project(tmp_path: Path, wheelhouse: Path) -> MakeProject:
    """A Python-only project resolving from the local wheelhouse."""

    def make(requirements: str = "alpha\ngamma\n", extra_config: str = "", name: str = "proj") -> Path:
        root = tmp_path / name
        root.mkdir()
        (root / "pyproject.toml").write_text(
            "[project]\nname = 'proj'\nversion = '1.0'\n\n"
            "[tool.reprotasks.python]\n"
            f"find-links = [{str(wheelhouse)!r}]\nno-index = true\n" + extra_config,
            encoding="utf-8",
        )
        (root / ".python-version").write_text(RUNNING_PYTHON + "\n", encoding="utf-8")
        (root / "requirements.in").write_text(requirements, encoding="utf-8")
        return root

    return make


@pytest.fixture(scope="session")
def _hybrid_build_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The build environment of examples/hybrid's build lock, made once per session (per worker)
    by the code a build runs, in a cache directory of its own: ``build-env/<key>``."""
    from reprotasks._run import Runner
    from reprotasks.python.package import build_environment

    cache = tmp_path_factory.mktemp("hybrid-build-env")
    previous = os.environ.get("REPROTASKS_CACHE_DIR")
    os.environ["REPROTASKS_CACHE_DIR"] = str(cache)
    try:
        lock = HYBRID / "build-requirements.txt"
        build_environment(lock, "build-requirements.txt", runner=Runner(HYBRID, log=lambda _line: None))
    finally:
        if previous is None:
            del os.environ["REPROTASKS_CACHE_DIR"]
        else:
            os.environ["REPROTASKS_CACHE_DIR"] = previous
    return cache / "build-env"


@pytest.fixture
def hybrid(tmp_path: Path, _hybrid_build_env: Path) -> Path:
    """A private copy of examples/hybrid (its Go module resolves through GOMODCACHE).

    The test's cache directory starts with a copy of the hybrid's build environment, as a cache
    that built once before would: a build checks it against the lock before every use (and
    rebuilds a poisoned one), so no test trusts another's; making it is the costly part of a
    first build, paid once per worker instead of once per test."""
    target = copy_hybrid(tmp_path / "hybrid")
    shutil.copytree(_hybrid_build_env, Path(os.environ["REPROTASKS_CACHE_DIR"]) / "build-env", symlinks=True)
    return target


def copy_hybrid(target: Path) -> Path:
    """examples/hybrid copied to ``target`` without its `[[tool.reprotasks.packages]]`: every step
    after build would re-make them (pip installs, nFPM), and only tests/test_packages.py, which
    puts them back, is about them."""

    shutil.copytree(HYBRID, target, ignore=shutil.ignore_patterns(".nox", "__pycache__", "dist"))
    without_packages(target / "pyproject.toml")
    return target


def without_packages(pyproject: Path) -> None:
    import tomlkit

    document = tomlkit.parse(pyproject.read_text(encoding="utf-8"))
    document["tool"]["reprotasks"].pop("packages")
    pyproject.write_text(tomlkit.dumps(document), encoding="utf-8")


def run_module(
    module: str, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m MODULE ARGS`` (nox, invoke, reprotasks) as a real process."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, umask: int = 0o022
) -> subprocess.CompletedProcess[str]:
    """``python -m reprotasks ARGS`` as a real process (so tracebacks would show)."""
    return subprocess.run(
        [sys.executable, "-m", "reprotasks", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        umask=umask,
    )


def cli(root: Path, *args: str, env: dict[str, str] | None = None, code: int | None = None) -> str:
    """``reprotasks ARGS`` in ``root``: its output, asserting no traceback (and the exit code, if given)."""
    result = run_cli(*args, cwd=root, env=env)
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    if code is not None:
        assert result.returncode == code, output
    return output


@pytest.fixture
def go_env() -> Iterator[dict[str, str]]:
    """Pin the go command to the installed toolchain so tests never download another one."""
    yield {"GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"}


# Fixed identity and dates: the same tree committed twice gives the same commit (and epoch).
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Release Bot",
    "GIT_AUTHOR_EMAIL": "bot@example.com",
    "GIT_COMMITTER_NAME": "Release Bot",
    "GIT_COMMITTER_EMAIL": "bot@example.com",
    "GIT_AUTHOR_DATE": "2024-02-03T04:05:06Z",
    "GIT_COMMITTER_DATE": "2024-02-03T04:05:06Z",
}


def git(*args: str, cwd: Path) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def commit_all(root: Path, message: str = "release") -> str:
    """``git init`` (once), add everything, commit; returns the commit id."""
    if not (root / ".git").exists():
        git("init", "--quiet", "--initial-branch=main", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "--quiet", "--allow-empty", "-m", message, cwd=root)
    return git("rev-parse", "HEAD", cwd=root)


@pytest.fixture
def hybrid_repo(hybrid: Path, go_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Path:
    """examples/hybrid as its own committed git repository, Go pinned to the local toolchain."""
    for name, value in go_env.items():
        monkeypatch.setenv(name, value)
    commit_all(hybrid)
    return hybrid


Prepare = Callable[[Path], None]


class PreparedStates:
    """States of examples/hybrid that are expensive to reach (built, signed...), each made once per
    session (per xdist worker) and handed to every test that starts from it as a private copy.

    A state lives at a fixed path per name (``bench/NAME``) with its own REPROTASKS_CACHE_DIR
    beside it: build reuse is keyed by the dist/ path, so a copy is byte for byte and path for
    path what the test would have made itself (its build records, build environment, reuse).
    Each test gets the bench wiped and restored from the kept copy, so nothing leaks between tests.
    """

    def __init__(self, base: Path) -> None:
        self._bench = base / "bench"
        self._kept = base / "kept"
        self._made: set[str] = set()

    def checkout(self, name: str, prepare: Prepare, monkeypatch: pytest.MonkeyPatch) -> Path:
        bench, kept = self._bench / name, self._kept / name
        if bench.exists():
            shutil.rmtree(bench)
        if name in self._made:
            shutil.copytree(kept, bench, symlinks=True)
        monkeypatch.setenv("REPROTASKS_CACHE_DIR", str(bench / "cache"))
        project = bench / "hybrid"
        if name not in self._made:
            (bench / "cache").mkdir(parents=True)
            copy_hybrid(project)
            commit_all(project)
            prepare(project)
            shutil.copytree(bench, kept, symlinks=True)
            self._made.add(name)
        return project


@pytest.fixture(scope="session")
def _prepared_states(tmp_path_factory: pytest.TempPathFactory) -> PreparedStates:
    return PreparedStates(tmp_path_factory.mktemp("prepared"))


PreparedHybrid = Callable[[str, Prepare], Path]


@pytest.fixture
def prepared_hybrid(
    _prepared_states: PreparedStates, go_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> PreparedHybrid:
    """``prepared_hybrid(NAME, PREPARE)``: a private, committed examples/hybrid on which PREPARE(root)
    has run (once per session for each NAME), with the cache directory PREPARE left; Go pinned
    to the local toolchain as in ``hybrid_repo``. Only for tests that start *after* PREPARE's
    steps, never for tests of those steps themselves."""
    for name, value in go_env.items():
        monkeypatch.setenv(name, value)

    def checkout(name: str, prepare: Prepare) -> Path:
        return _prepared_states.checkout(name, prepare, monkeypatch)

    return checkout


def run_steps(root: Path, *steps: str) -> None:
    """``reprotasks STEP`` for each step, in order, each one required to succeed."""
    for step in steps:
        result = run_cli(step, cwd=root)
        assert result.returncode == 0, f"{step}:\n{result.stdout}{result.stderr}"
        assert "Traceback" not in result.stderr


# The local Sigstore instance (tests/sigstack.py), started once per session (per xdist worker).
stack = pytest.fixture(scope="session", name="stack")(_sigstack.stack_fixture)

# A real OCI registry on 127.0.0.1 (one per test module) and crane on PATH: tests/registry.py.
registry = pytest.fixture(scope="module", name="registry")(_registry.registry_fixture)
crane_on_path = pytest.fixture(name="crane_on_path")(_registry.crane_on_path_fixture)
referrers_registry = pytest.fixture(scope="module", name="referrers_registry")(_registry.referrers_registry_fixture)
