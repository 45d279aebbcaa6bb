"""`FileSource`: local files, directories, globs and stdin, behind the `Source` protocol.

Streaming is the default (`scan.scan_files`: each file read once in blocks, only the lines
`Wants.keep_regex` describes kept, the rest counted). `streaming=False` reads every line into
memory (`memory.read_files`), the reference the streaming path is tested against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl

from ...envelopes import events_from_raw
from ..base import PASSED_SCHEMA, Provenance, SourceResult, Wants
from .keep import KeepRule
from .memory import read_files
from .paths import Overrides, ReadReport
from .scan import scan_files


@dataclass(frozen=True)
class FileSource:
    """Log files and Kubernetes dumps under `paths` (files, directories walked recursively,
    globs, `-` for stdin). Node-log files of pods that cannot be VolSync movers are skipped by
    their path unless `all_pods`; `overrides` names the pod of a single input whose path does
    not."""

    paths: Sequence[str]
    overrides: Overrides | None = None
    all_pods: bool = False
    streaming: bool = True
    #: A bar of the bytes and files read, on stderr; None: when stderr is a terminal.
    progress: bool | None = None
    kind: str = field(default="files", init=False)

    def read(self, wants: Wants) -> SourceResult:
        """Read every input; a problem with a path the user named raises `InputError`, one with
        a file found while walking is listed as skipped."""
        passed = pl.DataFrame(schema=PASSED_SCHEMA)
        if self.streaming:
            rule = KeepRule(
                wants.keep_regex, wants.window.start, wants.window.end, routine=wants.routine
            )
            scan = scan_files(
                self.paths, self.overrides, rule, all_pods=self.all_pods, progress=self.progress
            )
            raw, report = scan.raw, scan.report
            passed = scan.dropped.select(
                "source",
                "pod",
                pl.col("dropped_in_window").alias("in_window"),
                pl.col("dropped_outside").alias("outside"),
            )
        else:
            raw, report = read_files(self.paths, self.overrides, all_pods=self.all_pods)
        return SourceResult(
            provenance=_provenance(self.paths, report),
            events=events_from_raw(raw),
            passed=passed,
            documents=list(report.kube_documents),
        )


def _provenance(paths: Sequence[str], report: ReadReport) -> Provenance:
    return Provenance(
        kind="files",
        paths=tuple(paths),
        files=tuple(report.files),
        skipped=tuple(report.skipped),
        not_mover=tuple(report.not_mover),
        undecodable_lines=report.undecodable_lines,
    )
