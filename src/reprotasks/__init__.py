"""reprotasks: reproducible, signed releases for repositories that mix Python and Go.

The public names are loaded on first use (PEP 562), so ``import reprotasks.cli`` costs no step.
"""

from __future__ import annotations

import importlib

from reprotasks._version import __version__

TYPE_CHECKING = False  # typing is not imported at run time: `reprotasks --help` stays fast
if TYPE_CHECKING:
    from typing import Any

    from reprotasks.config import Config, load_config
    from reprotasks.errors import ConfigError, DriftError, Finding, ReprotasksError, ToolMissingError
    from reprotasks.inputs.lock import LockResult, lock
    from reprotasks.inputs.verify import VerifyReport, verify

_LAZY = {
    "Config": "reprotasks.config",
    "load_config": "reprotasks.config",
    "ConfigError": "reprotasks.errors",
    "DriftError": "reprotasks.errors",
    "Finding": "reprotasks.errors",
    "ReprotasksError": "reprotasks.errors",
    "ToolMissingError": "reprotasks.errors",
    "LockResult": "reprotasks.inputs.lock",
    "lock": "reprotasks.inputs.lock",
    "VerifyReport": "reprotasks.inputs.verify",
    "verify": "reprotasks.inputs.verify",
}

__all__ = [
    "Config",
    "ConfigError",
    "DriftError",
    "Finding",
    "LockResult",
    "ReprotasksError",
    "ToolMissingError",
    "VerifyReport",
    "__version__",
    "load_config",
    "lock",
    "verify",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'reprotasks' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
