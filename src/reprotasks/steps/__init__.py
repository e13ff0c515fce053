"""The commands: one module per step, each exporting one ``SPEC`` (``reprotasks.step.StepSpec``).

These modules only declare: a step's options, summary, ``run`` and ``plan``. The work is done
by the domain packages (``python``, ``go``, ``inputs``, ``artifacts``, ``signing``, ``audit``...),
imported when a step runs. Nothing here imports nox or invoke; the adapters are generated from
the specs.

``SUMMARIES`` is the built-in commands in the order every front end lists them, each with its
one-line summary (its module's ``SPEC`` uses it): ``reprotasks --help`` lists them without
importing a step module. ``release`` is the pipeline the registry declares; its summary spells
out the pipeline (``reprotasks.registry``).
"""

SUMMARIES: dict[str, str] = {
    "lock": "Lock Python requirements with hashes (pip-compile or uv) and tidy + download the Go module graph.",
    "verify": "Fail on drift: stale or unhashed locks, untidy go.mod/go.sum, unpinned or mismatched toolchains.",
    "audit": (
        "Pinning audit: unpinned images, actions, pip/go installs, curl|sh in Dockerfiles, workflows, "
        "scripts, Makefiles, go.mod and nox/invoke files; `file:line:col: RULE-ID message`, or --format "
        "json|sarif."
    ),
    "build": (
        "Build sdist + wheel and Go binaries for every platform from a clean copy of the last commit; writes "
        "dist/ and dist/manifest.json."
    ),
    "image": (
        "Make an OCI image (multi-platform, bit-for-bit reproducible) of each [[tool.reprotasks.images]] "
        "entry from the built Go binaries, on scratch or a base pinned by digest: dist/NAME_VERSION.oci.tar."
    ),
    "package": (
        "Make .deb and .rpm packages ([[tool.reprotasks.packages]]) of the built Go binaries and the Python "
        "app (wheel + hashed lock in /opt/NAME) with committed files, a systemd unit and scripts, bit-for-bit "
        "reproducible (nFPM, pinned): dist/NAME_VERSION_ARCH.deb."
    ),
    "assemble": (
        "Merge the dist/ directories of a matrix build (one `build --platform X` job each) into dist/, "
        "checking every digest; the merged manifest equals a single full build's."
    ),
    "checksum": "Write dist/SHA256SUMS (sha256sum format); --check finds tampered, missing, unlisted, unsafe entries.",
    "sbom": "Write dist/sbom.cdx.json (CycloneDX 1.6) from the hashed locks, go.sum and the built binaries.",
    "provenance": (
        "Write dist/provenance.intoto.json: an in-toto v1 statement with SLSA provenance v1 whose subjects "
        "are SHA256SUMS' entries."
    ),
    "sign": (
        "Sign SHA256SUMS (and with sign.artifacts every artifact; the provenance as DSSE) with Sigstore; "
        "writes <file>.sigstore.json bundles and skips files whose bundle already verifies."
    ),
    "verify-signatures": (
        "Verify dist/'s bundles (or FILE... against FILE.sigstore.json) for the configured signer identity "
        "and OIDC issuer; SHA256SUMS' signature plus matching checksums cover the whole release."
    ),
    "verify-release": (
        "Consumer side: verify a downloaded release directory end to end (checksums, every signature, "
        "provenance subjects)."
    ),
    "reproduce": (
        "Rebuild the commit in another directory under another umask, TZ, locale, HOME and env, and prove "
        "every artifact is byte-identical; --ref TAG --sums FILE checks an older release."
    ),
    "drill": (
        "Reproducibility drill: rebuild the last N releases (or TAGs) from their tags, compare with what "
        "was published (SHA256SUMS' signature checked first) and record each outcome as a signed attestation."
    ),
    "release": "",  # the registry's: it names the pipeline's steps
    "publish": (
        "Push each image in dist/ by digest to its `repository` (crane; docker config credentials), checked "
        "against manifest.json first, then tag it with the version unless that tag names another image."
    ),
    "promote": (
        "Promote VERSION --to ENV: verify the release against that environment's policy (signatures, "
        "provenance, SBOM, reproduction, audit, soak time, promoters; no skipped environment), sign a SLSA "
        "VSA and append it to the hash-chained ledger."
    ),
    "rollback": (
        "Roll --to ENV back to the release it held before (or to VERSION, which it held once); the decision "
        "is signed and appended to the ledger like a promotion."
    ),
    "preflight": (
        "Before promote/rollback --to ENV in a workflow: refuse when ENV is the last environment and neither "
        "`promoters` nor the GitHub environment's required reviewers decide who may enter it."
    ),
    "status": "Show the release each environment holds, who put it there and when; the ledger is verified first.",
    "verify-promotion": (
        "Deploy gate: ARTIFACT (file, sha256:HEX or REPO@sha256:HEX) must be part of the release ENV holds, "
        "with the ledger's chain and every VSA verified; non-zero exit otherwise."
    ),
    "report": (
        "Write a static HTML dashboard of releases, their artifacts and digests, reproducibility, signers, "
        "promotions per environment over time and the ledger's integrity (verified first)."
    ),
    "init": "Wire this repository up: [tool.reprotasks], noxfile.py/tasks.py imports, the release workflow.",
}

# The release pipeline as built in (the registry keeps the live list: a step registered with
# `release_after=` joins it). The SBOM comes before SHA256SUMS so that SHA256SUMS (and its
# signature) covers it.
RELEASE_STEPS = ("verify", "build", "image", "package", "sbom", "checksum", "provenance", "sign", "verify-signatures")


def release_summary(steps: tuple[str, ...] | list[str]) -> str:
    """``release``'s one-line summary: the pipeline it runs, spelled out."""
    return (
        f"{' -> '.join(steps)}, staged: dist/ is replaced only when every step succeeded; --dry-run shows the plan, "
        "--skip STEP leaves a step out."
    )


def docs_page(command: str) -> str:
    """Where a command is documented, as its --help says (the page in docs/ and on the site)."""
    return f"docs/steps/{command}.md (site: steps/{command}/)"
