"""Envelope detection: turn raw lines into the events table's columns, one polars pass per step.

A raw line may be wrapped in a CRI node-log record, a `kubectl logs --timestamps` prefix, a docker
json-file object, a Kopia CLI-log line or a Kopia JSON log record, or be bare pod output. The
envelope is detected per line (files may mix them); its timestamp, stream and level become columns
and the content goes on to console processing: ANSI colour codes stripped, `\\r` progress refreshes
split into rows, mover-script prefixes (`INFO:`, `ERROR:` ...) and old Kopia level words read.

Formats: ../shared/reference/formats.md §1.2-1.4 (Kopia), §3.2 (mover script), §6.1-6.3 (envelopes).
"""

from __future__ import annotations

import polars as pl

from .events import UTC_NS

_TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"
_ZONE = r"(?:Z|[+-]\d\d:\d\d)"

# §6.1 CRI: `<RFC3339Nano> <stdout|stderr> <F|P> <content>`; content may be empty.
CRI_RE = (
    rf"(?s)^(?P<ts>{_TS}(?:\.\d+)?{_ZONE}) (?P<stream>stdout|stderr) (?P<tag>[FP]) "
    r"?(?P<content>.*)$"
)
# §1.2 Kopia CLI log: `<ts 6 digits> <LEVEL> <module> <message>[\t<json>]`.
KOPIA_CLI_RE = (
    rf"(?s)^(?P<ts>{_TS}\.\d{{6}}{_ZONE}) (?P<level>DEBUG|INFO|WARN|ERROR|DPANIC|PANIC|FATAL) "
    r"(?P<module>\S+) ?(?P<content>.*)$"
)
# §6.2 kubectl logs --timestamps (always 9 digits), optionally after --prefix `[pod/<pod>/<c>] `.
KUBECTL_RE = (
    r"(?s)^(?:\[pod/(?P<pod>[^/\]]+)/(?P<container>[^\]]+)\] )?"
    rf"(?P<ts>{_TS}\.\d{{9}}{_ZONE}) ?(?P<content>.*)$"
)
ANSI_RE = r"\x1b\[[0-9;]*[A-Za-z]"
# §3.2 mover script prefixes; TIMING is informational.
SCRIPT_PREFIX_RE = r"^(?P<prefix>INFO|WARN|ERROR|DEBUG|TIMING):"
# §1.4 Kopia <= 0.21 console: level word (after ANSI removal) then a space.
KOPIA_CONSOLE_LEVEL_RE = r"^(?P<level>DEBUG|WARN|ERROR) (?P<rest>.*)$"

ENVELOPES = ("cri", "kubectl", "docker", "kopia-cli", "kopia-json", "plain", "loki", "raw")


def parse_timestamp(expr: pl.Expr) -> pl.Expr:
    """RFC3339 text, any fraction length, `Z` or an offset -> UTC nanoseconds (null if bad)."""
    return expr.str.to_datetime(
        "%Y-%m-%dT%H:%M:%S%.f%#z", time_unit="ns", time_zone="UTC", strict=False
    )


def split_envelopes(raw: pl.DataFrame) -> pl.DataFrame:
    """Detect each line's envelope and split it into ts, stream, level, module and content.

    `raw` has at least `source`, `line_no` and `raw` (the line text). Lines that match no envelope
    are `plain` content when their file has no enveloped line at all, and `raw` rows
    (parsed = false) otherwise: a stray line in a CRI file is damage, not data.
    """
    line = pl.col("raw")
    cri = line.str.extract_groups(CRI_RE)
    cli = line.str.extract_groups(KOPIA_CLI_RE)
    kub = line.str.extract_groups(KUBECTL_RE)
    is_json = line.str.starts_with("{")
    docker_log = pl.when(is_json).then(line.str.json_path_match("$.log"))
    kopia_json_m = pl.when(is_json).then(line.str.json_path_match("$.m"))
    frame = raw.with_columns(
        cri.alias("_cri"),
        cli.alias("_cli"),
        kub.alias("_kub"),
        docker_log.alias("_dlog"),
        kopia_json_m.alias("_km"),
    )
    envelope = (
        pl.when(pl.col("_cri").struct.field("ts").is_not_null())
        .then(pl.lit("cri"))
        .when(pl.col("_cli").struct.field("ts").is_not_null())
        .then(pl.lit("kopia-cli"))
        .when(pl.col("_kub").struct.field("ts").is_not_null())
        .then(pl.lit("kubectl"))
        .when(pl.col("_dlog").is_not_null())
        .then(pl.lit("docker"))
        .when(pl.col("_km").is_not_null() & line.str.json_path_match("$.t").is_not_null())
        .then(pl.lit("kopia-json"))
        .otherwise(pl.lit(None, dtype=pl.String))
    )
    frame = frame.with_columns(envelope.alias("_env"))
    any_envelope = pl.col("_env").is_not_null().any().over("source")
    frame = frame.with_columns(
        pl.when(pl.col("_env").is_not_null())
        .then(pl.col("_env"))
        .when(any_envelope)
        .then(pl.lit("raw"))
        .otherwise(pl.lit("plain"))
        .alias("envelope")
    )
    env = pl.col("envelope")
    ts_text = (
        pl.when(env == "cri")
        .then(pl.col("_cri").struct.field("ts"))
        .when(env == "kopia-cli")
        .then(pl.col("_cli").struct.field("ts"))
        .when(env == "kubectl")
        .then(pl.col("_kub").struct.field("ts"))
        .when(env == "docker")
        .then(line.str.json_path_match("$.time"))
        .when(env == "kopia-json")
        .then(line.str.json_path_match("$.t"))
    )
    content = (
        pl.when(env == "cri")
        .then(pl.col("_cri").struct.field("content"))
        .when(env == "kopia-cli")
        .then(pl.col("_cli").struct.field("content"))
        .when(env == "kubectl")
        .then(pl.col("_kub").struct.field("content"))
        .when(env == "docker")
        .then(pl.col("_dlog").str.strip_suffix("\n"))
        .when(env == "kopia-json")
        .then(pl.col("_km"))
        .otherwise(line)
    )
    stream = (
        pl.when(env == "cri")
        .then(pl.col("_cri").struct.field("stream"))
        .when(env == "docker")
        .then(line.str.json_path_match("$.stream"))
    )
    level = (
        pl.when(env == "kopia-cli")
        .then(pl.col("_cli").struct.field("level"))
        .when(env == "kopia-json")
        .then(line.str.json_path_match("$.l"))
    )
    module = (
        pl.when(env == "kopia-cli")
        .then(pl.col("_cli").struct.field("module"))
        .when(env == "kopia-json")
        .then(line.str.json_path_match("$.n"))
    )
    extra = {}
    names = raw.columns
    if "pod" in names:
        extra["pod"] = pl.coalesce(pl.col("pod"), pl.col("_kub").struct.field("pod"))
        extra["container"] = pl.coalesce(
            pl.col("container"), pl.col("_kub").struct.field("container")
        )
    out = frame.with_columns(
        parse_timestamp(ts_text).alias("ts"),
        content.alias("message"),
        stream.alias("stream"),
        level.alias("level"),
        module.alias("module"),
        (env != "raw").alias("parsed"),
        pl.when(env == "cri").then(pl.col("_cri").struct.field("tag")).alias("_tag"),
        **extra,
    )
    out = _join_cri_partials(out)
    return out.drop("_cri", "_cli", "_kub", "_dlog", "_km", "_env", "_tag", "raw")


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
    frame = frame.with_columns(msg.str.replace_all(ANSI_RE, "").alias("message"))
    has_cr = msg.str.contains("\r", literal=True)
    frame = frame.with_columns(has_cr.alias("_cr"), msg.str.split("\r").alias("message"))
    frame = frame.explode("message").filter(
        ~pl.col("_cr") | (pl.col("message").str.strip_chars() != "")
    )
    prefix = msg.str.extract(SCRIPT_PREFIX_RE, 1)
    old_level = msg.str.extract_groups(KOPIA_CONSOLE_LEVEL_RE)
    console = pl.col("level").is_null() & pl.col("envelope").is_in(
        ["cri", "kubectl", "docker", "plain", "loki"]
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
    return frame.drop("_cr")


def timestamps_from_envelope(frame: pl.DataFrame) -> pl.DataFrame:
    """Give lines without a time of their own the time of the last timed line in the same file."""
    return frame.with_columns(
        pl.col("ts").cast(UTC_NS).fill_null(strategy="forward").over("source")
    )
