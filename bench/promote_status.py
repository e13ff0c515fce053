"""Benchmark: `reprotasks status` on a ledger of 600 signed entries, the first run against the next.

Every promotion command reads the whole ledger and checks every VSA's signature. The first run
verifies each one (sigstore: certificate chain, transparency-log inclusion, timestamps) and keeps
the result, keyed by the bundle's sha256, the trust root's and the signer policy's; the next runs
reuse it. Target: `status` on 600 entries well under a second once the results are kept.

The ledger is real: a local Sigstore instance (tests/sigstack.py; .ci/install-sigstack builds it)
signs every VSA through reprotasks' own recording path (`promote.core._record`: the promoter's
token, the decision, the signature, its verification, the append), 200 releases through dev ->
staging -> prod. Making it takes a few minutes; the ledger is kept in --work for later runs.
Timed as whole commands, interleaved: cold (an empty cache directory) and warm, wall and CPU.
Usage: python bench/promote_status.py [--entries 600] [--runs 3] [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # tests.sigstack
sys.path.insert(0, str(REPO / "bench"))  # _timing
from _timing import timed  # noqa: E402

SIGNER = "release@example.test"
PYPROJECT = """[project]
name = "ledger-bench"
version = "0"

[tool.reprotasks.go]
enabled = false

[tool.reprotasks.sign]
trust-config = {trust!r}
identity = {signer!r}
issuer = {issuer!r}
{rules}"""
RULE = "\n[tool.reprotasks.promote.rules.{env}]\nprovenance = false\nsbom = false\n"


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def make_ledger(root: Path, entries: int, stack: object) -> None:
    from reprotasks._run import Runner
    from reprotasks.config import load_config
    from reprotasks.promote import core
    from reprotasks.promote.ledger import read_ledger
    from reprotasks.signing import sigstore as _sigstore

    issuer = stack.issuer  # type: ignore[attr-defined]
    rules = "".join(RULE.format(env=env) for env in ("dev", "staging", "prod"))
    trust = str(stack.trust_config)  # type: ignore[attr-defined]
    (root / "pyproject.toml").write_text(PYPROJECT.format(trust=trust, signer=SIGNER, issuer=issuer.url, rules=rules))
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "policy")
    config = load_config(root)
    runner = Runner(root, log=lambda _line: None)
    verifier = _sigstore.verifier(config.sign, offline=True)
    directory = root / "promotions"
    (directory / "vsa").mkdir(parents=True)
    ledger = read_ledger(directory, "promotions")
    started = time.perf_counter()
    for number in range(entries):
        release_number, env = divmod(number, 3)
        version = f"1.{release_number // 10}.{release_number % 10}"
        release = core.Release(
            shown=version,
            version=version,
            commit=f"{release_number:040x}",
            sums=f"{release_number:064x}",
            artifacts={f"app-{version}.whl": f"{release_number:064x}"},
            images={},
        )
        signing = core.Signing(token=issuer.token(SIGNER), environ={})
        core._record(
            config,
            ledger,
            release,
            "promote",
            ("dev", "staging", "prod")[env],
            [],
            [],
            signing,
            log=lambda _line: None,
            verifier=verifier,
            runner=runner,
        )
        if number % 50 == 49:
            print(f"  {number + 1} entries signed ({time.perf_counter() - started:.0f} s)", flush=True)


def _timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the child, status's ledger line); a failure ends the benchmark."""
    wall, cpu, result = timed(command, cwd, env)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
    ledger = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("ledger ")]
    return wall, cpu, ledger[-1] if ledger else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=600)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "reprotasks-bench-ledger")
    args = parser.parse_args()
    from tests.sigstack import SigstoreStack

    bin_dir = Path(os.environ.get("SIGSTACK_BIN", Path.home() / ".cache" / "reprotasks-sigstack"))
    work = args.work.resolve()
    project = work / f"project-{args.entries}"
    # The instance's keys live in its state directory: a kept ledger is verified against the same one.
    stack = SigstoreStack(bin_dir=bin_dir, work=work / "sigstack").start()
    try:
        if not (project / "promotions" / "ledger.jsonl").is_file():
            shutil.rmtree(project, ignore_errors=True)
            project.mkdir(parents=True)
            print(f"signing a ledger of {args.entries} entries in {project} ...", flush=True)
            make_ledger(project, args.entries, stack)
        command = [str(Path(sys.executable).parent / "reprotasks"), "status"]
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        warm = {**env, "REPROTASKS_CACHE_DIR": str(work / "cache-warm")}
        _timed(command, project, warm)  # keeps every VSA's result for the warm runs
        times: dict[str, list[tuple[float, float]]] = {"first run (nothing kept)": [], "next runs (results kept)": []}
        summary = ""
        for _ in range(args.runs):
            cold = work / "cache-cold"
            shutil.rmtree(cold, ignore_errors=True)
            wall, cpu, summary = _timed(command, project, {**env, "REPROTASKS_CACHE_DIR": str(cold)})
            times["first run (nothing kept)"].append((wall, cpu))
            wall, cpu, _ = _timed(command, project, warm)
            times["next runs (results kept)"].append((wall, cpu))
        print(f"reprotasks status on {args.entries} entries ({summary})")
        for name, measured in times.items():
            walls, cpus = [m[0] for m in measured], [m[1] for m in measured]
            print(
                f"  {name}: median {statistics.median(walls):.2f}s wall, {statistics.median(cpus):.2f} CPU-s "
                f"over {args.runs} runs"
            )
        print(f"  cpus: {os.cpu_count()}, load average at the end: {os.getloadavg()[0]:.2f}")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
