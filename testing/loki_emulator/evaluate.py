"""Query evaluation: log entries by limit, direction and interval, and range and vector
aggregations at the step points of a metric query.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .api import NS
from .logql import LogQuery, RangeAgg, VectorAgg
from .store import Series, Store, label_string


def _entry_passes(query: LogQuery, series: Series, idx: int) -> bool:
    line = series.lines[idx]
    if not all(f.keep(line) for f in query.line_filters):
        return False
    if query.label_filters:
        merged = series.labels | series.sm[idx]
        return all(m.matches(merged) for m in query.label_filters)
    return True


def bounds(series: Series, start: int, end: int, *, end_inclusive: bool = False) -> range:
    lo = bisect.bisect_left(series.ts, start)
    hi = (bisect.bisect_right if end_inclusive else bisect.bisect_left)(series.ts, end)
    return range(lo, hi)


def select_entries(
    store: Store, query: LogQuery, start: int, end: int, limit: int, forward: bool, interval: int
) -> list[tuple[Series, int]]:
    """The first `limit` entries of [start, end) over all streams, in direction order."""

    def walk(series: Series) -> Iterator[tuple[int, int, int, Series]]:
        indices = bounds(series, start, end)
        for idx in indices if forward else reversed(indices):
            if _entry_passes(query, series, idx):
                ts = series.ts[idx]
                yield (
                    (ts, series.rank, idx, series) if forward else (-ts, -series.rank, -idx, series)
                )

    # readStreams (pkg/logql/engine.go): `interval` thins the merged iterator, and `limit`
    # counts the entries that are kept.
    out: list[tuple[Series, int]] = []
    last: int | None = None
    for key, _rank, idx, series in heapq.merge(*(walk(s) for s in store.matching(query.matchers))):
        if len(out) >= limit:
            break
        ts = abs(key)
        if interval and last is not None and abs(ts - last) < interval:
            continue
        last = ts
        out.append((series, abs(idx)))
    return out


def streams_result(
    selected: Sequence[tuple[Series, int]], categorize: bool, keep: Sequence[str] | None = None
) -> list[dict]:
    """Group selected entries into result streams the way Loki encodes them; `keep` (a
    `| keep` stage) filters stream labels and structured metadata, merging what it unites."""
    groups: dict[str, tuple[dict[str, str], list[list[Any]]]] = {}
    for series, idx in selected:
        ts, line, sm = str(series.ts[idx]), series.lines[idx], series.sm[idx]
        stream_labels = series.labels
        if keep is not None:
            stream_labels = {k: v for k, v in stream_labels.items() if k in keep}
            sm = {k: v for k, v in sm.items() if k in keep}
        labels = stream_labels if categorize else stream_labels | sm
        key = label_string(labels) if keep is not None or not categorize else series.key
        bucket = groups.setdefault(key, (dict(sorted(labels.items())), []))
        if categorize:
            bucket[1].append([ts, line, {"structuredMetadata": sm} if sm else {}])
        else:
            bucket[1].append([ts, line])
    return [{"stream": groups[k][0], "values": groups[k][1]} for k in sorted(groups)]


def _series_points(
    store: Store, agg: RangeAgg, points: Sequence[int]
) -> dict[str, tuple[dict[str, str], dict[int, float]]]:
    """Evaluate a range aggregation at each point t over the window (t - range, t]."""
    out: dict[str, tuple[dict[str, str], dict[int, float]]] = {}
    if not points:
        return out
    first, step = points[0], (points[1] - points[0]) if len(points) > 1 else 1
    keys: dict[tuple, tuple[str, dict[str, str]]] = {}
    seconds = agg.range_ns / NS
    for series in store.matching(agg.inner.matchers):
        for idx in bounds(series, points[0] - agg.range_ns + 1, points[-1], end_inclusive=True):
            if not _entry_passes(agg.inner, series, idx):
                continue
            ts = series.ts[idx]
            k_lo = max(0, -((first - ts) // step))
            k_hi = min(len(points) - 1, (ts + agg.range_ns - 1 - first) // step)
            if k_lo > k_hi:
                continue
            cache_key = (series.key, tuple(series.sm[idx].items()))
            if cache_key not in keys:
                labels = series.labels | series.sm[idx]
                keys[cache_key] = (label_string(labels), labels)
            key, labels = keys[cache_key]
            acc = out.setdefault(key, (labels, {}))[1]
            weight = len(series.lines[idx].encode()) if agg.func.startswith("bytes") else 1
            for k in range(k_lo, k_hi + 1):
                acc[points[k]] = acc.get(points[k], 0) + weight
    if agg.func in ("rate", "bytes_rate"):
        for _, acc in out.values():
            for t in acc:
                acc[t] /= seconds
    return out


def evaluate_metric(store: Store, expr: RangeAgg | VectorAgg, points: Sequence[int]):
    """Series (labels -> {t: value}) of a metric expression at the given points."""
    if isinstance(expr, RangeAgg):
        return _series_points(store, expr, points)
    inner = evaluate_metric(store, expr.inner, points)
    grouped: dict[str, tuple[dict[str, str], dict[int, list[float]]]] = {}
    for labels, values in inner.values():
        if expr.by is not None:
            kept = {k: v for k, v in labels.items() if k in expr.by and v}
        else:
            kept = {k: v for k, v in labels.items() if k not in (expr.without or ())}
        bucket = grouped.setdefault(label_string(kept), (kept, {}))[1]
        for t, value in values.items():
            bucket.setdefault(t, []).append(value)
    reducers: dict[str, Callable[[list[float]], float]] = {
        "sum": sum, "count": len, "min": min, "max": max, "avg": lambda v: sum(v) / len(v),
    }  # fmt: skip
    reduce = reducers[expr.op]
    return {
        key: (labels, {t: float(reduce(vals)) for t, vals in values.items()})
        for key, (labels, values) in grouped.items()
    }


def format_sample_value(value: float) -> str:
    """Go `strconv.FormatFloat(v, 'f', -1, 64)` for the values Loki sends as strings."""
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def format_sample_time(t_ns: int) -> int | float:
    """Unix seconds as a JSON number (float when the step is sub-second)."""
    return t_ns // NS if t_ns % NS == 0 else t_ns / NS
