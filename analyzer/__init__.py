"""kopia-postmortem: Kopia and VolSync mover logs in, a postmortem out.

from analyzer import analyze
analysis = analyze(["examples/"], fix_at=...)
analysis.runs, analysis.findings, analysis.criteria, analysis.status
"""

from .analysis import Analysis, analyze, events_from_raw

__all__ = ["Analysis", "analyze", "events_from_raw"]
__version__ = "0.1.0"
