"""The option tables: one declaration per key reaches every way of setting and showing it, and one
validator per setting (a platform) serves config and the command line alike."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from reprotasks import cli, config, schema
from reprotasks._options import Option
from reprotasks.config import load_config
from reprotasks.errors import ConfigError
from reprotasks.go import binaries
from reprotasks.go import options as go_options
from reprotasks.step import config_overrides, flag

# A key the go table does not have: declaring it (the table entry) must be the only edit needed.
EXTRA = Option(
    table="go",
    key="example-switch",
    kind="bool",
    default=False,
    help="A switch only tests declare.",
)


@pytest.fixture
def extra_option(monkeypatch: pytest.MonkeyPatch) -> Option:
    monkeypatch.setattr(go_options, "OPTIONS", (*go_options.OPTIONS, EXTRA))
    return EXTRA


def _project(root: Path, settings: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(f'[project]\nname = "demo"\nversion = "1.0"\n{settings}', encoding="utf-8")
    return root


def test_an_option_added_to_the_go_table_reaches_every_layer_and_output(
    extra_option: Option, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert extra_option.env_var == "REPROTASKS_GO_EXAMPLE_SWITCH"
    assert extra_option in config.all_options()
    root = _project(tmp_path / "default")
    assert load_config(root, environ={}).go.extra["example-switch"] is False
    assert load_config(root, environ={}).describe()["go"]["example-switch"] is False
    # pyproject.toml, then the environment, then overrides (invoke.yaml's `reprotasks:`, step flags)
    configured = _project(tmp_path / "configured", "[tool.reprotasks.go]\nexample-switch = true\n")
    assert load_config(configured, environ={}).go.extra["example-switch"] is True
    assert load_config(root, environ={"REPROTASKS_GO_EXAMPLE_SWITCH": "yes"}).go.extra["example-switch"] is True
    from_invoke = load_config(
        configured,
        environ={},
        overrides={"go": {"example-switch": False}},
        overrides_source="invoke configuration `reprotasks`",
    )
    assert from_invoke.go.extra["example-switch"] is False

    # A step flag reaches a key by naming it (`config=`); nothing else is declared for it.
    @dataclass(frozen=True, kw_only=True)
    class SwitchOptions:
        example_switch: bool = flag("--example-switch", config="go.example-switch", help="turn it on")

    flagged = config_overrides(SwitchOptions(example_switch=True))
    assert flagged == {"go": {"example-switch": True}}
    assert load_config(root, environ={}, overrides=flagged).go.extra["example-switch"] is True

    # Checked like every key: its type, in every layer, and a typo gets a suggestion.
    with pytest.raises(ConfigError, match=r"`go\.example-switch` must be true or false"):
        load_config(_project(tmp_path / "wrong", '[tool.reprotasks.go]\nexample-switch = "on"\n'), environ={})
    with pytest.raises(ConfigError, match="REPROTASKS_GO_EXAMPLE_SWITCH='maybe' is not a boolean"):
        load_config(root, environ={"REPROTASKS_GO_EXAMPLE_SWITCH": "maybe"})
    with pytest.raises(ConfigError) as typo:
        load_config(_project(tmp_path / "typo", "[tool.reprotasks.go]\nexample-swich = true\n"), environ={})
    assert "did you mean `go.example-switch`?" in typo.value.hint

    # The JSON schema (`reprotasks schema`, validate-pyproject) and `reprotasks config`.
    entry = schema.get_schema()["properties"]["go"]["properties"]["example-switch"]
    assert entry == {"type": "boolean", "default": False, "description": "A switch only tests declare."}
    assert json.loads(schema.schema_json())["properties"]["go"]["properties"]["example-switch"] == entry
    row = "| `[go]` `example-switch` | `REPROTASKS_GO_EXAMPLE_SWITCH` | `false` | A switch only tests declare. |"
    assert row in schema.reference_markdown().splitlines()  # the README's configuration reference
    monkeypatch.setenv("REPROTASKS_GO_EXAMPLE_SWITCH", "1")
    assert cli.main(["-C", str(root), "config"]) == 0
    assert json.loads(capsys.readouterr().out)["go"]["example-switch"] is True


def test_an_added_option_is_absent_without_the_table_entry(tmp_path: Path) -> None:
    root = _project(tmp_path)
    assert "example-switch" not in load_config(root, environ={}).describe()["go"]
    with pytest.raises(ConfigError, match="environment variable REPROTASKS_GO_EXAMPLE_SWITCH is not a reprotasks"):
        load_config(root, environ={"REPROTASKS_GO_EXAMPLE_SWITCH": "1"})


def test_go_platforms_accept_exactly_what_build_platform_accepts(tmp_path: Path) -> None:
    """One validator: `go.platforms` and `build --platform` (go/binaries.py) share go/options.parse_platform."""
    assert binaries.parse_platform is go_options.parse_platform
    for platform in ("linux/arm/v7", "linux/amd64/v3", "linux/arm64/v8.2", "windows/amd64"):
        root = _project(tmp_path / platform.replace("/", "-"), f'[tool.reprotasks.go]\nplatforms = ["{platform}"]\n')
        assert load_config(root, environ={}).go.platforms == (platform,)
        assert go_options.parse_platform(platform) == tuple(platform.split("/")[:2])
    for platform, problem in (("linux", "is not OS/ARCH"), ("linux/arm/v9", "'arm' has no variant 'v9'")):
        root = _project(tmp_path / platform.replace("/", "-"), f'[tool.reprotasks.go]\nplatforms = ["{platform}"]\n')
        with pytest.raises(ConfigError, match=problem) as from_config:
            load_config(root, environ={})
        assert from_config.value.message.startswith(f"`go.platforms` entry {platform!r}")
        with pytest.raises(ConfigError, match=problem):
            go_options.parse_platform(platform)


def test_shared_defaults_are_defined_once() -> None:
    from reprotasks.image import oci
    from reprotasks.image import options as image_options

    assert oci.Settings(entrypoint=("/x",)).user == image_options.IMAGE_USER == image_options.ImageConfig(name="x").user
    assert image_options.ImageConfig(name="x").base == image_options.SCRATCH
    platforms = next(option.default for option in go_options.OPTIONS if option.key == "platforms")
    assert platforms == list(go_options.DEFAULT_PLATFORMS)


def test_readme_reference_is_the_rendered_option_tables() -> None:
    """The configuration reference (docs/reference/configuration.md) is generated from the tables: no
    second copy to drift."""
    from .conftest import REPO

    path = REPO / "docs" / "reference" / "configuration.md"
    readme = path.read_text(encoding="utf-8")
    if os.environ.get("UPDATE_README") == "1":
        path.write_text(schema.with_reference(readme), encoding="utf-8")
        readme = path.read_text(encoding="utf-8")
    assert readme == schema.with_reference(readme), (
        "docs/reference/configuration.md differs from the option tables: edit the options' `help` or "
        "`default_text`, then run `UPDATE_README=1 python -m pytest tests/test_option_tables.py -k readme`"
    )


def test_readme_reference_shows_each_plain_default_as_the_table_declares_it() -> None:
    """A key's row shows its declared default exactly, unless the table explains it in words."""
    rows = {}
    for line in schema.reference_markdown().splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        assert len(cells) == 4, line
        rows[cells[0]] = cells
    # Plain defaults the table explains in words: the globs, and the names an empty list resolves to.
    assert {o.dotted for o in config.all_options() if o.default is not None and o.default_text} == {
        "audit.exclude",
        "go.binary-names",
    }
    for option in config.all_options():
        name = f"`[{option.table}]` `{option.key}`" if option.table else f"`{option.key}`"
        _, env, default, meaning = rows.pop(name)
        if option.default_text is not None:
            assert default == option.default_text
        else:
            assert default == ("none" if option.default is None else f"`{json.dumps(option.default)}`")
        suffix = " (JSON)" if option.kind == "entries" else ""
        assert env == (f"`{option.env_var}`{suffix}" if option.layered else "none: committed only")
        assert meaning == option.help
    assert not rows


def test_option_tables_are_leaves_and_config_imports_no_domain_work() -> None:
    """config.py sits above the option tables and below the domain work modules: no import cycle."""
    import ast

    from .conftest import REPO

    package = REPO / "src" / "reprotasks"

    def imported(path: Path) -> set[str]:
        """Every module ``path`` imports, a ``from PACKAGE import module`` as ``PACKAGE.module``."""
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
                names |= {f"{node.module}.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
        return {name for name in names if (package.parent / (name.replace(".", "/") + ".py")).is_file()}

    # discover and goreleaser read the repository's own files for defaults; they import only errors.
    # _identity: what a signer identity (or workflow pattern) in a policy may be (the promoters).
    leaves = {
        "reprotasks._options",
        "reprotasks.errors",
        "reprotasks.discover",
        "reprotasks.goreleaser",
        "reprotasks._identity",
    }
    tables = sorted(package.glob("*/options.py"))
    assert [path.parent.name for path in tables] == ["audit", "go", "image", "packages", "promote", "python", "signing"]
    for path in tables:
        assert imported(path) <= leaves, path
    domain_imports = {name for name in imported(package / "config.py") if name.count(".") == 2}
    assert domain_imports and all(name.endswith(".options") for name in domain_imports), domain_imports
