"""Render an Analysis as the reference-shaped Markdown postmortem, or as JSON.

The report computes nothing the analysis did not. `prepare` redacts and cuts the log text once;
`view.build` turns the result into a frozen `Postmortem` of display-ready values; the Markdown
lays that view out with one Jinja partial per section and keeps it under a size budget (GitHub
caps issue bodies at 65,536 characters); the JSON reads the same view where the two agree. Log
text goes through `markdown_safe` so GitHub shows it literally, pings nobody and links nothing.

Modules: `prepare` (redaction, clipping, the excerpt policy), `view` (the Postmortem and its
sections), `charts` (Mermaid), `budget` (detail levels), `markdown` (Jinja), `contract` (JSON).
"""

from __future__ import annotations

from .budget import DEFAULT_MAX_CHARS
from .contract import render_json, to_json
from .markdown import render_markdown
from .options import RenderOptions
from .prepare import MAX_LINE_CHARS, prepare, redacted, shown_events
from .view import REFERENCE_HEADINGS

__all__ = [
    "DEFAULT_MAX_CHARS",
    "MAX_LINE_CHARS",
    "REFERENCE_HEADINGS",
    "RenderOptions",
    "prepare",
    "redacted",
    "render_json",
    "render_markdown",
    "shown_events",
    "to_json",
]
