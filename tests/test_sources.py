"""Sources behind one protocol: `analyze()` reads a list of them and merges what they give.

A source is anything with `read(wants) -> SourceResult`; these tests plug in one written here
(lines held in memory, as a Kubernetes-API or Prometheus source would hand them over) and check
that the pipeline treats it exactly like the built-in file source.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from conftest import hung_then_healthy

from analyzer import FileSource, Provenance, SourceResult, Wants, analyze
from analyzer.envelopes import events_from_raw
from analyzer.sources.files import path_metadata, read_files


@dataclass(frozen=True)
class LinesSource:
    """Already-read lines of one named input, as a test double for a new kind of source."""

    name: str
    lines: list[str]
    seen: list[Wants]

    def read(self, wants: Wants) -> SourceResult:
        self.seen.append(wants)
        meta = path_metadata(self.name)
        raw = pl.DataFrame({"raw": self.lines, "line_no": range(1, len(self.lines) + 1)})
        raw = raw.with_columns(
            pl.lit(self.name).alias("source"),
            *[pl.lit(v, dtype=pl.String).alias(k) for k, v in meta.items()],
        )
        provenance = Provenance(kind="memory", paths=(self.name,))
        return SourceResult(provenance=provenance, events=events_from_raw(raw))


def _node_files(root) -> list:
    return sorted(p for p in root.rglob("*.log"))


def test_a_new_source_plugs_in_and_gives_the_same_runs_as_the_same_files(tmp_path):
    root = hung_then_healthy(tmp_path)
    from_files = analyze([str(root)], until="2026-01-31T18:00:00Z", from_="2026-01-31T15:00:00Z")
    seen: list[Wants] = []
    sources = [LinesSource(str(p), p.read_text().splitlines(), seen) for p in _node_files(root)]
    from_memory = analyze(
        sources=sources, until="2026-01-31T18:00:00Z", from_="2026-01-31T15:00:00Z"
    )
    columns = ["pod", "outcome", "start", "end", "duration_s"]
    assert from_memory.runs.select(columns).equals(from_files.runs.select(columns))
    assert from_memory.runs["outcome"].to_list() == ["hung", "completed"]
    assert from_memory.findings["signature"].to_list() == from_files.findings["signature"].to_list()
    assert from_memory.status == from_files.status
    # every source is asked with the same window and the catalog-derived regexes
    assert len(seen) == 2 and seen[0] == seen[1]
    assert seen[0].window.start.isoformat() == "2026-01-31T15:00:00+00:00"
    assert "unknown userid" in seen[0].keep_regex
    assert any("unknown userid" in f for f in seen[0].line_filters)


def test_inputs_are_the_merge_of_every_source(tmp_path):
    root = hung_then_healthy(tmp_path)
    files = _node_files(root)
    one = analyze([str(files[0])])
    two = analyze([str(files[1])])
    both = analyze(sources=[FileSource([str(files[0])]), FileSource([str(files[1])])])
    assert both.inputs.lines == one.inputs.lines + two.inputs.lines
    assert both.inputs.files == [str(files[0]), str(files[1])]
    assert both.inputs.paths == [str(files[0]), str(files[1])]
    assert [p.kind for p in both.inputs.sources] == ["files", "files"]
    assert both.inputs.loki is None


def test_streaming_and_in_memory_file_sources_agree_on_what_they_give(tmp_path):
    root = hung_then_healthy(tmp_path)
    wants = Wants(window=analyze([str(root)]).window, keep_regex="unknown userid")
    streamed = FileSource([str(root)]).read(wants)
    whole = FileSource([str(root)], streaming=False).read(wants)
    assert streamed.provenance == whole.provenance
    # the streaming source keeps fewer rows and counts the others as passed over
    raw, _ = read_files([str(root)])
    assert whole.events.height == events_from_raw(raw).height
    assert streamed.events.height + int(streamed.passed["in_window"].sum()) == raw.height
    assert whole.passed.height == 0


def test_json_found_while_walking_is_read_only_when_it_is_a_dump_or_a_json_log(tmp_path):
    (tmp_path / "renovate.json").write_text('{\n  "extends": ["config:base"]\n}\n')
    (tmp_path / "values.json").write_text('{"replicas": 1}\n')
    docker = '{"log":"Starting kopia mover container\\n","stream":"stdout","time":"2026-01-31T16:00:00.000000000Z"}\n'
    (tmp_path / "volsync-src-app-abcde.json").write_text(docker)
    for streaming in (True, False):
        a = analyze([str(tmp_path)], in_memory=not streaming)
        skipped = dict(a.inputs.skipped)
        assert set(skipped) == {str(tmp_path / "renovate.json"), str(tmp_path / "values.json")}
        assert all("neither a Kubernetes dump nor a JSON log" in why for why in skipped.values())
        assert a.inputs.files == [str(tmp_path / "volsync-src-app-abcde.json")]
    # named explicitly, it is read (as plain text)
    assert analyze([str(tmp_path / "values.json")]).inputs.files == [str(tmp_path / "values.json")]
