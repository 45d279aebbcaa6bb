"""Property tests: whatever bytes a broken node hands over, the pipeline finishes, accounts for
every line and renders a valid report.

Each generated input is a directory of log files (CRI node logs, `kubectl logs` dumps, Kopia
CLI logs, bare output, some gzip-compressed) whose lines mix every envelope (formats.md §1.2,
§1.3, §6.1-6.3) with timestamps of any precision, with `Z`, with an offset, with no zone, in
years a nanosecond clock cannot hold; clock skew between files; out-of-order and duplicate
lines; CRLF endings; invalid UTF-8; NUL bytes; ANSI codes, `\\r` refreshes, Markdown and HTML in
the text. A generator-side oracle knows which envelope each line must get, so the invariants are
exact:

* no exception escapes `read_files`, `events_from_raw`, `analyze`, `render_markdown`, `to_json`;
* every input line is an event (its `line_no` is in the table) or a counted raw row
  (`parsed = false`), except a CRI record joined into the `P` record before it; nothing else
  disappears and nothing appears;
* undecodable lines and skipped files are counted exactly; no time is invented (every time in
  the table is one written in the input, so no nanosecond overflow wraps a year around);
* the Markdown has no structural problem (`check_markdown`) and exactly the reference h2
  headings, and the JSON validates against its schema.

Example counts come from the Hypothesis profile (`ci` by default, derandomized; see
`conftest.py`); `--hypothesis-profile=long` runs 20 times more.
"""

from __future__ import annotations

import gzip
import json
import tempfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import jsonschema
import polars as pl
import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from analyzer import analysis as analysis_mod
from analyzer import catalog
from analyzer.analysis import analyze, events_from_raw
from analyzer.envelopes import TS_YEARS, UNDECODABLE_PREFIX, parse_timestamp
from analyzer.markdown_safe import check_markdown
from analyzer.report import RenderOptions, render_markdown, to_json
from analyzer.sources import loki as loki_source
from analyzer.sources.files import BINARY_SNIFF, InputError, read_files
from analyzer.sources.files import decode as text_decode
from testing.assertions import assert_reference_headings

SCHEMA = json.loads(
    (Path(__file__).resolve().parent.parent / "reports" / "analysis.schema.json").read_text()
)
T0 = datetime(2026, 1, 31, 16, 0, tzinfo=UTC)


def scaled(share: float) -> settings:
    """This share of the profile's example count (at least 10)."""
    return settings(max_examples=max(10, int(settings.default.max_examples * share)))


@pytest.fixture(scope="module", autouse=True)
def cached_catalog():
    """The catalog is the same for every example: load the YAML once (0.2 s per analysis)."""
    original = catalog.load_catalog
    load = cache(lambda dirs, builtin=True: original(dirs, builtin=builtin))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            analysis_mod.catalog_mod,
            "load_catalog",
            lambda dirs=(), *, builtin=True: load(tuple(dirs), builtin),
        )
        yield


# --------------------------------------------------------------------------------------------
# Generators: one line, with what the parser must make of it
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    data: bytes  # the line as written, without its terminator
    env: str | None = None  # the envelope the parser must detect; None: none
    stream: str | None = None  # CRI stream
    tag: str | None = None  # CRI F/P tag
    at: datetime | None = None  # the instant its timestamp names, if that is a valid one

    @property
    def undecodable(self) -> bool:
        try:
            self.data.decode("utf-8")
        except UnicodeDecodeError:
            return True
        return False

    @property
    def damaged(self) -> bool:
        """A raw row whatever its file: not UTF-8, or starting like a line that was not."""
        return self.undecodable or self.data.decode("utf-8").startswith(UNDECODABLE_PREFIX)


REAL_MESSAGES = [
    "Starting kopia mover container",
    "INFO: VolSync kopia container version: v0.17.7-cgo-fix-v2",
    "whoami: cannot find name for user ID 1000",
    "INFO: === Starting kopia operations ===",
    "Connecting to filesystem repository",
    "Using filesystem path: /repository",
    "Executing connection command...",
    "Cannot determine current user: user: unknown userid 1000",
    "Connected to repository.",
    "Kopia completed in 45s",
    "TIMING: Total kopia operation completed in 61s",
    "INFO: OPERATION_RESULT: FAILURE",
    "INFO: EXIT_CODE: 1",
    "ERROR: Failed to create snapshot",
    "error connecting to repository: unable to create format manager: invalid repository password",
    "\x1b[31mERROR\x1b[0m open repository: repository is not connected.",
    "Snapshotting app@media:/data ... 10%\r 50%\r 100%\r",
    '{"n":"kopia/cli","m":"Connected to repository."}',
    "KOPIA_PASSWORD=hunter2-hunter2",
    "## Summary",
    "``` <script>alert(1)</script> @octocat #1 | x |",
    "</details><details>",
    "",
    " ",
    "\r",
    "\t\t",
]
# Anything but a line break or NUL (a NUL makes the whole file binary: a file-level case below).
TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\x00"), max_size=30
)
MESSAGE = st.one_of(
    st.sampled_from(REAL_MESSAGES),
    TEXT,
    st.tuples(st.sampled_from(REAL_MESSAGES), TEXT).map("".join),
)
LEVELS = ["DEBUG", "INFO", "WARN", "ERROR"]
MODULES = ["kopia/cli", "kopia/repo", "maintenance", "uploader"]


@st.composite
def stamps(draw, digits: st.SearchStrategy[int] | None = None, skew: int = 0):
    """(RFC3339 text, the instant it names or None when it names none)."""
    at = T0 + timedelta(seconds=skew + draw(st.integers(0, 4 * 3600)))
    at += timedelta(microseconds=draw(st.integers(0, 999_999)))
    n = draw(digits if digits is not None else st.integers(0, 9))
    zone = draw(st.sampled_from(["Z", "Z", "Z", "+02:00", "-05:30", "", "bad-year"]))
    if zone == "bad-year":  # Go's zero time, or a clock far in the future
        year = draw(st.sampled_from([1, 1677, 2262, 2300, 9999]))
        return f"{year:04d}-01-31T16:00:00Z", None
    offset = {"+02:00": timedelta(hours=2), "-05:30": -timedelta(hours=5, minutes=30)}
    local = at + offset.get(zone, timedelta())
    fraction = f"{at.microsecond:06d}000"[:n]
    exact = at.replace(microsecond=int(f"{fraction:0<6}"[:6]))
    text = local.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if n else "") + zone
    return text, (exact if zone else None)


@st.composite
def lines(draw, skew: int = 0) -> Line:
    kind = draw(
        st.sampled_from(["cri", "cri", "kubectl", "kopia-cli", "docker", "kopia-json", "plain"])
        | st.just("garbage")
    )
    msg = draw(MESSAGE)
    if kind == "cri":
        (ts, at), stream = draw(stamps(skew=skew)), draw(st.sampled_from(["stdout", "stderr"]))
        tag = draw(st.sampled_from(["F", "F", "P"]))
        text = f"{ts} {stream} {tag} {msg}"
        return Line(text.encode(), "cri" if at else None, stream, tag, at)
    if kind == "kubectl":
        ts, at = draw(stamps(st.just(9), skew=skew))
        prefix = draw(st.sampled_from(["", "[pod/volsync-src-app-x7k2p/kopia] "]))
        if msg.startswith(("stdout ", "stderr ")):
            msg = "> " + msg
        return Line(f"{prefix}{ts} {msg}".encode(), "kubectl" if at else None, at=at)
    if kind == "kopia-cli":
        ts, at = draw(stamps(st.just(6), skew=skew))
        text = f"{ts} {draw(st.sampled_from(LEVELS))} {draw(st.sampled_from(MODULES))} {msg}"
        return Line(text.encode(), "kopia-cli" if at else None, at=at)
    if kind == "docker":
        ts, at = draw(stamps(skew=skew))
        stream = draw(st.sampled_from(["stdout", "stderr"]))
        doc = {"log": msg + "\n", "stream": stream, "time": ts}
        ascii_only = draw(st.booleans())
        return Line(json.dumps(doc, ensure_ascii=ascii_only).encode(), "docker", at=at)
    if kind == "kopia-json":
        ts, at = draw(stamps(st.just(6), skew=skew))
        doc = {"l": draw(st.sampled_from(LEVELS)), "t": ts, "n": "kopia/cli", "m": msg}
        return Line(json.dumps(doc).encode(), "kopia-json", at=at)
    if kind == "plain":
        if msg.startswith(("{", "[")) or msg[:1].isdigit():
            msg = "> " + msg
        return Line(msg.encode())
    data = draw(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"").replace(b"\0", b"")))
    if data.startswith((b"{", b"[", b"\x1f\x8b")) or data[:1].isdigit():
        data = b">" + data
    return Line(data)


@dataclass(frozen=True)
class LogFile:
    path: str
    lines: tuple[Line, ...]
    crlf: bool
    final_newline: bool
    gz: str  # "no", "yes" or "truncated"

    def data(self) -> bytes:
        end = b"\r\n" if self.crlf else b"\n"
        body = end.join(line.data for line in self.lines)
        if self.lines and (self.final_newline or self.lines[-1].data == b""):
            body += end
        return body

    def on_disk(self) -> bytes:
        data = self.data()
        if self.gz == "no":
            return data
        packed = gzip.compress(data, mtime=0)
        return packed[: max(11, len(packed) * 2 // 3)] if self.gz == "truncated" else packed

    def readable(self) -> bytes:
        """What a reader can get out of the file (stdlib streaming inflate as the oracle)."""
        if self.gz != "truncated":
            return self.data()
        return zlib.decompressobj(wbits=31).decompress(self.on_disk())

    def binary(self) -> bool:
        return text_decode.not_text(self.readable()[:BINARY_SNIFF]) is not None

    def notes(self) -> list[str]:
        """What the Inputs part says about the file's text (NUL runs, long lines)."""
        return text_decode.text_of(self.readable(), None)[1].notes()

    def readable_lines(self) -> list[bytes]:
        data = self.readable()
        if data.count(b"\r\n") >= data.count(b"\n") > 0:
            data = data.replace(b"\r\n", b"\n")
        found = data.split(b"\n")
        return found[:-1] if found[-1] == b"" else found


PATHS = [
    "var/log/pods/media_volsync-src-app{i}-abcd{i}_0f4c7b1e-2a3d-4c5b-8e9f-a1b2c3d4e5f{i}/kopia/0.log",
    "kubectl/volsync-src-app{i}-bcde{i}.log",
    "cache/volsync-src-app{i}-cache/logs/cli-logs/kopia-20260131-160000-{i}-snapshot-create.0.log",
    "out/volsync-src-app{i}-cdef{i}.txt",
]


@st.composite
def log_files(draw, i: int) -> LogFile:
    skew = draw(st.sampled_from([0, 0, 3600, -7200, -(56 * 365 * 86400)]))  # ... or 1970
    drawn = draw(st.lists(lines(skew=skew), max_size=25))
    if drawn and draw(st.booleans()):  # duplicates, then any order
        drawn += draw(st.lists(st.sampled_from(drawn), max_size=5))
        drawn = draw(st.permutations(drawn))
    if draw(st.integers(0, 5)) == 0:  # a line longer than the binary sniff, so a NUL can follow
        drawn.insert(0, Line(b"x" * (BINARY_SNIFF + 100)))
    if drawn and draw(st.integers(0, 4)) == 0:  # a line cut mid-UTF-8 sequence
        k = draw(st.integers(0, len(drawn) - 1))
        drawn[k] = Line(drawn[k].data + "é".encode()[:1], at=drawn[k].at)
    if drawn and draw(st.integers(0, 5)) == 0:  # a NUL inside a line's text (not in JSON)
        k = draw(st.integers(0, len(drawn) - 1))
        if not drawn[k].data.startswith(b"{"):
            drawn[k] = Line(drawn[k].data + b" \0.", *list(vars(drawn[k]).values())[1:])
    gz = draw(st.sampled_from(["no", "no", "yes", "truncated"]))
    path = draw(st.sampled_from(PATHS)).format(i=i) + (".gz" if gz != "no" else "")
    return LogFile(path, tuple(drawn), draw(st.booleans()), draw(st.booleans()), gz)


def write(root: Path, files: list[LogFile]) -> None:
    for f in files:
        path = root / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f.on_disk())


# --------------------------------------------------------------------------------------------
# The oracle
# --------------------------------------------------------------------------------------------


# 10 MB lines: a CRI record (split by nothing: a runtime without containerd's 16 KiB limit), a
# partial record continued by one more, and bare bytes.
_MB10 = 10 * 1024 * 1024
HUGE_LINES = (
    Line(b"2026-01-31T16:00:00Z stdout F " + b"y" * _MB10, "cri", "stdout", "F", T0),
    Line(
        b"2026-01-31T16:00:01Z stderr P " + b"\xc3\xa9" * (_MB10 // 2),
        "cri",
        "stderr",
        "P",
        T0 + timedelta(seconds=1),
    ),
    Line(b"2026-01-31T16:00:02Z stderr F end", "cri", "stderr", "F", T0 + timedelta(seconds=2)),
    Line(b"z" * _MB10),
)


def joined_into_previous(file_lines: tuple[Line, ...]) -> set[int]:
    """Line numbers of CRI records that continue the `P` record before them on their stream."""
    previous_tag: dict[str, str] = {}
    out = set()
    for no, line in enumerate(file_lines, 1):
        if line.env == "cri" and not line.damaged:
            if previous_tag.get(line.stream) == "P":
                out.add(no)
            previous_tag[line.stream] = line.tag
    return out


def check_accounting(root: Path, files: list[LogFile], raw: pl.DataFrame, report) -> pl.DataFrame:
    events = events_from_raw(raw)
    skipped = dict(report.skipped)
    undecodable = 0
    for f in files:
        path = str(root / f.path)
        mine = events.filter(pl.col("source") == path)
        if f.binary():
            assert skipped[path] == text_decode.BINARY
            assert mine.height == 0
            continue
        if f.gz == "truncated":
            # the readable prefix is read, and the skip reason says how much
            prefix = f.readable_lines()
            if not prefix:
                assert skipped[path] == (
                    "truncated or corrupt gzip file (the compressed data ends early)"
                )
                continue
            assert skipped[path] == (
                "truncated or corrupt gzip file (the compressed data ends early): read the "
                f"first {len(prefix)} line(s), the rest could not be decompressed"
            )
            assert set(mine["line_no"]) <= set(range(1, len(prefix) + 1))
            undecodable += sum(Line(line).undecodable for line in prefix)
            continue
        assert [r for p, r in report.skipped if p == path] == f.notes(), skipped
        got = {n: set(g["envelope"]) for (n,), g in mine.group_by("line_no")}
        merged = joined_into_previous(f.lines)
        assert set(got) == set(range(1, len(f.lines) + 1)) - merged, (sorted(got), merged)
        has_envelope = any(line.env and not line.damaged for line in f.lines)
        for no, line in enumerate(f.lines, 1):
            if no in merged:
                continue
            if line.damaged:
                want = "raw"
            elif line.env:
                want = line.env
            else:
                want = "raw" if has_envelope else "plain"
            assert got[no] == {want}, (no, line, got[no])
            undecodable += line.undecodable
        unparsed = mine.filter(~pl.col("parsed"))["line_no"].unique().len()
        assert unparsed == sum(1 for n in got if got[n] == {"raw"}), (
            "parsed = false exactly on raw rows"
        )
    assert report.undecodable_lines == undecodable
    # no time is invented: every time is one the input wrote (or a file's earlier one); the
    # last line of a truncated gzip may be cut inside its timestamp (`...000-05` is an offset of
    # -05:00 to the parser), so those files are left out
    written = {line.at for f in files for line in f.lines if line.at}
    cut = [str(root / f.path) for f in files if f.gz == "truncated"]
    seen = set(events.filter(~pl.col("source").is_in(cut))["ts"].drop_nulls().to_list())
    assert seen <= written, sorted(seen - written)[:3]
    return events


@given(
    files=st.lists(st.integers(0, 3), min_size=1, max_size=4, unique=True).flatmap(
        lambda ids: st.tuples(*(log_files(i) for i in ids))
    )
)
@example(files=(LogFile(PATHS[0].format(i=0), (), False, False, "no"),))
@example(files=(LogFile(PATHS[0].format(i=1), HUGE_LINES, True, False, "yes"),))
@scaled(1.5)
def test_every_line_is_an_event_or_a_counted_raw_row(files):
    files = list(files)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write(root, files)
        raw, report = read_files([str(root)])
        events = check_accounting(root, files, raw, report)
        assert events["event_id"].to_list() == list(range(events.height))
        assert events["ts"].drop_nulls().is_sorted()
        for f in files:  # the same file named explicitly: read the same, or one line naming it
            path = str(root / f.path)
            lossy = f.gz == "truncated"
            if f.binary() or lossy:
                with pytest.raises(InputError) as info:
                    read_files([path])
                message = str(info.value)
                assert message.startswith(f"{path}: ") and "\n" not in message
                assert ("binary file" if f.binary() else "truncated or corrupt gzip") in message
            else:
                alone, _ = read_files([path])
                assert (
                    alone["raw"].to_list() == raw.filter(pl.col("source") == path)["raw"].to_list()
                )


@given(
    files=st.lists(st.integers(0, 3), min_size=1, max_size=3, unique=True).flatmap(
        lambda ids: st.tuples(*(log_files(i) for i in ids))
    ),
    window=st.none() | st.tuples(st.integers(-3, 3), st.integers(1, 6)),
    fix_hours=st.none() | st.integers(0, 4),
)
@scaled(1.0)
def test_the_report_renders_and_validates_whatever_the_input(files, window, fix_hours):
    files = list(files)
    kwargs = {}
    if window:
        start = T0 + timedelta(hours=window[0])
        kwargs = {
            "from_": start.isoformat(),
            "to": (start + timedelta(hours=window[1])).isoformat(),
        }
    fix_at = T0 + timedelta(hours=fix_hours) if fix_hours is not None else None
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write(root, files)
        a = analyze([str(root)], fix_at=fix_at, **kwargs)
        raw, _ = read_files([str(root)])
        assert a.inputs.lines + a.inputs.outside_window == events_from_raw(raw).height
        assert a.inputs.unparsed_lines == int((~a.events["parsed"]).sum())
        assert a.inputs.undecodable_lines == sum(
            Line(line).undecodable for f in files if not f.binary() for line in f.readable_lines()
        )
        md = render_markdown(a)
        assert "hunter2-hunter2" not in md  # the secret among the generated messages
        assert check_markdown(md) == []
        assert_reference_headings(md)
        assert len(md) <= RenderOptions().max_chars
        data = to_json(a)
        assert "hunter2-hunter2" not in json.dumps(data)
        jsonschema.validate(data, SCHEMA)
        skipped = [(s["path"], s["reason"]) for s in data["inputs"]["skipped"]]
        assert skipped == a.inputs.skipped
        binary = [str(root / f.path) for f in files if f.binary()]
        assert sorted(p for p, r in skipped if r.startswith("binary file")) == sorted(binary)


@given(
    entries=st.lists(
        st.tuples(st.integers(0, 10**18), st.sampled_from(["a", "b"]), MESSAGE), max_size=40
    )
)
@scaled(1.0)
def test_loki_lines_are_each_an_event(entries):
    """What Loki sends has no envelope: every line is a row (or several, split at `\r`)."""
    lines = pl.DataFrame(
        {
            "ts": [ts for ts, _, _ in entries],
            "namespace": "media",
            "pod": [f"volsync-src-app-{pod * 5}" for _, pod, _ in entries],
            "container": "kopia",
            "stream": "stdout",
            "source": [f'{{pod="{pod}"}}' for _, pod, _ in entries],
            "line_no": list(range(1, len(entries) + 1)),
            "message": [m for _, _, m in entries],
        },
        schema=loki_source.LINES_SCHEMA | {"ts": pl.Int64},
    ).with_columns(pl.col("ts").cast(loki_source.UTC_NS))
    events = analysis_mod.events_from_loki(lines)
    assert sorted(events["line_no"].unique()) == list(range(1, len(entries) + 1))
    assert events["parsed"].all() and set(events["envelope"]) <= {"loki"}
    assert events["replication_source"].drop_nulls().unique().to_list() in ([], ["app"])


# --------------------------------------------------------------------------------------------
# Arbitrary bytes, damaged gzip, timestamps, pattern files
# --------------------------------------------------------------------------------------------


@given(data=st.binary(max_size=600), name=st.sampled_from(["0.log", "x.txt", "y.log.gz"]))
@scaled(0.5)
def test_arbitrary_bytes_are_read_or_skipped_with_a_reason(data, name):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        raw, report = read_files([tmp])
        events = events_from_raw(raw)
        if data[:3] == b"\x1f\x8b\x08":  # damaged gzip, or a valid stream by chance
            for where, why in report.skipped:
                assert where == str(path) and why and "\n" not in why
            return
        reason = text_decode.not_text(data[: text_decode.SNIFF_BYTES])
        if reason:  # binary: skipped with the reason, nothing read
            assert report.skipped == [(str(path), reason)] and raw.height == 0
            return
        # text: NUL runs and long lines are rows and notes (decode.TextStream), nothing lost
        data, stream = text_decode.text_of(data, text_decode.utf16_encoding(data))
        assert report.skipped == [(str(path), note) for note in stream.notes()]
        chunks = data.replace(b"\r\n", b"\n") if data.count(b"\r\n") >= data.count(b"\n") else data
        expected = chunks.split(b"\n")
        expected = expected[:-1] if expected[-1] == b"" else expected
        assert events["line_no"].unique().sort().to_list() == list(range(1, len(expected) + 1))
        assert report.undecodable_lines == sum(Line(c).undecodable for c in expected)
        damaged = {n for n, c in enumerate(expected, 1) if Line(c).damaged}
        assert damaged <= set(events.filter(~pl.col("parsed"))["line_no"])


@given(
    lines=st.lists(MESSAGE.map(lambda m: m.rstrip("\r").encode()), min_size=1, max_size=40),
    cut=st.floats(0, 1),
    flip=st.none() | st.integers(0, 10**6),
)
@scaled(0.5)
def test_a_damaged_gzip_file_yields_a_prefix_of_its_lines(lines, cut, flip):
    """Half-written or bit-flipped `.gz`: what precedes the damage is read, line for line, and
    the skip reason says what happened; nothing after the damage is invented."""
    text = b"\n".join(lines) + b"\n"
    packed = bytearray(gzip.compress(text, mtime=0))
    packed = packed[: max(10, int(len(packed) * cut))]
    if flip is not None and len(packed) > 10:
        packed[10 + flip % (len(packed) - 10)] ^= 0x55
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "0.log.1.gz"
        path.write_bytes(bytes(packed))
        raw, report = read_files([tmp])
    got = [s.encode("utf-8", "surrogateescape") for s in raw["raw"].to_list()]
    want = text.split(b"\n")[:-1]
    complete = bytes(packed) == gzip.compress(text, mtime=0)
    if complete:
        assert report.skipped == [] and got == [s.decode("utf-8", "replace").encode() for s in want]
        return
    # (a flipped bit can also make the text binary, or leave a NUL run in it: a note of its own)
    [(where, why), *more] = report.skipped
    assert where == str(path) and "\n" not in why
    assert "gzip file (" in why or (flip is not None and why == text_decode.BINARY)
    assert flip is not None or not more
    assert all(p == str(path) and "NUL byte(s)" in note for p, note in more)
    if flip is None:  # truncated only: an exact prefix, the last line possibly cut short
        decoded = [w.decode("utf-8", "replace").encode() for w in want]
        assert len(got) <= len(want)
        if got:
            assert got[:-1] == decoded[: len(got) - 1]
            last = got[-1].decode().removeprefix(UNDECODABLE_PREFIX).rstrip("\ufffd")
            assert decoded[len(got) - 1].decode().startswith(last)
            assert why.endswith(
                f"read the first {len(got)} line(s), the rest could not be decompressed"
            )


@given(
    moment=st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
    offset_min=st.integers(-14 * 60, 14 * 60),
    digits=st.integers(0, 9),
)
@scaled(1.0)
def test_timestamps_parse_exactly_or_not_at_all(moment, offset_min, digits):
    """Any RFC3339 time parses to its exact instant, or to null when nanoseconds since 1970
    cannot hold it: never to a wrapped-around year."""
    offset = timedelta(minutes=offset_min)
    local = moment + offset
    zone = (
        "Z"
        if not offset_min
        else f"{'+' if offset_min > 0 else '-'}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d}"
    )
    fraction = f"{moment.microsecond:06d}000"[:digits]
    text = local.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0") + (f".{fraction}" if digits else "")
    text = f"{local.year:04d}" + text[len(str(local.year)) :] if local.year < 1000 else text
    got = pl.DataFrame({"s": [text + zone]}).select(parse_timestamp(pl.col("s")))["s"][0]
    if not TS_YEARS[0] <= local.year <= TS_YEARS[1]:
        assert got is None
    else:
        want = moment.replace(microsecond=int(f"{fraction:0<6}"[:6]))
        assert got == want


YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
GOOD_PATTERN = {
    "id": "my-sig",
    "title": "t",
    "severity": "low",
    "category": "symptom",
    "regex": ["a+b"],
    "meaning": "m",
    "why": "w",
    "fix": "f",
    "examples": {"match": ["aab"], "no_match": ["c"]},
}


@given(
    changes=st.dictionaries(
        st.sampled_from([*catalog.REQUIRED, *catalog.OPTIONAL, "extra"]), YAML_VALUES, max_size=4
    ),
    dropped=st.sets(st.sampled_from(catalog.REQUIRED), max_size=2),
)
@scaled(1.0)
def test_a_pattern_file_loads_or_fails_with_one_line_naming_file_and_field(changes, dropped):
    doc = {k: v for k, v in {**GOOD_PATTERN, **changes}.items() if k not in dropped}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "my-sig.yaml"
        path.write_text(yaml.safe_dump(doc), encoding="utf-8")
        try:
            sigs = catalog.load_dir(tmp)
        except catalog.CatalogError as exc:
            message = str(exc)
            assert message.startswith(f"{path}: ") and "\n" not in message, message
            return
    [sig] = sigs
    assert all(isinstance(x, str) for x in (sig.title, sig.meaning, sig.why, sig.fix))
    assert sig.criterion is None or isinstance(sig.criterion, str)
    catalog.check_examples(sigs)  # runs, whatever the regexes
