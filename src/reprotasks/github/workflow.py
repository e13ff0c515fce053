"""The GitHub Actions release workflow, rendered from ``templates/release.yml`` for a project."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib import resources
from string import Template

from reprotasks import __version__
from reprotasks.config import Config

# Full commit SHAs, read from each action's own repository (tag in the comment).
ACTIONS = {
    "checkout": "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1",
    "setup_python": "actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97 # v7.0.0",
    "setup_go": "actions/setup-go@b7ad1dad31e06c5925ef5d2fc7ad053ef454303e # v7.0.0",
    "upload_artifact": "actions/upload-artifact@bbbca2ddaa5d8feaa63e36b76fdaad77386f024f # v7.0.0",
    "download_artifact": "actions/download-artifact@3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c # v8.0.1",
}

# How a user's workflow installs reprotasks: from a hashed lock, like every other tool.
RELEASE_LOCK = "requirements-release.txt"
DEFAULT_INSTALL = (f"python -m pip install --require-hashes --no-deps -r {RELEASE_LOCK}",)

_PYPI = """
  pypi:
    name: publish (PyPI, trusted publishing)
    needs: sign
    if: vars.PYPI_PUBLISH == 'true'  # set this repository variable, and a `pypi` environment on PyPI's side
    runs-on: ubuntu-24.04
    environment: pypi
    permissions:
      contents: read
      id-token: write  # PyPI trusted publishing (twine asks GitHub for the token): no password or token is stored
    steps:
$setup
      - uses: $download_artifact
        with:
          name: signed-release
          path: signed
      - name: reprotasks verify-release (upload only what was signed)
        run: reprotasks verify-release signed --github-repository "$$GITHUB_REPOSITORY" --github-ref "$$GITHUB_REF"
      - name: select the sdist and wheel (by the build manifest)$attestations_note
        run: |
          mkdir pypi
          python3 - <<'PY'
          import json, os, shutil
          manifest = json.load(open("signed/manifest.json", encoding="utf-8"))
          for artifact in manifest["artifacts"]:
              if artifact["kind"] in ("sdist", "wheel"):
                  for name in (artifact["name"], artifact["name"] + ".publish.attestation"):
                      if os.path.isfile(f"signed/{name}"):
                          shutil.copy(f"signed/{name}", "pypi/")
          PY
      - name: twine upload (trusted publishing$attestations_title)
        run: |
          if ! python -m twine --version >/dev/null 2>&1; then
            echo "::error::twine is not installed: lock reprotasks[nox,invoke,pypi] in $release_in (reprotasks lock)"
            exit 1
          fi
          python -m twine upload --non-interactive$attestations_flag pypi/*
"""


_IMAGES = """
  images:
    name: publish images (by digest)
    needs: sign
    runs-on: ubuntu-24.04
    permissions:
      contents: read
      packages: write  # push to ghcr.io: only this job can
      id-token: write  # sign each image digest (Sigstore, keyless) as this workflow
    steps:
$setup
      - uses: $download_artifact
        with:
          name: signed-release
          path: $dist
      - name: install crane (pinned; the Go checksum database vouches for it)
        run: go install github.com/google/go-containerregistry/cmd/crane@v0.22.1
      - name: reprotasks publish (push by digest, tag the version once, sign the digest)
        env:
          GH_TOKEN: $${{ github.token }}
        run: |
          export PATH="$$(go env GOPATH)/bin:$$PATH"
          printf '%s' "$$GH_TOKEN" | crane auth login ghcr.io -u "$$GITHUB_ACTOR" --password-stdin
          reprotasks publish --sign
"""


def _pypi(config: Config, install: Sequence[str]) -> str:
    """The PyPI job: twine (from the release's hashed lock) uploads the verified sdist and wheels,
    with the PEP 740 attestations sign made when `sign.pypi-attestations` is on."""
    attest = config.sign.pypi_attestations
    return Template(_PYPI).substitute(
        ACTIONS,
        setup=_setup(config, install),
        release_in=RELEASE_LOCK.replace(".txt", ".in"),
        attestations_note=", with their PEP 740 attestations" if attest else "",
        attestations_title=", PEP 740 attestations" if attest else "",
        attestations_flag=" --attestations" if attest else "",
    )


def _setup(config: Config, install: Sequence[str], *, go: bool = False) -> str:
    lines = [
        f"      - uses: {ACTIONS['checkout']}",
        "        with:",
        "          persist-credentials: false",
        "          fetch-depth: 0  # tags and history: versions and SOURCE_DATE_EPOCH come from git",
        f"      - uses: {ACTIONS['setup_python']}",
        "        with:",
        _python_version(config),
    ]
    if config.go.module is None and go:  # crane is installed with Go
        lines += [
            f"      - uses: {ACTIONS['setup_go']}",
            "        with:",
            '          go-version: "1.26.8"',
            "          cache: false",
        ]
    if config.go.module is not None:
        go_mod = config.rel(config.go.module / "go.mod")
        lines += [
            f"      - uses: {ACTIONS['setup_go']}",
            "        with:",
            f"          go-version-file: {go_mod}",
            "          cache: false  # no cache in a release: every module is fetched and checked against go.sum",
        ]
    lines.append("      - name: install reprotasks (hashed lock)")
    if len(install) == 1:
        lines.append(f"        run: {install[0]}")
    else:
        lines.append("        run: |")
        lines += [f"          {command}" for command in install]
    return "\n".join(lines)


def _python_version(config: Config) -> str:
    """The project's pin; a repository without one (Go only) runs reprotasks on this Python."""
    if (config.root / ".python-version").is_file():
        return "          python-version-file: .python-version"
    running = ".".join(str(part) for part in sys.version_info[:3])
    return f'          python-version: "{running}"  # the Python that runs reprotasks (no .python-version here)'


def _matrix(config: Config) -> str:
    entries: list[tuple[str, str]] = []
    if config.python.build:
        entries.append(("python", "--python-only"))
    if config.go.module is not None:
        entries += [(p.replace("/", "-"), f"--go-only --platform {p}") for p in sorted(config.go.platforms)]
    return "\n".join(f"          - part: {part}\n            args: {args}" for part, args in entries)


# The branch the workflow keeps the promotion ledger in (checked out at `promote.ledger`).
LEDGER_BRANCH = "promotions"

# The marker of a workflow `reprotasks init` wrote (any other file there is the user's own).
MARKER = "# Written by `reprotasks init`"


def render_workflow(config: Config, install: Sequence[str] = DEFAULT_INSTALL, *, tag_pattern: str = "v*") -> str:
    """``tag_pattern``: the tags that release (``v*``, or ``[0-9]*`` for bare versions)."""
    template = Template(resources.files("reprotasks").joinpath("templates/release.yml").read_text(encoding="utf-8"))
    values = {
        **ACTIONS,
        "reprotasks_version": __version__,
        "tag_pattern": tag_pattern,
        "tag_example": "v1.2.3" if tag_pattern.startswith("v") else "1.2.3",
        "setup": _setup(config, install),
        "matrix": _matrix(config),
        "dist": config.rel(config.dist_dir),
        "pypi_note": "; PyPI with trusted publishing when vars.PYPI_PUBLISH is 'true'" if config.python.build else "",
        "pypi": _pypi(config, install) if config.python.build else "",
        "image_step": ("\n          reprotasks image" if config.images else "")
        + ("\n          reprotasks package" if config.packages else ""),
        "environments": ", ".join(config.promote.environments),
        "last_environment": config.promote.environments[-1],
        "ledger": config.rel(config.promote.ledger) if config.promote.ledger else "promotions",
        "ledger_branch": LEDGER_BRANCH,
        "images": Template(_IMAGES).substitute(
            ACTIONS, setup=_setup(config, install, go=True), dist=config.rel(config.dist_dir)
        )
        if any(image.repository for image in config.images)
        else "",
    }
    return template.substitute(values).rstrip("\n") + "\n"
