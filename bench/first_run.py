"""Benchmark: a Go build on a fresh CI runner, reprotasks against GoReleaser.

A fresh runner has empty caches: every build compiles the standard library and every dependency,
and downloads the modules. Each round gives both tools a new, empty GOCACHE and GOMODCACHE (the
toolchain the module pins is put in place first, as a runner that has it installed would have
it), and builds the same commit for the same platform:

- reprotasks: `reprotasks build --go-only --platform P --force` (clean clone, `go build`, the
  version-stamp check, a canonical archive, the manifest);
- GoReleaser, when `goreleaser` is on PATH (or --goreleaser): `goreleaser build --snapshot --clean`
  with the same toolchain (GOTOOLCHAIN=<pin>), from a copy of the repository's config whose builds
  name exactly these platforms (`targets`), which builds the binaries only (no archives).

Rounds alternate between the two (a machine's load hits both alike); wall and CPU (the child
processes' user + system) are reported as medians, with the load average.

Usage: python bench/first_run.py REPO [--platform linux/amd64 ...] [--runs 2] [--goreleaser PATH]
REPO is a git checkout of a Go project with a .goreleaser.y*ml (e.g. junegunn/fzf at v0.74.3).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def pinned_toolchain(repo: Path) -> str | None:
    text = (repo / "go.mod").read_text(encoding="utf-8")
    toolchain = re.search(r"^toolchain\s+(go\S+)", text, re.M)
    if toolchain:
        return toolchain.group(1)
    exact = re.search(r"^go\s+(\d+\.\d+\.\d+)\s*$", text, re.M)
    return f"go{exact.group(1)}" if exact else None


def fresh_caches(scratch: Path, toolchain: str | None) -> dict[str, str]:
    """Empty GOCACHE and GOMODCACHE, holding only the pinned toolchain (copied from this machine's)."""
    if scratch.exists():
        subprocess.run(["chmod", "-R", "u+w", str(scratch)], check=False)
        shutil.rmtree(scratch)
    cache, modcache = scratch / "gocache", scratch / "gomodcache"
    cache.mkdir(parents=True)
    modcache.mkdir()
    if toolchain:
        here = Path(subprocess.run(["go", "env", "GOMODCACHE"], capture_output=True, text=True).stdout.strip())
        host = "linux-amd64"
        name = f"v0.0.1-{toolchain}.{host}"
        source = here / "cache" / "download" / "golang.org" / "toolchain" / "@v"
        target = modcache / "cache" / "download" / "golang.org" / "toolchain" / "@v"
        target.mkdir(parents=True)
        for suffix in (".zip", ".ziphash", ".mod", ".info"):
            if (source / f"{name}{suffix}").exists():
                shutil.copy2(source / f"{name}{suffix}", target / f"{name}{suffix}")
        unpacked = here / "golang.org" / f"toolchain@{name}"
        if unpacked.is_dir():
            shutil.copytree(unpacked, modcache / "golang.org" / f"toolchain@{name}", symlinks=True)
    return {"GOCACHE": str(cache), "GOMODCACHE": str(modcache), "GOFLAGS": "-modcacherw"}


def trimmed_config(repo: Path, platforms: list[str], scratch: Path) -> Path:
    """The repository's GoReleaser config with every build limited to ``platforms`` (`targets`)."""
    import yaml

    source = next(repo.glob(".goreleaser.y*ml"))
    document = yaml.safe_load(source.read_text(encoding="utf-8"))
    targets = [platform.replace("/", "_").replace("_v", "_") if "arm/" in platform else platform.replace("/", "_")
               for platform in platforms]  # fmt: skip
    for build in document.get("builds") or []:
        for key in ("goos", "goarch", "goarm", "ignore"):
            build.pop(key, None)
        build["targets"] = targets
    document.pop("before", None)  # hooks (`go mod download`): the build downloads what it needs
    target = scratch / source.name
    target.write_text(yaml.safe_dump(document), encoding="utf-8")
    return target


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    before, started = children_cpu(), time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - started, children_cpu() - before
    if result.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo", type=Path)
    parser.add_argument("--platform", action="append", help="repeatable (default: linux/amd64)")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--goreleaser", default=shutil.which("goreleaser"))
    args = parser.parse_args()
    repo = args.repo.resolve()
    platforms = args.platform or ["linux/amd64"]
    toolchain = pinned_toolchain(repo)
    results: dict[str, list[tuple[float, float]]] = {"reprotasks": [], "goreleaser": []}
    with tempfile.TemporaryDirectory(prefix="reprotasks-first-run-") as scratch:
        config = trimmed_config(repo, platforms, Path(scratch))
        for _ in range(args.runs):
            env = {**os.environ, **fresh_caches(Path(scratch) / "caches", toolchain)}
            env["REPROTASKS_CACHE_DIR"] = str(Path(scratch) / "caches" / "reprotasks")
            env["REPROTASKS_DIST_DIR"] = "reprotasks-bench-dist"  # not dist/: GoReleaser --clean removes it
            ours = [sys.executable, "-m", "reprotasks", "build", "--go-only", "--force"]
            ours += [flag for platform in platforms for flag in ("--platform", platform)]
            results["reprotasks"].append(timed(ours, repo, env))
            if args.goreleaser:
                env = {**os.environ, **fresh_caches(Path(scratch) / "caches", toolchain)}
                env["GOTOOLCHAIN"] = toolchain or "local"
                theirs = [args.goreleaser, "build", "--snapshot", "--clean", "--config", str(config)]
                results["goreleaser"].append(timed(theirs, repo, env))
        shutil.rmtree(repo / "reprotasks-bench-dist", ignore_errors=True)
    print(
        f"{repo.name}: first build of {', '.join(platforms)} with empty Go caches "
        f"(toolchain {toolchain or 'local'} present), "
        f"median of {args.runs} interleaved rounds (load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs)"
    )
    for tool, runs in results.items():
        if runs:
            wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
            print(f"  {tool:<11} {wall:7.1f} s wall  {cpu:7.1f} s CPU")
    if results["goreleaser"]:
        ours_cpu = statistics.median(r[1] for r in results["reprotasks"])
        theirs_cpu = statistics.median(r[1] for r in results["goreleaser"])
        ours_wall = statistics.median(r[0] for r in results["reprotasks"])
        theirs_wall = statistics.median(r[0] for r in results["goreleaser"])
        ratios = f"{ours_wall / theirs_wall:7.2f} wall  {ours_cpu / theirs_cpu:7.2f} CPU"
        print(f"  ratio       {ratios} (target <= 1.0 CPU)")
    else:
        print("  (goreleaser not found: pass --goreleaser PATH to compare)")


if __name__ == "__main__":
    main()
