"""What every output shows: the analysis with its log text redacted and cut, in one walk.

Log text lives in the columns `LOG_TEXT` names. Redaction (unless `--no-redact`) and clipping
to `MAX_LINE_CHARS` walk that one list, so no column can get one and miss the other. Of the
events table only the lines an excerpt can show are kept (`shown_events`), chosen by
`pick_excerpts`: the one excerpt policy, which the view reads too.

Secrets can span rows (a PEM key printed line by line, a Kubernetes env entry pasted as YAML),
so the events are redacted as the consecutive rows of their stream (`STREAM`), with every row
of their files as context; a row that holds a secret only its neighbours reveal is redacted
the same way wherever another table copies it (a run's last line, an example). An
unrecognised-error template whose example held a secret is shown masked from the redacted
example, so masking cannot have cut a token in two and left its tail for redaction to miss.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import polars as pl

from ..analysis import Analysis
from ..markdown_safe import outside
from ..redact import Redactor
from ..templates import template_expr
from .budget import WIDEST
from .options import RenderOptions

if TYPE_CHECKING:
    from .view.inputs import PreparedInputs

#: Longest log text a report shows; longer lines are cut with a note of what was left out.
MAX_LINE_CHARS = 2000

#: Envelopes of Kopia's own log files (which pod logs and Loki do not carry).
KOPIA_LOGS = ("kopia-cli", "kopia-json")

#: The columns that name one stream: its rows, in `line_no` order, are consecutive output.
STREAM = ("source", "stream")

#: Analysis table -> its columns holding log text, redacted and cut in this order. The order
#: matters: `--redact-hosts` numbers pseudonyms (host-1, host-2, ...) by first appearance.
LOG_TEXT: dict[str, tuple[str, ...]] = {
    "events": ("message",),
    "unclassified": ("template", "example", "examples"),
    "runs": ("last_message", "terminal_line"),
    "findings": ("example",),
}


def pick_excerpts(events: pl.DataFrame, matches: pl.DataFrame) -> pl.DataFrame:
    """The excerpt policy: per signature, the matched events its excerpts may show, best first.

    Candidates are the first line from Kopia's own log files, the first from pod output, then
    the `WIDEST.excerpts` earliest; `rank` orders them so (0 first). A level shows the first
    `excerpts` of them, so up to two candidates rank past every level and are never shown;
    `shown_events` keeps and redacts them all the same, as the report always has. Columns:
    signature, rank, event_id, source, line_no, pod.
    """
    kopia = pl.col("envelope").is_in(KOPIA_LOGS)
    first_of_kind = pl.col("event_id").rank("ordinal").over("signature", "_kopia") == 1
    earliest = pl.col("event_id").rank("ordinal").over("signature") <= WIDEST.excerpts
    hits = matches.select("signature", "event_id").join(
        events.select("event_id", "source", "line_no", "pod", kopia.alias("_kopia")),
        on="event_id",
    )
    candidates = hits.with_columns(first_of_kind.alias("_first")).filter(
        pl.col("_first") | earliest
    )
    kind = pl.when(pl.col("_first") & pl.col("_kopia")).then(0).when(pl.col("_first")).then(1)
    return candidates.sort("signature", kind.otherwise(2), "event_id").select(
        "signature",
        pl.int_range(pl.len()).over("signature").alias("rank"),
        "event_id",
        "source",
        "line_no",
        "pod",
    )


def near(picks: pl.DataFrame, events: pl.DataFrame, context: int) -> pl.DataFrame:
    """The events within `context` lines of each pick in the same file, beside the pick's
    signature and rank and their `offset` from it; in file order per pick."""
    centres = picks.select("signature", "rank", "source", pl.col("line_no").alias("_centre"))
    return (
        events.join(centres, on="source")
        .with_columns((pl.col("line_no") - pl.col("_centre")).alias("offset"))
        .filter(pl.col("offset").abs() <= context)
        .sort("signature", "rank", "line_no", "event_id")
        .drop("_centre")
    )


def shown_events(analysis: Analysis) -> pl.DataFrame:
    """The events an excerpt can show: every candidate of `pick_excerpts` and the lines around
    it at the widest level. Only these are redacted and rendered; the rest of the events table
    never reaches a report."""
    events = analysis.events
    around = near(pick_excerpts(events, analysis.matches), events, WIDEST.context)
    return events.filter(pl.col("event_id").is_in(around["event_id"].unique().implode()))


def prepare(analysis: Analysis, options: RenderOptions) -> tuple[Analysis, dict[str, int]]:
    """What every output shows: the LOG_TEXT columns redacted (unless turned off), then cut to
    MAX_LINE_CHARS, the Environment facts redacted too; and the redaction counts by kind."""
    redactor = Redactor(redact_hosts=options.redact_hosts) if options.redact else None
    shown = shown_events(analysis)
    tables = {
        "events": shown,
        "unclassified": analysis.unclassified,
        "runs": analysis.runs,
        "findings": analysis.findings,
    }
    known: dict[str, str] = {}
    if redactor is not None:
        context = _stream_context(analysis.events, shown)
        known = redactor.neighbour_secrets(context, "message", STREAM)
        tables["events"] = _in_order(
            shown,
            redactor.redact_column(
                context,
                "message",
                stream=STREAM,
                keep=pl.col("event_id").is_in(shown["event_id"].implode()),
            ),
        )
        tables["unclassified"] = _unmasked_templates(tables["unclassified"], redactor, known)
    for name, columns in LOG_TEXT.items():
        frame = tables[name]
        for column in columns:
            if column not in frame.columns:
                continue
            if redactor is not None and name != "events":
                frame = redactor.apply_known(frame, column, known)
            frame = _show(frame, column, None if name == "events" else redactor)
        tables[name] = frame
    if redactor is None:
        return replace(analysis, **tables), {}
    # File names and addresses show too (Inputs, excerpt headers, the JSON `inputs`): a host
    # name in a path or the Loki address is pseudonymised like one in a log line.
    for name in ("events", "runs"):
        if "source" in tables[name].columns:
            tables[name] = redactor.redact_column(tables[name], "source")
    environment = _redact_values(analysis.environment, redactor)
    inputs = _redact_inputs(analysis, redactor)
    shown_analysis = replace(analysis, **tables, environment=environment, inputs=inputs)
    return shown_analysis, redactor.counts()


def _stream_context(events: pl.DataFrame, shown: pl.DataFrame) -> pl.DataFrame:
    """Every event of the files (streams) the shown events come from, in stream order: the
    rows around a shown row that may reveal it holds a secret."""
    sources = shown["source"].unique().implode()
    return events.filter(pl.col("source").is_in(sources)).sort("source", "line_no", "event_id")


def _in_order(shown: pl.DataFrame, redacted: pl.DataFrame) -> pl.DataFrame:
    """`redacted` (the shown events, redacted) in the order of `shown`."""
    return shown.select("event_id").join(redacted, on="event_id", how="left", maintain_order="left")


def _unmasked_templates(
    unclassified: pl.DataFrame, redactor: Redactor, known: dict[str, str]
) -> pl.DataFrame:
    """Templates whose example held a secret, masked again from the redacted example (which
    is how they read once redacted: masking may have cut a token so that its tail no longer
    looks like one). Nothing is counted here; the columns are redacted and counted later."""
    if unclassified.height == 0 or "example" not in unclassified.columns:
        return unclassified
    probe = Redactor()
    examples = probe.apply_known(unclassified.select("example"), "example", known)
    redacted = probe.redact_column(examples, "example")["example"]
    changed = redacted != unclassified["example"]
    if not changed.any():
        return unclassified
    remasked = pl.DataFrame({"example": redacted}).select(template_expr("example"))["example"]
    return unclassified.with_columns(
        pl.when(changed).then(remasked).otherwise(pl.col("template")).alias("template")
    )


def redacted(analysis: Analysis, options: RenderOptions) -> Analysis:
    """The analysis as the report will show it (redacted unless `--no-redact`, lines cut)."""
    return prepare(analysis, options)[0]


def _show(frame: pl.DataFrame, column: str, redactor: Redactor | None) -> pl.DataFrame:
    """`column` (text, or a list of texts) redacted if a redactor is given, then cut."""
    if isinstance(frame.schema[column], pl.List):
        if redactor is not None:
            frame = _redact_lists(frame, column, redactor)
        return frame.with_columns(_clip_each(column))
    if redactor is not None:
        frame = redactor.redact_column(frame, column)
    return frame.with_columns(_clip(column))


def _clip(column: str) -> pl.Expr:
    """Text longer than MAX_LINE_CHARS cut, saying how much was left out."""
    text = pl.col(column)
    extra = text.str.len_chars().cast(pl.Int64) - MAX_LINE_CHARS
    return (
        pl.when(extra > 0)
        .then(pl.format("{} … [{} more characters]", text.str.slice(0, MAX_LINE_CHARS), extra))
        .otherwise(text)
        .alias(column)
    )


def _clip_each(column: str) -> pl.Expr:
    """Each text of a list column longer than MAX_LINE_CHARS cut, with an ellipsis."""
    text = pl.element()
    return pl.col(column).list.eval(
        pl.when(text.str.len_chars() > MAX_LINE_CHARS)
        .then(text.str.slice(0, MAX_LINE_CHARS) + " …")
        .otherwise(text)
    )


def _redact_lists(frame: pl.DataFrame, column: str, redactor: Redactor) -> pl.DataFrame:
    """Every text of a list column redacted in one pass (exploded, redacted, put back per row);
    a null list becomes an empty one."""
    if frame.height == 0:
        return frame
    texts = frame.select(pl.int_range(pl.len()).alias("_row"), column).explode(column)
    texts = redactor.redact_column(texts, column)
    lists = texts.group_by("_row", maintain_order=True).agg(pl.col(column).drop_nulls())
    return frame.with_columns(lists[column].cast(pl.List(pl.String)))


def _redact_inputs(analysis: Analysis, redactor: Redactor) -> PreparedInputs:
    """What went in (its view, read in the one place that reads it), with every path, reason
    and address redacted like log text."""
    from .view.inputs import PreparedInputs, inputs_view  # view/ imports this module

    view = inputs_view(analysis)
    record = dict(view.loki.record) if view.loki else {}
    texts = [
        list(view.paths),
        list(view.files),
        [list(item) for item in view.skipped],
        list(view.not_read.examples) if view.not_read else [],
        record,
        [g.reason for g in view.gaps],
    ]
    paths, files, skipped, examples, record, reasons = _redact_values(texts, redactor)
    record = {k: outside(v) if isinstance(v, str) else v for k, v in record.items()}
    view = replace(
        view,
        paths=tuple(outside(p) for p in paths),
        files=tuple(outside(f) for f in files),
        skipped=tuple((outside(p), outside(r)) for p, r in skipped),
        not_read=view.not_read and replace(view.not_read, examples=tuple(map(outside, examples))),
        loki=view.loki
        and replace(
            view.loki,
            query=record.get("query", view.loki.query),
            mode=record.get("mode", view.loki.mode),
            record=MappingProxyType(record),
        ),
        gaps=tuple(replace(g, reason=outside(r)) for g, r in zip(view.gaps, reasons, strict=True)),
    )
    return PreparedInputs(view)


def _redact_values(value: Any, redactor: Redactor) -> Any:
    """Redact every string inside nested dicts and lists (the Environment facts), in one
    vectorised pass: gather the strings, redact them together, put them back in place."""
    texts: list[str] = []

    def gather(v: Any) -> None:
        if isinstance(v, str):
            texts.append(v)
        elif isinstance(v, dict):
            for item in v.values():
                gather(item)
        elif isinstance(v, list):
            for item in v:
                gather(item)

    gather(value)
    done = iter(redactor.redact_many(texts)) if texts else iter(())

    def rebuild(v: Any) -> Any:
        if isinstance(v, str):
            return next(done)
        if isinstance(v, dict):
            return {k: rebuild(item) for k, item in v.items()}
        if isinstance(v, list):
            return [rebuild(item) for item in v]
        return v

    return rebuild(value)
