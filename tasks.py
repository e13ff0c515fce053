"""reprotasks' own invoke tasks: `invoke lock`, `invoke verify` over its dev requirements."""

from reprotasks.invoke import ns  # noqa: F401  (invoke picks up `ns`)
