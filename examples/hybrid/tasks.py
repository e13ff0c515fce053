"""Release tasks for this repository: `invoke lock verify`."""

from reprotasks.invoke import ns  # noqa: F401  (invoke picks up `ns`)
