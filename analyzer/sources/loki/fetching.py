"""`fetch`: a range of Loki lines in one call. The range is cut into sub-ranges (and, in
pushdown mode, metric pieces) run on a thread pool; their entries become the `lines` table and
their failures gaps in the `LokiResult`.

The module is `fetching`, not `fetch`, so that importing it never replaces the package's
`fetch` function with a module of the same name.
"""

from __future__ import annotations

import math
import re
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any, TypeVar

import polars as pl
from tqdm import tqdm

from ...errors import LokiError, LokiQueryError
from ...events import EVENTS_SCHEMA
from .activity import (
    activity_from_counts,
    activity_from_lines,
    activity_pieces,
    fetch_activity_piece,
    merge_counts,
)
from .config import LokiConfig
from .http import Session
from .identity import Entry, Identities
from .literals import CheapFilter, cheap_filter
from .logql import DEFAULT_SELECTOR, build_activity_query, build_log_query
from .paging import LogRange, fetch_log_piece
from .times import split_range, to_ns

if TYPE_CHECKING:
    import httpx

__all__ = [
    "LINES_SCHEMA",
    "MAX_PIECE_NS",
    "SPLITS_PER_WORKER",
    "LokiResult",
    "fetch",
    "lines_frame",
]

#: Sub-ranges per worker: more than one so a burst of activity does not idle the other workers.
SPLITS_PER_WORKER = 4
#: Longest sub-range asked in one query (Loki's default max_query_length is 721h).
MAX_PIECE_NS = 720 * 3600 * 10**9

#: `lines`: one row per log line, sorted by ts, source, line_no; the events table's columns
#: that Loki knows (the rest is filled downstream).
LINES_SCHEMA: dict[str, pl.DataType] = {
    name: EVENTS_SCHEMA[name]
    for name in ("ts", "namespace", "pod", "container", "stream", "source", "line_no", "message")
}

T = TypeVar("T")


@dataclass
class LokiResult:
    """What `fetch` got: lines, per-pod activity, traffic counters, gaps and the LogQL sent.

    `lines` follows LINES_SCHEMA; in pushdown mode it holds only the matching lines and line_no
    counts among them. `activity` follows ACTIVITY_SCHEMA: in full mode first_ts/last_ts are the
    first and last line; in pushdown mode they are the bounds of the first and last non-empty
    minute window (the first line is after first_ts, the last at or before last_ts), and the
    windows of the first/last minute may count lines just outside [start, end) when those are not
    minute-aligned. `lines` and `per_minute` agree between the modes.
    """

    lines: pl.DataFrame
    activity: pl.DataFrame
    mode: str
    requests: int
    bytes_received: int  # response body bytes as received (compressed when Loki gzips)
    lines_received: int  # log entries in all responses, page overlaps included
    gaps: list[dict]
    query: str
    activity_query: str = ""  # pushdown mode: the metric query behind `activity`
    #: Entries Loki sent that could not be read (impossible time, a line that is not text),
    #: by reason: left out, and said in the report.
    unreadable: dict[str, int] = field(default_factory=dict)


def lines_frame(entries: Sequence[Entry]) -> pl.DataFrame:
    """Entries (in forward order) as the `lines` table, with line_no per source."""
    if not entries:
        return pl.DataFrame(schema=LINES_SCHEMA)
    infos = [e[1] for e in entries]
    frame = pl.DataFrame(
        {
            "ts": pl.Series([e[0] for e in entries], dtype=pl.Int64),
            "namespace": [i.namespace for i in infos],
            "pod": [i.pod for i in infos],
            "container": [i.container for i in infos],
            "stream": [i.stream for i in infos],
            "source": [i.source for i in infos],
            "message": [e[2] for e in entries],
        },
        schema_overrides={k: LINES_SCHEMA[k] for k in ("namespace", "pod", "container", "stream")},
    )
    frame = frame.with_columns(pl.from_epoch("ts", time_unit="ns").dt.replace_time_zone("UTC"))
    frame = frame.sort("ts", maintain_order=True).with_columns(
        line_no=(pl.int_range(pl.len()).over("source") + 1).cast(pl.Int64)
    )
    return frame.sort(["ts", "source", "line_no"]).select(list(LINES_SCHEMA))


def _run_all(tasks: Sequence[Callable[[], T]], parallel: int, show: bool | None) -> list[T]:
    """Run tasks on `parallel` threads; results in task order; the first error cancels the rest
    and is the one raised (never the cancellation it caused)."""
    show = sys.stderr.isatty() if show is None else show
    results: list[Any] = [None] * len(tasks)
    bar = tqdm(total=len(tasks), desc="loki", unit="range", file=sys.stderr, disable=not show)
    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="loki")
    failed = threading.Event()
    first_error: list[BaseException] = []  # recorded before `failed` is set
    lock = threading.Lock()

    def guarded(task: Callable[[], T]) -> T:
        # a task not yet started when another failed does not start: no request after an error
        if failed.is_set():
            raise LokiError("the fetch was cancelled")
        try:
            return task()
        except BaseException as exc:
            with lock:
                if not first_error:
                    first_error.append(exc)
            failed.set()
            raise

    futures: dict[Future[T], int] = {pool.submit(guarded, t): i for i, t in enumerate(tasks)}
    try:
        for future in as_completed(futures):
            if future.exception() is not None:
                # a cancelled task can finish before the task whose error cancelled it
                raise first_error[0]
            results[futures[future]] = future.result()
            bar.update(1)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        bar.close()
    return results


def _validate(
    start: int, end: int, mode: str, parallel: int, page_limit: int, retries: int
) -> None:
    if end <= start:
        raise ValueError("end must be after start")
    if mode not in ("full", "pushdown"):
        raise ValueError(f"mode must be 'full' or 'pushdown', not {mode!r}")
    if parallel < 1 or page_limit < 1 or retries < 0:
        raise ValueError("parallel and page_limit must be >= 1 and max_retries >= 0")


def fetch(
    config: LokiConfig,
    start: datetime,
    end: datetime,
    *,
    selector: str = DEFAULT_SELECTOR,
    mode: str = "full",
    line_filters: Sequence[str] = (),
    parallel: int = 4,
    page_limit: int = 5000,
    progress: bool | None = None,
    max_retries: int = 5,
    direction: str = "forward",
    transport: httpx.BaseTransport | None = None,
) -> LokiResult:
    """Lines of [start, end) for `selector`, every line ("full") or matching lines ("pushdown").

    Full mode ignores `line_filters` and computes `activity` from the lines. Pushdown sends Loki
    the literals every matching line contains (`literals.cheap_filter`: substring searches,
    cheap for Loki), keeps the lines that match `line_filters` exactly, and reads `activity`
    from a count_over_time query. Each request is tried `max_retries + 1` times; a sub-range
    still failing becomes a gap. 400 raises LokiQueryError, 401/403 LokiAuthError. A Loki that
    cannot parse the `or` terms or `| keep` (older than 3.0) is asked again in the syntax it
    reads. `direction` only changes how pages walk. `transport` replaces the network, e.g.
    with an `httpx.MockTransport` in tests.
    """
    lo, hi = to_ns(start), to_ns(end)
    _validate(lo, hi, mode, parallel, page_limit, max_retries)
    if direction not in ("forward", "backward"):
        raise ValueError(f"direction must be 'forward' or 'backward', not {direction!r}")
    pushdown = mode == "pushdown"
    cheap = cheap_filter(line_filters) if pushdown else None
    args = (config, lo, hi, selector, cheap, parallel, page_limit, progress, max_retries)
    try:
        result = _fetch(*args, direction == "backward", transport, compatible=False)
    except LokiQueryError as exc:
        if not _after_selector(str(exc), selector):
            raise
        result = _fetch(*args, direction == "backward", transport, compatible=True)
    if pushdown and line_filters and result.lines.height:
        exact = [pl.col("message").str.contains(rx) for rx in dict.fromkeys(line_filters)]
        result.lines = result.lines.filter(pl.any_horizontal(exact))
    return result


def _after_selector(error: str, selector: str) -> bool:
    """Whether Loki's parse error points past the selector, into the stages this module adds
    (a bad selector is the user's; `or` terms and `| keep` are a Loki older than 3.0's)."""
    found = re.search(r"parse error at line \d+, col (\d+)", error)
    return found is not None and int(found.group(1)) > len(selector)


def _fetch(
    config: LokiConfig,
    lo: int,
    hi: int,
    selector: str,
    cheap: CheapFilter | None,
    parallel: int,
    page_limit: int,
    progress: bool | None,
    max_retries: int,
    backward: bool,
    transport: httpx.BaseTransport | None,
    *,
    compatible: bool,
) -> LokiResult:
    pushdown = cheap is not None
    query = build_log_query(selector, cheap, compatible=compatible)
    activity_query = build_activity_query(selector) if pushdown else ""
    session = Session(config, max_retries, transport)
    try:
        identities = Identities()
        pager = LogRange(session, identities, query, page_limit)
        pieces = max(parallel * SPLITS_PER_WORKER, math.ceil((hi - lo) / MAX_PIECE_NS))
        log_tasks = [
            (lambda a=a, b=b: fetch_log_piece(pager, a, b, backward))
            for a, b in split_range(lo, hi, pieces)
        ]
        metric_tasks = [
            (lambda a=a, b=b: fetch_activity_piece(session, activity_query, a, b))
            for a, b in (activity_pieces(lo, hi, parallel) if pushdown else [])
        ]
        results = _run_all([*log_tasks, *metric_tasks], parallel, progress)
    finally:
        session.close()
    log_results, metric_results = results[: len(log_tasks)], results[len(log_tasks) :]
    lines = lines_frame([e for entries, _ in log_results for e in entries])
    if pushdown:
        activity = activity_from_counts(merge_counts([c for c, _ in metric_results]))
    else:
        activity = activity_from_lines(lines)
    gaps = [g for _, found in [*log_results, *metric_results] for g in found]
    return LokiResult(
        lines=lines,
        activity=activity,
        mode="pushdown" if pushdown else "full",
        requests=session.requests,
        bytes_received=session.bytes_received,
        lines_received=session.lines_received,
        gaps=sorted(gaps, key=itemgetter("from")),
        query=query,
        activity_query=activity_query,
        unreadable=dict(identities.unreadable),
    )
