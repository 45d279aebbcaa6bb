"""The pipeline in one call: sources -> events -> matches and runs -> findings -> validation.

`analyze()` is what the CLI, the notebooks and the tests call; it returns an `Analysis` holding
every table. Rendering is the report module's job and computes nothing new.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import polars as pl

from . import catalog as catalog_mod
from . import envelopes, findings, kube, templates, validation
from . import runs as runs_mod
from .events import UTC_NS, empty_events, finalize
from .sources import stream
from .sources.files import Overrides, ReadReport, read_files
from .sources.loki_base import DEFAULT_SELECTOR
from .timeutil import Window, fmt_utc, resolve_window

if TYPE_CHECKING:
    from .sources.loki import LokiConfig, LokiResult

#: Without a time flag, a Loki query covers the last 48 hours (a sign-off window).
LOKI_DEFAULT_SINCE = "48h"
#: `mode="auto"` pushes filters down to Loki for windows longer than this many hours.
PUSHDOWN_AFTER_HOURS = 12
#: Problem words and prefixes kept in pushdown mode, so unrecognised errors still surface.
PROBLEM_FILTER = (
    r"(?i)(?:^(?:error|warn)\b|\b(?:error|failed|unable to|cannot|denied|panic|fatal|timeout)\b)"
)


@dataclass(frozen=True)
class LokiRequest:
    """Where and how to read from Loki: the connection, the streams and the transfer mode."""

    config: LokiConfig
    selector: str = DEFAULT_SELECTOR
    mode: str = "auto"  # auto, full or pushdown
    parallel: int = 4
    progress: bool | None = None


@dataclass
class Inputs:
    """What went in: files read and skipped, line counts, Loki details, gaps."""

    paths: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    not_mover: dict | None = None  # files of non-mover pods left unread (see --all-pods)
    lines: int = 0
    unparsed_lines: int = 0
    undecodable_lines: int = 0
    outside_window: int = 0
    kube_documents: list[str] = field(default_factory=list)
    loki: dict | None = None
    gaps: list[dict] = field(default_factory=list)


@dataclass
class Analysis:
    """Everything the report shows, as tables and plain values."""

    window: Window
    data_start: datetime | None
    data_end: datetime | None
    fix_at: datetime | None
    hang_after: timedelta
    validation_hours: float
    inputs: Inputs
    catalog: catalog_mod.Catalog
    events: pl.DataFrame
    matches: pl.DataFrame
    runs: pl.DataFrame
    run_map: pl.DataFrame
    probable: pl.DataFrame
    findings: pl.DataFrame
    per_source: pl.DataFrame
    before_after: pl.DataFrame
    segments: pl.DataFrame
    buckets: pl.DataFrame
    environment: dict
    criteria: list[validation.Criterion]
    status: str
    unclassified: pl.DataFrame

    @property
    def window_end(self) -> datetime | None:
        return self.window.end or self.data_end

    @property
    def window_start(self) -> datetime | None:
        return self.window.start or self.data_start


def events_from_raw(raw: pl.DataFrame) -> pl.DataFrame:
    """Raw lines (source, line_no, raw, path metadata) -> the canonical events table."""
    if raw.height == 0:
        return empty_events()
    frame = envelopes.split_envelopes(raw)
    frame = envelopes.console_lines(frame)
    frame = envelopes.timestamps_from_envelope(frame)
    return finalize(frame)


def events_from_loki(lines: pl.DataFrame) -> pl.DataFrame:
    """Loki lines (already without their node envelope) -> the canonical events table."""
    if lines.height == 0:
        return empty_events()
    frame = lines.with_columns(
        pl.lit("loki").alias("envelope"),
        pl.lit(True).alias("parsed"),
        pl.lit(None, dtype=pl.String).alias("level"),
        pl.lit(None, dtype=pl.String).alias("module"),
        pl.lit(None, dtype=pl.String).alias("replication_source"),
        pl.lit(None, dtype=pl.String).alias("role"),
    )
    return finalize(envelopes.console_lines(frame))


def pushdown_filters(signatures: Sequence[catalog_mod.Signature]) -> list[str]:
    """What pushdown mode asks Loki for: catalog regexes, run markers, environment facts and
    problem words. Everything the analysis reads from a line is in this list."""
    wanted = [
        *(rx for sig in signatures for rx in sig.regex),
        *runs_mod.MARKERS,
        *kube.LOG_FACTS,
        PROBLEM_FILTER,
    ]
    return [catalog_mod.anonymous(rx) for rx in wanted]


def file_filter(signatures: Sequence[catalog_mod.Signature]) -> str:
    """The streaming file source's keep regex: everything `pushdown_filters` lists plus what
    makes a line a problem for template mining, unanchored so it can run on enveloped lines."""
    wanted = [*pushdown_filters(signatures), *templates.PROBLEM_RES]
    cores = dict.fromkeys(catalog_mod.literal_core(catalog_mod.unanchored(rx)) for rx in wanted)
    return "|".join(f"(?:{core})" for core in cores)


def fetch_loki(
    request: LokiRequest, window: Window, signatures: Sequence[catalog_mod.Signature]
) -> tuple[LokiResult, dict]:
    """Fetch the window from Loki in the requested mode; also return the report's summary."""
    assert window.start is not None and window.end is not None
    mode = request.mode
    if mode == "auto":
        hours = (window.end - window.start).total_seconds() / 3600
        mode = "pushdown" if hours > PUSHDOWN_AFTER_HOURS else "full"
    from .sources import loki as loki_source  # only a Loki run pays for httpx

    result = loki_source.fetch(
        request.config,
        window.start,
        window.end,
        selector=request.selector,
        mode=mode,
        line_filters=pushdown_filters(signatures) if mode == "pushdown" else (),
        parallel=request.parallel,
        progress=request.progress,
    )
    info = {
        "addr": request.config.safe_addr,
        "query": result.query if mode == "full" else request.selector + " |~ <catalog filters>",
        "mode": result.mode,
        "from": fmt_utc(window.start),
        "to": fmt_utc(window.end),
        "requests": result.requests,
        "bytes_received": result.bytes_received,
        "lines_received": result.lines_received,
        "lines_kept": result.lines.height,
    }
    return result, info


def merge_gaps(gaps: Sequence[dict]) -> list[dict]:
    """Gaps sorted by start, with back-to-back ones of the same reason joined: a sub-range split
    of the fetch is no reason to list one outage in several rows."""
    merged: list[dict] = []
    for gap in sorted(gaps, key=lambda g: (g["from"], g["to"])):
        last = merged[-1] if merged else None
        if last and last["reason"] == gap["reason"] and last["to"] >= gap["from"]:
            last["to"] = max(last["to"], gap["to"])
        else:
            merged.append(dict(gap))
    return merged


def in_window(events: pl.DataFrame, window: Window) -> pl.Expr:
    """Rows inside [start, end); rows with no time at all are kept (counted, not placed)."""
    cond = pl.lit(True)
    if window.start is not None:
        cond = cond & (pl.col("ts") >= pl.lit(window.start).cast(UTC_NS))
    if window.end is not None:
        cond = cond & (pl.col("ts") < pl.lit(window.end).cast(UTC_NS))
    return cond.fill_null(pl.col("ts").is_null())


def analyze(
    paths: Sequence[str] = (),
    *,
    since: str | None = None,
    until: str | None = None,
    from_: str | None = None,
    to: str | None = None,
    fix_at: datetime | None = None,
    patterns: Sequence[str] = (),
    hang_after: timedelta = timedelta(minutes=30),
    validation_hours: float = 48.0,
    overrides: Overrides | None = None,
    now: datetime | None = None,
    loki: LokiRequest | None = None,
    in_memory: bool = False,
    all_pods: bool = False,
) -> Analysis:
    """Run the whole analysis over local paths and/or a Loki query.

    Files are streamed by default: read once in blocks, keeping only the lines the analysis
    reads and counting the rest. `in_memory=True` keeps every line instead (the reference the
    streaming path is tested against; memory grows with the input). Node-log files of pods
    that cannot be VolSync movers are skipped by their path unless `all_pods`.
    """
    if loki is not None and not (since or from_):
        since = LOKI_DEFAULT_SINCE
    window = resolve_window(since=since, until=until, from_=from_, to=to, now=now)
    cat = catalog_mod.load_catalog(patterns)
    read = ReadReport()
    parts: list[pl.DataFrame] = []
    dropped = pl.DataFrame(schema=stream.DROPPED_SCHEMA)
    if paths and in_memory:
        raw, read = read_files(paths, overrides, all_pods=all_pods)
        parts.append(events_from_raw(raw))
    elif paths:
        rule = stream.KeepRule(
            file_filter(cat.signatures), window.start, window.end, routine=templates.BENIGN_RE
        )
        scan = stream.scan_files(paths, overrides, rule, all_pods=all_pods)
        raw, read, dropped = scan.raw, scan.report, scan.dropped
        parts.append(events_from_raw(raw))
    activity = None
    loki_info: dict | None = None
    gaps: list[dict] = []
    if loki is not None:
        result, loki_info = fetch_loki(loki, window, cat.signatures)
        parts.append(events_from_loki(result.lines))
        gaps = merge_gaps(result.gaps)
        activity = result.activity if result.mode == "pushdown" else None
    everything = pl.concat(parts, how="vertical_relaxed") if parts else empty_events()
    events = finalize(everything.filter(in_window(everything, window)))
    documents = [d for _, d in read.kube_documents]
    events = kube.fill_namespaces(events, documents)
    if dropped.height:
        activity = _with_file_activity(activity, events, dropped)
    inputs = Inputs(
        paths=list(paths),
        files=read.files,
        skipped=read.skipped,
        not_mover=_not_mover_summary(read.not_mover),
        lines=events.height + int(dropped["dropped_in_window"].sum()),
        unparsed_lines=int((~events["parsed"]).sum()),
        undecodable_lines=read.undecodable_lines,
        outside_window=everything.height - events.height + int(dropped["dropped_outside"].sum()),
        kube_documents=[p for p, _ in read.kube_documents],
        loki=loki_info,
        gaps=gaps,
    )
    timed = events["ts"].drop_nulls()
    data_start = timed.min() if timed.len() else None
    data_end = timed.max() if timed.len() else None
    window_end = window.end or data_end

    matches = catalog_mod.match_events(events, cat.signatures)
    runs = runs_mod.reconstruct_runs(
        events, window_end=window_end, hang_after=hang_after, activity=activity
    )
    run_map = runs_mod.attach_to_runs(events, runs)
    probable = findings.probable_user_lookup_hangs(runs, events, matches, run_map)
    found = findings.summarise(matches, events, runs, run_map, cat.signatures, probable)
    environment = kube.environment(events, runs, matches, documents)
    criteria = validation.evaluate(
        runs=runs,
        matches=matches,
        events=events,
        signatures=cat.signatures,
        data_start=window.start or data_start,
        window_end=window_end,
        fix_at=fix_at,
        validation_hours=validation_hours,
        gaps=gaps,
    )
    unclassified = _unclassified(events, matches, fix_at)
    return Analysis(
        window=window,
        data_start=data_start,
        data_end=data_end,
        fix_at=fix_at,
        hang_after=hang_after,
        validation_hours=validation_hours,
        inputs=inputs,
        catalog=cat,
        events=events,
        matches=matches,
        runs=runs,
        run_map=run_map,
        probable=probable,
        findings=found,
        per_source=findings.per_replication_source(runs),
        before_after=findings.before_after(runs, fix_at),
        segments=findings.outcome_segments(runs),
        buckets=findings.duration_buckets(runs),
        environment=environment,
        criteria=criteria,
        status=validation.status(criteria),
        unclassified=unclassified,
    )


def _with_file_activity(
    activity: pl.DataFrame | None, events: pl.DataFrame, dropped: pl.DataFrame
) -> pl.DataFrame:
    """Per pod, every line it printed in the window: the kept rows plus the streamed-past ones,
    so a run's line count is the same as when every line is kept."""
    kept = runs_mod.pod_output(events).group_by("pod").agg(pl.len().cast(pl.Int64).alias("kept"))
    passed = (
        dropped.filter(pl.col("pod").is_not_null() & (pl.col("kind") != stream.PLAIN))
        .group_by("pod")
        .agg(pl.col("dropped_in_window").sum().alias("passed"))
    )
    files = kept.join(passed, on="pod", how="inner").select(
        "pod",
        (pl.col("kept") + pl.col("passed")).alias("lines"),
        pl.lit(None, dtype=UTC_NS).alias("last_ts"),
    )
    if activity is None or activity.height == 0:
        return files
    return pl.concat([activity.select(files.columns), files], how="vertical_relaxed")


def _not_mover_summary(skipped: Sequence[tuple[str, str, int]]) -> dict | None:
    """Node-log files left unread because their pod cannot be a mover, summed up."""
    if not skipped:
        return None
    pods = sorted({pod for _, pod, _ in skipped})
    return {
        "files": len(skipped),
        "pods": len(pods),
        "bytes": sum(size for _, _, size in skipped),
        "examples": pods[:5],
    }


def _unclassified(
    events: pl.DataFrame, matches: pl.DataFrame, fix_at: datetime | None
) -> pl.DataFrame:
    """Problem lines no signature explains, grouped into templates."""
    matched = events["event_id"].is_in(matches["event_id"].unique().implode())
    return templates.mine(events, matched, fix_at=fix_at)
