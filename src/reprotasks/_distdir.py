"""Where a step writes its release files: a value the runner passes, never a mode of the config.

Outside ``release`` a step writes straight into the configured dist/. ``release`` runs its
steps in a staging directory beside dist/ that replaces it only when every step passed; the
steps are given ``DistDir(path=stage, shown_as=dist/)``, so what they record and show (messages,
manifests, provenance) names dist/, the place the files will be, never the stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DistDir:
    path: Path  # where files are written now (dist/ itself, or release's stage)
    shown_as: Path  # the dist/ they are (or will be): what messages and records name
    root: Path  # the project root, which messages are relative to

    @classmethod
    def of(cls, dist: Path, root: Path) -> DistDir:
        return cls(dist, dist, root)

    @property
    def is_staged(self) -> bool:
        return self.path != self.shown_as

    def staged(self, stage: Path) -> DistDir:
        """The same dist/ written through ``stage``."""
        return DistDir(stage, self.shown_as, self.root)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def rel(self, path: Path | None = None) -> str:
        """``path`` (this directory by default) as messages show it: relative to the project
        root, POSIX style, a path in the stage named as the one in dist/ it becomes."""
        if path is None:
            path = self.path
        if self.is_staged and path.is_relative_to(self.path):
            path = self.shown_as / path.relative_to(self.path)
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()
