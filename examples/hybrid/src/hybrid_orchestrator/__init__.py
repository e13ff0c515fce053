"""Plan jobs in Python, run them with the Go worker."""

__version__ = "0.3.0"
