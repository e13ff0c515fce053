"""Core steps: plain typed functions ``step(config, *, runner, ...) -> Result``.

Nothing under this package imports nox or invoke; the adapters do that.
"""
