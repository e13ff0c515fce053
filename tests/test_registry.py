"""The step registry: every front end is generated from the same specs, so they cannot drift."""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reprotasks import _frontend, registry
from reprotasks.cli import build_parser
from reprotasks.errors import ReprotasksError
from reprotasks.invoke import make_task
from reprotasks.nox_sessions import _parser as nox_parser
from reprotasks.step import CommandSpec, StepResult, StepSpec, config_overrides, flag, param
from reprotasks.steps import SUMMARIES

from .conftest import MakeProject, commit_all, run_module

# Sample values per option kind; a path is given relative and must come back absolute.
SAMPLE = {"flag": True, "value": "x", "list": ["a", "b"], "positional": "some/dir", "positionals": ["f1", "f2"]}


def _subparser(step: str) -> argparse.ArgumentParser:
    parser = build_parser()
    commands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    return commands.choices[step]  # type: ignore[no-any-return]


def _cli_args(spec: CommandSpec[Any], values: dict[str, Any]) -> list[str]:
    """A command line that gives each option its sample value (first of a group only)."""
    argv: list[str] = []
    groups: set[str] = set()
    for item in spec.params:
        if item.group is not None:
            if item.group in groups:
                continue
            groups.add(item.group)
        value = values[item.dest]
        if item.kind == "flag":
            argv.append(item.long_flag)
        elif item.kind == "value":
            argv += [item.long_flag, value]
        elif item.kind == "list":
            for entry in value:
                argv += [item.long_flag, entry]
        else:
            argv += [value] if item.kind == "positional" else list(value)
    return argv


def _samples(spec: CommandSpec[Any]) -> dict[str, Any]:
    values = {}
    for item in spec.params:
        sample = SAMPLE[item.kind]
        if item.allowed:
            sample = [item.allowed[0]] if item.kind == "list" else item.allowed[-1]
        values[item.dest] = sample
    return values


@pytest.mark.parametrize("step", registry.names())
def test_every_front_end_accepts_the_same_options_with_the_same_defaults(step: str) -> None:
    spec = registry.get(step)
    defaults = spec.defaults()
    # CLI and nox: the same argparse builder; defaults parse to the spec's defaults.
    required = [item for item in spec.params if item.required]
    minimal = ["some/dir" if item.kind == "positional" else "p" for item in required]
    cli = _frontend.parse(spec, _subparser(step).parse_args(minimal))
    nox = _frontend.parse(spec, nox_parser(spec, "nox").parse_args(minimal))
    assert cli == nox
    for item in spec.params:
        if not item.required:
            assert getattr(cli, item.dest) == getattr(defaults, item.dest), item.dest
    # invoke: one flag per option, same defaults (invoke shows lists as None / []).
    task = make_task(spec)
    arguments = {str(argument.name): argument for argument in task.get_arguments()}
    assert sorted(arguments) == sorted(item.task_name for item in spec.params)
    for item in spec.params:
        argument = arguments[item.task_name]
        if item.kind in ("flag", "value"):
            assert argument.default == item.default, item.dest
        assert argument.help == item.help
        assert argument.positional == (item.kind == "positional" and item.required)  # optional ones are flags
    # Every option given: CLI, nox and invoke build equal options, hence equal config overrides.
    values = _samples(spec)
    argv = _cli_args(spec, values)
    from_cli = _frontend.parse(spec, _subparser(step).parse_args(argv))
    from_nox = _frontend.parse(spec, nox_parser(spec, "nox").parse_args(argv))
    given = {item.task_name: values[item.dest] for item in spec.params}
    for item in spec.params:  # the groups' other members were not given on the command line
        if item.group is not None and item.long_flag not in argv:
            given[item.task_name] = item.default
    from_invoke, problems = _frontend.from_task(spec, given)
    assert problems == []
    assert from_cli == from_nox == from_invoke
    assert config_overrides(from_cli) == config_overrides(from_invoke)
    for item in spec.params:
        if item.path and getattr(from_cli, item.dest):
            value = getattr(from_cli, item.dest)
            assert all(Path(entry).is_absolute() for entry in (value if isinstance(value, tuple) else [value]))


def test_every_option_that_names_a_config_key_names_a_real_one() -> None:
    from reprotasks.config import all_options

    keys = {option.dotted for option in all_options()}
    for spec in registry.specs():
        for item in spec.params:
            for key in filter(None, (item.config, *item.clears)):
                assert key in keys, f"{spec.name} {item.long_flag}: {key}"


def test_identity_clears_the_configured_repository_policy_unless_given_too() -> None:
    spec = registry.get("verify-signatures")
    options, _ = _frontend.from_task(spec, {"identity": "me@example.test", "issuer": "https://issuer"})
    assert config_overrides(options) == {
        "sign": {"identity": "me@example.test", "issuer": "https://issuer", "github-repository": None}
    }
    both, _ = _frontend.from_task(spec, {"identity": "me@example.test", "github_repository": "acme/widgets"})
    assert config_overrides(both)["sign"]["github-repository"] == "acme/widgets"


def test_invoke_refuses_exclusive_flags_and_bad_choices() -> None:
    spec = registry.get("lock")
    _, problems = _frontend.from_task(spec, {"python_only": True, "go_only": True, "backend": "poetry"})
    assert problems == [
        "--python-only and --go-only cannot be combined",
        "--backend: invalid choice 'poetry' (choose from pip-tools, uv)",
    ]
    _, problems = _frontend.from_task(registry.get("release"), {"skip": ["sing"]})
    assert problems == [f"--skip: invalid choice 'sing' (choose from {', '.join(registry.release_names())})"]


def test_registry_refuses_duplicates_and_undeclared_options() -> None:
    with pytest.raises(ReprotasksError, match="already registered"):
        registry.register(registry.step("build"))

    @dataclasses.dataclass(frozen=True)
    class Bad:
        loose: bool = False

    bad = StepSpec(name="bad", summary="", options=Bad, run=lambda c, o: StepResult(), plan=lambda c, o: [])
    with pytest.raises(TypeError, match=r"Bad.loose is not declared with reprotasks.step.param\(\)"):
        registry.register(bad)
    assert "bad" not in registry.names()
    with pytest.raises(ReprotasksError, match="unknown step 'verfy'") as raised:
        registry.get("verfy")
    assert raised.value.hint.startswith("perhaps you meant 'verify'; steps are: lock, verify, audit")


@dataclasses.dataclass(frozen=True, kw_only=True)
class _HelloOptions:
    loud: bool = flag("--loud", help="shout")
    name: str | None = param("--name", metavar="WHO", help="whom to greet")


def test_a_step_registered_at_run_time_is_in_the_parser_and_the_release(tmp_path: Path) -> None:
    spec = StepSpec(
        name="hello",
        summary="Say hello.",
        options=_HelloOptions,
        run=lambda ctx, options: StepResult(table=(("hello", options.name or "world"),)),
        plan=lambda ctx, options: ["echo hello"],
    )
    registry.register(spec, release_after="checksum")
    try:
        assert "hello" in registry.names()
        assert registry.release_names().index("hello") == registry.release_names().index("checksum") + 1
        parsed = _frontend.parse(spec, _subparser("hello").parse_args(["--loud", "--name", "you"]))
        assert parsed == _HelloOptions(loud=True, name="you")
        assert [argument.name for argument in make_task(spec).get_arguments()] == ["loud", "name"]
    finally:
        registry.unregister("hello")
    assert "hello" not in registry.names() and "hello" not in registry.release_names()


HELLO_STEP = """\
from __future__ import annotations

from dataclasses import dataclass

from reprotasks import registry
from reprotasks.step import StepResult, StepSpec, flag, param


@dataclass(frozen=True, kw_only=True)
class HelloOptions:
    loud: bool = flag("--loud", help="shout")
    name: str | None = param("--name", metavar="WHO", help="whom to greet")


def run(ctx, options):
    greeting = f"hello {options.name or 'world'}"
    return StepResult(table=(("greeting", greeting.upper() if options.loud else greeting),))


registry.register(
    StepSpec(name="hello", summary="Say hello (a step added by the project).", options=HelloOptions, run=run,
             plan=lambda ctx, options: ["echo hello  # planned by the hello step"]),
    release_after="checksum",
)
"""


@pytest.mark.e2e
def test_a_step_registered_by_the_project_appears_in_cli_nox_invoke_and_the_release_plan(
    make_project: MakeProject,
) -> None:
    root = make_project()
    (root / "hello_step.py").write_text(HELLO_STEP)
    (root / "noxfile.py").write_text("import hello_step  # noqa: F401\nimport reprotasks.nox  # noqa: F401\n")
    (root / "tasks.py").write_text("import hello_step  # noqa: F401\nfrom reprotasks.invoke import ns  # noqa: F401\n")
    cli = "import sys, hello_step; from reprotasks.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {"PYTHONPATH": str(root)}

    def via_cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", cli, *args], cwd=root, env={**os.environ, **env}, capture_output=True, text=True
        )

    outputs = [
        via_cli("hello", "--loud", "--name", "you"),
        run_module("nox", "-s", "hello", "--", "--loud", "--name", "you", cwd=root, env=env),
        run_module("invoke", "hello", "--loud", "--name", "you", cwd=root, env=env),
    ]
    for result in outputs:
        assert result.returncode == 0, result.stderr
        assert "greeting  HELLO YOU" in result.stdout
    assert "Say hello (a step added by the project)." in via_cli("--help").stdout
    assert "- hello -> Say hello" in run_module("nox", "-l", cwd=root, env=env).stdout
    assert "hello" in run_module("invoke", "--list", cwd=root, env=env).stdout
    commit_all(root)
    plans = [
        via_cli("release", "--dry-run", "--skip", "sign", "--skip", "build"),
        run_module("nox", "-s", "release", "--", "--dry-run", "--skip", "sign", "--skip", "build", cwd=root, env=env),
        run_module("invoke", "release", "--dry-run", "--skip", "sign", "--skip", "build", cwd=root, env=env),
    ]
    for result in plans:
        assert result.returncode == 0, result.stderr
        assert "[hello]\n  echo hello  # planned by the hello step" in result.stdout
        order = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ") and "planned" in line]
        assert order[order.index("checksum") + 1] == "hello"
    assert plans[0].stdout == plans[1].stdout == plans[2].stdout


def _front_ends(step: str, *args: str, invoke_args: tuple[str, ...] | None = None) -> list[list[str]]:
    return [
        [sys.executable, "-m", "reprotasks", step, *args],
        [sys.executable, "-m", "nox", "-s", step, "--", *args],
        [sys.executable, "-m", "invoke", step, *(args if invoke_args is None else invoke_args)],
    ]


def _wire(root: Path) -> None:
    (root / "noxfile.py").write_text("import reprotasks.nox  # noqa: F401\n")
    (root / "tasks.py").write_text("from reprotasks.invoke import ns  # noqa: F401\n")


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def test_release_dry_run_is_the_same_plan_through_cli_nox_and_invoke(make_project: MakeProject) -> None:
    root = make_project()
    _wire(root)
    commit_all(root)
    results = [
        _run(command, root)
        for command in _front_ends("release", "--dry-run", "--skip", "sign", "--skip", "build", "--staging")
    ]
    for result in results:
        assert result.returncode == 0, result.stderr
        assert "verify-signatures  skipped (sign skipped)" in result.stdout
    assert results[0].stdout == results[1].stdout == results[2].stdout


@pytest.mark.e2e
def test_verify_signatures_identity_overrides_a_configured_repository_in_every_front_end(
    make_project: MakeProject,
) -> None:
    root = make_project(extra_config="\n[tool.reprotasks.sign]\ngithub-repository = 'acme/widgets'\n")
    _wire(root)
    (root / "dist").mkdir()
    signed = root / "dist" / "file.txt"
    signed.write_text("data\n")
    args = ("--offline", "--identity", "me@example.test", "--issuer", "https://issuer.example.test")
    commands = _front_ends("verify-signatures", *args, "dist/file.txt", invoke_args=(*args, "--file", "dist/file.txt"))
    results = [_run(command, root) for command in commands]
    for result in results:
        assert result.returncode == 1, result.stderr
        assert "both set" not in result.stderr
        assert "dist/file.txt.sigstore.json" in result.stderr
    messages = [
        [line for line in result.stderr.splitlines() if line.startswith(("error:", "hint:", "dist/"))]
        for result in results
    ]
    assert messages[0] == messages[1] == messages[2]


@pytest.mark.slow
def test_build_with_platform_options_gives_the_same_dist_through_cli_nox_and_invoke(hybrid_repo: Path) -> None:
    _wire(hybrid_repo)
    commit_all(hybrid_repo)
    digests = []
    for command in _front_ends("build", "--go-only", "--platform", "linux/amd64", "--force"):
        result = _run(command, hybrid_repo)
        assert result.returncode == 0, result.stderr
        digests.append(sorted(path.name for path in (hybrid_repo / "dist").iterdir()))
        digests[-1].append((hybrid_repo / "dist" / "manifest.json").read_text())
    assert digests[0] == digests[1] == digests[2]
    assert any("linux_amd64" in name for name in digests[0])
    assert not any("arm64" in name for name in digests[0])


def test_the_readme_and_the_release_help_list_every_step() -> None:
    from .conftest import REPO

    readme = (REPO / "docs" / "index.md").read_text(encoding="utf-8")  # the site's home page lists them
    listed = [name for name in registry.names() if f"- **{name}" in readme or f"/ **{name}" in readme]
    assert listed == list(registry.names())
    pipeline = " -> ".join(registry.release_names())
    assert f"- **release**: {pipeline} in" in " ".join(readme.split())  # the README's pipeline is the registry's
    release_help = " ".join(_subparser("release").format_help().split())
    assert f"one of: {', '.join(registry.release_names())}" in release_help
    # The description spells out the pipeline, never a stale copy (argparse may wrap at a hyphen).
    assert pipeline.replace(" ", "") in release_help.replace(" ", "")


def test_release_help_follows_a_step_added_to_the_pipeline() -> None:
    spec = StepSpec(
        name="hello", summary="", options=_HelloOptions, run=lambda c, o: StepResult(), plan=lambda c, o: []
    )
    registry.register(spec, release_after="checksum")
    try:
        assert "checksum -> hello -> provenance" in registry.get("release").summary
    finally:
        registry.unregister("hello")
    assert "checksum -> provenance" in registry.get("release").summary


def test_plugin_specs_are_checked_when_registered() -> None:
    def spec_of(name: str, options: type[Any]) -> StepSpec[Any]:
        return StepSpec(name=name, summary="", options=options, run=lambda c, o: StepResult(), plan=lambda c, o: [])

    with pytest.raises(ReprotasksError, match="is not lower-case words joined by '-'"):
        registry.register(spec_of("verify_release", _HelloOptions))

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Hijack:
        project: str | None = param("--project", help="would take -C's place")

    with pytest.raises(ReprotasksError, match="is taken by the command line itself"):
        registry.register(spec_of("deploy", Hijack))
    assert "deploy" not in registry.names() and "verify_release" not in registry.names()


@dataclasses.dataclass(frozen=True, kw_only=True)
class _TypedOptions:
    target: str | None = param(metavar="TARGET", help="optional positional")
    jobs: int = param("--jobs", default=4, help="a number")


def test_optional_positionals_and_numbers_parse_alike_everywhere() -> None:
    spec = StepSpec(
        name="typed", summary="", options=_TypedOptions, run=lambda c, o: StepResult(), plan=lambda c, o: []
    )
    parser = argparse.ArgumentParser(exit_on_error=False)
    _frontend.add_arguments(parser, spec)
    assert _frontend.parse(spec, parser.parse_args([])) == _TypedOptions(target=None, jobs=4)
    assert _frontend.parse(spec, parser.parse_args(["x", "--jobs", "8"])) == _TypedOptions(target="x", jobs=8)
    assert _frontend.from_task(spec, {"target": "x", "jobs": "8"}) == (_TypedOptions(target="x", jobs=8), [])
    assert _frontend.from_task(spec, {"jobs": "many"})[1] == ["--jobs: invalid int value 'many'"]
    assert _frontend.task_positionals(spec) == []  # invoke requires its positionals: an optional one is a flag
    with pytest.raises(argparse.ArgumentError):
        parser.parse_args(["--jobs", "many"])


def test_invoke_short_flags_are_the_clis_and_never_h() -> None:
    names = {str(argument.name): argument.names for argument in make_task(registry.get("lock")).get_arguments()}
    assert names["upgrade_package"] == ("upgrade-package", "P")
    for step in registry.names():
        for argument in make_task(registry.get(step)).get_arguments():
            assert "h" not in argument.names, (step, argument.names)


def test_an_abbreviated_project_option_keeps_the_commands_options(make_project: MakeProject) -> None:
    root = make_project()
    result = run_module("reprotasks", "--proj", ".", "checksum", "--check", cwd=root)
    assert result.returncode == 1, result.stderr
    assert "dist: does not exist" in result.stderr


def _imported(path: Path) -> set[str]:
    """Every reprotasks module a file imports, at the top or inside a function."""
    import ast

    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return {name for name in found if name.startswith("reprotasks")}


def test_steps_and_the_release_runner_import_neither_the_registry_nor_each_other() -> None:
    """registry -> steps, app layer -> registry and runner: no cycle, not even through lazy imports."""
    from .conftest import REPO

    package = REPO / "src" / "reprotasks"
    for path in [package / "step.py", package / "_pipeline.py", *sorted((package / "steps").glob("*.py"))]:
        imported = _imported(path)
        for layer in ("reprotasks.registry", "reprotasks._pipeline", "reprotasks._app"):
            assert layer not in imported or path.stem == layer.rsplit(".", 1)[1], (path.name, layer)


def test_the_cli_loads_only_the_step_it_runs() -> None:
    """`import reprotasks.cli` and `reprotasks --help` load no step module; `reprotasks build --help`
    loads build's alone
    (shared option sets, ``steps/_*.py``, are not steps)."""
    probe = (
        "import sys, contextlib, io\n"
        "import reprotasks.cli as cli\n"
        "print(sorted(m for m in sys.modules if m.startswith('reprotasks.steps.') and '._' not in m))\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    cli.main(['--help'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('reprotasks.steps.') and '._' not in m))\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    cli.main(['build', '--help'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('reprotasks.steps.') and '._' not in m))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == ["[]", "[]", "['reprotasks.steps.build']"], result.stdout + result.stderr


def test_each_built_in_step_declares_the_summary_the_help_lists() -> None:
    for name, text in SUMMARIES.items():
        assert registry.summary(name) == registry.get(name).summary
        if name != "release":
            assert text and registry.get(name).summary == text
