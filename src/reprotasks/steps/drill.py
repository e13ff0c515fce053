"""drill: rebuild past releases and record, signed, whether they still reproduce."""

from __future__ import annotations

from dataclasses import dataclass

from reprotasks.step import Context, StepResult, StepSpec, flag, many, param
from reprotasks.steps import SUMMARIES
from reprotasks.steps._signing import SignerPolicyOptions, identity_token


@dataclass(frozen=True, kw_only=True)
class DrillOptions(SignerPolicyOptions):
    tags: tuple[str, ...] = many(metavar="TAG", help="the releases to drill, by tag (default: the last --last)")
    last: str = param("--last", metavar="N", default="3", help="drill the N highest version tags (default 3)")
    published: str | None = param(
        "--published",
        metavar="PLACE",
        help="where each release is published, with {tag}: a directory or an https:// URL (promote.published)",
    )
    no_record: bool = flag("--no-record", help="report only: sign and store no attestation")
    identity_token: str | None = identity_token()


def run(ctx: Context, options: DrillOptions) -> StepResult:
    import os

    from reprotasks.errors import DriftError, Finding, ReprotasksError
    from reprotasks.promote import drill as _drill

    if not options.last.isdigit() or not 0 < int(options.last) <= 100:
        raise ReprotasksError(f"--last {options.last!r} is not a number from 1 to 100", hint="e.g. --last 3")
    tags = list(options.tags) or _drill.release_tags(ctx.config, int(options.last), runner=ctx.runner)
    if not tags:
        raise ReprotasksError(
            "drill: this repository has no version tag (v1.2.3) to drill",
            hint="release one first, or name the tags: `reprotasks drill v1.2.3`",
        )
    published = options.published or ctx.config.promote.published or _drill.default_published(ctx.config)
    _drill.published_place(published, "v0.0.0", "0.0.0")  # no {tag}, or plain http: refused first
    signer = None
    if not options.no_record:
        signer = _drill.signer(ctx.config, options.identity_token or ctx.identity_token, os.environ)
        signer()  # the identity first: a drill that cannot be recorded is refused before it rebuilds anything
    plan = _drill.Drill(published=published, record=not options.no_record, token=signer)
    results = _drill.run_drills(ctx.config, tags, plan, runner=ctx.runner, log=ctx.log)
    rows = [(f"{item.tag} ({item.commit[:12] or 'no commit'})", f"{item.result}: {item.reason}") for item in results]
    rows += [(f"{item.tag} recorded", item.recorded) for item in results if item.recorded]
    findings = [
        Finding(
            f"{item.tag}",
            None,
            f"{'does not reproduce' if item.result == _drill.DIFFERS else 'cannot be rebuilt'}: {item.reason}",
            "run `reprotasks reproduce --ref TAG --sums SHA256SUMS` to see why; keep what the release needs "
            "available (base images by digest, toolchain downloads, locked packages)",
        )
        for item in results
        if item.result != _drill.IDENTICAL
    ]
    return StepResult(table=tuple(rows), error=DriftError(findings, step="drill") if findings else None)


def plan(ctx: Context, options: DrillOptions) -> list[str]:
    which = " ".join(options.tags) or f"the last {options.last} version tags"
    return [f"reprotasks drill {which}  # rebuild, compare with the published release, record signed"]


SPEC = StepSpec(
    name="drill",
    summary=SUMMARIES["drill"],
    options=DrillOptions,
    run=run,
    plan=plan,
    writes=lambda options: not options.no_record,
)
