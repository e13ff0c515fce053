"""The single source of truth for ``[tool.reprotasks]``: every key, its type and default.

Config loading, the shipped JSON schema and the README reference are all derived from
``OPTIONS``; add a key here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["str", "bool", "list", "choice", "allow-list", "image-list", "rules-table"]


@dataclass(frozen=True, kw_only=True)
class Option:
    table: str  # "" for the top level, else the sub-table name ("python", "go", "sign")
    key: str
    kind: Kind
    default: str | bool | list[str] | None
    help: str
    choices: tuple[str, ...] = ()
    # False: read only from the committed settings file; an environment variable or an override
    # (invoke.yaml, flags) of it is refused (promotion policy is not up to whoever runs the command).
    layered: bool = True

    @property
    def dotted(self) -> str:
        return f"{self.table}.{self.key}" if self.table else self.key

    @property
    def field(self) -> str:
        return self.key.replace("-", "_")

    @property
    def env_var(self) -> str:
        return "REPROTASKS_" + self.dotted.replace(".", "_").replace("-", "_").upper()


# GoReleaser's archive naming, the variant joined to the arch (`linux_armv7`).
DEFAULT_ARCHIVE_NAME = "{binary}_{version}_{os}_{arch}{variant}"

OPTIONS: tuple[Option, ...] = (
    Option(
        table="",
        key="dist-dir",
        kind="str",
        default="dist",
        help="Directory (relative to the project) that receives release artifacts.",
    ),
    Option(
        table="",
        key="dirty-tree",
        kind="choice",
        default="refuse",
        choices=("refuse", "warn"),
        help=(
            "What `build` does when tracked files have uncommitted changes. It always builds the "
            "committed tree (a clean clone), so `refuse` stops you from releasing something other than "
            "what you see; `warn` builds the commit anyway."
        ),
    ),
    Option(
        table="",
        key="version",
        kind="str",
        default=None,
        help=(
            "Release version used in Go artifact names and the version stamp. Default: the static "
            "`[project] version`, else the built wheel's version, else `git describe --tags --always`."
        ),
    ),
    Option(
        table="python",
        key="locks",
        kind="list",
        default=None,
        help=(
            "Lock inputs (`*.in`), each locked into the `.txt` beside it. Default: "
            "`requirements*.in` at the project root and `requirements/*.in`."
        ),
    ),
    Option(
        table="python",
        key="lock-dependencies",
        kind="bool",
        default=True,
        help=(
            "Without `requirements*.in` and without `locks`, lock the [project] dependencies and every "
            "optional-dependency group of pyproject.toml into `requirements.lock.txt` beside it (the runtime "
            "dependencies the SBOM lists)."
        ),
    ),
    Option(
        table="python",
        key="check-tool-locks",
        kind="bool",
        default=True,
        help=(
            "`verify` asks uv, poetry or pdm whether the `uv.lock`, `poetry.lock` or `pdm.lock` beside "
            "pyproject.toml still matches it (a missing tool is a finding); the SBOM lists their packages."
        ),
    ),
    Option(
        table="python",
        key="lock-backend",
        kind="choice",
        default="pip-tools",
        choices=("pip-tools", "uv"),
        help="Resolver that writes the locks: `pip-tools` (pip-compile) or `uv` (uv pip compile).",
    ),
    Option(
        table="python",
        key="index-url",
        kind="str",
        default=None,
        help="Package index used to resolve (never written into a lock).",
    ),
    Option(
        table="python",
        key="extra-index-urls",
        kind="list",
        default=[],
        help="Extra package indexes used to resolve (never written into a lock).",
    ),
    Option(
        table="python",
        key="find-links",
        kind="list",
        default=[],
        help="Local directories or pages of distributions to resolve from (never written into a lock).",
    ),
    Option(
        table="python",
        key="no-index",
        kind="bool",
        default=False,
        help="Resolve only from `find-links`, without any index.",
    ),
    Option(
        table="python",
        key="version-pin",
        kind="choice",
        default="python-version-file",
        choices=("python-version-file", "requires-python", "none"),
        help=(
            "Where the Python version is pinned: a `.python-version` file, an exact "
            "`requires-python` (`==3.11.*`), or `none` to skip the check."
        ),
    ),
    Option(
        table="python",
        key="project",
        kind="str",
        default=None,
        help=(
            "Directory of the Python project (the pyproject.toml with [build-system] and [project]), relative to "
            "the project root, when it is not the root: e.g. Go at the root and Python in `python/`. Its "
            "`requirements*.in` are found too, and the default build lock lives there."
        ),
    ),
    Option(
        table="python",
        key="build",
        kind="bool",
        default=True,
        help="Build an sdist and a wheel with `python -m build` (skipped when pyproject.toml has no [build-system]).",
    ),
    Option(
        table="python",
        key="build-lock",
        kind="str",
        default="build-requirements.txt",
        help=(
            "Hashed lock of the build backend (`[build-system] requires` plus the `build` front end), "
            "written by `lock` and installed into the isolated build environment."
        ),
    ),
    Option(
        table="python",
        key="build-constraints",
        kind="str",
        default=None,
        help=(
            "A constraints file (pip `-c`) applied when locking `[build-system] requires`, e.g. "
            "`hatchling==1.21.1` to keep the backend (and so the wheel metadata) of the last release."
        ),
    ),
    Option(
        table="python",
        key="require-build-lock",
        kind="bool",
        default=True,
        help=(
            "`verify` (and so `release`) fails while the build lock is not committed. `build` works without it "
            "anyway: it resolves the backend with hashes and records them in the manifest."
        ),
    ),
    Option(
        table="go",
        key="enabled",
        kind="bool",
        default=True,
        help="Run the Go parts of each step (skipped anyway when no `go.mod` is found).",
    ),
    Option(
        table="go",
        key="module",
        kind="str",
        default=None,
        help="Directory holding `go.mod`. Default: the one `go.mod` found in the project tree.",
    ),
    Option(
        table="go",
        key="modules",
        kind="list",
        default=None,
        help=(
            "Directories of every Go module `lock` tidies and `verify` checks. Default: each go.mod in the tree. "
            "The commands of one of them are released (`module`)."
        ),
    ),
    Option(
        table="go",
        key="main-packages",
        kind="list",
        default=None,
        help=(
            "Go `main` packages to build, relative to the module. Default: every `cmd/*` with `package main`, and "
            "the module root (`.`) when it is one."
        ),
    ),
    Option(
        table="go",
        key="exclude-packages",
        kind="list",
        default=[],
        help="Main packages never built (e.g. `./cmd/devtool`), taken out of `main-packages` or of those found.",
    ),
    Option(
        table="go",
        key="binary-names",
        kind="list",
        default=[],
        help=(
            'Binary names as `PACKAGE=NAME` entries, e.g. `["./cmd/server=acme-server"]`. Default: the last '
            "element of the package path; for `.`, of the module path (without a `/vN` suffix)."
        ),
    ),
    Option(
        table="go",
        key="archive-files",
        kind="list",
        default=[],
        help=(
            'Files of the commit put beside the binary in every archive, by their base name, e.g. `["LICENSE", '
            '"README.md"]` (paths relative to the project root).'
        ),
    ),
    Option(
        table="go",
        key="archive-name",
        kind="str",
        default=DEFAULT_ARCHIVE_NAME,
        help=(
            "Archive name without extension (`.tar.gz`, `.zip` on windows), from `{binary}`, `{version}`, `{os}`, "
            "`{arch}` and `{variant}` (`v7` of linux/arm/v7); `{os}` and `{arch}` are required."
        ),
    ),
    Option(
        table="go",
        key="platforms",
        kind="list",
        default=["linux/amd64", "linux/arm64", "darwin/arm64", "windows/amd64"],
        help=(
            "GOOS/GOARCH targets every main package is built for, optionally with a variant: `linux/arm/v7` "
            "(GOARM), `linux/amd64/v3` (GOAMD64), `linux/arm64/v8.2` (GOARM64)."
        ),
    ),
    Option(
        table="go",
        key="version-variable",
        kind="str",
        default="auto",
        help=(
            "Variable set to the release version with `-ldflags -X`. `auto`: each package-level string variable "
            "named `version` or `Version` declared in a main package (`main.version`, `main.Version`); or a "
            '`package/path.Var`; `""` to stamp nothing.'
        ),
    ),
    Option(
        table="go",
        key="ldflags",
        kind="list",
        default=[],
        help=(
            'Extra linker flags appended to `-ldflags`, e.g. `["-s", "-w"]` to leave out the symbol table and '
            "DWARF, or `-X pkg.Var=value`; recorded in the manifest. `-buildid=` is always set by reprotasks."
        ),
    ),
    Option(
        table="go",
        key="tags",
        kind="list",
        default=[],
        help="Build tags for every `go build` (`-tags=a,b`); recorded in the manifest.",
    ),
    Option(
        table="go",
        key="vcs-stamp",
        kind="bool",
        default=False,
        help=(
            "Embed VCS information (`-buildvcs=true`: revision, commit time). Requires a clean tree; "
            "off by default (`-buildvcs=false`)."
        ),
    ),
    Option(
        table="go",
        key="toolchain-pin",
        kind="choice",
        default="required",
        choices=("required", "none"),
        help="`required`: go.mod must pin an exact toolchain (`toolchain go1.X.Y` or `go 1.X.Y`).",
    ),
    Option(
        table="sign",
        key="instance",
        kind="choice",
        default="production",
        choices=("production", "staging"),
        help="Public Sigstore instance used to sign and verify (ignored when `sign.trust-config` is set).",
    ),
    Option(
        table="sign",
        key="trust-config",
        kind="str",
        default=None,
        help=(
            "A Sigstore `ClientTrustConfig` JSON file (trusted root + signing config) for a private or local "
            "Sigstore instance; replaces `sign.instance`."
        ),
    ),
    Option(
        table="sign",
        key="artifacts",
        kind="bool",
        default=False,
        help=(
            "Also sign every artifact, not only SHA256SUMS (one verified SHA256SUMS signature already covers "
            "every file it lists)."
        ),
    ),
    Option(
        table="sign",
        key="identity",
        kind="str",
        default=None,
        help="Exact signer identity (certificate SAN: an email or URI) that verification requires.",
    ),
    Option(
        table="sign",
        key="issuer",
        kind="str",
        default=None,
        help=(
            "OIDC issuer that verification requires. Default with `sign.github-repository`: "
            "`https://token.actions.githubusercontent.com`; required with `sign.identity`."
        ),
    ),
    Option(
        table="sign",
        key="github-repository",
        kind="str",
        default=None,
        help="GitHub workflow policy: `OWNER/REPO` whose workflow must have signed (instead of `sign.identity`).",
    ),
    Option(
        table="sign",
        key="github-workflow",
        kind="str",
        default=".github/workflows/release.yml",
        help="GitHub workflow policy: path of the signing workflow inside the repository.",
    ),
    Option(
        table="sign",
        key="github-ref",
        kind="str",
        default="refs/tags/*",
        help="GitHub workflow policy: glob the signing workflow's git ref must match.",
    ),
    Option(
        table="audit",
        key="enabled",
        kind="bool",
        default=True,
        help="Run the pinning audit as part of `verify` (`reprotasks audit` runs it on its own).",
    ),
    Option(
        table="audit",
        key="exclude",
        kind="list",
        # `[!.]*/vendor/*`: not .github/vendor/, whose scripts the workflows run
        default=["vendor/*", "[!.]*/vendor/*", "testdata/*", "*/testdata/*", "third_party/*", "*/third_party/*"],
        help=(
            "Globs (project-relative, `*` crosses directories) of files the pinning audit skips, e.g. test fixtures. "
            "Default: vendored and test-data trees (`[]` audits them too)."
        ),
    ),
    Option(
        table="audit",
        key="allow",
        kind="allow-list",
        default=[],
        help=(
            "Accepted findings, as `[[tool.reprotasks.audit.allow]]` entries with `rule` (id), `path` (glob), "
            "`match` (text the finding must contain) and a required `reason`; entries that match nothing are "
            "reported. Environment variable: a JSON array of such tables."
        ),
    ),
    Option(
        table="",
        key="images",
        kind="image-list",
        default=[],
        help=(
            'OCI images, as `[[tool.reprotasks.images]]` entries: `name`, `kind` ("go", the default: `binary`, a '
            'built Go binary; "python": the wheel and its hashed `requirements` lock installed for '
            '`python-version`), `base` ("scratch", Go only, or an image pinned by `@sha256:` digest), '
            '`entrypoint` (default ["/BINARY"]; required for Python), `cmd`, `user` (default "65532:65532", '
            'non-root), `env` (["K=V"]), `workdir`, `labels`, `platforms` (default: the linux ones of '
            "go.platforms, else linux/amd64), `repository` (where `publish` pushes). Environment variable: a JSON "
            "array of such tables."
        ),
    ),
    Option(
        table="sign",
        key="offline",
        kind="bool",
        default=False,
        help="Verify signatures with the trust root already on this machine, without refreshing it (TUF).",
    ),
    Option(
        table="sign",
        key="require-provenance",
        kind="bool",
        default=True,
        help=(
            "Release policy: `verify-release` and `verify` (of a signed dist/) require a signed "
            "`provenance.intoto.json` whose subjects are exactly SHA256SUMS' entries."
        ),
    ),
    Option(
        table="promote",
        key="environments",
        layered=False,
        kind="list",
        default=["dev", "staging", "prod"],
        help="The environments a release is promoted through, in order; `promote` never skips one.",
    ),
    Option(
        table="promote",
        key="ledger",
        layered=False,
        kind="str",
        default="promotions",
        help=(
            "Directory (relative to the project) of the promotion ledger: `ledger.jsonl`, hash-chained, and the "
            "signed VSA of every entry in `vsa/`. Commit it, or point this at a checkout of a ledger branch."
        ),
    ),
    Option(
        table="promote",
        key="registry",
        layered=False,
        kind="str",
        default=None,
        help=(
            "An OCI repository (e.g. `ghcr.io/acme/ledger`) that keeps the ledger as one artifact tagged `ledger`, "
            "for teams without a shared ledger branch: every command pulls it first, promote and rollback push it."
        ),
    ),
    Option(
        table="promote",
        key="rules",
        layered=False,
        kind="rules-table",
        default=None,
        help=(
            "What each environment requires, as `[tool.reprotasks.promote.rules.ENV]` tables: `provenance` "
            "(default true: signed provenance matching SHA256SUMS), `sbom` (default true), `reproduced` (default "
            "false: a rebuild proves the bytes, or an earlier signed VSA did), `audit` (default false: the "
            "pinning audit of the release commit is clean), `soak` (least time in the previous environment, e.g. "
            '"24h"), `promoters` (identities that may promote there; default: the `sign` signer policy) with '
            "`promoter-issuer`."
        ),
    ),
)

TABLES: tuple[str, ...] = ("python", "go", "sign", "audit", "promote")

# Keys of one `[[tool.reprotasks.images]]` entry (`name` and `binary` are required), with their
# TOML types: "str", "list" (of strings) or "table" (of strings).
IMAGE_KEYS: dict[str, str] = {
    "name": "str",
    "kind": "str",
    "binary": "str",
    "requirements": "str",
    "python-version": "str",
    "base": "str",
    "entrypoint": "list",
    "cmd": "list",
    "user": "str",
    "env": "list",
    "workdir": "str",
    "labels": "table",
    "platforms": "list",
    "repository": "str",
}

# Keys of one `[[tool.reprotasks.audit.allow]]` entry; `reason` is required.
ALLOW_KEYS: tuple[str, ...] = ("rule", "path", "match", "reason")

# Environment variables that start with REPROTASKS_ but are not config keys.
NON_CONFIG_ENV: frozenset[str] = frozenset(
    {"REPROTASKS_CACHE_DIR", "REPROTASKS_LOCK_TIMEOUT", "REPROTASKS_FAULT"}  # see _cache, _guard, _journal
)
