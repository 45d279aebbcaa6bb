"""Discovery of unrecognised errors: group the problem lines no catalog pattern explains.

A problem line is an unmatched line that says something went wrong (a WARN/ERROR level, a mover
`ERROR:`/`WARN:` prefix, stderr output of a mover pod, or an error word) and is not known healthy
noise (Kopia progress lines, `Snapshotting …`, `Connected to repository.`, blank lines, …).

Templating is plain polars: one chain of `str.replace_all` over the whole message column masks the
variable parts (timestamps, ids, paths, durations, sizes, numbers, …) with `<KIND>` tokens, then a
`group_by` counts the templates. The order of the masks matters: a larger or more specific shape
(a timestamp, a URL, a path holding hex shards) is masked before the pieces it contains (numbers,
hex runs). `starter_pattern` turns one mined template into a catalog pattern file to finish by hand.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

import polars as pl
import yaml

from analyzer.events import EVENTS_SCHEMA, UTC_NS, conform, mover_output

__all__ = [
    "MASKS",
    "TEMPLATES_SCHEMA",
    "group_key_expr",
    "mine",
    "problem_lines",
    "starter_pattern",
    "starter_patterns",
    "template_expr",
    "template_regex",
]

# --------------------------------------------------------------------------------------------
# Which lines are problems

#: Levels (Kopia CLI log level or mover prefix) that make a line a problem on their own.
PROBLEM_LEVELS = ("WARN", "WARNING", "ERROR", "DPANIC", "PANIC", "FATAL", "CRITICAL")
#: Levels that say a line is routine, so coming from stderr does not make it a problem.
QUIET_LEVELS = ("INFO", "DEBUG", "TRACE")

#: Mover script prefixes (`ERROR: …`, `WARN: …`) and the ≤ v0.21 Kopia console level word.
MOVER_PROBLEM_RE = r"^\s*(?:(?:ERROR|WARN|WARNING|FATAL)\s*:|(?:ERROR|WARN|FATAL)\s)"
#: Mover prefixes of routine lines (these may go to stderr without being a problem).
MOVER_QUIET_RE = r"^\s*(?:INFO|DEBUG|TIMING)\s*:"
#: Error words, case-insensitive, whole-word-ish (`KOPIA_ERROR_OUTPUT` does not count).
ERROR_WORDS_RE = (
    r"(?i)\b(?:errors?|failed|unable to|cannot|denied|panic(?:ked)?|fatal|timeout|timed out)\b"
)

#: Error fields that say there was none: Kopia's DEBUG lines log `"error":null`, Go's `%v` of a
#: nil error prints `err=<nil>`. Their error word makes no problem.
NO_ERROR_RE = r'"(?:error|err)"\s*:\s*null|\berr(?:or)?[=:]\s*<nil>|\berrors?=0\b'

#: What can make a line a problem, as regexes over its text (with the level word where the
#: envelope has one): the file source keeps every line that matches any of them.
PROBLEM_RES: tuple[str, ...] = (
    rf"\b(?:{'|'.join(PROBLEM_LEVELS)})\b",
    MOVER_PROBLEM_RE,
    ERROR_WORDS_RE,
)

#: Known-healthy lines: excluded even when they come from stderr or carry an error word.
#: Anchored, so a real error that merely starts like one of them is not hidden.
BENIGN_RES: tuple[str, ...] = (
    r"^\s*$",
    # Kopia upload progress (stderr, `\r`-refreshed; also carries `(N errors ignored)`).
    r"^\s*[|/\\*-]?\s*\d+ hashing, \d+ hashed \(",
    # restic progress `[0:10] 10.00%  12 files …, 0 errors`, Kopia restore progress.
    r"^\s*\[\d+:\d{2}(?::\d{2})?\] ",
    r"^\s*Processed \d+ \(.*\) of \d+ \(",
    r"^\s*Snapshotting \S.* \.\.\.\s*$",
    r"^\s*Connected to repository(?: API Server)?\.\s*$",
    # Kopia INFO messages that ≥ v0.22 prints bare on stderr.
    r"^\s*(?:Running|Finished) (?:quick|full) maintenance(?:\.\.\.|\.)\s*$",
    r"^\s*GC (?:found|undeleted) \d+ ",
    r"^\s*Cleaned up \d+ logs\.\s*$",
    r"^\s*Created (?:partial )?snapshot with root \S+ and ID \S+ in \S+\s*$",
    r"^\s*Setting (?:policy for|local username to|local hostname to|description to"
    r"|maintenance owner to) ",
    r"^\s*- (?:setting|resetting) \S",
    r"^\s*Periodic \w+ maintenance (?:enabled|disabled)\.\s*$",
    r"^\s*(?:Advancing epoch markers|Compacting an eligible uncompacted epoch"
    r"|Attempting to compact a range of epoch indexes|Cleaning up unneeded epoch markers"
    r"|Cleaning up old index blobs which have already been compacted)",
    r"^\s*Initializing repository with:\s*$",
    r"^\s*(?:format version|block hash|encryption|key derivation|ecc|splitter): ",
    r"^\s*(?:NOTE: Kopia will perform quick maintenance|and full maintenance every"
    r"|See https://kopia\.io/docs/advanced/maintenance/|To find more information about default"
    r"|To change the policy use 'kopia policy set')",
    r"^\s*Not saving snapshot because no files have been changed",
    r"^\s*(?:Restoring to local filesystem|Restored \d+ files)",
    # Restore notes the mover prints on stderr.
    r"^\s*(?:Selecting snapshot to restore|Using previous offset: |Looking for snapshots with "
    r"identity: |Selected snapshot with id: )",
    r"^\s*=+ .*=+\s*$",
    r'^\s*\{"id":',
)
BENIGN_RE = "|".join(f"(?:{r})" for r in BENIGN_RES)


def _as_events(events: pl.DataFrame) -> pl.DataFrame:
    if list(events.schema.items()) == list(EVENTS_SCHEMA.items()):
        return events
    return conform(events)


def _problem_expr() -> pl.Expr:
    msg = pl.col("message")
    level = pl.col("level").str.strip_chars().str.to_uppercase()
    loud_level = level.is_in(PROBLEM_LEVELS).fill_null(False)
    quiet = level.is_in(QUIET_LEVELS).fill_null(False)
    quiet = quiet | msg.str.contains(MOVER_QUIET_RE).fill_null(False)
    # stderr is a sign only where the writer has no levels of its own: Kopia >= 0.22's console
    # in a mover pod. Other pods (klog writes everything to stderr) are judged by content.
    stderr = (pl.col("stream") == "stderr").fill_null(False) & ~quiet & mover_output()
    problem = (
        loud_level
        | msg.str.contains(MOVER_PROBLEM_RE).fill_null(False)
        | stderr
        | msg.str.replace_all(NO_ERROR_RE, "").str.contains(ERROR_WORDS_RE).fill_null(False)
    )
    return problem & msg.is_not_null() & ~msg.str.contains(BENIGN_RE).fill_null(False)


def problem_lines(events: pl.DataFrame, matched: pl.Series | pl.Expr | None = None) -> pl.DataFrame:
    """Unmatched lines that look like problems, as an events table (same columns, same order).

    A line is a problem when its level is WARN/ERROR (Kopia CLI log level or mover prefix), it
    starts with a mover `ERROR:`/`WARN:` prefix, it came from a mover pod's stderr (unless
    INFO/DEBUG; `events.mover_output`), or it contains an error word (error, failed, unable
    to, cannot, denied, panic, fatal, timeout; case-insensitive, whole words). Known-healthy
    lines (`BENIGN_RES`: Kopia progress, `Snapshotting …`, `Connected to repository.`, blank
    lines, …) never are. Rows where `matched`
    is true (a Boolean Series as long as `events`, or an expression over it) are excluded: the
    catalog already explains them. Null in `matched` counts as not matched.
    """
    ev = _as_events(events)
    if matched is None:
        flag: pl.Expr | pl.Series = pl.lit(False)
    elif isinstance(matched, pl.Series):
        if matched.len() != ev.height:
            raise ValueError(f"matched has {matched.len()} rows, events has {ev.height}")
        flag = matched.cast(pl.Boolean).alias("__matched")
    else:
        flag = matched.cast(pl.Boolean)
    return (
        ev.with_columns(flag.fill_null(False).alias("__matched"))
        .filter(_problem_expr() & ~pl.col("__matched"))
        .drop("__matched")
    )


# --------------------------------------------------------------------------------------------
# Masking: message -> template

#: Token kinds a template may hold (`<TS>`, `<NUM>`, ...).
KINDS = ("TS", "URL", "UUID", "IP", "ID", "POD", "PATH", "DUR", "SIZE", "NUM")

_HEX4 = r"[0-9a-fA-F]{1,4}"
# Kubernetes' random-suffix alphabet (no vowels), so `volsync-src-myapp-cache` stays literal.
_K8S_SUFFIX = r"[bcdfghjklmnpqrstvwxz2456789]{5}"
# An alphanumeric token of >= 10 characters with a digit: letters{i} digit alnum{9-i,}.
_ALNUM_ID = (
    r"\b(?:"
    + "|".join(rf"[A-Za-z]{{{i}}}\d[A-Za-z0-9]{{{9 - i},}}" for i in range(9))
    + r"|[A-Za-z]{9,}\d[A-Za-z0-9]*)\b"
)

#: (kind, Rust regex, replacement) applied in this order with `str.replace_all`.
MASKS: tuple[tuple[str, str, str], ...] = (
    # RFC3339 / Go `2006-01-02 15:04:05.999 -0700 MST` / `2006-01-02 15:04:05 MST`, dates.
    (
        "TS",
        r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)?"
        r"(?:Z|\s?[+-]\d{2}:?\d{2})?(?: (?:UTC|GMT|[A-Z]{1,2}[SD]T|CES?T|EES?T|WES?T|MSK))?\b",
        "<TS>",
    ),
    ("TS", r"\b\d{8}[T-]\d{6}Z?\b", "<TS>"),  # kopia-20251120-020007-…
    ("TS", r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b", "<TS>"),  # console `11:21:06.682`
    ("URL", r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]*[^\s\"'<>.,;:!?)\]]", "<URL>"),
    (
        "UUID",
        r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
        "<UUID>",
    ),
    ("IP", r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b", "<IP>"),
    ("IP", r"\[[0-9a-fA-F:.]*:[0-9a-fA-F:.%\w]*\](?::\d{1,5})?", "<IP>"),  # [fd00::1]:53
    ("IP", rf"\b{_HEX4}(?::(?:{_HEX4})?){{2,7}}\b", "<IP>"),  # bare fe80::1, 2001:db8::1
    # Kopia identities `user@host` (the `:/path` after them is a path).
    ("ID", r"\b\w[\w.-]*@\w[\w.-]*\w", "<ID>"),
    # VolSync mover pods `volsync-src-<rs>-x7k2p` -> `volsync-src-<POD>`, KopiaMaintenance pods
    # `kopia-maint-<name>-<16 hex>-<minutes>-<5>` -> `kopia-maint-<POD>`. The owner name goes too:
    # it is in the `pods`/`replication_sources` columns, and keeping it would split one failure
    # into one template per ReplicationSource (measured in docs/templates-vs-drain.md).
    ("POD", rf"\b(volsync-(?:src|dst))-[a-z0-9][a-z0-9.-]*?-{_K8S_SUFFIX}\b", "${1}-<POD>"),
    (
        "POD",
        rf"\b(kopia-maint)-(?:manual-)?[a-z0-9][a-z0-9.-]*?-[0-9a-f]{{16}}(?:-\d+)?"
        rf"(?:-{_K8S_SUFFIX})?\b",
        "${1}-<POD>",
    ),
    # Absolute paths (`/repository/p4c/8e1/….f`, `/cache/…`) after a separator; a colon ends a
    # path only when a space or the end follows (`open /mnt/repo/.shards: permission denied`).
    (
        "PATH",
        r"(^|[\s:=(\[{,'\"])/(?:[^\s:'\",;)\]}]|:[^\s'\",;)\]}])*",
        "${1}<PATH>",
    ),
    # A space inside a path (`/data/My Photos/2024/a.jpg`): glue slash-words that follow.
    ("PATH", r"<PATH>(?: [^\s/<>]*/(?:[^\s:'\",;)\]}]|:[^\s'\",;)\]}])*)+", "<PATH>"),
    ("PATH", r"\"[^\"\s/]*/[^\"\s]*\"", '"<PATH>"'),  # quoted relative `"photos/2024/a.jpg"`
    # Kopia ids: log blobs, pack blobs `p…`/`q…`, index blobs `xn…`, object ids `k…`/`Ix…`,
    # manifest ids (32 hex), hex literals.
    ("ID", r"\b_log_\w+", "<ID>"),
    ("ID", r"\b[pq][0-9a-f]{32}(?:-s[0-9a-f]{16})?(?:-c\d+)?\b", "<ID>"),
    ("ID", r"\bxn\d+_[0-9a-f]{8,}(?:-[0-9a-z]+)*\b", "<ID>"),
    ("ID", r"\b(?:I{1,2}|x)?[g-z]?[0-9a-f]{32,64}\b", "<ID>"),
    ("ID", r"\b0x[0-9a-fA-F]+\b", "<ID>"),
    # Go durations `1m2s`, `5h24m42.719315996s`, `100ms`.
    (
        "DUR",
        r"\b\d+(?:\.\d+)?(?:ns|us|µs|ms|h|m|s)(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|h|m|s))*\b",
        "<DUR>",
    ),
    # Byte sizes `1.2 GB`, `512 B`, `8Gi`, `4096 bytes`.
    ("SIZE", r"\b\d+(?:\.\d+)?\s?(?:[kKMGTPE]i?B|B|bytes|[KMGTPE]i)\b", "<SIZE>"),
    # Stand-alone numbers, decimals, versions (so a big number is never taken for a hex id).
    ("NUM", r"\bv?\d+(?:[.,]\d+)*\b", "<NUM>"),
    # Any other token holding a run of ≥ 8 hex digits.
    ("ID", r"\b\w*?(?:[0-9a-f]{8,}|[0-9A-F]{8,})\w*", "<ID>"),
    # Base32/base64-ish ids: a token of >= 10 letters and digits holding a digit
    # (`mfrggzdfmztwq2lk`). No look-ahead in Rust regex, so the length is spelled out by the
    # position of the first digit (see `_ALNUM_ID`).
    ("ID", _ALNUM_ID, "<ID>"),
    ("", r"\s{2,}|[\s&&[^ ]]", " "),
)

_TOKEN_RE = re.compile(r"<(" + "|".join(KINDS) + r")>")


def template_expr(message: pl.Expr | str = "message") -> pl.Expr:
    """The masked template of each message: variable parts replaced by `<KIND>` tokens."""
    expr = pl.col(message) if isinstance(message, str) else message
    for _, pattern, replacement in MASKS:
        expr = expr.str.replace_all(pattern, replacement)
    return expr.str.strip_chars()


def group_key_expr(template: pl.Expr | str = "template") -> pl.Expr:
    """The grouping key of a template: `<ID>` and `<NUM>` count as the same token.

    A random 8-hex id is all digits 2 % of the time and then masks as `<NUM>`; without this the
    same message would split into two templates.
    """
    expr = pl.col(template) if isinstance(template, str) else template
    return expr.str.replace_all("<ID>", "<NUM>", literal=True)


# --------------------------------------------------------------------------------------------
# Mining

TEMPLATES_SCHEMA: dict[str, pl.DataType] = {
    "template": pl.String(),
    "count": pl.Int64(),
    "pods": pl.List(pl.String()),
    "replication_sources": pl.List(pl.String()),
    "first_seen": UTC_NS,
    "last_seen": UTC_NS,
    "example": pl.String(),
    # Up to three distinct real lines of the template, earliest first (`example` is the first).
    "examples": pl.List(pl.String()),
    "new_after_fix": pl.Boolean(),
}


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def mine(
    events: pl.DataFrame,
    matched: pl.Series | pl.Expr | None = None,
    *,
    fix_at: datetime | None = None,
    top: int | None = None,
) -> pl.DataFrame:
    """Group the problem lines (`problem_lines`) into templates, one row per template.

    Columns (`TEMPLATES_SCHEMA`): template, count, pods and replication_sources (sorted unique),
    first_seen and last_seen (UTC), example (the earliest real line), examples (up to three
    distinct real lines), new_after_fix (every occurrence has a time at/after `fix_at`: true;
    any before: false; otherwise null; all null when `fix_at` is None; a naive `fix_at` is UTC).
    Sorted by count descending, then first_seen, then template. `top` keeps the first rows.
    """
    lines = problem_lines(events, matched)
    if fix_at is None:
        after_fix = pl.lit(None, dtype=pl.Boolean)
    else:
        cutoff = pl.lit(_utc(fix_at), dtype=UTC_NS)
        after_fix = (pl.col("ts") >= cutoff).all(ignore_nulls=False)
    order = pl.col("__i")
    lf = (
        lines.lazy()
        .sort(["ts", "source", "line_no"], nulls_last=True, maintain_order=True)
        .with_row_index("__i")
        .with_columns(template=template_expr("message"))
        .with_columns(key=group_key_expr("template"))
    )
    # The displayed template of a key is its most frequent variant.
    variants = (
        lf.group_by("key", "template")
        .agg(n=pl.len(), i=order.min())
        .group_by("key")
        .agg(pl.col("template").sort_by(["n", "i"], descending=[True, False]).first())
    )
    groups = lf.group_by("key").agg(
        count=pl.len().cast(pl.Int64),
        pods=pl.col("pod").drop_nulls().unique().sort(),
        replication_sources=pl.col("replication_source").drop_nulls().unique().sort(),
        first_seen=pl.col("ts").min(),
        last_seen=pl.col("ts").max(),
        example=pl.col("message").sort_by(order).first(),
        examples=pl.col("message").sort_by(order).unique(maintain_order=True).head(3),
        new_after_fix=after_fix,
    )
    out = (
        groups.join(variants, on="key", how="left")
        .select(
            [pl.col(name).cast(dtype) for name, dtype in TEMPLATES_SCHEMA.items()],
        )
        .sort(
            ["count", "first_seen", "template"],
            descending=[True, False, False],
            nulls_last=True,
        )
        .collect()
    )
    return out if top is None else out.head(top)


# --------------------------------------------------------------------------------------------
# Starter pattern files

#: Regex for each token kind in a starter pattern (Rust syntax: no look-around).
TOKEN_REGEX: dict[str, str] = {
    "TS": r"\d[\d:.TZ,+-]*(?:\s[\d:.,+-]+)*(?:\s[A-Z]{3,4})?",
    "URL": r"\S+",
    "UUID": r"[0-9a-fA-F-]{36}",
    "IP": r"\S+",
    "ID": r"\S+",
    "POD": r"[a-z0-9-]+",
    "PATH": r"\S+",
    "DUR": r"[\d.]+[hmsuµn][\dhmsuµn.]*",
    "SIZE": r"[\d.]+\s?[A-Za-z]+",
    "NUM": r"v?\d+(?:[.,]\d+)*",
}
#: Healthy lines any starter pattern must leave alone.
HEALTHY_LINES = ("Connected to repository.", "INFO: === Done ===")
_RUST_META = set(r"\.+*?()|[]{}^$")  # `#`, `&`, `-`, `~` are special only inside classes


def _escape(literal: str) -> str:
    """Escape for Rust regex; runs of spaces become `\\s+` (templates collapse whitespace)."""
    out = []
    for part in re.split(r"(\s+)", literal):
        if part.isspace():
            out.append(r"\s+")
        else:
            out.append("".join("\\" + c if c in _RUST_META else c for c in part))
    return "".join(out)


def template_regex(template: str, *, loose: bool = False) -> str:
    """A Rust regex for the lines of `template`: literals escaped, `<KIND>` tokens as groups.

    Loosely anchored: the template may follow a prefix (a level word, an `INFO:   ` echo) that
    ends in whitespace, and must run to the end of the line. `loose` makes every token `.+?`.
    """
    parts: list[str] = []
    counts: dict[str, int] = {}
    pos = 0
    for m in _TOKEN_RE.finditer(template):
        parts.append(_escape(template[pos : m.start()]))
        kind = m.group(1)
        counts[kind] = counts.get(kind, 0) + 1
        body = ".+?" if loose else TOKEN_REGEX[kind]
        parts.append(f"(?P<{kind.lower()}{counts[kind]}>{body})")
        pos = m.end()
    parts.append(_escape(template[pos:]))
    return r"(?:^|\s)" + "".join(parts) + r"\s*$"


def _matches(regex: str, lines: Sequence[str]) -> list[bool]:
    if not lines:
        return []
    return pl.Series(list(lines), dtype=pl.String).str.contains(regex).fill_null(False).to_list()


def _pattern_id(template: str) -> str:
    words = re.findall(r"[a-z0-9]+", _TOKEN_RE.sub(" ", template).lower())
    words = [w for w in words if not w.isdigit()][:6]
    slug = "-".join(words)[:60].strip("-")
    return slug or "unrecognised-template"


class _BlockDumper(yaml.SafeDumper):
    """SafeDumper that writes multi-line strings as `|` blocks."""


def _str_representer(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str_representer)


def starter_pattern(
    row: dict,
    *,
    pattern_id: str | None = None,
    no_match: Sequence[str] | None = None,
) -> str:
    """A YAML pattern file (text) for one `mine` row, to drop into a `--patterns` directory.

    The regex is built from the template (`template_regex`) and checked with polars against the
    row's real lines; if a line escapes it, the tokens fall back to `.+?`. `no_match` offers lines
    of other templates; those the regex would match are dropped, and healthy lines fill the list
    up to two. `meaning`, `why` and `fix` are TODO placeholders for the author.
    """
    template = str(row["template"])
    examples = [str(x) for x in (row.get("examples") or []) if x is not None]
    example = row.get("example")
    if example is not None and str(example) not in examples:
        examples.insert(0, str(example))
    examples = examples[:3]

    regex = template_regex(template)
    if not all(_matches(regex, examples)):
        regex = template_regex(template, loose=True)
    candidates = [*(no_match or ()), *HEALTHY_LINES]
    hits = _matches(regex, candidates)
    negatives = [line for line, hit in zip(candidates, hits, strict=True) if not hit][:2]

    pid = pattern_id or _pattern_id(template)
    title = template if len(template) <= 100 else template[:97] + "..."
    doc = {
        "id": pid,
        "title": title,
        "severity": "medium",
        "category": "symptom",
        "regex": [regex],
        "meaning": "TODO: what this line says happened, in one or two plain sentences.",
        "why": "TODO: the usual cause(s), and how to confirm which one applies here.",
        "fix": "TODO: the steps that make this line go away (commands, settings, manifests).",
        "alternatives": [],
        "references": [],
        "examples": {"match": examples, "no_match": negatives},
    }
    header = [
        f"# Starter pattern mined from {row.get('count', '?')} unrecognised line(s).",
        f"# Save it as {pid}.yaml (the id is the file name), fill in the TODOs, tighten the",
        "# regex, then check it with: analyze --test-patterns DIR (TODOs fail until written).",
    ]
    first, last = row.get("first_seen"), row.get("last_seen")
    if first is not None:
        header.append(f"# First seen {_rfc3339(first)}, last seen {_rfc3339(last)}.")
    body = yaml.dump(
        doc,
        Dumper=_BlockDumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100_000,
    )
    return "\n".join(header) + "\n" + body


def _rfc3339(value: object) -> str:
    """A time as RFC3339 UTC with `Z` (text is passed through)."""
    from .timeutil import fmt_utc

    return fmt_utc(value) if isinstance(value, datetime) else str(value)


def starter_patterns(templates: pl.DataFrame) -> dict[str, str]:
    """`starter_pattern` for every row of a `mine` table, using the other rows' examples as
    `no_match` lines. Returns {pattern id: YAML text}; colliding ids get a numeric suffix."""
    rows = templates.to_dicts()
    out: dict[str, str] = {}
    for i, row in enumerate(rows):
        others = [r["example"] for j, r in enumerate(rows) if j != i and r["example"]]
        pid = _pattern_id(str(row["template"]))
        unique, n = pid, 2
        while unique in out:
            unique, n = f"{pid}-{n}", n + 1
        out[unique] = starter_pattern(row, pattern_id=unique, no_match=others)
    return out
