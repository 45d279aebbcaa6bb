"""Catalog prose as it should read in a GitHub issue: paragraphs on one line, placeholders
filled from the lines that matched.

Pattern files wrap their prose at ~100 columns. GitHub turns every newline of an issue or
comment body into a line break, so a wrapped paragraph shows ragged. `unwrap` joins the lines
of each paragraph (and of each list item) with a space and keeps everything whose line breaks
mean something: fenced code, indented code, tables, headings, quotes, hard breaks, and the
start of each list item.

The catalog writes the fields a regex extracts as `<name>` placeholders (`UID <uid>`, `<op> on
<path>`). `fill` puts in the value the matching lines show when they all show the same one;
the value is log text, so it goes into a code span (`markdown_safe.inline_code`), or into the
fence it stands in when no backtick can close that fence. A placeholder without a single known
value stays as written, and outside code it is made inert (`&lt;name&gt;`), never raw HTML.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ... import markdown_safe as md

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])(?: |$)")
_BLOCK = re.compile(r"^ {0,3}(?:#{1,6}(?: |$)|>|\||<|(?:[-*_] *){3,}$|=+ *$|-+ *$)")
_INDENTED = re.compile(r"^(?: {4}|\t)")
_HARD_BREAK = re.compile(r"(?:  |\\)$")
#: `<name>` as the catalog writes a placeholder (not HTML: no attributes, no slash).
_PLACEHOLDER = re.compile(r"<([A-Za-z_][A-Za-z0-9_-]*)>")
_CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)", re.DOTALL)


def unwrap(text: str) -> str:
    """`text` with the single newlines inside each paragraph or list item turned into spaces;
    blank lines, code (fenced or indented), tables, headings, quotes and hard breaks stay."""
    out: list[str] = []
    fence: str | None = None
    joinable = False  # whether the previous output line is paragraph text a line may join
    for line in text.split("\n"):
        opened = _FENCE.match(line)
        if fence is not None:
            out.append(line)
            if _closes(opened, line, fence):
                fence = None
            continue
        if opened:
            fence = opened.group(1)
            out.append(line)
            joinable = False
            continue
        stripped = line.strip()
        if not stripped:
            out.append(line)
            joinable = False
            continue
        starts_block = bool(_LIST_ITEM.match(line) or _BLOCK.match(line))
        if joinable and not starts_block:
            out[-1] = out[-1].rstrip() + " " + stripped
        elif not joinable and _INDENTED.match(line) and (not out or not out[-1].strip()):
            out.append(line)  # indented code after a blank line
            continue
        else:
            out.append(line)
        joinable = not _BLOCK.match(line) and not _HARD_BREAK.search(line)
    return "\n".join(out)


def fill(text: str, values: Mapping[str, str]) -> str:
    """`text` with each `<name>` whose value is known replaced by it (made inert), and every
    other `<name>` outside code written as entities."""
    out: list[str] = []
    fence: str | None = None
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            out.append(_fill_inline("\n".join(paragraph), values))
            paragraph.clear()

    for line in text.split("\n"):
        opened = _FENCE.match(line)
        if fence is not None:
            if _closes(opened, line, fence):
                fence = None
                out.append(line)
            else:
                out.append(_fill_code_line(line, values, fence))
            continue
        if opened:
            flush()
            fence = opened.group(1)
            out.append(line)
            continue
        paragraph.append(line)
    flush()
    return "\n".join(out)


def catalog_text(text: str, values: Mapping[str, str] | None = None) -> str:
    """Catalog Markdown ready for the report: unwrapped, placeholders filled."""
    return fill(unwrap(text), values or {})


def _closes(opened: re.Match[str] | None, line: str, fence: str) -> bool:
    """Whether `line` closes the code block that `fence` opened (CommonMark: the same
    character, at least as many, nothing else on the line)."""
    return (
        opened is not None
        and opened.group(1)[0] == fence[0]
        and len(opened.group(1)) >= len(fence)
        and not line.strip().strip(fence[0])
    )


def _fill_code_line(line: str, values: Mapping[str, str], fence: str) -> str:
    """A line of a fenced block: a known value goes in when it cannot close the fence."""

    def one(m: re.Match[str]) -> str:
        value = values.get(m.group(1))
        if value is None or fence[0] in value or "\n" in value:
            return m.group()
        return value

    return _PLACEHOLDER.sub(one, line)


def _fill_inline(text: str, values: Mapping[str, str]) -> str:
    """Prose with code spans: inside a span the value replaces the placeholder and the span is
    written again around the new content; outside, a known value becomes a code span of its own
    and an unknown placeholder is written as entities."""
    parts: list[str] = []
    pos = 0
    for m in _CODE_SPAN.finditer(text):
        parts.append(_fill_prose(text[pos : m.start()], values))
        body = m.group(2)
        filled = _PLACEHOLDER.sub(lambda p: values.get(p.group(1), p.group()), body)
        parts.append(m.group() if filled == body else md.inline_code(filled.strip(" ")))
        pos = m.end()
    parts.append(_fill_prose(text[pos:], values))
    return "".join(parts)


def _fill_prose(text: str, values: Mapping[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        value = values.get(m.group(1))
        if value is None:
            return f"&lt;{m.group(1)}&gt;"
        return md.inline_code(value)

    return _PLACEHOLDER.sub(one, text)
