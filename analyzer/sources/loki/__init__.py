"""Grafana Loki as a source: mover pod lines from `query_range`, paged without losing a line.

Configured like logcli (same `LOKI_*` variables, basic or bearer auth, `X-Scope-OrgID`, TLS).
The range is cut into sub-ranges fetched in parallel; each is paged logcli-style (next page starts
at the last timestamp seen, de-duplicated on stream + timestamp + line) with the limit grown when a
whole page shares one timestamp. In "pushdown" mode Loki gets the literals every line matching
the caller's regexes contains (substring searches, cheap for Loki), the regexes run here, and
per-pod activity comes from a `count_over_time` metric query instead of every line; "auto"
chooses by the volume Loki's index reports.

The modules, in the order a fetch uses them:

- `config`: `LokiConfig`, the `LOKI_*` variables, a repr without secrets;
- `literals`: the literals a line matching a regex must contain (the pushdown filter);
- `logql`: quoting, the log and activity queries, selectors, `| keep`, RE2 escaping;
- `volume`: how much the selector holds in the window (`index/volume`, `index/stats`);
- `times`: nanosecond timestamps, `start`/`end` values, sub-ranges, gap rows;
- `http`: auth, TLS and `Session` (retries, traffic counters, Loki's answers mapped to errors);
- `errors`: the failures `Session` signals to the pagers (the public errors are in
  `analyzer.errors`);
- `identity`: which pod an entry belongs to, and `streams` responses read into entries;
- `paging`: one sub-range paged with nothing lost and nothing twice;
- `activity`: per-pod activity, from the lines or from a metric query;
- `fetching`: `fetch()`, the sub-ranges on a thread pool, and the `LokiResult`;
- `source`: `LokiSource`, a fetch behind the `Source` protocol.

Importing this package costs nothing: httpx, tenacity and tqdm are imported with `fetch`, on
first use of a name listed in `_LAZY`, so a run over local files never pays for them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ...errors import LokiAuthError, LokiConfigError, LokiError, LokiQueryError
from .logql import DEFAULT_SELECTOR
from .source import PUSHDOWN_AFTER_HOURS, LokiSource

if TYPE_CHECKING:
    from .config import LokiConfig
    from .fetching import LokiResult, fetch

__all__ = [
    "DEFAULT_SELECTOR",
    "PUSHDOWN_AFTER_HOURS",
    "LokiAuthError",
    "LokiConfig",
    "LokiConfigError",
    "LokiError",
    "LokiQueryError",
    "LokiResult",
    "LokiSource",
    "fetch",
]

#: Names served on first use, by the module (of this package, or absolute) that defines them.
_LAZY: dict[str, str] = {
    **dict.fromkeys(("LokiConfig", "DEFAULT_ADDR"), ".config"),
    **dict.fromkeys(
        ("LokiResult", "fetch", "lines_frame", "LINES_SCHEMA", "SPLITS_PER_WORKER"), ".fetching"
    ),
    **dict.fromkeys(
        ("ACTIVITY_SCHEMA", "activity_from_counts", "activity_from_lines"), ".activity"
    ),
    **dict.fromkeys(
        ("build_activity_query", "build_log_query", "logql_quote", "render_selector"), ".logql"
    ),
    **dict.fromkeys(("activity_key", "parse_streams", "stream_identity"), ".identity"),
    **dict.fromkeys(("from_ns", "loki_time", "split_range", "to_ns"), ".times"),
    "fetch_log_piece": ".paging",
    "UTC_NS": "analyzer.events",  # in the namespace of the single module this package replaced
}


def __getattr__(name: str) -> Any:
    """The names in `_LAZY`, imported when first asked for."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(_LAZY[name], __name__), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
