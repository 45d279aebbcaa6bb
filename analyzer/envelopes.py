"""Envelope detection: turn raw lines into the events table's columns, one polars pass per step.

A raw line may be wrapped in a CRI node-log record, a `kubectl logs --timestamps` prefix, a docker
json-file object, a Kopia CLI-log line or a Kopia JSON log record, a line of `logcli query`
output (`default` or `jsonl`; `raw` is bare pod output), or be bare pod output. The
envelope is detected per line (files may mix them); its timestamp, stream and level become columns
and the content goes on to console processing: ANSI colour codes stripped, `\\r` progress refreshes
split into rows, mover-script prefixes (`INFO:`, `ERROR:` ...) and old Kopia level words read.

Formats: ../shared/reference/formats.md §1.2-1.4 (Kopia), §3.2 (mover script), §6.1-6.3 (envelopes).
"""

from __future__ import annotations

import polars as pl

from .events import UTC_NS, empty_events, finalize

#: The file source puts U+FFFD before a line that was not valid UTF-8; such a line is always a
#: counted raw row, even in a file without envelopes.
UNDECODABLE_PREFIX = "\ufffd"
ANSI_RE = r"\x1b\[[0-9;]*[A-Za-z]"
# §3.2 mover script prefixes; TIMING is informational.
SCRIPT_PREFIX_RE = r"^(?P<prefix>INFO|WARN|ERROR|DEBUG|TIMING):"
# §1.4 Kopia <= 0.21 console: level word (after ANSI removal) then a space.
KOPIA_CONSOLE_LEVEL_RE = r"^(?P<level>DEBUG|WARN|ERROR) (?P<rest>.*)$"

ENVELOPES = (
    "cri",
    "kubectl",
    "docker",
    "kopia-cli",
    "kopia-json",
    "plain",
    "loki",
    "raw",
    "viewer",
    "logcli",
    "logcli-jsonl",
)
#: `logcli query` output (grafana/loki pkg/logcli/output): `default` prints
#: `<RFC3339 time> <labels, padded> <line, trimmed>`, the labels as Go's LabelSet.String()
#: (`{container="kopia", namespace="media"}`, sorted, `, `-separated, Go-quoted; `{}` when every
#: label is common); `jsonl` prints `{"labels":{…},"line":"…","timestamp":"…"}`; `raw` prints the
#: line alone. Labels shared by every stream are left out of each line and printed once to
#: stderr through Go's `log`: `2026/01/31 16:00:03 Common labels: {…}`.
LOGCLI_ENVELOPES = ("logcli", "logcli-jsonl")
_LABEL_PAIR = r'[A-Za-z_][A-Za-z0-9_]*="(?:[^"\\]|\\.)*"'
LOGCLI_LABELS_RE = r"\{(?:" + _LABEL_PAIR + r"(?:, " + _LABEL_PAIR + r")*)?\}"
#: After the time: the labels, the padding up to the widest label set, then the line.
LOGCLI_LINE_RE = r"^(?P<labels>" + LOGCLI_LABELS_RE + r")(?: +(?P<line>.*))?$"
LOGCLI_COMMON_RE = (
    r"^(?:\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(?:\.\d+)? )?Common labels: (?P<labels>"
    + LOGCLI_LABELS_RE
    + r")\s*$"
)
#: Where Promtail, Alloy and OTLP put a pod's identity among the labels (the same keys Loki
#: streams are read by, `sources/loki/identity.py`); only values Kubernetes could have made.
_K8S_VALUE = r'"([a-z0-9][a-z0-9.-]*)"'
_LABEL_KEYS = {
    "namespace": ("namespace", "k8s_namespace_name"),
    "pod": ("pod", "k8s_pod_name"),
    "container": ("container", "k8s_container_name"),
}
#: Lines a log viewer adds to what it shows (not the container's output, stamped with the
#: viewer's clock): k9s's `stream closed EOF for <ns>/<pod> (<container>)` (every spelling since
#: k9s 0.2x), stern's `- <pod> › <container>` / `+ <pod> › <container>`, kubectl's
#: `Defaulted container "<c>" out of: ...`. They name the pod, so they give identity.
#: k9s's line when a container's log stream ends, every spelling since k9s 0.2x (the runs stage
#: reads it too: a closed stream is no live pod).
STREAM_CLOSED_RE = r"^[Ss]tream closed:? \S+ for "
VIEWER_RE = (
    r"^(?:" + STREAM_CLOSED_RE[1:] + r"(?P<namespace>[a-z0-9][a-z0-9.-]*)/"
    r"(?P<pod>[a-z0-9][a-z0-9.-]*) \((?P<container>[a-z0-9][a-z0-9.-]*)\)"
    r"|[+-] (?P<spod>[a-z0-9][a-z0-9.-]*) › (?P<scontainer>[a-z0-9][a-z0-9.-]*)"
    r"|Defaulted container \"(?P<dcontainer>[a-z0-9][a-z0-9.-]*)\" out of: .*)\s*$"
)
#: Viewers that show the container name as a column before each message (k9s on a pod with
#: init containers, stern): the column is stripped where nearly every line of a file has it.
_MOVER_CONTAINER = r"(?:kopia|restic|kopia-maintenance|rclone|rsync|rsync-tls|syncthing)"
CONTAINER_COLUMN_RE = (
    # stern's `<pod> <container> <message>`, for a VolSync or KopiaMaintenance pod
    r"^(?:(?P<spod>(?:volsync-(?:src|dst)|kopia-maint)-[a-z0-9.-]+) (?P<sc>"
    + _MOVER_CONTAINER
    + r") "
    r"|(?P<c>kopia|restic|kopia-maintenance|rclone|rsync|rsync-tls|syncthing) "
    # docker compose's `<service>-1  | ` before every line
    r"|(?P<compose>[A-Za-z0-9][A-Za-z0-9_.-]*)\s+\| )"
)
#: Kopia's progress line with the error that ended the command glued on after it, once the
#: `\r` between them was lost (a paste, a log that kept only the last redraw).
GLUED_AFTER_PROGRESS_RE = r"(\d+ hashing, [^\r]*?)((?:ERROR|WARN) )"


#: Years whose times fit in nanoseconds since 1970 (int64) whatever the UTC offset.
TS_YEARS = (1678, 2261)


def parse_timestamp(expr: pl.Expr) -> pl.Expr:
    """RFC3339 text, any fraction length, `Z` or an offset -> UTC nanoseconds (null if bad).

    A year outside `TS_YEARS` (Go's zero time `0001-01-01T00:00:00Z`, a clock set to 2300) is
    null too: nanoseconds would silently wrap around to a wrong time.
    """
    parsed = expr.str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%#z", time_unit="ns", time_zone="UTC", strict=False
    )
    year = expr.str.slice(0, 4).cast(pl.Int32, strict=False)
    return pl.when(year.is_between(*TS_YEARS)).then(parsed)


_LEVELS = ["DEBUG", "INFO", "WARN", "ERROR", "DPANIC", "PANIC", "FATAL"]
_DROP = ("_p0", "_p1", "_p2", "_p3", "_ts", "_kub", "_tag", "_env", "raw")
#: Identity from logcli labels: on the line (`_l…`) and on the file's `Common labels:` (`_c…`).
_LABEL_COLUMNS = tuple(f"_{k}{name}" for k in ("l", "c") for name in _LABEL_KEYS)


def _label_text(labels: pl.Expr, name: str) -> pl.Expr:
    """The value of identity label `name` (any of its keys) in a LabelSet string."""
    keys = "|".join(_LABEL_KEYS[name])
    return labels.str.extract(r"(?:^\{|, )(?:" + keys + r")=" + _K8S_VALUE, 1)


def _label_json(line: pl.Expr, name: str) -> pl.Expr:
    """The value of identity label `name` in a logcli jsonl record's `labels` object."""
    values = [line.str.json_path_match(f"$.labels.{key}") for key in _LABEL_KEYS[name]]
    value = pl.coalesce(values)
    return pl.when(value.str.contains(r"^[a-z0-9][a-z0-9.-]*$")).then(value)


def _logcli_identity(frame: pl.DataFrame) -> pl.DataFrame:
    """Namespace, pod and container of logcli lines (and of lines with no envelope, logcli's
    `raw` output): their own labels, else the labels the file printed as common to every
    stream, else what the path or flags say."""
    for name in _LABEL_KEYS:
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(name))
    for column in _LABEL_COLUMNS:
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(column))
    # `--output=raw` lines have no envelope; the Common labels line names their pod too
    logcli = pl.col("_env").is_in(LOGCLI_ENVELOPES) | pl.col("_env").is_null()
    return frame.with_columns(
        pl.when(logcli)
        .then(
            pl.coalesce(
                pl.col(f"_l{name}"),
                pl.col(f"_c{name}").drop_nulls().first().over("source"),
                pl.col(name),
            )
        )
        .otherwise(pl.col(name))
        .alias(name)
        for name in _LABEL_KEYS
    ).drop(_LABEL_COLUMNS)


def split_envelopes(raw: pl.DataFrame) -> pl.DataFrame:
    """Detect each line's envelope and split it into ts, stream, level, module and content.

    `raw` has at least `source`, `line_no` and `raw` (the line text). Lines that match no envelope
    are `plain` content when their file has no enveloped line at all, and `raw` rows
    (parsed = false) otherwise: a stray line in a CRI file is damage, not data. A line that was
    not valid UTF-8 (`UNDECODABLE_PREFIX`) is a raw row wherever it is.

    The text envelopes are told apart by their first three space-separated fields (one split and
    one timestamp parse per line, no per-envelope regex over every line); JSON lines are read
    with JSON paths, on the JSON-looking rows only.
    """
    is_json = pl.col("raw").str.starts_with("{")
    text = _text_envelopes(raw.filter(~is_json))
    objects = _json_envelopes(raw.filter(is_json))
    frame = pl.concat([text, objects], how="diagonal_relaxed").sort("source", "line_no")
    frame = _logcli_identity(frame)
    # logcli's `Common labels:` line on stderr is no envelope of the lines around it
    any_envelope = (
        (pl.col("_env").is_not_null() & (pl.col("_env") != "viewer")).any().over("source")
    )
    damaged = any_envelope | pl.col("raw").str.starts_with(UNDECODABLE_PREFIX)
    frame = frame.with_columns(
        pl.when(pl.col("_env").is_not_null())
        .then(pl.col("_env"))
        .when(damaged)
        .then(pl.lit("raw"))
        .otherwise(pl.lit("plain"))
        .alias("envelope")
    ).with_columns(
        pl.when(pl.col("envelope").is_in(["raw", "plain"]))
        .then(pl.col("raw"))
        .otherwise(pl.col("message"))
        .alias("message"),
        (pl.col("envelope") != "raw").alias("parsed"),
    )
    frame = _join_cri_partials(frame)
    return frame.drop([c for c in _DROP if c in frame.columns])


def _text_envelopes(raw: pl.DataFrame) -> pl.DataFrame:
    """CRI, Kopia CLI-log and `kubectl --timestamps` lines, by the shape of their first fields."""
    line = pl.col("raw")
    # `kubectl logs --prefix` puts `[pod/<pod>/<container>] ` before the timestamp.
    # Only names Kubernetes could have made, so a forged prefix cannot set identity.
    kub = line.str.extract_groups(
        r"^\[pod/(?P<pod>[a-z0-9][a-z0-9.-]*)/(?P<container>[a-z0-9][a-z0-9.-]*)\] "
    )
    prefix_len = (
        pl.col("_kub").struct.field("pod").str.len_chars()
        + pl.col("_kub").struct.field("container").str.len_chars()
        + 8
    )
    frame = raw.with_columns(kub.alias("_kub")).with_columns(
        pl.when(pl.col("_kub").struct.field("pod").is_not_null())
        .then(line.str.slice(prefix_len))
        # logcli colours its time and labels on a terminal (a paste keeps the codes)
        .when(line.str.starts_with("\x1b["))
        .then(line.str.replace_all(ANSI_RE, ""))
        .otherwise(line)
        .alias("_body")
    )
    body = pl.col("_body")
    parts = body.str.splitn(" ", 4)
    frame = frame.with_columns(
        parts.struct.field("field_0").alias("_p0"),
        parts.struct.field("field_1").alias("_p1"),
        parts.struct.field("field_2").alias("_p2"),
        parts.struct.field("field_3").alias("_p3"),
    ).with_columns(parse_timestamp(pl.col("_p0")).alias("_ts"))
    p0, p1, p2 = pl.col("_p0"), pl.col("_p1"), pl.col("_p2")
    timed = pl.col("_ts").is_not_null()
    fraction = p0.str.extract(r"\.(\d+)", 1).str.len_chars()
    # fill_null: a line that is only a timestamp has no second field, and null must not spread
    # into `~is_cri` (a bare `kubectl --timestamps` stamp of an empty line is still kubectl).
    is_cri = (timed & p1.is_in(["stdout", "stderr"]) & p2.is_in(["F", "P"])).fill_null(False)
    is_cli = (timed & (fraction == 6) & p1.is_in(_LEVELS) & p2.is_not_null()).fill_null(False)
    is_cli = is_cli & ~is_cri
    after_ts = body.str.slice(p0.str.len_chars() + 1)
    # logcli's labels start right after the time; a `{` there that is no LabelSet (Kopia's
    # JSON console line under a kubectl stamp) stays kubectl.
    logcli = after_ts.str.extract_groups(LOGCLI_LINE_RE)
    frame = frame.with_columns(
        pl.when(timed & p1.str.starts_with("{")).then(logcli).alias("_logcli"),
        pl.when(~timed & body.str.contains("Common labels: ", literal=True))
        .then(body.str.replace_all(ANSI_RE, "").str.extract(LOGCLI_COMMON_RE, 1))
        .alias("_common"),
    )
    is_logcli = pl.col("_logcli").struct.field("labels").is_not_null().fill_null(False)
    is_common = pl.col("_common").is_not_null()
    is_kub = (timed & ~is_cri & ~is_cli & ~is_logcli & (fraction == 9)).fill_null(False)
    env = (
        pl.when(is_cri)
        .then(pl.lit("cri"))
        .when(is_cli)
        .then(pl.lit("kopia-cli"))
        .when(is_logcli)
        .then(pl.lit("logcli"))
        .when(is_kub)
        .then(pl.lit("kubectl"))
        .when(is_common)
        .then(pl.lit("viewer"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    frame = frame.with_columns(env.alias("_env"))
    e = pl.col("_env")
    labels = pl.col("_logcli").struct.field("labels")
    frame = frame.with_columns(
        *(_label_text(labels, name).alias(f"_l{name}") for name in _LABEL_KEYS),
        *(_label_text(pl.col("_common"), name).alias(f"_c{name}") for name in _LABEL_KEYS),
    )
    columns = {
        "ts": pl.when(e.is_not_null()).then(pl.col("_ts")),
        "message": pl.when(e == "cri")
        .then(pl.col("_p3").fill_null(""))
        .when(e == "kopia-cli")
        .then(pl.col("_p3").fill_null(""))
        .when(e == "kubectl")
        .then(after_ts)
        .when(e == "logcli")
        .then(pl.col("_logcli").struct.field("line").fill_null(""))
        .otherwise(line),
        "stream": pl.when(e == "cri")
        .then(p1)
        .when(e == "logcli")
        .then(labels.str.extract(r'(?:^\{|, )stream="(stdout|stderr)"', 1)),
        "level": pl.when(e == "kopia-cli").then(p1),
        "module": pl.when(e == "kopia-cli").then(p2),
        "_tag": pl.when(e == "cri").then(p2),
    }
    if "pod" in raw.columns:
        columns["pod"] = pl.coalesce(pl.col("pod"), pl.col("_kub").struct.field("pod"))
        columns["container"] = pl.coalesce(
            pl.col("container"), pl.col("_kub").struct.field("container")
        )
    return frame.with_columns(**columns).drop("_body", "_logcli", "_common")


def _json_envelopes(raw: pl.DataFrame) -> pl.DataFrame:
    """docker json-file lines (`log`, `stream`, `time`) and Kopia's `--json-log-file` (`l`, `t`,
    `n`, `m`); anything else that starts with `{` is left for the plain/raw decision."""
    line = pl.col("raw")
    frame = raw.with_columns(
        line.str.json_path_match("$.log").alias("_log"),
        line.str.json_path_match("$.m").alias("_m"),
        line.str.json_path_match("$.t").alias("_t"),
    )
    is_docker = pl.col("_log").is_not_null()
    is_kopia = ~is_docker & pl.col("_m").is_not_null() & pl.col("_t").is_not_null()
    # logcli --output=jsonl: Go's json.Marshal of a map, so the keys are sorted and `labels`
    # (absent with --no-labels) comes first, then `line`, then `timestamp`.
    jsonl_line = line.str.json_path_match("$.line")
    is_jsonl = (
        ~is_docker
        & ~is_kopia
        & jsonl_line.is_not_null()
        & line.str.json_path_match("$.timestamp").is_not_null()
    )
    e = (
        pl.when(is_docker)
        .then(pl.lit("docker"))
        .when(is_kopia)
        .then(pl.lit("kopia-json"))
        .when(is_jsonl)
        .then(pl.lit("logcli-jsonl"))
    )
    frame = frame.with_columns(e.alias("_env"))
    env = pl.col("_env")
    jsonl = env == "logcli-jsonl"
    return frame.with_columns(
        parse_timestamp(
            pl.when(env == "docker")
            .then(line.str.json_path_match("$.time"))
            .when(jsonl)
            .then(line.str.json_path_match("$.timestamp"))
            .otherwise(pl.col("_t"))
        ).alias("ts"),
        pl.when(env == "docker")
        .then(pl.col("_log").str.strip_suffix("\n"))
        .when(env == "kopia-json")
        .then(pl.col("_m"))
        .when(jsonl)
        .then(jsonl_line.str.strip_suffix("\n"))
        .otherwise(line)
        .alias("message"),
        pl.when(env == "docker")
        .then(line.str.json_path_match("$.stream"))
        .when(jsonl)
        .then(
            line.str.json_path_match("$.labels.stream").replace_strict(
                {"stdout": "stdout", "stderr": "stderr"}, default=None
            )
        )
        .alias("stream"),
        *(pl.when(jsonl).then(_label_json(line, name)).alias(f"_l{name}") for name in _LABEL_KEYS),
        pl.when(env == "kopia-json").then(line.str.json_path_match("$.l")).alias("level"),
        pl.when(env == "kopia-json").then(line.str.json_path_match("$.n")).alias("module"),
        pl.lit(None, dtype=pl.String).alias("_tag"),
    ).drop("_log", "_m", "_t")


def _join_cri_partials(frame: pl.DataFrame) -> pl.DataFrame:
    """Join CRI `P` records with the record that completes them (same file and stream).

    The joined row keeps the first record's timestamp and line number; a trailing `P` with no
    `F` (a truncated file) stays a row of its own.
    """
    is_cri = pl.col("envelope") == "cri"
    if frame.filter(pl.col("_tag") == "P").height == 0:
        return frame
    cri = frame.filter(is_cri)
    rest = frame.filter(~is_cri)
    keys = ["source", "stream"]
    cri = cri.sort("source", "line_no").with_columns(
        pl.col("_tag").shift(1).over(keys).fill_null("F").eq("F").cum_sum().over(keys).alias("_grp")
    )
    others = [c for c in cri.columns if c not in ("message", "_grp", "source", "stream")]
    joined = cri.group_by([*keys, "_grp"], maintain_order=True).agg(
        pl.col("message").str.join(""),
        *[pl.col(c).first() for c in others],
    )
    return pl.concat([joined.drop("_grp").select(frame.columns), rest]).sort("source", "line_no")


def console_lines(frame: pl.DataFrame) -> pl.DataFrame:
    """Clean pod output: strip ANSI, split `\\r` refreshes into rows, read script/Kopia level words.

    Applies to every row; Kopia CLI-log messages simply carry no ANSI or prefix. Rows produced by
    a `\\r` split share their line number; empty refresh fragments are dropped.
    """
    msg = pl.col("message")
    clean = msg.str.replace_all(ANSI_RE, "")
    glued = clean.str.contains(" hashing, ", literal=True) & clean.str.contains(
        GLUED_AFTER_PROGRESS_RE
    )
    frame = frame.with_columns(
        pl.when(glued)
        .then(clean.str.replace_all(GLUED_AFTER_PROGRESS_RE, "${1}\r${2}"))
        .otherwise(clean)
        .alias("message")
    )
    # A line of nothing but `\r` and blanks stays one (empty) row: no input line disappears.
    blank = msg.str.strip_chars() == ""
    frame = frame.with_columns(pl.when(blank).then(pl.lit("")).otherwise(msg).alias("message"))
    has_cr = msg.str.contains("\r", literal=True)
    frame = frame.with_columns(has_cr.alias("_cr"), msg.str.split("\r").alias("message"))
    frame = frame.explode("message").filter(
        ~pl.col("_cr") | (pl.col("message").str.strip_chars() != "")
    )
    prefix = msg.str.extract(SCRIPT_PREFIX_RE, 1)
    old_level = msg.str.extract_groups(KOPIA_CONSOLE_LEVEL_RE)
    console = pl.col("level").is_null() & pl.col("envelope").is_in(
        ["cri", "kubectl", "docker", "plain", "loki", *LOGCLI_ENVELOPES]
    )
    # Kopia's --json-log-console form inside pod output (§1.3): take `m`, `n` and `l` when present.
    json_console = (
        console & msg.str.starts_with('{"') & msg.str.json_path_match("$.m").is_not_null()
    )
    frame = frame.with_columns(
        pl.when(json_console)
        .then(msg.str.json_path_match("$.n"))
        .otherwise(pl.col("module"))
        .alias("module"),
        pl.when(console & prefix.is_not_null())
        .then(pl.when(prefix == "TIMING").then(pl.lit("INFO")).otherwise(prefix))
        .when(console & old_level.struct.field("level").is_not_null())
        .then(old_level.struct.field("level"))
        .when(json_console)
        .then(msg.str.json_path_match("$.l"))
        .otherwise(pl.col("level"))
        .alias("level"),
        pl.when(console & prefix.is_null() & old_level.struct.field("level").is_not_null())
        .then(old_level.struct.field("rest"))
        .when(json_console)
        .then(msg.str.json_path_match("$.m"))
        .otherwise(msg)
        .alias("message"),
    )
    return _viewer_lines(frame.drop("_cr"))


def _viewer_lines(frame: pl.DataFrame) -> pl.DataFrame:
    """What log viewers add: a container column before every message is stripped (and names
    the container); the viewer's own lines become `viewer` rows whose time is not the
    container's (taken from the line before) and whose pod, when a file names exactly one,
    is the identity of that file's lines that have none."""
    msg = pl.col("message")
    shown = pl.col("envelope").is_in(["kubectl", "plain"])
    if not frame.select(shown.any()).item():
        return frame  # only CRI, docker, Kopia's own logs or Loki: no viewer can have shown them
    viewer = shown & msg.str.contains(VIEWER_RE)
    output = shown & ~viewer
    found = msg.str.extract_groups(CONTAINER_COLUMN_RE)
    column = pl.coalesce(found.struct.field("sc"), found.struct.field("c"))
    column_pod = found.struct.field("spod")
    width = msg.str.extract(r"^(" + CONTAINER_COLUMN_RE[1:] + r")", 1).str.len_chars()
    has_column = output & width.is_not_null()
    lines = output.sum().over("source")
    strip = has_column & (has_column.sum().over("source") >= 0.8 * lines) & (lines >= 2)
    frame = frame.with_columns(
        viewer.alias("_viewer"),
        pl.when(strip).then(msg.str.slice(width)).otherwise(msg),
        pl.when(strip & pl.col("container").is_null())
        .then(column)
        .otherwise(pl.col("container"))
        .alias("container"),
        pl.when(strip & pl.col("pod").is_null())
        .then(column_pod)
        .otherwise(pl.col("pod"))
        .alias("pod")
        if "pod" in frame.columns
        else pl.when(strip).then(column_pod).alias("pod"),
    )
    named = pl.col("message").str.extract_groups(VIEWER_RE)
    frame = frame.with_columns(
        named.struct.field("namespace").alias("_vns"),
        pl.coalesce(named.struct.field("pod"), named.struct.field("spod")).alias("_vpod"),
        pl.coalesce(
            named.struct.field("container"),
            named.struct.field("scontainer"),
            named.struct.field("dcontainer"),
        ).alias("_vcontainer"),
    )

    def one(column: str) -> pl.Expr:
        """The value a file names in `column`, when it names exactly one."""
        named = pl.col(column).drop_nulls()
        return pl.when(named.n_unique().over("source") == 1).then(named.first().over("source"))

    return frame.with_columns(
        pl.when(pl.col("_viewer"))
        .then(pl.lit("viewer"))
        .otherwise(pl.col("envelope"))
        .alias("envelope"),
        pl.when(pl.col("_viewer")).then(None).otherwise(pl.col("ts")).alias("ts"),
        pl.coalesce(pl.col("namespace"), one("_vns")).alias("namespace")
        if "namespace" in frame.columns
        else one("_vns").alias("namespace"),
        pl.coalesce(pl.col("pod"), one("_vpod")).alias("pod")
        if "pod" in frame.columns
        else one("_vpod").alias("pod"),
        pl.coalesce(pl.col("container"), one("_vcontainer")).alias("container"),
    ).drop("_vns", "_vpod", "_vcontainer", "_viewer")


def timestamps_from_envelope(frame: pl.DataFrame) -> pl.DataFrame:
    """Give lines without a time of their own the time of the last timed line in the same file."""
    return frame.with_columns(
        pl.col("ts").cast(UTC_NS).fill_null(strategy="forward").over("source")
    )


def events_from_raw(raw: pl.DataFrame) -> pl.DataFrame:
    """Raw lines (source, line_no, raw, path metadata) -> the canonical events table."""
    if raw.height == 0:
        return empty_events()
    frame = split_envelopes(raw)
    frame = console_lines(frame)
    frame = timestamps_from_envelope(frame)
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
    return finalize(console_lines(frame))
