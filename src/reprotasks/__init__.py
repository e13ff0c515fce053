"""reprotasks: reproducible, signed releases for repositories that mix Python and Go."""

from reprotasks.config import Config, load_config
from reprotasks.errors import ConfigError, DriftError, Finding, ReprotasksError, ToolMissingError
from reprotasks.steps.lock import LockResult, lock
from reprotasks.steps.verify import VerifyReport, verify

__version__ = "0.1.0"

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
