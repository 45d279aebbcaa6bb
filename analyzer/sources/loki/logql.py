"""LogQL text: quoting, the log and activity queries, selectors, RE2 escaping.

Regexes run in Loki, so they are RE2: no look-arounds or back-references; named groups
`(?P<name>...)` are accepted by RE2 as in Python.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from .literals import CheapFilter, Literal

__all__ = [
    "ACTIVITY_LABELS",
    "DEFAULT_SELECTOR",
    "build_activity_query",
    "build_log_query",
    "combine_filters",
    "keep_labels",
    "literal_term",
    "logql_quote",
    "re2_escape",
    "render_selector",
    "selector_labels",
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


def literal_term(literal: Literal) -> str:
    """A literal as an RE2 regex Loki runs as a substring search: `(?i)` and the text with its
    regex metacharacters escaped (only those, so the query stays readable)."""
    return ("(?i)" if literal.fold else "") + re.sub(
        r"([\\.+*?()|\[\]{}^$])", r"\\\1", literal.text
    )


def selector_labels(selector: str) -> list[str]:
    """The label names a stream selector matches on, in order (`{a="x", b=~"y"}` -> a, b)."""
    unquoted = re.sub(r'"(?:[^"\\]|\\.)*"|`[^`]*`', '""', selector)
    return list(dict.fromkeys(re.findall(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)", unquoted)))


def keep_labels(selector: str) -> tuple[str, ...]:
    """The labels a log query keeps (`| keep`): those that say which pod a line is from
    (ACTIVITY_LABELS, `stream`) and those the selector names, so two streams the selector tells
    apart stay apart. Promtail's `app`, `job`, `node_name` ... are left out: on a pushdown
    query, where most streams bring a few lines, they were half the bytes."""
    return tuple(dict.fromkeys((*ACTIVITY_LABELS, "stream", *selector_labels(selector))))


def build_log_query(
    selector: str, cheap: CheapFilter | None = None, *, compatible: bool = False
) -> str:
    """The log query: the selector, the pushdown line filter when `cheap` is given, and a
    `| keep` of the labels that identify a pod.

    The filter is one `|~` with an `or` term per literal (each a substring search in Loki) and
    per regex without literals. `compatible` writes what a Loki older than 3.0 parses: one
    alternation instead of `or` terms, and no `| keep`.
    """
    query = selector
    if cheap is not None and (cheap.literals or cheap.regexes):
        if compatible:  # `(?i:...)`: a leading `(?i)` inside a group is Go's, not everyone's
            scoped = [literal_term(lit).replace("(?i)", "(?i:", 1) + ")" if lit.fold
                      else literal_term(lit) for lit in cheap.literals]  # fmt: skip
            query += f" |~ {logql_quote(combine_filters(scoped + list(cheap.regexes)))}"
        else:
            terms = [literal_term(lit) for lit in cheap.literals] + list(cheap.regexes)
            query += " |~ " + " or ".join(logql_quote(term) for term in terms)
    if not compatible:
        query += " | keep " + ", ".join(keep_labels(selector))
    return query


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
