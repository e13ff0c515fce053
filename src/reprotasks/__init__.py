"""reprotasks: reproducible, signed releases for repositories that mix Python and Go."""

# Before the imports: steps import it while this package is still initialising.
__version__ = "0.1.0"

from reprotasks.config import Config, load_config
from reprotasks.errors import ConfigError, DriftError, Finding, ReprotasksError, ToolMissingError
from reprotasks.steps.lock import LockResult, lock
from reprotasks.steps.verify import VerifyReport, verify

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
