"""Reducing one block of lines to the ones the analysis reads: the keep rule.

Pure functions of a block and a `KeepRule`: the lines any regex of the analysis matches, the
lines the analysis reads by position (a block's first and last lines, context around its first
hits, the line that lends its time to an untimed one, the record that completes a CRI partial,
the lines at the window's edges); the rest are only counted, inside and outside the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from ... import envelopes
from ...events import UTC_NS

#: Lines kept at the start and end of every block (and of the window inside a block): at least
#: the report's widest context (3, plus the first line, which may finish the previous block's
#: last line) and the 3 last non-empty lines a run reads.
HEAD_LINES = 4
TAIL_LINES = 8
#: Lines kept before and after a hit, for the report's evidence excerpts, around the first
#: CONTEXT_HITS hits of each block (a signature's excerpts are its earliest lines; in a block
#: dense with hits, later hits are kept without their neighbours).
CONTEXT_LINES = 3
CONTEXT_HITS = 64

# Envelope kinds, by where a line's time is.
TIMED = "timed"  # CRI, kubectl --timestamps, Kopia CLI log: the time starts the line
PLAIN = "plain"  # no envelope at all (kubectl logs without --timestamps): every line is content
GENERIC = "generic"  # JSON envelopes and `kubectl --prefix`: parsed per block before filtering

# What every kept-line regex adds for the envelope's sake (the caller's regex covers content):
# a line that does not start with a time (damage, or a line that inherits the previous line's
# time), a CRI stderr record (stderr lines can be problems by stream alone), a CRI partial
# record, ANSI colour (matching happens after it is stripped), Kopia's JSON console inside pod
# output (matching happens on `m`), and `\r` progress refreshes (split into rows later).
_UNTIMED = r"^(?:\D|\d\D|\d\d\D|\d{3}\D|\d{4}[^-]|.{0,4}$)"
_CRI_STDERR = r"^\S+ stderr [PF] "
_CRI_PARTIAL = r"^\S+ (?:stdout|stderr) P "
_ENVELOPE_EXTRAS = (r"\x1b", r'"m":"', r"\r")
_LEADING_TIME = r"^([0-9][0-9T:.+\-Z]*)(?: |$)"


@dataclass(frozen=True)
class KeepRule:
    """What a block keeps: `regex` (a superset of every content regex the analysis applies, safe
    to run on a whole enveloped line) and the time window whose edges are kept and counted."""

    regex: str
    start: datetime | None = None
    end: datetime | None = None
    #: Messages that are routine even on a mover's stderr (Kopia progress ...): a stderr record
    #: kept for its stream alone is dropped again when its message matches this.
    routine: str | None = None

    def for_kind(self, kind: str, *, undecodable: bool = False, stderr: bool = True) -> str:
        """The regex for one envelope kind; `stderr`: keep every CRI stderr record (a mover
        pod's stderr lines can be problems by their stream alone, `templates.problem_lines`)."""
        parts = [self.regex, *_ENVELOPE_EXTRAS]
        if kind == TIMED:
            parts += [_UNTIMED, _CRI_PARTIAL, *([_CRI_STDERR] if stderr else [])]
        if undecodable:
            parts.append("\ufffd")
        return "|".join(f"(?:{p})" for p in parts)


@dataclass
class BlockResult:
    """One block reduced: the kept lines (raw text and 0-based index in the block) and counts."""

    kept: pl.DataFrame  # raw, idx
    lines: int
    dropped_in_window: int  # not kept, inside the window (or without a time)
    dropped_outside: int  # not kept, outside the window
    undecodable: bool = False
    open_end: bool = False  # the block ends inside a line that the next block finishes
    by_pod: dict[str, int] = field(default_factory=dict)  # `--prefix` pods' share of dropped_in


def _lines(block: bytes) -> tuple[pl.Series, bool]:
    """The block's lines as a String Series (empty lines as ""), and whether any line was not
    valid UTF-8 (its bad bytes became U+FFFD)."""
    if not block:
        return pl.Series("raw", [], dtype=pl.String), False
    if b"\x1f" not in block:
        options = dict(
            separator="\x1f", quote_char=None, has_header=False, schema={"raw": pl.String}
        )
        try:
            frame = pl.read_csv(block, encoding="utf8", **options)
            bad = False
        except pl.exceptions.ComputeError:
            frame = pl.read_csv(block, encoding="utf8-lossy", **options)
            bad = True
        return frame["raw"].fill_null(""), bad
    # The one byte polars splits fields on is in the data: split in Python (rare, slower).
    text = block.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line.removesuffix("\r") for line in lines]
    return pl.Series("raw", lines, dtype=pl.String), "\ufffd" in text


def _line_count(part: bytes) -> int:
    return part.count(b"\n") + (0 if part.endswith(b"\n") or not part else 1)


def _line_time(kind: str) -> pl.Expr:
    """A line's own time, by envelope kind (null when it has none)."""
    raw = pl.col("raw")
    if kind == TIMED:
        return envelopes.parse_timestamp(raw.str.extract(_LEADING_TIME, 1))
    if kind == GENERIC:
        unprefixed = raw.str.replace(r"^\[pod/[^\]]*\] ", "")
        return envelopes.parse_timestamp(
            pl.coalesce(
                raw.str.json_path_match("$.time"),
                raw.str.json_path_match("$.t"),
                unprefixed.str.extract(_LEADING_TIME, 1),
            )
        )
    return pl.lit(None, dtype=UTC_NS)


def _generic_hit(regex: str, stderr: bool) -> pl.Expr:
    """For JSON and `--prefix` envelopes: the regex on the line and on its content (JSON
    escapes hide text from the first), stderr records, and lines without an envelope time."""
    raw = pl.col("raw")
    text = pl.coalesce(
        raw.str.json_path_match("$.log"),
        raw.str.json_path_match("$.m"),
        raw.str.replace(r"^\[pod/[^\]]*\] \S+ ?", ""),
    )
    stderr = (raw.str.json_path_match("$.stream") == "stderr").fill_null(False)
    return (
        raw.str.contains(regex)
        | text.str.contains(regex).fill_null(False)
        | stderr
        | (_line_time(GENERIC).is_null())
    )


def reduce_parts(
    parts: Sequence[bytes], kind: str, rule: KeepRule, stderr: bool = True
) -> list[BlockResult]:
    """Split each block into lines and keep those `rule` and the envelope need (module
    docstring). Several blocks of one kind go at once when they are small files (per-call
    overhead, not regex time, would otherwise dominate a tree of them)."""
    results = _reduce_parts(parts, kind, rule, stderr)
    for part, result in zip(parts, results, strict=True):
        result.open_end = bool(part) and not part.endswith(b"\n")
    return results


def _reduce_parts(
    parts: Sequence[bytes], kind: str, rule: KeepRule, stderr: bool
) -> list[BlockResult]:
    if len(parts) == 1:
        raw, undecodable = _lines(parts[0])
        frame = pl.DataFrame({"raw": raw}).with_columns(
            pl.lit(0, dtype=pl.UInt32).alias("part"),
            pl.lit(raw.len(), dtype=pl.UInt32).alias("n"),
            pl.int_range(pl.len(), dtype=pl.UInt32).alias("idx"),
        )
        return _reduce(frame, kind, rule, undecodable, 1, stderr)
    counts = [_line_count(part) for part in parts]
    joined = b"".join(p if p.endswith(b"\n") or not p else p + b"\n" for p in parts)
    raw, undecodable = _lines(joined)
    if raw.len() != sum(counts):  # a line splitter disagreement: never batch such parts
        return [r for part in parts for r in _reduce_parts([part], kind, rule, stderr)]
    sizes = pl.DataFrame(
        {"part": list(range(len(parts))), "n": counts}, schema={"part": pl.UInt32, "n": pl.UInt32}
    ).filter(pl.col("n") > 0)
    layout = sizes.select(
        pl.col("part").repeat_by("n").explode(), pl.col("n").repeat_by("n").explode()
    )
    frame = layout.with_columns(
        raw, pl.int_range(pl.len(), dtype=pl.UInt32).over("part").alias("idx")
    )
    return _reduce(frame, kind, rule, undecodable, len(parts), stderr)


def _same_part(k: int) -> pl.Expr:
    return (pl.col("part").shift(k) == pl.col("part")).fill_null(False)


def _reduce(
    frame: pl.DataFrame, kind: str, rule: KeepRule, undecodable: bool, parts: int, stderr: bool
) -> list[BlockResult]:
    regex = rule.for_kind(kind, undecodable=undecodable, stderr=stderr)
    if kind == GENERIC:
        frame = frame.with_columns(_generic_hit(regex, stderr).fill_null(True).alias("hit"))
    else:
        frame = frame.lazy().with_columns(pl.col("raw").str.contains(regex).alias("hit")).collect()
        if kind == TIMED and stderr and rule.routine:
            frame = _drop_routine_stderr(frame, rule, undecodable)
    idx, n = pl.col("idx"), pl.col("n")
    keep = (idx < HEAD_LINES) | (idx + TAIL_LINES >= n)
    hits = int(frame["hit"].sum())
    if hits:
        keep = keep | pl.col("hit")
        # context for the first hits of each part (the report shows a signature's earliest
        # lines; a block dense with hits would otherwise keep seven lines for each)
        centre = pl.col("hit")
        if hits > CONTEXT_HITS:
            rank = pl.col("hit").cast(pl.UInt32).cum_sum()
            centre = centre & ((rank if parts == 1 else rank.over("part")) <= CONTEXT_HITS)
        if parts == 1:  # one block: a rolling window is the context
            width = 2 * CONTEXT_LINES + 1
            context = centre.cast(pl.UInt8).rolling_max(width, center=True, min_samples=1)
            keep = keep | context.cast(pl.Boolean)
        else:
            frame = frame.with_columns(centre.alias("_centre"))
            keep = keep | pl.any_horizontal(
                [
                    pl.col("_centre").shift(k).fill_null(False) & _same_part(k)
                    for k in range(-CONTEXT_LINES, 1 + CONTEXT_LINES)
                ]
            )
        keep = keep | _neighbours(frame, kind)
    frame = frame.with_columns(keep.alias("keep"))
    in_window = _in_window(frame, kind, rule, parts)
    if in_window is not None:
        frame = frame.with_columns(in_window.alias("win")).with_columns(
            pl.col("keep") | _window_edges()
        )
        dropped_in = (pl.col("win") & ~pl.col("keep")).sum()
    else:
        dropped_in = (~pl.col("keep")).sum()
    sums = [
        pl.len().alias("lines"),
        dropped_in.alias("dropped_in"),
        pl.col("keep").sum().alias("kept"),
    ]
    if parts == 1:
        totals = frame.select(pl.lit(0, dtype=pl.UInt32).alias("part"), *sums)
    else:
        totals = frame.group_by("part").agg(*sums)
    kept = frame.filter(pl.col("keep")).select(
        # a copy, so the survivors do not keep the whole block's buffers alive
        pl.concat_str([pl.col("raw"), pl.lit("")]).alias("raw"),
        "idx",
        "part",
    )
    by_part = kept.partition_by("part", as_dict=True, include_key=False) if parts > 1 else {}
    prefixed = _dropped_by_prefix(frame, in_window is not None) if kind == GENERIC else {}
    results = []
    rows = {row["part"]: row for row in totals.iter_rows(named=True)}
    for i in range(parts):
        row = rows.get(i, {"lines": 0, "dropped_in": 0, "kept": 0})
        part_kept = by_part.get((i,), kept.head(0).drop("part")) if parts > 1 else kept.drop("part")
        results.append(
            BlockResult(
                part_kept,
                int(row["lines"]),
                int(row["dropped_in"]),
                int(row["lines"] - row["kept"] - row["dropped_in"]),
                undecodable,
                by_pod=prefixed.get(i, {}),
            )
        )
    return results


def _dropped_by_prefix(frame: pl.DataFrame, windowed: bool) -> dict[int, dict[str, int]]:
    """For `kubectl logs --prefix` lines: how many lines of each named pod were not kept (the
    pod is on the line, not in the path), per part."""
    dropped = ~pl.col("keep") & (pl.col("win") if windowed else pl.lit(True))
    counts = (
        frame.filter(dropped)
        .select("part", pl.col("raw").str.extract(r"^\[pod/([a-z0-9][a-z0-9.-]*)/", 1).alias("pod"))
        .drop_nulls("pod")
        .group_by("part", "pod")
        .len()
    )
    out: dict[int, dict[str, int]] = {}
    for part, pod, n in counts.iter_rows():
        out.setdefault(part, {})[pod] = n
    return out


def _drop_routine_stderr(frame: pl.DataFrame, rule: KeepRule, undecodable: bool) -> pl.DataFrame:
    """Un-hit the CRI stderr records that only the stream made hits and whose message is
    routine (`rule.routine`, e.g. Kopia's progress lines, most of a mover's output): they can be
    no problem line, and the other regexes do not want them. Work on the hits only."""
    raw = pl.col("raw")
    hits = frame.filter(pl.col("hit")).select("idx", "part", "raw")
    on_stderr = hits.filter(raw.str.contains(_CRI_STDERR))
    if on_stderr.height == 0:  # not a CRI file, or nothing on stderr
        return frame
    message = raw.str.splitn(" ", 4).struct.field("field_3")
    other = rule.for_kind(PLAIN, undecodable=undecodable)  # the hit without the stream rule
    routine = on_stderr.filter(
        message.str.contains(rule.routine).fill_null(False)
        & ~raw.str.contains(other)
        & ~raw.str.contains(_UNTIMED)
        & ~raw.str.contains(_CRI_PARTIAL)
    ).select("part", "idx")
    if routine.height == 0:
        return frame
    marked = routine.with_columns(pl.lit(True).alias("_routine"))
    return (
        frame.join(marked, on=["part", "idx"], how="left", maintain_order="left")
        .with_columns(pl.col("hit") & pl.col("_routine").is_null())
        .drop("_routine")
    )


def _neighbours(frame: pl.DataFrame, kind: str) -> pl.Expr:
    """The lines a kept line depends on: the last timed line before an untimed one (it lends
    its time) and, for a CRI partial record, the next record of its stream (it completes it)."""
    if kind != TIMED:
        return pl.lit(False)
    survivors = frame.filter(pl.col("hit"))
    raw = pl.col("raw")
    extra: list[pl.Expr] = []
    # A part's first and last lines are kept anyway, and so are the lines around them that can
    # lend them a time; they are often the halves of a line a block boundary cut, not untimed.
    later = (pl.col("idx") > 0) & (pl.col("idx") + 1 < pl.col("n"))
    if survivors.select((later & raw.str.contains(_UNTIMED)).any()).item():
        timed = ~raw.str.contains(_UNTIMED)
        # each untimed line's lender: the index of the last timed line before it in its part
        lender = pl.when(timed).then(pl.col("idx")).forward_fill().over("part")
        lenders = (
            frame.with_columns(pl.when(~timed).then(lender).alias("_l"))
            .filter(pl.col("hit") & later & pl.col("_l").is_not_null())
            .select("part", pl.col("_l").alias("idx"))
            .unique()
            .with_columns(pl.lit(True).alias("_lender"))
        )
        marked = frame.select("part", "idx").join(
            lenders, on=["part", "idx"], how="left", maintain_order="left"
        )
        extra.append(pl.lit(marked["_lender"].is_not_null()))
    if survivors.select(raw.str.contains(_CRI_PARTIAL).any()).item():
        stream = raw.str.extract(r"^\S+ (stdout|stderr) [PF] ", 1).fill_null("")
        partial = raw.str.contains(_CRI_PARTIAL)
        extra.append(partial.shift(1).over("part", stream).fill_null(False))
    return pl.any_horizontal(extra) if extra else pl.lit(False)


def _in_window(frame: pl.DataFrame, kind: str, rule: KeepRule, parts: int) -> pl.Expr | None:
    """Per line, whether it is inside the window (lines without a time count as inside, as in
    the in-memory path); None when every line is. A single block whose first and last times are
    both inside (or both outside) the window is decided from them; only a block that straddles
    an edge, or a batch of small files, pays for parsing every line's time."""
    if (rule.start is None and rule.end is None) or kind == PLAIN:
        return None
    if parts == 1:
        n = frame.height
        ends = frame.filter(pl.col("idx").is_in([0, n - 1])).select(_line_time(kind).alias("t"))
        first, last = ends["t"][0], ends["t"][-1]
        if first is not None and last is not None and first <= last:
            if (rule.start is None or first >= rule.start) and (
                rule.end is None or last < rule.end
            ):
                return None
            if (rule.start is not None and last < rule.start) or (
                rule.end is not None and first >= rule.end
            ):
                return pl.lit(False)
    t = _line_time(kind).forward_fill().over("part")
    cond = pl.lit(True)
    if rule.start is not None:
        cond = cond & (t >= pl.lit(rule.start).cast(UTC_NS))
    if rule.end is not None:
        cond = cond & (t < pl.lit(rule.end).cast(UTC_NS))
    return cond.fill_null(t.is_null())


def _window_edges() -> pl.Expr:
    """The first and last lines inside the window (a run's start and last lines may be there)."""
    rank = pl.col("win").cast(pl.UInt32).cum_sum().over("part")
    total = pl.col("win").cast(pl.UInt32).sum().over("part")
    return pl.col("win") & ((rank <= HEAD_LINES) | (rank + TAIL_LINES > total))
