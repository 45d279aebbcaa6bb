"""kopia-postmortem: Kopia and VolSync mover logs in, a postmortem out.

from analyzer import analyze
analysis = analyze(["examples/"], fix_at=...)
analysis.runs, analysis.findings, analysis.criteria, analysis.status

A failure the caller can fix raises `AnalyzerError` (see `analyzer.errors` for the tree).
"""

from .analysis import Analysis, analyze, events_from_raw
from .errors import AnalyzerError

__all__ = ["Analysis", "AnalyzerError", "analyze", "events_from_raw"]
__version__ = "0.1.0"
