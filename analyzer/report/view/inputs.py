"""What went in, as the report shows it: the one reader of `analysis.inputs`.

Sources report what they read through `Analysis.inputs`; nothing else in the report touches it,
so a change to its shape is adapted in `inputs_view()` alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from ...analysis import Analysis
from ...markdown_safe import Outside, outside
from ...timeutil import fmt_utc
from ..budget import DetailLevel, cap


@dataclass(frozen=True)
class Gap:
    """A time range the record is missing, and why."""

    start: str
    end: str
    reason: Outside


@dataclass(frozen=True)
class NotRead:
    """Node-log files left unread because their pod cannot be a mover (see `--all-pods`)."""

    files: int
    pods: int
    bytes: int
    #: `bytes` as `du -h` would say it.
    size: str
    examples: tuple[Outside, ...]


@dataclass(frozen=True)
class LokiRead:
    """How the Loki query went; `record` is the whole summary, as the JSON carries it."""

    query: Outside
    mode: Outside
    #: Why this mode: the flag, or what `auto` went by (Loki's index volume, the window); our
    #: own sentence (its only outside part, a size, is a number).
    mode_reason: str
    lines_received: int
    bytes_received: int
    requests: int
    record: Mapping[str, Any]


@dataclass(frozen=True)
class InputsView:
    """What went in: files read and skipped, line counts, Loki, gaps."""

    lines: int
    unparsed_lines: int
    undecodable_lines: int
    outside_window: int
    #: The paths given, and the files read under them.
    paths: tuple[Outside, ...]
    files: tuple[Outside, ...]
    skipped: tuple[tuple[Outside, Outside], ...]
    not_read: NotRead | None
    loki: LokiRead | None
    gaps: tuple[Gap, ...]

    def at(self, level: DetailLevel) -> InputsView:
        """The lists the report prints, cut to the level's rows (`files` is only counted)."""
        return replace(
            self,
            paths=cap(self.paths, level.rows),
            skipped=cap(self.skipped, level.rows),
            gaps=cap(self.gaps, level.rows),
        )

    @property
    def sources(self) -> list[str]:
        """The files read, else the Loki query."""
        return list(self.files) or ([self.loki.query] if self.loki else [])


@dataclass(frozen=True)
class PreparedInputs:
    """Stands for `analysis.inputs` in a prepared analysis: its view, already redacted."""

    view: InputsView


def inputs_view(analysis: Analysis) -> InputsView:
    """The only reader of `analysis.inputs` in the report."""
    given = analysis.inputs
    if isinstance(given, PreparedInputs):
        return given.view
    not_mover, loki = given.not_mover, given.loki
    return InputsView(
        lines=given.lines,
        unparsed_lines=given.unparsed_lines,
        undecodable_lines=given.undecodable_lines,
        outside_window=given.outside_window,
        paths=tuple(outside(p) for p in given.paths),
        files=tuple(outside(f) for f in given.files),
        skipped=tuple((outside(path), outside(reason)) for path, reason in given.skipped),
        not_read=None
        if not not_mover
        else NotRead(
            files=not_mover["files"],
            pods=not_mover["pods"],
            bytes=not_mover["bytes"],
            size=_filesize(not_mover["bytes"]),
            examples=tuple(outside(e) for e in not_mover["examples"]),
        ),
        loki=None
        if not loki
        else LokiRead(
            query=outside(loki["query"]),
            mode=outside(loki["mode"]),
            mode_reason=loki.get("mode_reason", ""),
            lines_received=loki["lines_received"],
            bytes_received=loki["bytes_received"],
            requests=loki["requests"],
            record=MappingProxyType(
                {k: outside(v) if isinstance(v, str) else v for k, v in loki.items()}
            ),
        ),
        gaps=tuple(
            Gap(fmt_utc(g["from"]), fmt_utc(g["to"]), outside(g["reason"])) for g in given.gaps
        ),
    )


def _filesize(n: int) -> str:
    """Bytes in binary units, as `du -h` would say them: 512 B, 3.2 MiB, 4.0 GiB."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"
