from __future__ import annotations

import json
from pathlib import Path

import pytest

from reprotasks.config import load_config
from reprotasks.errors import ConfigError
from reprotasks.schema import schema_json

from .conftest import HYBRID, REPO, MakeProject, run_cli


def write(root: Path, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(text, encoding="utf-8")
    return root


def test_zero_config_detects_conventional_layout() -> None:
    config = load_config(HYBRID)
    assert [config.rel(lock.input) for lock in config.python.locks] == ["requirements.in"]
    assert [config.rel(lock.output) for lock in config.python.locks] == ["requirements.txt"]
    assert config.go.module is not None and config.rel(config.go.module) == "go"
    assert config.go.main_packages == ("./cmd/worker",)
    assert config.python.lock_backend == "pip-tools"
    assert config.rel(config.dist_dir) == "dist"


def test_keys_override_defaults(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        '[tool.reprotasks]\ndist-dir = "out"\n[tool.reprotasks.python]\nlock-backend = "uv"\nlocks = ["deps/a.in"]\n',
    )
    (root / "deps").mkdir()
    (root / "deps" / "a.in").write_text("x\n")
    config = load_config(root)
    assert config.python.lock_backend == "uv"
    assert [config.rel(lock.output) for lock in config.python.locks] == ["deps/a.txt"]
    assert config.rel(config.dist_dir) == "out"


def test_unknown_key_names_key_file_and_suggestion(tmp_path: Path) -> None:
    write(tmp_path, '[tool.reprotasks.python]\nlock-bakend = "uv"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert "pyproject.toml [tool.reprotasks]: unknown key `python.lock-bakend`" in caught.value.message
    assert "did you mean `python.lock-backend`?" in caught.value.hint


def test_unknown_table_and_top_level_key(tmp_path: Path) -> None:
    write(tmp_path, "[tool.reprotasks]\ndistdir = 'x'\n")
    with pytest.raises(ConfigError, match="unknown key `distdir`") as caught:
        load_config(tmp_path)
    assert "did you mean `dist-dir`?" in caught.value.hint


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("[tool.reprotasks.python]\nno-index = 'yes'\n", "`python.no-index` must be true or false, not a string"),
        (
            "[tool.reprotasks.python]\nfind-links = 'dir'\n",
            "`python.find-links` must be an array of strings, not a string",
        ),
        ("[tool.reprotasks.python]\nlock-backend = 'poetry'\n", "is 'poetry', which is not one of: pip-tools, uv"),
        ("[tool.reprotasks]\npython = 3\n", "`python` must be a table, not an integer"),
        ("[tool]\nreprotasks = 1\n", "[tool.reprotasks] must be a table"),
    ],
)
def test_wrong_types(tmp_path: Path, body: str, expected: str) -> None:
    write(tmp_path, body)
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert expected in caught.value.message


def test_malformed_pyproject_is_a_clear_cli_error(tmp_path: Path) -> None:
    write(tmp_path, "[tool.reprotasks\nx = 1\n")
    result = run_cli("verify", cwd=tmp_path)
    assert result.returncode == 2
    assert "error: pyproject.toml is not valid TOML" in result.stderr
    assert "line 1" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_key_via_cli_has_no_traceback(tmp_path: Path) -> None:
    write(tmp_path, "[tool.reprotasks.go]\nmodul = 'go'\n")
    result = run_cli("lock", cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown key `go.modul`" in result.stderr
    assert "did you mean `go.module`?" in result.stderr
    assert "Traceback" not in result.stderr


def test_environment_overrides_and_rejects_unknown_names(tmp_path: Path) -> None:
    write(tmp_path, "[tool.reprotasks.python]\nlock-backend = 'pip-tools'\n")
    config = load_config(tmp_path, environ={"REPROTASKS_PYTHON_LOCK_BACKEND": "uv", "REPROTASKS_PYTHON_NO_INDEX": "1"})
    assert config.python.lock_backend == "uv"
    assert config.python.no_index is True
    with pytest.raises(ConfigError, match="REPROTASKS_PYTHON_LOCK_BAKEND is not a reprotasks setting") as caught:
        load_config(tmp_path, environ={"REPROTASKS_PYTHON_LOCK_BAKEND": "uv"})
    assert "did you mean `REPROTASKS_PYTHON_LOCK_BACKEND`?" in caught.value.hint
    with pytest.raises(ConfigError, match="is not a boolean"):
        load_config(tmp_path, environ={"REPROTASKS_GO_ENABLED": "maybe"})


def test_overrides_are_validated_with_their_source(tmp_path: Path) -> None:
    write(tmp_path, "")
    with pytest.raises(ConfigError, match=r"invoke configuration: unknown key `python\.backend`"):
        load_config(tmp_path, overrides={"python": {"backend": "uv"}}, overrides_source="invoke configuration")


def test_several_go_modules_are_all_checked_and_one_is_released(tmp_path: Path) -> None:
    """Every module is locked and verified; the one with commands is released; with commands in
    several, build (only build) asks which; the audit never stops on it."""
    from .conftest import commit_all, run_cli

    write(tmp_path, "")
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "go.mod").write_text(f"module example.com/{name}\n\ngo 1.23.0\n")
    config = load_config(tmp_path)
    assert config.go.modules == ((tmp_path / "a").resolve(), (tmp_path / "b").resolve())
    assert config.go.module is None and config.go.unchosen == ()
    command = tmp_path / "b" / "cmd" / "tool"
    command.mkdir(parents=True)
    (command / "main.go").write_text("package main\n\nfunc main() {}\n")
    assert load_config(tmp_path).go.module == (tmp_path / "b").resolve()
    (tmp_path / "a" / "main.go").write_text("package main\n\nfunc main() {}\n")
    config = load_config(tmp_path)
    assert config.go.module is None and len(config.go.unchosen) == 2
    commit_all(tmp_path)
    audited = run_cli("audit", cwd=tmp_path)
    assert audited.returncode in (0, 1) and "Traceback" not in audited.stderr, audited.stderr
    built = run_cli("build", "--go-only", cwd=tmp_path)
    assert built.returncode == 2 and "several Go modules have main packages (a, b)" in built.stderr
    assert 'module = "DIR"' in built.stderr
    write(tmp_path, "[tool.reprotasks.go]\nmodule = 'b'\n")
    config = load_config(tmp_path)
    assert config.go.module == (tmp_path / "b").resolve() and len(config.go.modules) == 2
    write(tmp_path, "[tool.reprotasks.go]\nmodules = ['b']\nmodule = 'a'\n")
    assert [path.name for path in load_config(tmp_path).go.modules] == ["b", "a"]


def test_paths_outside_the_project_are_refused(tmp_path: Path) -> None:
    write(tmp_path / "p", "[tool.reprotasks]\ndist-dir = '../elsewhere'\n")
    with pytest.raises(ConfigError, match="points outside the project"):
        load_config(tmp_path / "p")


def test_missing_lock_input_and_wrong_suffix(tmp_path: Path) -> None:
    write(tmp_path, "[tool.reprotasks.python]\nlocks = ['nope.in']\n")
    with pytest.raises(ConfigError, match=r"'nope\.in' does not exist"):
        load_config(tmp_path)
    (tmp_path / "req.txt").write_text("")
    write(tmp_path, "[tool.reprotasks.python]\nlocks = ['req.txt']\n")
    with pytest.raises(ConfigError, match=r"is not a `\.in` file"):
        load_config(tmp_path)


def test_nested_projects_are_not_searched(tmp_path: Path) -> None:
    write(tmp_path, "")
    nested = write(tmp_path / "vendor-like" / "sub", "")
    (nested / "go.mod").write_text("module example.com/x\n\ngo 1.23.0\n")
    assert load_config(tmp_path).go.module is None


def test_shipped_schema_is_generated_from_the_options() -> None:
    shipped = (REPO / "src" / "reprotasks" / "schema.json").read_text(encoding="utf-8")
    assert shipped == schema_json(), "run `python -m reprotasks schema > src/reprotasks/schema.json`"
    schema = json.loads(shipped)
    assert schema["properties"]["python"]["properties"]["lock-backend"]["enum"] == ["pip-tools", "uv"]
    assert schema["additionalProperties"] is False


def test_readme_documents_every_option() -> None:
    from reprotasks.config import all_options

    readme = (REPO / "docs" / "reference" / "configuration.md").read_text(encoding="utf-8")
    missing = [
        option.dotted
        for option in all_options()
        if f"`{option.key}`" not in readme or (option.layered and option.env_var not in readme)
    ]
    # Keys read only from the committed file say so in their row instead of naming a variable.
    rows = [line for line in readme.splitlines() if line.startswith("| `[")]
    for option in all_options():
        if not option.layered:
            row = next(line for line in rows if f"`[{option.table}]` `{option.key}` |" in line)
            assert "| none: committed only |" in row, row
    assert not missing, f"docs/reference/configuration.md lacks: {missing}"


def test_every_option_is_a_config_field_an_env_var_and_described(make_project: MakeProject) -> None:
    """The options table is the single source: each key has its dataclass field and its place in
    describe() (audit and promote keys are left out of describe(): they do not change what is built)."""
    import dataclasses

    from reprotasks.config import AuditConfig, Config, GoConfig, PythonConfig, SignConfig, all_options
    from reprotasks.promote.options import PromoteConfig

    tables: dict[str, type[object]] = {
        "": Config,
        "python": PythonConfig,
        "go": GoConfig,
        "sign": SignConfig,
        "audit": AuditConfig,
        "promote": PromoteConfig,
    }
    # Keys that resolve into another field instead of one of their own.
    folded = {
        "go.enabled": "go.enabled = false resolves to go.module = None (shown as null)",
        "python.lock-dependencies": "resolves into python.locks (requirements.lock.txt)",
        "python.build-constraints": "resolves into the build lock's input (LockSpec.constraints)",
    }
    described = load_config(make_project()).describe()
    for option in all_options():
        if option.dotted in folded:
            continue
        fields = {field.name for field in dataclasses.fields(tables[option.table])}  # type: ignore[arg-type]
        assert option.field in fields, option.dotted
        assert option.env_var == "REPROTASKS_" + option.dotted.upper().replace(".", "_").replace("-", "_")
        if option.table in ("audit", "promote"):
            continue
        section = described if not option.table else described[option.table]
        assert option.key in section, option.dotted
    keys = {option.dotted for option in all_options()}
    shown = {key for key in described if not isinstance(described[key], dict)}
    shown |= {f"{table}.{key}" for table, values in described.items() if isinstance(values, dict) for key in values}
    assert shown <= keys, shown - keys


def test_version_variables_are_package_level_string_variables_of_main_packages(tmp_path: Path) -> None:
    from reprotasks.discover import version_variables

    (tmp_path / "cmd" / "a").mkdir(parents=True)
    (tmp_path / "cmd" / "a" / "main.go").write_text(
        'package main\n\nconst version = "1"\n\ntype T struct {\n\tVersion string\n}\n\n'
        'func f(\n\tversion string,\n) {\n\tvar Version = "local"\n}\n\nvar (\n\tcommit = "x"\n\tVersion string\n)\n'
    )
    (tmp_path / "cmd" / "a" / "main_test.go").write_text('package main\n\nvar version = "test"\n')
    (tmp_path / "cmd" / "b").mkdir()
    (tmp_path / "cmd" / "b" / "main.go").write_text('package main\n\nvar tpl = "{" // }{\nvar version = "dev"\n')
    assert version_variables(tmp_path, ("./cmd/a",)) == ("main.Version",)
    assert version_variables(tmp_path, ("./cmd/a", "./cmd/b")) == ("main.Version", "main.version")
    (tmp_path / "cmd" / "b" / "main.go").write_text("package main\n\nvar version = computeVersion()\n")
    assert version_variables(tmp_path, ("./cmd/b",)) == ()


def test_a_submodule_or_nested_repository_is_not_part_of_the_layout(tmp_path: Path) -> None:
    """tomlkit's tests/toml-test submodule has a go.mod: it is another project's, never released here."""
    write(tmp_path, "")
    fixture = tmp_path / "tests" / "toml-test"
    fixture.mkdir(parents=True)
    (fixture / ".git").write_text("gitdir: ../../.git/modules/toml-test\n")
    (fixture / "go.mod").write_text("module github.com/toml-lang/toml-test\n\ngo 1.18\n")
    (fixture / "cmd" / "toml-test").mkdir(parents=True)
    (fixture / "cmd" / "toml-test" / "main.go").write_text("package main\n\nfunc main() {}\n")
    config = load_config(tmp_path)
    assert config.go.module is None and config.go.modules == ()


def test_the_build_fingerprint_holds_only_what_changes_the_build(make_project: MakeProject) -> None:
    """Signing, promotion, the audit, images, where dist/ is and the gates change no byte of a build:
    setting them (between `build` and `sbom`, say) leaves its inputs digest alone; build settings do not."""
    root = make_project()
    (root / "trust.json").write_text("{}\n")
    base = load_config(root, environ={}).fingerprint()
    assert not {"sign", "images", "audit", "promote", "dist-dir", "dirty-tree"} & set(base)
    unrelated = {
        "REPROTASKS_SIGN_OFFLINE": "1",
        "REPROTASKS_SIGN_TRUST_CONFIG": "trust.json",
        "REPROTASKS_SIGN_ARTIFACTS": "1",
        "REPROTASKS_SIGN_GITHUB_REPOSITORY": "acme/widgets",
        "REPROTASKS_SIGN_GITHUB_REF": "refs/heads/main",
        "REPROTASKS_SIGN_REQUIRE_PROVENANCE": "0",
        "REPROTASKS_AUDIT_ENABLED": "0",
        "REPROTASKS_IMAGES": '[{"name": "app", "kind": "python", "entrypoint": ["app"], "python-version": "3.12", '
        '"base": "python@sha256:' + "0" * 64 + '"}]',
        "REPROTASKS_DIST_DIR": "out",
        "REPROTASKS_DIRTY_TREE": "warn",
        "REPROTASKS_PYTHON_VERSION_PIN": "none",
        "REPROTASKS_PYTHON_REQUIRE_BUILD_LOCK": "0",
        "REPROTASKS_GO_TOOLCHAIN_PIN": "none",
    }
    for name, value in unrelated.items():
        assert load_config(root, environ={name: value}).fingerprint() == base, name
    assert load_config(root, environ=unrelated).fingerprint() == base
    # Promotion policy is read only from the committed file (its variables are refused).
    promoting = make_project(
        extra_config='\n[tool.reprotasks.promote]\nledger = "ledger"\nregistry = "ghcr.io/acme/ledger"\n', name="other"
    )
    assert load_config(promoting, environ={}).fingerprint() == base
    build_settings = {
        "REPROTASKS_VERSION": "9.9.9",
        "REPROTASKS_PYTHON_INDEX_URL": "https://pypi.example/simple",
        "REPROTASKS_PYTHON_NO_INDEX": "0",
        "REPROTASKS_PYTHON_LOCK_BACKEND": "uv",
        "REPROTASKS_GO_PLATFORMS": "linux/amd64",
        "REPROTASKS_GO_LDFLAGS": "-s -w",
        "REPROTASKS_GO_TAGS": "netgo",
        "REPROTASKS_GO_VCS_STAMP": "1",
    }
    for name, value in build_settings.items():
        assert load_config(root, environ={name: value}).fingerprint() != base, name


def test_config_shows_the_promotion_policy_resolved_and_builds_ignore_it(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[project]\nname = 'x'\nversion = '1'\n\n[tool.reprotasks.promote]\nenvironments = ['qa', 'prod']\n\n"
        "[tool.reprotasks.promote.rules.prod]\nreproduced = true\nsoak = '1d'\n"
        "promoters = ['rm@example.test']\npromoter-issuer = 'https://issuer.example.test'\n"
    )
    config = load_config(tmp_path)
    shown = config.describe()["promote"]
    assert shown["environments"] == ["qa", "prod"] and shown["ledger"] == "promotions"
    assert shown["rules"]["qa"]["reproduced"] is False and shown["rules"]["qa"]["soak"] == "0s"  # the defaults
    assert shown["rules"]["prod"] == {
        "provenance": True,
        "sbom": True,
        "reproduced": True,
        "audit": False,
        "soak": "1d",
        "promoters": ["rm@example.test"],
        "former-promoters": [],
        "promoter-issuer": "https://issuer.example.test",
    }
    assert "promote" not in config.fingerprint()  # where a release may go changes none of its bytes


def test_a_python_package_takes_its_defaults_from_the_project(make_project: MakeProject) -> None:
    root = make_project(extra_config='[[tool.reprotasks.packages]]\nname = "app"\npython = true\n')
    (root / ".python-version").unlink()
    with pytest.raises(ConfigError) as caught:  # the project has no .python-version
        load_config(root)
    assert "which Python do the servers run?" in str(caught.value) and ".python-version" in caught.value.hint
    (root / ".python-version").write_text("3.12.4\n")
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text.replace("version = '1.0'", "version = '1.0'\nrequires-python = '>=3.13'"))
    with pytest.raises(ConfigError) as caught:  # pip would refuse the wheel for 3.12
        load_config(root)
    assert "is not a Python the project supports" in str(caught.value)
    pyproject.write_text(text)
    [package] = load_config(root).packages
    assert package.python_version == "3.12" and package.binaries == () and not package.every_binary
    assert package.platforms == ("linux/amd64", "linux/arm64")  # go.platforms' linux ones with wheels


def test_package_versions_sort_as_the_release_versions_do() -> None:
    from reprotasks.packages.options import package_version, rpm_relation

    assert package_version("0.3.0") == (0, "0.3.0")
    assert package_version("0.4.0rc1") == (0, "0.4.0~rc1")  # before 0.4.0, as dpkg and rpm order `~`
    assert package_version("1!2.0.post1.dev3+local.7") == (1, "2.0+post1~dev3+local.7")
    assert package_version("v1.2.3-rc.1") == (0, "1.2.3~rc1")  # PEP 440 reads it too
    assert package_version("1.2.3-beta.x") == (0, "1.2.3~beta.x")
    assert package_version("2.0.0-alpha-x.1") == (0, "2.0.0~alpha.x.1")  # no hyphen: rpm splits at them
    assert package_version("4.53.6-1-g53e1aa0e8922") == (0, "4.53.6+1.g53e1aa0e8922")  # after v4.53.6
    assert package_version("0.4.0rc1-3-gabcdef0") == (0, "0.4.0~rc1+3.gabcdef0")
    assert rpm_relation("libc6 (>= 2.31)") == "libc6 >= 2.31" and rpm_relation("tzdata") == "tzdata"
    assert rpm_relation("python3 (<< 3.12)") == "python3 < 3.12"


def test_a_long_interpreter_path_launcher_gets_the_target_interpreter() -> None:
    from reprotasks.artifacts.wheel_install import with_shebang

    quote = "'" * 3
    pip_wrote = (f'#!/bin/sh\n{quote}exec\' "/a path/with space/python" "$0" "$@"\n\' {quote}\n'
                 "# -*- coding: utf-8 -*-\nimport sys\n").encode()  # fmt: skip
    assert (
        with_shebang(pip_wrote, b"/usr/bin/python3 -I")
        == b"#!/usr/bin/python3 -I\n# -*- coding: utf-8 -*-\nimport sys\n"
    )
    assert with_shebang(b"#!/bin/sh\necho hi\n", b"/usr/bin/python3") == b"#!/bin/sh\necho hi\n"


def test_a_symlinked_unit_is_installed_under_its_own_name(make_project: MakeProject) -> None:
    root = make_project(extra_config='[[tool.reprotasks.packages]]\nname = "wk"\nsystemd-unit = "wk.service"\n')
    (root / "deploy").mkdir()
    (root / "deploy" / "shared.service").write_text("[Service]\n")
    (root / "wk.service").symlink_to("deploy/shared.service")
    [package] = load_config(root).packages
    assert package.unit_destination == "/usr/lib/systemd/system/wk.service"


SECOND_PACKAGE = (
    'files = { "/etc/x.conf" = "a" }\n[[tool.reprotasks.packages]]\nname = "wk2"\nfiles = { "/etc/x.conf" = "a" }'
)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('files = { "/etc" = "a" }', "which is a system directory"),
        ('files = { "/etc/w" = "a", "/etc/w/x" = "a" }', "which is the directory of '/etc/w/x'"),
        ('binaries = ["worker"]\nfiles = { "/usr/bin/worker" = "a" }', "which is a binary"),
        ('systemd-unit = "u.service"\nfiles = { "/usr/lib/systemd/system/u.service" = "a" }', "the systemd unit"),
        ('files = { "/usr/share/doc/wk/copyright" = "a" }', "the package's own documents"),
        ('platforms = ["linux/amd46"]', "is not one a package can be made for"),
        ('platforms = ["linux/amd64", "linux/amd64"]', "lists 'linux/amd64' twice"),
        ('files = { "/etc/../x" = "a" }', "is not an absolute path of plain names"),
        ('config-files = ["/etc/w.toml"]', "which `files` does not install"),
        ('formats = ["apk"]', "is not a list of deb and rpm"),
        ('binaries = ["worker", "worker"]', "lists 'worker' twice"),
        ('depends = ["libc6, evil"]', "is not NAME or NAME (OP VERSION)"),
        (r'description = "a\rb"', "carriage return"),
        (SECOND_PACKAGE, "both install '/etc/x.conf'"),
        ("python = 1", "`python` must be true or false, not an integer"),
        ('depends = ["libc6 (>= 2.31"]', "is not NAME or NAME (OP VERSION)"),
        ('depends = ["foo | bar"]', "has alternatives, which the .rpm cannot say"),
        ('maintainer = "bob"', "is not `Name <email@example.com>`"),
        ('files = { "/lib64" = "a" }', "which is a system directory"),
        ('files = { "/usr/share/doc/wk" = "a" }', "the package's own documents"),
        ('binaries = ["worker"]\nfiles = { "/usr/bin/worker/x" = "a" }', "inside a binary (/usr/bin/worker)"),
        (
            'binaries = ["worker"]\n[[tool.reprotasks.packages]]\nname = "wk2"\nbinaries = ["worker"]',
            "both install '/usr/bin/worker'",
        ),
        ('files = { "/etc/wk/all" = "." }', "is a directory: a package installs files one by one"),
        ('requirements = "requirements.txt"', "is for the Python app, which this package does not install"),
        ('python = true\npython-version = "3"', "`python-version` '3' is not 3.N"),
        ('python = true\nplatforms = ["linux/arm/v7"]', "has no manylinux wheels for the Python app"),
        ('python = true\nfiles = { "/opt/wk/lib/x.py" = "a" }', "which is the Python app's directory"),
        ('python = true\npython-version = "3.11"\nrequirements = "../outside.txt"', "outside"),
    ],
)
def test_a_bad_package_is_a_clear_error(make_project: MakeProject, entry: str, message: str) -> None:
    root = make_project(extra_config=f'[[tool.reprotasks.packages]]\nname = "wk"\n{entry}\n')
    with pytest.raises(ConfigError) as caught:
        load_config(root)
    assert message in str(caught.value), caught.value
