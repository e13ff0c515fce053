"""verify-signatures: every bundle in dist/ (or FILE... against FILE.sigstore.json) for the signer policy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reprotasks.step import Context, StepResult, StepSpec, many
from reprotasks.steps import SUMMARIES
from reprotasks.steps._signing import SignerPolicyOptions

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


@dataclass(frozen=True, kw_only=True)
class VerifySignaturesOptions(SignerPolicyOptions):
    files: tuple[Path, ...] = many(
        metavar="FILE",
        path=True,
        invoke="file",
        help="check FILE against FILE.sigstore.json (default: every bundle in dist/ plus its checksums)",
    )
    images: tuple[str, ...] = many(
        "--image",
        metavar="REF",
        invoke="image",
        help="check the image REF (by tag or @sha256 digest) in its registry: its Sigstore referrer must sign "
        "its digest for the signer policy (repeatable; `publish --sign` pushes them)",
    )


def run(ctx: Context, options: VerifySignaturesOptions) -> StepResult:
    from reprotasks.signing import verify

    config = ctx.config
    policy = ctx.signer_policy or config.sign  # inside a release: the identity that just signed
    if options.images:
        return StepResult(table=tuple(_verify_images(ctx, options.images, policy)))
    if options.files:
        report = verify.verify_files(list(options.files), policy, offline=policy.offline)
    else:
        shown = ctx.dist.rel()
        report = verify.verify_release(ctx.dist.path, policy, offline=policy.offline, shown_dir=shown)
    step = "release: verify-signatures" if ctx.dist.is_staged else "verify-signatures"
    return StepResult(table=tuple(verify.raise_findings(report, step)))


def _verify_images(ctx: Context, references: tuple[str, ...], policy: Any) -> list[tuple[str, str]]:
    from reprotasks.errors import DriftError, Finding
    from reprotasks.signing.images import verify_image
    from reprotasks.signing.sigstore import SignatureError

    rows, findings = [], []
    for reference in references:
        try:
            verified = verify_image(reference, policy, runner=ctx.runner, root=ctx.config.root)
        except SignatureError as exc:
            findings.append(
                Finding(
                    reference,
                    None,
                    str(exc),
                    "sign and push it with `reprotasks publish --sign` (or check "
                    "--identity/--issuer against who signed it)",
                )
            )
            continue
        rows.append((verified.reference, f"signed by {verified.signer}"))
    if findings:
        raise DriftError(findings, step="verify-signatures")
    return rows


def plan(ctx: Context, options: VerifySignaturesOptions) -> list[str]:
    if options.images:
        return [f"reprotasks verify-signatures --image {' --image '.join(options.images)}"]
    if options.files:
        return [f"reprotasks verify-signatures {' '.join(ctx.config.rel(file) for file in options.files)}"]
    return [f"reprotasks verify-signatures  # every bundle in {ctx.dist.rel()}/ for the signer"]


SPEC = StepSpec(
    name="verify-signatures",
    summary=(SUMMARIES["verify-signatures"]),
    options=VerifySignaturesOptions,
    run=run,
    plan=plan,
)
