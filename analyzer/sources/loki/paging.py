"""Paging one sub-range of log lines with nothing lost and nothing twice.

`LogRange.run` pages logcli-style: the next page starts at the last timestamp seen, and the
entries already taken at that timestamp are skipped once each (stream + line, with
multiplicity). When a whole page shares one timestamp the limit grows up to the server's
maximum; past it, `all_at` partitions that timestamp's lines by prefix. `fetch_log_piece`
bisects a sub-range Loki finds too long.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...errors import LokiQueryError
from .errors import LimitTooHigh, RangeTooBig, TooLarge, Transient
from .identity import Entry, Identities, parse_streams
from .logql import logql_quote, re2_escape
from .times import MINUTE_NS, gap_row, loki_time

if TYPE_CHECKING:
    from .http import Session

__all__ = ["MIN_PAGE", "LogRange", "fetch_log_piece"]

#: The smallest page asked for when an answer is too large (see `http.MAX_RESPONSE_BYTES`).
MIN_PAGE = 10


class LogRange:
    """Pages one sub-range [lo, hi) in one direction; nothing lost, nothing twice."""

    def __init__(
        self, session: Session, identities: Identities, query: str, page_limit: int
    ) -> None:
        self.session = session
        self.identities = identities
        self.query = query
        self.page_limit = page_limit

    def page(self, query: str, lo: int, hi: int, limit: int, backward: bool) -> list[Entry]:
        """One query_range call; entries merged over streams in direction order."""
        params = {"query": query, "start": loki_time(lo), "end": loki_time(hi)}
        params |= {"limit": str(limit), "direction": "backward" if backward else "forward"}

        def parse(payload: Any) -> list[Entry]:
            return parse_streams(payload, self.identities, backward)

        entries = self.session.query(params, parse)
        self.session.count_lines(len(entries))
        return entries

    def base_limit(self) -> int:
        """The page size to use: the caller's, capped by the server's maximum once known."""
        return min(self.page_limit, self.session.server_max_limit or self.page_limit)

    def run(self, lo: int, hi: int, backward: bool) -> tuple[list[Entry], dict | None]:
        """All entries of [lo, hi) in direction order, and a gap if a page failed for good.

        Pages overlap at the boundary timestamp; the entries already taken there are counted
        (stream, line) with multiplicity, and skipped once each when the next page repeats them.
        """
        out: list[Entry] = []
        seen: Counter[tuple[str, str]] = Counter()  # taken at the boundary timestamp
        boundary: int | None = None
        limit = self.base_limit()
        while lo < hi:
            try:
                page = self.page(self.query, lo, hi, limit, backward)
            except LimitTooHigh as exc:  # retry at the server's maximum
                if limit <= exc.maximum:
                    raise LokiQueryError(f"Loki rejected the page size {limit}: {exc}") from None
                self.session.server_max_limit, limit = exc.maximum, exc.maximum
                continue
            except TooLarge as exc:  # long lines, or a bomb: fewer lines a page, then a gap
                if limit <= MIN_PAGE:
                    return out, gap_row(lo, hi, f"lines: {exc}")
                limit = max(MIN_PAGE, limit // 8)
                continue
            except Transient as exc:
                return out, gap_row(lo, hi, f"lines: {exc}")
            out.extend(_skip_seen(page, boundary, seen))
            if len(page) < limit:
                break
            edge = page[-1][0]
            at_edge = Counter((e[1].source, e[2]) for e in page if e[0] == edge)
            # Both are prefixes of the same ordered group when the edge did not move.
            seen = seen | at_edge if edge == boundary else at_edge
            boundary = edge
            if boundary != (hi - 1 if backward else lo):
                lo, hi = (lo, boundary + 1) if backward else (boundary, hi)
                limit = self.base_limit()
                continue
            grown = self._grow(limit)  # the whole page sits on one timestamp
            if grown is not None:
                limit = grown
                continue
            try:
                rest = self.all_at(boundary, limit)  # limit is the server's maximum here
            except Transient as exc:
                return out, gap_row(lo, hi, f"lines: {exc}")
            out.extend(_skip_seen(rest, boundary, seen))
            lo, hi = (lo, boundary) if backward else (boundary + 1, hi)
            limit, boundary, seen = self.base_limit(), None, Counter()
        return out, None

    def _grow(self, limit: int) -> int | None:
        """Double the page size, up to the server's maximum; None when already there."""
        maximum = self.session.server_max_limit
        if maximum is not None and limit >= maximum:
            return None
        return min(limit * 2, maximum) if maximum else limit * 2

    def all_at(self, ts: int, maximum: int) -> list[Entry]:
        """Every entry at exactly `ts`, partitioned by line prefix to stay under the max limit.

        A partition is (prefix, code-point ranges of the next character, whether the bare
        prefix counts). An over-full answer is a sample that says where to cut next: a prefix
        every sampled line shares is followed at once, leaving one query for the rest.
        """
        out: list[Entry] = []
        todo: list[_Part] = [_Part("", ((0, MAX_CODE_POINT),), True, None)]
        while todo:
            part = todo.pop()
            sample = part.sample
            if sample is None:
                query = f"{self.query} |~ {logql_quote(part.regex())}"
                sample = self.page(query, ts, ts + 1, maximum, False)
                if len(sample) < maximum:
                    out.extend(sample)
                    continue
            todo.extend(part.split([e[2] for e in sample], sample))
        return out


def _skip_seen(entries: list[Entry], boundary: int | None, seen: Counter) -> list[Entry]:
    """Entries minus those at `boundary` already taken (each taken one skipped once)."""
    left = Counter(seen)
    fresh = []
    for entry in entries:
        key = (entry[1].source, entry[2])
        if entry[0] == boundary and left[key] > 0:
            left[key] -= 1
        else:
            fresh.append(entry)
    return fresh


MAX_CODE_POINT = 0x10FFFF
Ranges = tuple[tuple[int, int], ...]


def _cut(ranges: Ranges, at: int) -> tuple[Ranges, Ranges]:
    """Code-point ranges below `at` and from `at` on."""
    low = tuple((a, min(b, at - 1)) for a, b in ranges if a < at)
    high = tuple((max(a, at), b) for a, b in ranges if b >= at)
    return low, high


@dataclass(frozen=True)
class _Part:
    """Lines equal to `prefix` (when `bare`) or continuing with a character in `ranges`."""

    prefix: str
    ranges: Ranges
    bare: bool
    sample: list[Entry] | None

    def regex(self) -> str:
        """An RE2 regex selecting exactly this part's lines."""
        head = "^" + re2_escape(self.prefix)
        chars = "".join(f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in self.ranges)
        if not self.ranges:
            return head + "$"
        return f"{head}(?:$|[{chars}])" if self.bare else f"{head}[{chars}]"

    def split(self, lines: list[str], sample: list[Entry]) -> list[_Part]:
        """Smaller parts covering this one, cut where the over-full sample says."""
        nexts = Counter(line[len(self.prefix)] for line in lines if len(line) > len(self.prefix))
        if not nexts:
            raise Transient("too many identical lines share one timestamp")
        if len(nexts) == 1:
            char = next(iter(nexts))
            below, rest = _cut(self.ranges, ord(char))
            _, above = _cut(rest, ord(char) + 1)
            kept = [e for e in sample if e[2].startswith(self.prefix + char)]
            longer = _Part(self.prefix + char, ((0, MAX_CODE_POINT),), True, kept)
            return [longer, _Part(self.prefix, below + above, self.bare, None)]
        ordered = sorted(nexts.elements())
        middle = ord(ordered[len(ordered) // 2])
        if middle == ord(ordered[0]):
            middle = min(ord(c) for c in nexts if ord(c) > middle)
        low, high = _cut(self.ranges, middle)
        return [_Part(self.prefix, low, self.bare, None), _Part(self.prefix, high, False, None)]


def fetch_log_piece(
    pager: LogRange, lo: int, hi: int, backward: bool
) -> tuple[list[Entry], list[dict]]:
    """A sub-range's entries in forward order, bisected when Loki finds the range too long."""
    try:
        entries, gap = pager.run(lo, hi, backward)
    except RangeTooBig as exc:
        if hi - lo <= MINUTE_NS:
            raise LokiQueryError(f"Loki rejected the query (HTTP 400): {exc}") from None
        middle = lo + (hi - lo) // 2
        first = fetch_log_piece(pager, lo, middle, backward)
        second = fetch_log_piece(pager, middle, hi, backward)
        return first[0] + second[0], first[1] + second[1]
    if backward:
        entries.reverse()
    return entries, [gap] if gap else []
