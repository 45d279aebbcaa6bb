"""What the caller decides about a report: redaction and the size budget."""

from __future__ import annotations

from dataclasses import dataclass

from .budget import DEFAULT_MAX_CHARS


@dataclass(frozen=True)
class RenderOptions:
    """Redact secrets (and host names, if asked) and keep the Markdown within `max_chars`."""

    redact: bool = True
    redact_hosts: bool = False
    max_chars: int = DEFAULT_MAX_CHARS
    query: str = ""  # how the data was obtained (paths or LogQL), for provenance
