"""LogQL text: quoting, the log and activity queries, selectors, RE2 escaping.

Regexes run in Loki, so they are RE2: no look-arounds or back-references; named groups
`(?P<name>...)` are accepted by RE2 as in Python.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = [
    "ACTIVITY_LABELS",
    "DEFAULT_SELECTOR",
    "build_activity_query",
    "build_log_query",
    "combine_filters",
    "logql_quote",
    "re2_escape",
    "render_selector",
]

#: The mover and maintenance containers, by the names VolSync and the fork give them.
DEFAULT_SELECTOR = '{container=~"kopia|restic|kopia-maintenance"}'
#: Labels the activity query groups by: Promtail/Alloy names first, OTLP names, then service_name.
ACTIVITY_LABELS = ("namespace", "pod", "container", "k8s_namespace_name", "k8s_pod_name")
ACTIVITY_LABELS += ("k8s_container_name", "service_name")


def logql_quote(text: str) -> str:
    """Quote text as a LogQL double-quoted string (Go syntax: `\\`, `"` and controls escaped)."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\n\t\r":
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def combine_filters(patterns: Sequence[str]) -> str:
    """One RE2 alternation `(?:a)|(?:b)` that matches a line when any pattern does."""
    return "|".join(f"(?:{pattern})" for pattern in patterns)


def build_log_query(selector: str, line_filters: Sequence[str] = ()) -> str:
    """The log query: the selector, plus one `|~` line filter when patterns are given."""
    if not line_filters:
        return selector
    return f"{selector} |~ {logql_quote(combine_filters(line_filters))}"


def build_activity_query(selector: str) -> str:
    """Lines per pod and minute: `sum by (...) (count_over_time({selector} [1m]))`."""
    return f"sum by ({', '.join(ACTIVITY_LABELS)}) (count_over_time({selector} [1m]))"


def render_selector(labels: Mapping[str, str]) -> str:
    """Labels as a LogQL selector with sorted names: `{container="kopia", namespace="media"}`."""
    return "{" + ", ".join(f"{k}={logql_quote(labels[k])}" for k in sorted(labels)) + "}"


def re2_escape(text: str) -> str:
    """Escape text for RE2 (every ASCII punctuation character gets a backslash)."""
    return "".join(
        "\\" + ch if ch.isascii() and not ch.isalnum() and ch != "_" else ch for ch in text
    )
