"""What `logcli query` prints, byte for byte (grafana/loki pkg/logcli/output and query.go).

* `default`: `<time> <labels> <line>`: the time is Go's `time.RFC3339` in the output time zone
  (to the second: `2026-01-31T16:00:03Z`, `2026-01-31T17:00:03+01:00`); the labels are
  `loghttp.LabelSet.String()` (`{container="kopia", pod="x"}`: names sorted, `, `-separated,
  values `strconv.Quote`d), padded with spaces to the widest label set of the batch; the line is
  `strings.TrimSpace`d. On a terminal the time is blue and the labels red (ANSI codes).
* `jsonl`: `json.Marshal` of `{"labels", "line", "timestamp"}` (a Go map: keys sorted), the
  timestamp as Go marshals a time.Time (RFC3339Nano in the output zone).
* `raw`: the line alone.

Labels every stream shares are taken off each line and printed once to stderr by Go's `log`
(`2026/01/31 16:05:00 Common labels: {…}`). Entries come newest first unless `--forward`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone

BLUE, RED, RESET = "\x1b[34m", "\x1b[31m", "\x1b[0m"


def label_set(labels: Mapping[str, str]) -> str:
    """Go's `loghttp.LabelSet.String()` (ASCII values: `strconv.Quote` is JSON's quoting)."""
    return "{" + ", ".join(f"{k}={json.dumps(labels[k])}" for k in sorted(labels)) + "}"


def common_labels(streams: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """The labels every stream has with the same value (logcli's `commonLabels`)."""
    first, *rest = streams
    return {k: v for k, v in first.items() if all(s.get(k) == v for s in rest)}


def go_rfc3339nano(t: datetime) -> str:
    """Go's RFC3339Nano: trailing zeros of the fraction dropped, `Z` for UTC."""
    text = t.isoformat(timespec="microseconds")
    head, _, tail = text.partition(".")
    frac, zone = tail[:6], tail[6:]
    frac = frac.rstrip("0")
    zone = "Z" if zone in ("+00:00", "") else zone
    return f"{head}{'.' + frac if frac else ''}{zone}"


def query_output(
    entries: Sequence[tuple[datetime, Mapping[str, str], str]],
    *,
    output: str = "default",
    forward: bool = False,
    tz: timezone | None = None,
    colour: bool = False,
) -> tuple[list[str], str | None]:
    """(stdout lines, the stderr `Common labels:` line or None) of `logcli query` over `entries`
    (time, stream labels, line), as `--output=<output>` prints them."""
    streams = list({tuple(sorted(labels.items())): labels for _, labels, _ in entries}.values())
    common = common_labels(streams) if len(streams) > 1 else dict(streams[0])
    ordered = sorted(entries, key=lambda e: e[0], reverse=not forward)
    shown = [
        (t.astimezone(tz) if tz else t, {k: v for k, v in labels.items() if k not in common}, line)
        for t, labels, line in ordered
    ]
    width = max(len(label_set(labels)) for _, labels, _ in shown)
    out = []
    for t, labels, line in shown:
        if output == "raw":
            out.append(line.removesuffix("\n"))
        elif output == "jsonl":
            record = {"labels": labels, "line": line, "timestamp": go_rfc3339nano(t)}
            out.append(json.dumps(record, separators=(",", ":"), sort_keys=True))
        else:
            stamp = t.isoformat(timespec="seconds").replace("+00:00", "Z")
            text = label_set(labels).ljust(width)
            if colour:
                stamp, text = f"{BLUE}{stamp}{RESET}", f"{RED}{text}{RESET}"
            out.append(f"{stamp} {text} {line.strip()}")
    stderr = None
    if common:
        when = max(t for t, _, _ in entries) + timedelta(seconds=5)
        stderr = f"{when:%Y/%m/%d %H:%M:%S} Common labels: {label_set(common)}"
    return out, stderr
