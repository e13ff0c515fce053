"""Release sessions for this repository: `nox -s lock verify`."""

import reprotasks.nox  # noqa: F401  (registers the reprotasks sessions)
