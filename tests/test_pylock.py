"""PEP 751 locks: ``lock-format = "pylock"`` writes pylock.toml with uv; verify checks it (hashes, the
running Python, freshness); pip and uv both install from what is written; the SBOM and a Python
image read it as they read a requirements lock."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import MakeProject, cli, commit_all
from .test_image import exported_rootfs, push_layout, pushed_base

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]


def installed(target: Path) -> set[str]:
    return {path.name for path in target.glob("*.dist-info")}


def test_pylock_is_written_by_uv_checked_by_verify_and_installed_by_pip_and_uv(
    make_project: MakeProject, tmp_path: Path
) -> None:
    root = make_project(extra_config='lock-format = "pylock"\n')
    (root / "requirements-dev.in").write_text("beta==1.0\n", encoding="utf-8")
    output = cli(root, "lock", code=0)
    assert "requirements.in -> pylock.toml (uv)" in output and "requirements-dev.in -> pylock.dev.toml (uv)" in output
    lock = tomllib.loads((root / "pylock.toml").read_text(encoding="utf-8"))
    assert lock["lock-version"] == "1.0"
    assert {(package["name"], package["version"]) for package in lock["packages"]} == {
        ("alpha", "1.1"),
        ("beta", "2.0"),
        ("gamma", "0.2"),
    }
    assert all(wheel["hashes"]["sha256"] for package in lock["packages"] for wheel in package["wheels"])
    assert not (root / "requirements.txt").exists()
    commit_all(root, "locked")
    assert "lock pylock.dev.toml  ok" in cli(root, "verify", code=0)

    # Both installers read what was written, offline (the lock names the wheelhouse's files).
    lock_file = str(root / "pylock.toml")
    uv_install = [sys.executable, "-m", "uv", "pip", "install", "--quiet", "--no-config", "--python", sys.executable]
    uv = subprocess.run(
        [*uv_install, "--target", str(tmp_path / "uv"), "-r", lock_file], capture_output=True, text=True, check=False
    )
    assert uv.returncode == 0, uv.stderr
    pip_install = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-index"]
    pip = subprocess.run(
        [*pip_install, "--target", str(tmp_path / "pip"), "-r", lock_file], capture_output=True, text=True, check=False
    )
    assert pip.returncode == 0, pip.stderr
    expected = {"alpha-1.1.dist-info", "beta-2.0.dist-info", "gamma-0.2.dist-info"}
    assert installed(tmp_path / "uv") == installed(tmp_path / "pip") == expected

    # Drift is named: another hash for the same file, an input changed, a Python the lock excludes.
    pristine = (root / "pylock.toml").read_text(encoding="utf-8")
    digest = lock["packages"][2]["wheels"][0]["hashes"]["sha256"]
    (root / "pylock.toml").write_text(pristine.replace(digest, "0" * 64), encoding="utf-8")
    output = cli(root, "verify", code=1)
    assert "out of date with requirements.in (re-resolving gives: gamma==0.2 with other hashes)" in output, output
    (root / "pylock.toml").write_text(pristine.replace(f'sha256 = "{digest}"', 'md5 = "x"'), encoding="utf-8")
    output = cli(root, "verify", code=1)
    assert "pylock.toml:17: `gamma==0.2`: file://" in output and "has no sha256 hash" in output, output
    (root / "pylock.toml").write_text(
        pristine.replace('requires-python = ">=', 'requires-python = ">=9.9, >='), encoding="utf-8"
    )
    output = cli(root, "verify", code=1)
    assert "excludes the running Python" in output and "lock with the Python the release is built with" in output
    (root / "pylock.toml").write_text(pristine, encoding="utf-8")
    (root / "requirements.in").write_text("alpha\n", encoding="utf-8")
    output = cli(root, "verify", code=1)
    assert "pylock.toml" in output and "out of date with requirements.in (re-resolving gives: -gamma==0.2)" in output


def test_pylock_names_follow_pep_751_and_never_collide(make_project: MakeProject) -> None:
    from reprotasks.python.options import pylock_output

    assert pylock_output(Path("requirements.in")).name == "pylock.toml"
    assert pylock_output(Path("requirements-dev.in")).name == "pylock.dev.toml"
    assert pylock_output(Path("requirements/docs.in")).as_posix() == "requirements/pylock.docs.toml"
    assert pylock_output(Path("requirements/py3.11.in")).name == "pylock.py3-11.toml"
    root = make_project(extra_config='lock-format = "pylock"\n')
    (root / "requirements_.in").write_text("beta\n", encoding="utf-8")
    output = cli(root, "lock", code=2)
    assert "requirements.in and requirements_.in would both be locked into pylock.toml" in output, output
    (root / "requirements_.in").unlink()
    output = cli(root, "lock", code=2, env={"REPROTASKS_PYTHON_LOCK_FORMAT": "poetry"})
    assert "lock-format" in output and "pylock" in output


@pytest.mark.network
def test_a_pylock_project_gets_its_sbom_and_python_image_from_the_lock(
    hybrid_repo: Path, registry: str, crane_on_path: str, tmp_path: Path
) -> None:
    digest = pushed_base(registry, "python:3.11", tmp_path)
    (hybrid_repo / "requirements.txt").unlink()
    with (hybrid_repo / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write(
            '\n[tool.reprotasks.python]\nlock-format = "pylock"\n'
            f'\n[[tool.reprotasks.images]]\nname = "orchestrator"\nkind = "python"\nplatforms = ["linux/amd64"]\n'
            f'base = "{registry}/python@{digest}"\nentrypoint = ["hybrid"]\n'
        )
    cli(hybrid_repo, "lock", code=0)
    commit_all(hybrid_repo, "pylock")
    for step in ("build", "image", "sbom"):
        cli(hybrid_repo, step, code=0)
    sbom = json.loads((hybrid_repo / "dist" / "sbom.cdx.json").read_text(encoding="utf-8"))
    names = {component["name"] for component in sbom["components"]}
    assert {"click", "packaging", "tomli-w"} <= names, names
    locked = tomllib.loads((hybrid_repo / "pylock.toml").read_text(encoding="utf-8"))
    click = next(package for package in locked["packages"] if package["name"] == "click")
    component = next(component for component in sbom["components"] if component["name"] == "click")
    assert component["version"] == click["version"]
    # The image installed exactly the locked click beside the wheel.
    reference = f"{registry}/orchestrator:0.3.0"
    push_layout(hybrid_repo / "dist" / "orchestrator_0.3.0.oci.tar", reference, tmp_path)
    site = exported_rootfs(reference, "linux/amd64", tmp_path / "rootfs") / "app" / "site-packages"
    assert (site / f"click-{click['version']}.dist-info").is_dir() and (site / "hybrid_orchestrator").is_dir()


def test_a_pylock_toml_another_tool_wrote_is_the_lock_without_configuration(
    make_project: MakeProject, wheelhouse: Path
) -> None:
    """`pip lock` wrote it (other layout, other order): with no `lock-format` set, the committed
    pylock.toml is the lock of requirements.in, fresh while its pins are."""
    root = make_project()
    written = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "lock",
            "--quiet",
            "--no-index",
            "--find-links",
            str(wheelhouse),
            "-r",
            "requirements.in",
            "-o",
            "pylock.toml",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert written.returncode == 0, written.stderr
    assert 'created-by = "pip"' in (root / "pylock.toml").read_text(encoding="utf-8")
    commit_all(root, "locked by pip")
    output = cli(root, "verify", code=0)
    assert "lock pylock.toml" in output and "requirements.txt" not in output
    (root / "requirements.in").write_text("alpha\n", encoding="utf-8")
    output = cli(root, "verify", code=1)
    assert "pylock.toml" in output and "out of date with requirements.in (re-resolving gives: -gamma==0.2)" in output
