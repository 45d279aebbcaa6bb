"""Render untrusted log text inert in GitHub-flavoured Markdown, and check a finished report.

Log lines end up in a Markdown postmortem pasted into a GitHub issue. They may hold backticks,
HTML, `|`, `@mentions`, `#123` refs and URLs; none of that may change the report's structure,
ping anyone or link anything. Four renderers cover the places text goes:

* `fence` - a fenced code block. Content is literal on GitHub (no HTML, mentions, refs, links);
  the fence is longer than any backtick run inside, so nothing can close it early.
* `inline_code` - an inline code span, equally literal.
* `table_cell` / `text` - plain prose. Markdown specials are backslash-escaped, `<`, `>`, `&`
  become entities, and GitHub's post-render auto-linking is defused by inserting a ZERO WIDTH
  SPACE (U+200B) after the trigger: `@user` -> `@\u200buser`, `#123` -> `#\u200b123`,
  `GH-1` -> `GH\u200b-1`, which GitHub shows unchanged but does not link or ping. (A backslash
  escape is not enough: mentions and refs are found in the rendered text.) URLs are wrapped in
  inline code instead, so they stay literal and copyable but not clickable; a bare `https://`
  or `www.` left over gets the same U+200B.

Known limit: `:name:` emoji shortcodes are not defused (cosmetic only).

Values that came from outside the program (log text, Loki labels, pod, namespace and container
names, file names, Kubernetes dump fields, fields a regex extracted) are typed `Outside` by the
report's view. The report's Jinja environment prints an `Outside` value through `inert` unless a
filter above renders it another way, so a template cannot print one raw; `compose` puts outside
values into a piece of our own Markdown.

`check_markdown` and `headings` parse a finished report with markdown-it-py for structure tests.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection
from typing import Any, overload

from markdown_it import MarkdownIt
from markdown_it.token import Token

ZWSP = "\u200b"

#: HTML a report may contain on purpose (normalised: lower case, single spaces).
DEFAULT_ALLOWED_HTML: frozenset[str] = frozenset(
    {"<details>", "<details open>", "</details>", "<summary>", "</summary>", "<br>", "<br/>"}
)

_MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])

_BACKTICKS = re.compile(r"`+")
_NEWLINES = re.compile(r"\r\n|\r|\n")
# Characters that start inline Markdown constructs in CommonMark + GFM (incl. GitHub math `$`).
_INLINE_SPECIAL = re.compile(r"[\\`*_\[\]~$]")
# GitHub links these in rendered text, so they are broken with a zero-width space.
_MENTION = re.compile(r"@(?=[A-Za-z0-9])")
_ISSUE_REF = re.compile(r"#(?=[0-9])")
_GH_REF = re.compile(r"\b(GH)(-[0-9])", re.IGNORECASE)
# What is left of an autolink trigger once real URLs went into code spans (`https://` alone).
_LINK_TRIGGER = re.compile(r"\b((?:https?|ftp):|www)(//|\.)", re.IGNORECASE)
# GFM autolink triggers; the URL ends at whitespace or a char that cannot be in a bare URL.
_URL = re.compile(r"(?:\b(?:https?|ftp)://|\bwww\.)[^\s<>\"'`|]+", re.IGNORECASE)
_URL_TRAILING = re.compile(r"[.,:;!?)\]}'\"*_~]+$")
# Block markers that matter only at the start of a paragraph line.
_BLOCK_START = re.compile(r"^(?:[#+=-]|[0-9]{1,9}(?=[.)]))")
_DELIMITER_ROW = re.compile(r"[ \t|:-]*-[ \t|:-]*")
_TAG = re.compile(r"<!--.*?-->|<[^>]*>", re.DOTALL)
_SUMMARY = re.compile(r"<summary\s*>.*?</summary\s*>", re.DOTALL | re.IGNORECASE)


def _longest_backtick_run(text: str) -> int:
    return max((len(m) for m in _BACKTICKS.findall(text)), default=0)


def _normalise(text: str) -> str:
    # What CommonMark parsers do before anything else: CR/CRLF -> LF, NUL -> U+FFFD.
    return _NEWLINES.sub("\n", text).replace("\0", "\ufffd")


def _one_line(text: str) -> str:
    return _NEWLINES.sub(" ", text).replace("\0", "\ufffd")


def fence(text: str, info: str = "txt") -> str:
    """A fenced code block showing `text` verbatim that no content can close early.

    The fence is one backtick longer than the longest backtick run in `text` (at least three).
    Line endings are normalised to LF and NUL to U+FFFD, as any CommonMark parser does. The
    result has no trailing newline; separate it from neighbouring blocks with a blank line.
    """
    body = _normalise(text)
    ticks = "`" * max(3, _longest_backtick_run(body) + 1)
    # A backtick fence's info string may not contain backticks; keep it to one word.
    info = re.sub(r"[`\s]+", "", info)
    if body and not body.endswith("\n"):
        body += "\n"
    return f"{ticks}{info}\n{body}{ticks}"


def inline_code(text: str, *, in_table: bool = False) -> str:
    """An inline code span showing `text` literally (newlines become spaces).

    Uses more backticks than any run inside and pads with one space when CommonMark would
    otherwise eat or merge an edge character. `in_table=True` also escapes `|` as `\\|`, which a
    GFM table requires even inside code. Empty text gives an empty string.
    """
    body = _one_line(text)
    if not body:
        return ""
    ticks = "`" * (_longest_backtick_run(body) + 1)
    edge_tick = body.startswith("`") or body.endswith("`")
    edge_space = body.startswith(" ") and body.endswith(" ") and body.strip(" ") != ""
    pad = " " if edge_tick or edge_space else ""
    if in_table:
        body = body.replace("|", "\\|")
    return f"{ticks}{pad}{body}{pad}{ticks}"


def _escape_prose(segment: str, *, in_table: bool) -> str:
    out = html.escape(segment, quote=False)
    out = _INLINE_SPECIAL.sub(r"\\\g<0>", out)
    if in_table:
        out = out.replace("|", "\\|")
    out = _MENTION.sub("@" + ZWSP, out)
    out = _ISSUE_REF.sub("#" + ZWSP, out)
    out = _LINK_TRIGGER.sub(r"\1" + ZWSP + r"\2", out)
    return _GH_REF.sub(r"\1" + ZWSP + r"\2", out)


def _render_inline(text: str, *, in_table: bool) -> str:
    line = _one_line(text).strip(" \t")
    parts: list[str] = []
    pos = 0
    for m in _URL.finditer(line):
        url = _URL_TRAILING.sub("", m.group())
        if url.endswith("://") or url.lower() == "www.":
            continue  # nothing left to link
        parts.append(_escape_prose(line[pos : m.start()], in_table=in_table))
        parts.append(inline_code(url, in_table=in_table))
        pos = m.start() + len(url)
    parts.append(_escape_prose(line[pos:], in_table=in_table))
    return "".join(parts)


def _escape_block_start(line: str) -> str:
    if _DELIMITER_ROW.fullmatch(line):  # after a line of prose it would make a table
        return line.replace("-", "\\-")
    m = _BLOCK_START.match(line)
    if m is None:
        return line
    if m.group().isdigit():  # `1.` / `1)` would start an ordered list
        return f"{m.group()}\\{line[m.end() :]}"
    return "\\" + line


def table_cell(text: str) -> str:
    """`text` as the literal content of one GFM table cell, on one line.

    `|` -> `\\|`, newlines -> spaces, `<>&` -> entities, Markdown specials backslash-escaped,
    mentions/refs broken with U+200B, URLs as inline code. Write rows as `| a | b |`.
    """
    return _render_inline(text, in_table=True)


def text(text: str) -> str:
    """`text` as literal running prose: like `table_cell` but `|` is left alone.

    The result is one line (newlines -> spaces, edges stripped) and cannot start a heading,
    list, quote, thematic break or setext underline, so it is safe at the start of a line.
    """
    return _escape_block_start(_render_inline(text, in_table=False))


class Outside(str):
    """Text that came from outside the program: log text, labels, names, dump fields.

    A plain `str` in every other respect (JSON writes it as a string); the Markdown renders it
    inert (`inert`) wherever a template prints it without a filter.
    """

    __slots__ = ()


@overload
def outside(value: None) -> None: ...
@overload
def outside(value: object) -> Outside: ...
def outside(value: object) -> Outside | None:
    """`value` as `Outside` text (None stays None; anything else is made a string first)."""
    if value is None or isinstance(value, Outside):
        return value
    return Outside(value if isinstance(value, str) else str(value))


def inert(text: str) -> str:
    """`text` as literal inline Markdown that is safe anywhere: in running prose, at the start
    of a line, in a list item and in a table cell.

    One line (newlines -> spaces), `|` escaped, `<>&` as entities, Markdown specials
    backslash-escaped, mentions and refs broken with U+200B, URLs as inline code, and nothing
    that could start a heading, list, quote or thematic break.
    """
    return _escape_block_start(_render_inline(text, in_table=True))


def compose(markdown: str, /, *args: Any, **kwargs: Any) -> str:
    """Our own `markdown` with `str.format` fields filled by `inert` outside values.

    `compose("First hung run starts ({})", pod)`: the pod name cannot add Markdown of its own.
    """
    return markdown.format(
        *(inert(str(a)) for a in args), **{k: inert(str(v)) for k, v in kwargs.items()}
    )


def parse(md: str) -> list[Token]:
    """Block tokens of `md` as markdown-it-py sees it (CommonMark + tables + strikethrough)."""
    return _MD.parse(md)


def _walk(tokens: list[Token], line: int | None = None) -> list[tuple[Token, int | None]]:
    # Tokens depth-first with the 1-based source line of their block (inline tokens have none).
    out: list[tuple[Token, int | None]] = []
    for tok in tokens:
        here = tok.map[0] + 1 if tok.map else line
        out.append((tok, here))
        if tok.children:
            out.extend(_walk(tok.children, here))
    return out


def _normalise_tag(tag: str) -> str:
    tag = re.sub(r"\s+", " ", tag.strip().lower())
    return re.sub(r"\s*/>$", "/>", tag)


def _fence_closed(tok: Token, lines: list[str]) -> bool:
    if tok.map is None:
        return True
    start, end = tok.map
    if end - 1 <= start or end - 1 >= len(lines):
        return False
    last = lines[end - 1]
    char, size = tok.markup[0], len(tok.markup)
    return re.fullmatch(rf"[\s>]*{re.escape(char)}{{{size},}}[ \t]*", last) is not None


def check_markdown(md: str, allowed_html: Collection[str] = DEFAULT_ALLOWED_HTML) -> list[str]:
    """Problems that would break a report on GitHub: unclosed code fences and disallowed HTML.

    markdown-it silently closes an unclosed fence at the end of its container, so each fence
    token's last source line is re-checked for a real closing fence. HTML tags (and comments)
    must be in `allowed_html`; text in an HTML block outside `<summary>` is flagged because
    GitHub shows it raw (a blank line is missing after the tag).
    """
    allowed = {_normalise_tag(t) for t in allowed_html}
    lines = _normalise(md).split("\n")
    problems: list[str] = []
    for tok, line in _walk(parse(md)):
        where = f"line {line}: " if line else ""
        if tok.type == "fence" and not _fence_closed(tok, lines):
            problems.append(f"{where}unclosed code fence {tok.markup!r}")
        elif tok.type in ("html_block", "html_inline"):
            tags = _TAG.findall(tok.content)
            bad = [t for t in tags if _normalise_tag(t) not in allowed]
            problems.extend(f"{where}HTML not allowed: {t!r}" for t in bad)
            if not tags:
                problems.append(f"{where}HTML not allowed: {tok.content.strip()!r}")
            if tok.type == "html_block":
                rest = _TAG.sub("", _SUMMARY.sub("", tok.content)).strip()
                if rest:
                    problems.append(f"{where}text inside an HTML block is not rendered: {rest!r}")
    return problems


def plain_text(inline: Token) -> str:
    """What an inline token displays: text and code content, breaks as spaces, markup dropped."""
    parts = []
    for child in inline.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts)


def headings(md: str) -> list[tuple[int, str]]:
    """(level, displayed text) of every heading in `md`, in order, for report structure checks."""
    tokens = parse(md)
    return [
        (int(tok.tag[1]), plain_text(tokens[i + 1]).strip())
        for i, tok in enumerate(tokens)
        if tok.type == "heading_open"
    ]
