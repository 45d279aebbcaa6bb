"""The pipeline in one call: sources -> events -> matches and runs -> findings -> validation.

`analyze()` is what the CLI, the notebooks and the tests call; it returns an `Analysis` holding
every table. Rendering is the report module's job and computes nothing new.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import polars as pl

from . import catalog as catalog_mod
from . import describe, findings, inference, kube, templates, validation
from . import runs as runs_mod
from .envelopes import events_from_loki, events_from_raw
from .events import UTC_NS, empty_events, finalize
from .sources.base import PASSED_SCHEMA, Provenance, Source, SourceResult, Wants, merge_gaps
from .sources.files import FileSource, Overrides
from .sources.loki import PUSHDOWN_AFTER_HOURS, LokiSource
from .timeutil import Window, fmt_utc, resolve_window

__all__ = [
    "PUSHDOWN_AFTER_HOURS",
    "Analysis",
    "Inputs",
    "LokiRequest",
    "analyze",
    "events_from_loki",
    "events_from_raw",
    "file_filter",
    "merge_gaps",
    "pushdown_filters",
]

#: Without a time flag, a Loki query covers the last 48 hours (a sign-off window).
LOKI_DEFAULT_SINCE = "48h"
#: Problem words and prefixes kept in pushdown mode, so unrecognised errors still surface.
PROBLEM_FILTER = (
    r"(?i)(?:^(?:error|warn)\b|\b(?:error|failed|unable to|cannot|denied|panic|fatal|timeout)\b)"
)

#: The name `analyze(loki=...)` has always taken; a Loki read is a `LokiSource`.
LokiRequest = LokiSource


@dataclass
class Inputs:
    """What went in: the merge of every source's provenance and counts, with the views the
    report reads (files read and skipped, Loki details, gaps)."""

    sources: list[Provenance] = field(default_factory=list)
    lines: int = 0
    unparsed_lines: int = 0
    outside_window: int = 0
    kube_documents: list[str] = field(default_factory=list)
    gaps: list[dict] = field(default_factory=list)

    def _of(self, kind: str) -> list[Provenance]:
        return [p for p in self.sources if p.kind == kind]

    @property
    def paths(self) -> list[str]:
        """The paths the user named, over every file source."""
        return [path for p in self._of("files") for path in p.paths]

    @property
    def files(self) -> list[str]:
        """Files read, and the logs read from the Kubernetes API (`kube:` addresses)."""
        return [path for p in self._of("files") + self._of("kube") for path in p.files]

    @property
    def skipped(self) -> list[tuple[str, str]]:
        return [item for p in self.sources for item in p.skipped]

    @property
    def undecodable_lines(self) -> int:
        return sum(p.undecodable_lines for p in self.sources)

    @property
    def not_mover(self) -> dict | None:
        """Node-log files left unread because their pod cannot be a mover, summed up."""
        skipped = [item for p in self.sources for item in p.not_mover]
        if not skipped:
            return None
        pods = sorted({pod for _, pod, _ in skipped})
        return {
            "files": len(skipped),
            "pods": len(pods),
            "bytes": sum(size for _, _, size in skipped),
            "examples": pods[:5],
        }

    @property
    def loki(self) -> dict | None:
        """The first Loki source's request summary (address, query, mode, counters)."""
        found = self._of("loki")
        return found[0].details if found else None


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
    #: What the user should know before reading the report (an empty or misplaced window, a
    #: fix after the data, partial data): one line each; the CLI says them on stderr too.
    notices: list[str] = field(default_factory=list)

    @property
    def window_end(self) -> datetime | None:
        return self.window.end or self.data_end

    @property
    def window_start(self) -> datetime | None:
        return self.window.start or self.data_start


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
    loki: LokiSource | None = None,
    in_memory: bool = False,
    all_pods: bool = False,
    sources: Sequence[Source] = (),
    progress: bool | None = None,
) -> Analysis:
    """Run the whole analysis over local paths, a Loki query and/or any other `sources`.

    `paths` (with `overrides`, `all_pods`, `in_memory`) and `loki` are shorthands for a
    `FileSource` and a `LokiSource`, read before `sources`. Files are streamed by default: read
    once in blocks, keeping only the lines the analysis reads and counting the rest;
    `in_memory=True` keeps every line instead (the reference the streaming path is tested
    against; memory grows with the input). Node-log files of pods that cannot be VolSync movers
    are skipped by their path unless `all_pods`. `progress`: a bar on stderr while files are
    read (None: when stderr is a terminal).
    """
    chosen: list[Source] = []
    if paths:
        chosen.append(
            FileSource(
                paths, overrides, all_pods=all_pods, streaming=not in_memory, progress=progress
            )
        )
    if loki is not None:
        chosen.append(loki)
    chosen.extend(sources)
    if any(getattr(s, "kind", None) in ("loki", "kube") for s in chosen) and not (since or from_):
        since = LOKI_DEFAULT_SINCE
    window = resolve_window(since=since, until=until, from_=from_, to=to, now=now)
    cat = catalog_mod.load_catalog(patterns)
    wants = Wants(
        window=window,
        keep_regex=file_filter(cat.signatures),
        line_filters=tuple(pushdown_filters(cat.signatures)),
        routine=templates.BENIGN_RE,
    )
    results = [source.read(wants) for source in chosen]
    documents = [d for r in results for _, d in r.documents]
    # the objects' own evidence: last-run lines of ReplicationSources/Destinations, Events
    from_objects = [kube.status_events(documents), kube.object_events(documents)]
    everything = _concat([*_one_copy(results), *from_objects], empty_events())
    everything = kube.drop_restated_status(kube.fill_namespaces(everything, documents))
    events = finalize(everything.filter(in_window(everything, window)))
    passed = _concat([r.passed for r in results], pl.DataFrame(schema=PASSED_SCHEMA))
    # joined into one alternation by the run reconstruction: named groups must not repeat
    terminal = tuple(
        catalog_mod.anonymous(rx) for sig in cat.signatures if sig.terminal for rx in sig.regex
    )
    activity = _activity(results, events, passed, terminal)
    inputs = Inputs(
        sources=[r.provenance for r in results],
        lines=events.height + int(passed["in_window"].sum()),
        unparsed_lines=int((~events["parsed"]).sum()),
        outside_window=everything.height - events.height + int(passed["outside"].sum()),
        kube_documents=[path for r in results for path, _ in r.documents],
        gaps=merge_gaps([g for r in results for g in r.gaps]),
    )
    gaps = inputs.gaps
    timed = events["ts"].drop_nulls()
    data_start = timed.min() if timed.len() else None
    data_end = timed.max() if timed.len() else None
    window_end = window.end or data_end
    # Input read from stdin may be live (`kubectl logs … | analyze -`): without an end given,
    # a run's silence is measured up to the time of the analysis, not to its own last line.
    live = "-" in paths and window.end is None
    analysed_at = (now or datetime.now(UTC)).astimezone(UTC)

    matches = catalog_mod.match_events(events, cat.signatures)
    runs = runs_mod.reconstruct_runs(
        events,
        window_end=analysed_at if live else window_end,
        hang_after=hang_after,
        activity=activity,
        terminal=terminal,
        silence_basis="silence-at-analysis-time" if live else "silence-in-window",
        hangs=tuple(
            catalog_mod.anonymous(rx) for sig in cat.signatures if sig.hang for rx in sig.regex
        ),
        states=kube.run_states(documents),
    )
    runs = describe.fill_exit_codes(runs, documents)
    run_map = runs_mod.attach_to_runs(events, runs)
    probable = inference.infer(runs, matches, run_map, cat.signatures)
    found = findings.summarise(matches, events, runs, run_map, cat.signatures, probable)
    environment = kube.environment(events, runs, matches, documents)
    environment["kubernetes"] = describe.kubernetes_evidence(documents)
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
    span = everything["ts"].drop_nulls()
    notices = _notices(
        window=window,
        inputs=inputs,
        span=(span.min(), span.max()) if span.len() else None,
        data_end=data_end,
        fix_at=fix_at,
        runs=runs,
        loki_selector=next((s.selector for s in chosen if isinstance(s, LokiSource)), None),
    ) + kube.problems([d for r in results for d in r.documents])
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
        status=validation.status(criteria, observed=runs.height > 0),
        unclassified=unclassified,
        notices=notices,
    )


def _notices(
    *,
    window: Window,
    inputs: Inputs,
    span: tuple[datetime, datetime] | None,
    data_end: datetime | None,
    fix_at: datetime | None,
    runs: pl.DataFrame,
    loki_selector: str | None,
) -> list[str]:
    """One line per thing that makes the report say less than the user may think."""
    out = []
    if inputs.lines == 0 and span is not None:
        out.append(
            f"the window {window.describe()} holds no log lines, but the input spans "
            f"{fmt_utc(span[0])} → {fmt_utc(span[1])}; try --from/--to over that span"
        )
    elif inputs.lines == 0 and loki_selector and not inputs.gaps:
        out.append(f"Loki returned no line for {loki_selector} in {window.describe()}")
    elif inputs.lines and runs.height == 0:
        out.append(
            f"no mover output among the {inputs.lines} log lines: no VolSync mover or "
            "KopiaMaintenance run can be judged"
        )
    unreadable = (inputs.loki or {}).get("entries_unreadable") or {}
    if unreadable:
        reasons = ", ".join(f"{n} with {why}" for why, n in sorted(unreadable.items()))
        out.append(
            f"{sum(unreadable.values())} entries Loki sent could not be read and are not "
            f"analysed ({reasons})"
        )
    if fix_at is not None and data_end is not None and fix_at > data_end:
        out.append(
            f"--fix-at {fmt_utc(fix_at)} is after the last log line ({fmt_utc(data_end)}): "
            "nothing after the fix can be judged"
        )
    if inputs.gaps and window.start is not None and window.end is not None:
        missing = sum(
            (min(g["to"], window.end) - max(g["from"], window.start)).total_seconds()
            for g in inputs.gaps
        )
        share = 100 * missing / (window.end - window.start).total_seconds()
        out.append(
            f"{share:.0f}% of the window could not be read ({len(inputs.gaps)} data gap(s), "
            "listed in the report): it cannot be signed off"
        )
    if runs.height and (runs["outcome_basis"] == "no-timestamps").all():
        out.append(
            "the logs carry no timestamps (kubectl logs without --timestamps?): outcomes come "
            "from the mover's markers only; add --timestamps for durations and hangs"
        )
    return out


def _one_copy(results: Sequence[SourceResult]) -> list[pl.DataFrame]:
    """Each source's events, with a line another source read first left out (the same pod's
    output from files and from the Kubernetes API or Loki: same pod, time and text), so the
    same pod from two sources is one run with each line once."""
    frames = [r.events for r in results]
    if sum(1 for f in frames if f.height) < 2:
        return frames
    key = ["pod", "ts", "message"]
    seen: pl.DataFrame | None = None
    out = []
    for frame in frames:
        stamped = frame.filter(pl.col("pod").is_not_null() & pl.col("ts").is_not_null())
        if seen is not None and stamped.height:
            frame = frame.join(seen, on=key, how="anti", nulls_equal=False)
        seen = (
            stamped.select(key) if seen is None else pl.concat([seen, stamped.select(key)]).unique()
        )
        out.append(frame)
    return out


def _concat(frames: list[pl.DataFrame], empty: pl.DataFrame) -> pl.DataFrame:
    present = [f for f in frames if f.height]
    if not present:
        return frames[0] if len(frames) == 1 else empty
    return present[0] if len(present) == 1 else pl.concat(present, how="vertical_relaxed")


def _activity(
    results: Sequence[SourceResult],
    events: pl.DataFrame,
    passed: pl.DataFrame,
    terminal: tuple[str, ...],
) -> pl.DataFrame | None:
    """Per pod, how much it printed where the kept events do not tell: activity a source
    measured without keeping lines (Loki's metric query in pushdown mode), and for lines a
    source only counted, the kept rows plus the counted ones, so a run's line count is the same
    as when every line is kept."""
    measured = [
        r.activity.with_columns(pl.col("pod").alias("key"))
        for r in results
        if r.activity is not None
    ]
    activity = pl.concat(measured, how="vertical_relaxed") if measured else None
    if passed.height == 0:
        return activity
    evidence = runs_mod.run_evidence(terminal)
    kept = (
        runs_mod.pod_output(events, evidence)
        .group_by(runs_mod.run_key().alias("key"))
        .agg(pl.len().cast(pl.Int64).alias("kept"))
    )
    counted = passed.group_by(runs_mod.run_key().alias("key")).agg(
        pl.col("in_window").sum().alias("passed")
    )
    files = kept.join(counted, on="key", how="inner").select(
        "key",
        (pl.col("kept") + pl.col("passed")).alias("lines"),
        pl.lit(None, dtype=UTC_NS).alias("last_ts"),
    )
    if activity is None or activity.height == 0:
        return files
    return pl.concat([activity.select(files.columns), files], how="vertical_relaxed")


def _unclassified(
    events: pl.DataFrame, matches: pl.DataFrame, fix_at: datetime | None
) -> pl.DataFrame:
    """Problem lines no signature explains, grouped into templates."""
    matched = events["event_id"].is_in(matches["event_id"].unique().implode())
    return templates.mine(events, matched, fix_at=fix_at)
