"""GitHub Actions workflow commands (``::error``, ``::warning``), escaped so that no file name or
message can start another command."""

from __future__ import annotations

from collections.abc import Mapping

_DATA_SPECIAL = "%\r\n"
_PROPERTY_SPECIAL = "%\r\n:,"


def _escape(text: str, characters: str) -> str:
    for char in characters:  # "%" first, so the escapes themselves are not escaped again
        text = text.replace(char, f"%{ord(char):02X}")
    return text


def annotation(level: str, message: str, properties: Mapping[str, str] | None = None) -> str:
    """A GitHub workflow command, escaped so no file name or message can start another command.

    Per the runner's rules: ``%``, CR and LF in the message; also ``:`` and ``,`` in properties.
    """
    escaped = _escape(message, _DATA_SPECIAL)
    fields = ",".join(f"{key}={_escape(value, _PROPERTY_SPECIAL)}" for key, value in (properties or {}).items())
    return f"::{level}{' ' + fields if fields else ''}::{escaped}"
