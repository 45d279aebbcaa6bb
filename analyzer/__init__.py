"""kopia-postmortem: Kopia and VolSync mover logs in, a postmortem out.

    from analyzer import analyze, render_markdown
    analysis = analyze(["examples/logs/"], fix_at=...)
    analysis.runs, analysis.findings, analysis.criteria, analysis.status
    print(render_markdown(analysis))

Sources other than paths and Loki plug in through `analyze(sources=[...])`: anything with
`read(wants) -> SourceResult` (see `analyzer.sources.base`). `LokiConfig` is imported on first
use, and `import analyzer` does not load httpx. A failure the caller can fix raises
`AnalyzerError` (see `analyzer.errors` for the tree).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .analysis import Analysis, Inputs, analyze
from .errors import AnalyzerError
from .report import RenderOptions, render_json, render_markdown, to_json
from .sources.base import Provenance, Source, SourceResult, Wants
from .sources.files import FileSource, Overrides
from .sources.loki import LokiSource

if TYPE_CHECKING:
    from .sources.loki.config import LokiConfig

__all__ = [
    "Analysis",
    "AnalyzerError",
    "FileSource",
    "Inputs",
    "LokiConfig",
    "LokiSource",
    "Overrides",
    "Provenance",
    "RenderOptions",
    "Source",
    "SourceResult",
    "Wants",
    "__version__",
    "analyze",
    "render_json",
    "render_markdown",
    "to_json",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "LokiConfig":  # imported on first use, like the rest of the Loki source
        from .sources.loki.config import LokiConfig

        return LokiConfig
    raise AttributeError(f"module 'analyzer' has no attribute {name!r}")
