""".deb and .rpm packages of examples/hybrid's worker: reproducible, read by the distributions' tools.

examples/hybrid with a package of its worker (``PACKAGE``: the binary, a config file, a systemd
unit and a postinstall script, all in examples/hybrid/deploy/). It is built and packaged twice, from two clones in
different paths under other umasks, time zones and locales, and every package must be
byte-identical; dpkg-deb, dpkg (into a scratch root), rpm and lintian read them; sbom and
provenance re-make them, and a flipped bit is caught by `checksum --check` and sbom.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from reprotasks import _cache
from tests.conftest import HYBRID, commit_all, git, run_cli
from tests.sigstack import SigstoreStack

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

DEB = "hybrid-worker_0.3.0_amd64.deb"
RPM = "hybrid-worker-0.3.0-1.x86_64.rpm"
APP_DEB = "hybrid-orchestrator_0.3.0_amd64.deb"
APP_RPM = "hybrid-orchestrator-0.3.0-1.x86_64.rpm"
APP_ARM = ("hybrid-orchestrator_0.3.0_arm64.deb", "hybrid-orchestrator-0.3.0-1.aarch64.rpm")


@pytest.fixture
def packaged(hybrid_repo: Path) -> Path:
    """examples/hybrid with its pyproject.toml as committed, which configures both packages (the
    other tests' copies leave them out)."""
    shutil.copy(HYBRID / "pyproject.toml", hybrid_repo / "pyproject.toml")
    assert 'name = "hybrid-worker"' in (hybrid_repo / "pyproject.toml").read_text()
    commit_all(hybrid_repo, "package the worker and the CLI")
    return hybrid_repo


def tool(name: str) -> str:
    import os

    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed (.ci/run installs it)")
        pytest.skip(f"{name} is not installed")
    return found


def _package(root: Path, *, env: dict[str, str] | None = None, umask: int = 0o022) -> dict[str, bytes]:
    build = ("build", "--platform", "linux/amd64")  # the wheel, and the worker for one platform: enough here
    for argv in (build, ("package",)):
        result = run_cli(*argv, cwd=root, env=env, umask=umask)
        assert result.returncode == 0, f"{argv[0]}:\n{result.stdout}{result.stderr}"
    return {
        path.name: path.read_bytes() for path in sorted((root / "dist").glob("*")) if path.suffix in (".deb", ".rpm")
    }


def test_packages_are_reproducible_and_read_by_dpkg_rpm_and_lintian(packaged: Path, tmp_path: Path) -> None:
    first = _package(packaged)
    assert sorted(first) == sorted([RPM, DEB, APP_RPM, APP_DEB, *APP_ARM]), sorted(first)
    other = tmp_path / "a" / "much" / "longer" / "path" / "clone"
    git("clone", "--quiet", str(packaged), str(other), cwd=tmp_path)
    # Another HOME, with Go's caches and the tools directory kept (a cold Go cache costs only time).
    kept = subprocess.run(["go", "env", "GOCACHE", "GOMODCACHE"], capture_output=True, text=True, check=True)
    gocache, gomodcache = kept.stdout.split()
    other_env = {"TZ": "Asia/Tokyo", "LC_ALL": "C.UTF-8", "HOME": str(tmp_path), "GOCACHE": gocache,
                 "GOMODCACHE": gomodcache, "REPROTASKS_TOOLS_DIR": str(_cache.tools_dir()),
                 "PIP_CACHE_DIR": _pip_cache()}  # fmt: skip
    second = _package(other, env=other_env, umask=0o077)
    assert second == first, "the packages differ between two clones (path, umask, TZ, locale, HOME)"

    dist = packaged / "dist"
    info = subprocess.run([tool("dpkg-deb"), "--info", str(dist / DEB)], capture_output=True, text=True, check=True)
    assert "Package: hybrid-worker" in info.stdout and "Version: 0.3.0-1" in info.stdout
    assert "Depends: ca-certificates" in info.stdout and "conffiles" in info.stdout and "postinst" in info.stdout
    contents = subprocess.run(
        [tool("dpkg-deb"), "--contents", str(dist / DEB)], capture_output=True, text=True, check=True
    )
    for path in ("./usr/bin/worker", "./usr/lib/systemd/system/worker.service", "./etc/hybrid-worker/worker.toml"):
        assert path in contents.stdout, contents.stdout
    assert all(" root/root " in line or " 0/0 " in line for line in contents.stdout.splitlines()), contents.stdout
    # Installed into a scratch root (no chroot: unpacked and registered, the postinstall not run).
    scratch = tmp_path / "root"
    (scratch / "var" / "lib" / "dpkg" / "updates").mkdir(parents=True)
    (scratch / "var" / "lib" / "dpkg" / "status").touch()
    unpacked = subprocess.run(
        [tool("dpkg"), f"--root={scratch}", "--force-depends", "--force-not-root", "--unpack", str(dist / DEB)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert unpacked.returncode == 0, unpacked.stdout + unpacked.stderr
    assert (scratch / "usr" / "bin" / "worker").read_bytes() == _archived_worker(dist, tmp_path)
    assert (scratch / "etc" / "hybrid-worker" / "worker.toml.dpkg-new").is_file()  # a conffile, until configured
    status = subprocess.run(
        [tool("dpkg"), f"--root={scratch}", "--status", "hybrid-worker"], capture_output=True, text=True, check=True
    )
    assert "Status: install ok unpacked" in status.stdout and "Conffiles:" in status.stdout, status.stdout

    rpm = tool("rpm")
    query = subprocess.run([rpm, "-qip", str(dist / RPM)], capture_output=True, text=True, check=True)
    assert "hybrid-worker" in query.stdout and "Build Host  : reprotasks" in query.stdout
    listed = subprocess.run([rpm, "-qlp", str(dist / RPM)], capture_output=True, text=True, check=True).stdout
    assert "/usr/bin/worker" in listed and "/etc/hybrid-worker\n" in listed  # the package owns its directory
    config = subprocess.run([rpm, "-qcp", str(dist / RPM)], capture_output=True, text=True, check=True).stdout
    assert config.strip() == "/etc/hybrid-worker/worker.toml"
    checked = subprocess.run([rpm, "-Kv", str(dist / RPM)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0 and "digest: OK" in checked.stdout.replace("SHA256 digest: OK", "digest: OK")

    _check_app(dist, tmp_path)
    lintian = subprocess.run(
        [tool("lintian"), str(dist / DEB), str(dist / APP_DEB)], capture_output=True, text=True, check=False
    )
    errors = [line for line in lintian.stdout.splitlines() if line.startswith("E:")]
    print("lintian:\n" + lintian.stdout)
    assert errors == [], lintian.stdout


def _pip_cache() -> str:
    import sys

    found = subprocess.run([sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True, check=True)
    return found.stdout.strip()


def _check_app(dist: Path, tmp_path: Path) -> None:
    """The Python app's package: the wheel and its lock under /opt, a launcher that runs it with the
    system's python3, which it depends on; installed into a scratch root and run from there."""
    info = subprocess.run([tool("dpkg-deb"), "--info", str(dist / APP_DEB)], capture_output=True, text=True, check=True)
    assert "Depends: python3 (>= 3.11)" in info.stdout, info.stdout  # click & co. are pure: any newer 3.x
    contents = subprocess.run(
        [tool("dpkg-deb"), "--contents", str(dist / APP_DEB)], capture_output=True, text=True, check=True
    ).stdout
    for path in ("./usr/bin/hybrid", "./opt/hybrid-orchestrator/lib/hybrid_orchestrator/cli.py",
                 "./opt/hybrid-orchestrator/lib/click/core.py"):  # fmt: skip
        assert path in contents, contents
    assert ".pyc" not in contents and "direct_url.json" not in contents
    requires = subprocess.run([tool("rpm"), "-qRp", str(dist / APP_RPM)], capture_output=True, text=True, check=True)
    assert "python3 >= 3.11" in requires.stdout.splitlines(), requires.stdout
    scratch = tmp_path / "app-root"
    (scratch / "var" / "lib" / "dpkg" / "updates").mkdir(parents=True)
    (scratch / "var" / "lib" / "dpkg" / "status").touch()
    subprocess.run(
        [tool("dpkg"), f"--root={scratch}", "--force-depends", "--force-not-root", "--unpack", str(dist / APP_DEB)],
        capture_output=True,
        check=True,
    )
    launcher = (scratch / "usr" / "bin" / "hybrid").read_text()
    assert launcher.startswith("#!/usr/bin/python3 -I\n"), launcher
    if not Path("/usr/bin/python3").is_file() or not Path("/opt").is_dir():
        return
    # /opt of the scratch root mounted on /opt in a user namespace: the launcher runs as installed.
    ran = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
         f'mount --bind "{scratch}/opt" /opt && "{scratch}/usr/bin/hybrid" --help'],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert ran.returncode == 0 and "Orchestrate Linux automation jobs." in ran.stdout, ran.stdout + ran.stderr


def _archived_worker(dist: Path, tmp_path: Path) -> bytes:
    """The worker binary as the release's tar.gz holds it: the package carries the same bytes."""
    import tarfile

    with tarfile.open(dist / "worker_0.3.0_linux_amd64.tar.gz") as archive:
        member = archive.extractfile("worker")
        assert member is not None
        return member.read()


def test_packages_are_reproduced_attested_and_a_flipped_bit_is_caught(packaged: Path) -> None:
    _package(packaged)
    reproduce = run_cli("reproduce", cwd=packaged)  # rebuilt elsewhere, packaged again: the same bytes
    assert reproduce.returncode == 0, reproduce.stdout + reproduce.stderr
    for name in (DEB, RPM, APP_DEB, *APP_ARM):
        assert re.search(rf"^  {re.escape(name)} +identical$", reproduce.stdout, re.M), reproduce.stdout
    for step in ("sbom", "checksum", "provenance"):
        result = run_cli(step, cwd=packaged)
        assert result.returncode == 0, f"{step}:\n{result.stdout}{result.stderr}"
    dist = packaged / "dist"
    sums = (dist / "SHA256SUMS").read_text()
    assert DEB in sums and RPM in sums
    sbom = json.loads((dist / "sbom.cdx.json").read_text())
    debs = {c["purl"]: c for c in sbom["components"] if c.get("purl", "").startswith("pkg:deb/")}
    assert sorted(debs) == [
        "pkg:deb/hybrid-orchestrator@0.3.0-1?arch=amd64",
        "pkg:deb/hybrid-orchestrator@0.3.0-1?arch=arm64",
        "pkg:deb/hybrid-worker@0.3.0-1?arch=amd64",
    ]
    deb = debs["pkg:deb/hybrid-worker@0.3.0-1?arch=amd64"]
    installs = [p["value"] for p in deb["properties"] if p["name"] == "reprotasks:installs"]
    assert sorted(installs) == [
        "/etc/hybrid-worker/worker.toml",
        "/usr/bin/worker",
        "/usr/lib/systemd/system/worker.service",
    ]
    assert deb["hashes"][0]["content"] == hashlib.sha256((dist / DEB).read_bytes()).hexdigest()
    app = debs["pkg:deb/hybrid-orchestrator@0.3.0-1?arch=amd64"]
    properties = sorted((p["name"], p["value"]) for p in app["properties"] if p["name"] != "reprotasks:file")
    wheel = "hybrid_orchestrator-0.3.0-py3-none-any.whl"
    assert properties == [
        ("reprotasks:installs", "/opt/hybrid-orchestrator/lib/"),
        ("reprotasks:installs", "/usr/bin/hybrid"),
        ("reprotasks:platforms", "linux/amd64"),
        ("reprotasks:python-app", wheel),
        ("reprotasks:python-lock", "requirements.txt"),
    ], properties
    provenance = (dist / "provenance.intoto.json").read_text()
    assert DEB in provenance and RPM in provenance

    data = bytearray((dist / DEB).read_bytes())
    data[len(data) // 2] ^= 0x01
    (dist / DEB).write_bytes(bytes(data))
    check = run_cli("checksum", "--check", cwd=packaged)
    assert check.returncode != 0 and DEB in check.stdout + check.stderr
    remade = run_cli("sbom", cwd=packaged)
    assert remade.returncode != 0 and "Traceback" not in remade.stderr
    assert f"dist/{DEB}" in remade.stderr, remade.stderr


def test_a_package_holds_only_committed_files(packaged: Path) -> None:
    build = run_cli("build", "--platform", "linux/amd64", cwd=packaged)
    assert build.returncode == 0, build.stderr
    (packaged / "deploy" / "worker.toml").write_text('interval = "1s"  # not committed\n')
    result = run_cli("package", cwd=packaged)
    assert result.returncode == 0, result.stderr
    assert b"not committed" not in (packaged / "dist" / DEB).read_bytes()  # the file as committed
    git("checkout", "--quiet", "--", "deploy/worker.toml", cwd=packaged)
    # The entries themselves are the commit's: an uncommitted edit is refused by package and sbom.
    pyproject = packaged / "pyproject.toml"
    committed_text = pyproject.read_text()
    pyproject.write_text(committed_text.replace('depends = ["ca-certificates"]', 'depends = ["tzdata"]'))
    for step in ("package", "sbom"):
        refused = run_cli(step, cwd=packaged)
        assert refused.returncode != 0 and "`packages` differs from the one in commit" in refused.stderr, step
    pyproject.write_text(committed_text)

    # A file the configuration names but the commit lacks: one paragraph naming it, nothing written.
    pyproject = packaged / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'files = { "/etc/hybrid-worker/worker.toml" = "deploy/worker.toml" }',
            'files = { "/etc/hybrid-worker/worker.toml" = "deploy/worker.toml", "/etc/x.conf" = "deploy/extra.conf" }',
        )
    )
    git("add", "pyproject.toml", cwd=packaged)
    git("commit", "--quiet", "-m", "an extra file, not committed", cwd=packaged)
    (packaged / "deploy" / "extra.conf").write_text("x = 1\n")
    build = run_cli("build", "--platform", "linux/amd64", cwd=packaged, env={"REPROTASKS_DIRTY_TREE": "warn"})
    assert build.returncode == 0, build.stderr
    result = run_cli("package", cwd=packaged)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "deploy/extra.conf" in result.stderr and "is not in commit" in result.stderr, result.stderr
    assert "git add deploy/extra.conf" in result.stderr


def test_the_workflow_packages_after_assembling(packaged: Path) -> None:
    from reprotasks.config import load_config
    from reprotasks.github.workflow import render_workflow

    workflow = render_workflow(load_config(packaged))
    assemble = workflow.split("  assemble:", 1)[1].split("\n  reproduce:", 1)[0]
    assert "reprotasks assemble parts/*\n          reprotasks package\n" in assemble


@pytest.mark.sigstack
def test_verify_release_catches_a_flipped_bit_in_a_package(
    packaged: Path, stack: SigstoreStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A signed release with packages verifies; one flipped bit in a package fails verify-release."""
    from tests.test_sign_e2e import SIGNER, sign_settings

    with (packaged / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write(sign_settings(stack))
    commit_all(packaged, "sign with the local instance")
    monkeypatch.setenv("SIGSTORE_ID_TOKEN", stack.issuer.token(SIGNER))
    _package(packaged)
    for step in ("sbom", "checksum", "provenance", "sign"):
        result = run_cli(step, cwd=packaged)
        assert result.returncode == 0, f"{step}:\n{result.stdout}{result.stderr}"
    download = packaged.parent / "download"
    shutil.copytree(packaged / "dist", download)
    good = run_cli("verify-release", str(download), cwd=packaged)
    assert good.returncode == 0, good.stdout + good.stderr

    data = bytearray((download / APP_RPM).read_bytes())
    data[-100] ^= 0x01
    (download / APP_RPM).write_bytes(bytes(data))
    bad = run_cli("verify-release", str(download), cwd=packaged)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert APP_RPM in bad.stdout + bad.stderr, bad.stdout + bad.stderr
