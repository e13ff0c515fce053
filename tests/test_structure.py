"""The package's structure: which modules may import what (checked on the source with ast)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "reprotasks"


def _imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, module) of every import in a module: top level, under TYPE_CHECKING or inside functions."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            yield node.lineno, node.module


def _is_sigstore(module: str) -> bool:
    # sigstore and its companion packages (sigstore_models, sigstore_protobuf_specs...)
    return module.split(".")[0] == "sigstore" or module.startswith("sigstore_")


def test_only_signing_imports_sigstore() -> None:
    signing = PACKAGE / "signing"
    offenders = []
    modules = sorted(PACKAGE.rglob("*.py"))
    assert modules, f"no modules found under {PACKAGE}"
    for path in modules:
        if path.is_relative_to(signing):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        offenders += [
            f"{path.relative_to(SRC)}:{line} imports {module}"
            for line, module in _imported_modules(tree)
            if _is_sigstore(module)
        ]
    assert not offenders, "sigstore is imported outside reprotasks/signing/: " + "; ".join(offenders)


def test_sigstore_check_sees_every_kind_of_import() -> None:
    """The check above would catch a sigstore import however it is written."""
    source = (
        "import sigstore\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from sigstore.verify import Verifier\n"
        "def f():\n"
        "    import sigstore.models as models\n"
        "    from sigstore_models.common.v1 import HashAlgorithm\n"
        "from reprotasks.signing.sigstore import SignerPolicy\n"
    )
    found = sorted(module for _line, module in _imported_modules(ast.parse(source)) if _is_sigstore(module))
    assert found == ["sigstore", "sigstore.models", "sigstore.verify", "sigstore_models.common.v1"]


def test_image_does_not_import_signing() -> None:
    """signing/ builds on image/ (image signatures are OCI referrers); the arrow never points back:
    publish gets its signing work passed in by the step."""
    offenders = []
    for path in sorted((PACKAGE / "image").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        offenders += [
            f"{path.relative_to(SRC)}:{line} imports {module}"
            for line, module in _imported_modules(tree)
            if module == "reprotasks.signing" or module.startswith("reprotasks.signing.")
        ]
    assert not offenders, "image/ imports signing/: " + "; ".join(offenders)
