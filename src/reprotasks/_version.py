"""The version, in a leaf module: anything may import it while the package is initialising."""

__version__ = "0.1.0"
