"""Log text rendered through analyzer.markdown_safe must stay literal and inert on GitHub."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it.token import Token

from analyzer.markdown_safe import (
    ZWSP,
    check_markdown,
    fence,
    headings,
    inline_code,
    parse,
    plain_text,
    table_cell,
    text,
)

ADVERSARIAL = [
    "plain `backtick` and ``double`` text",
    "triple ``` fence close attempt\n```\n<script>alert(1)</script>",
    "````` five ticks and ~~~ tildes",
    "<script>alert('x')</script>",
    "<!-- hidden comment --> after",
    "<details><summary>x</summary>y</details>",
    "<img src=x onerror=alert(1)>",
    "a | b | c || d",
    "ping @octocat and @kopia/maintainers",
    "see #123, kopia/kopia#4567, GH-99 and backube/volsync#12",
    "raw url https://evil.example.com/path?q=1&x=@me and www.example.org, ftp://x.y/z.",
    "mail admin@example.com now",
    "**bold** _it_ [link](http://x) ![img](http://y) ~~strike~~ $x$ and $$y$$",
    "[ref]: http://example.com",
    "back\\slash \\| pipe \\",
    "&amp; &lt;entity&gt; &#64;user &copy;",
    "# heading-like",
    "- list-like",
    "+ plus-list",
    "* star-list",
    "1. ordered-like",
    "42) ordered paren",
    "> quote",
    "---",
    "===",
    "|---|:--:|",
    "| a | b |",
    "    four-space indent code",
    "\ttab indent",
    "line one\nline two\r\nline three\rfour",
    "trailing hard break  \nnext",
    "`leading and trailing`",
    "KOPIA_PASSWORD=[REDACTED:kopia-password] @user #1",
    "ERROR kopia/repo error writing pack: write tcp 10.0.0.1:443: broken pipe",
    "",
]

LINK_TYPES = {"link_open", "image", "html_inline", "html_block"}


def _inline_tokens(tokens: list[Token]) -> list[Token]:
    return [t for t in tokens if t.type == "inline"]


def _all_children(tokens: list[Token]) -> list[Token]:
    return [c for t in _inline_tokens(tokens) for c in t.children or []]


def _expected_literal(raw: str) -> str:
    # What the prose renderers promise to show: one line, edges trimmed.
    return re.sub(r"\r\n|\r|\n", " ", raw).replace("\0", "\ufffd").strip(" \t")


def _assert_inert(tokens: list[Token]) -> None:
    types = {t.type for t in tokens} | {c.type for c in _all_children(tokens)}
    assert not types & LINK_TYPES, types
    for child in _all_children(tokens):
        if child.type == "text":  # outside code: no unbroken mention / ref / autolink trigger
            assert not re.search(r"@[A-Za-z0-9]|#[0-9]|\bGH-[0-9]", child.content, re.I)
            assert not re.search(r"(?i)\b(?:https?|ftp)://|\bwww\.", child.content)


# --- fence ------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ADVERSARIAL)
def test_fence_is_closed_and_verbatim(raw: str) -> None:
    md = fence(raw)
    tokens = parse(md + "\n\nafter the fence\n")
    fences = [t for t in tokens if t.type == "fence"]
    assert len(fences) == 1
    body = raw.replace("\r\n", "\n").replace("\r", "\n")
    assert fences[0].content == (body if body.endswith("\n") or not body else body + "\n")
    assert fences[0].info == "txt"
    # The paragraph after it is still a paragraph: nothing leaked out of the fence.
    assert tokens[-2].type == "inline" and tokens[-2].content == "after the fence"
    assert {t.type for t in tokens} <= {"fence", "paragraph_open", "inline", "paragraph_close"}
    assert check_markdown(md) == []


def test_fence_grows_past_longest_backtick_run() -> None:
    assert fence("no ticks").startswith("```txt\n")
    assert fence("has ``` three").startswith("````txt\n")
    assert fence("has ````` five").startswith("``````txt\n")
    assert fence("x", info="json`\n").startswith("```json\n")


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.text())
def test_fence_property_exactly_one_fence_with_the_text(raw: str) -> None:
    tokens = parse(fence(raw))
    assert [t.type for t in tokens] == ["fence"]
    body = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "\ufffd")
    assert tokens[0].content == (body + "\n" if body and not body.endswith("\n") else body)


# --- inline code ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["x", "`x`", "a `` b", "``", " padded ", "   ", "a|b", "multi\nline", "\\"]
)
def test_inline_code_shows_text_literally(raw: str) -> None:
    tokens = parse("before " + inline_code(raw) + " after")
    codes = [c for c in _all_children(tokens) if c.type == "code_inline"]
    assert len(codes) == 1
    assert codes[0].content == raw.replace("\n", " ")


def test_inline_code_in_table_keeps_cell_count() -> None:
    md = f"| a | b |\n|---|---|\n| {inline_code('x | y', in_table=True)} | z |\n"
    tokens = parse(md)
    assert sum(t.type == "td_open" for t in tokens) == 2
    code = [c for c in _all_children(tokens) if c.type == "code_inline"]
    assert code[0].content == "x | y"


def test_inline_code_empty_is_empty() -> None:
    assert inline_code("") == ""


# --- table cells ------------------------------------------------------------------------------


def _table(cell: str) -> str:
    return f"| first | middle | last |\n|---|---|---|\n| one | {cell} | three |\n"


@pytest.mark.parametrize("raw", ADVERSARIAL)
def test_table_cell_is_literal_and_inert(raw: str) -> None:
    cell = table_cell(raw)
    assert "\n" not in cell
    tokens = parse(_table(cell))
    assert sum(t.type == "td_open" for t in tokens) == 3, cell
    _assert_inert(tokens)
    middle = _inline_tokens(tokens)[4]  # 3 header cells, then body: one, middle, three
    assert plain_text(middle).replace(ZWSP, "") == _expected_literal(raw)
    assert check_markdown(_table(cell)) == []


def test_table_cell_escapes() -> None:
    assert table_cell("a|b") == "a\\|b"
    assert table_cell("<b>") == "&lt;b&gt;"
    assert table_cell("@octocat") == f"@{ZWSP}octocat"
    assert table_cell("#123") == f"#{ZWSP}123"
    assert table_cell("*x*") == "\\*x\\*"
    assert table_cell("see https://x.io/a.") == "see `https://x.io/a`."


# --- prose ------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ADVERSARIAL)
def test_text_is_one_literal_paragraph(raw: str) -> None:
    rendered = text(raw)
    assert "\n" not in rendered
    for md in (rendered, "Preceding | line\n" + rendered, "Intro:\n\n" + rendered + "\n\nOutro"):
        tokens = parse(md)
        _assert_inert(tokens)
        assert {t.type for t in tokens} <= {"paragraph_open", "inline", "paragraph_close"}
    if raw.strip():
        (inline,) = _inline_tokens(parse(rendered))
        assert plain_text(inline).replace(ZWSP, "") == _expected_literal(raw)


def test_text_keeps_pipes() -> None:
    assert text("a | b") == "a | b"


_PROSE_ALPHABET = st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from(
    ["\n", "\t", "é", "\u00a0", "😀"]
)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.text(alphabet=_PROSE_ALPHABET, max_size=60))
def test_prose_property_literal_and_inert(raw: str) -> None:
    expected = _expected_literal(raw).strip()
    for rendered, wrap in ((table_cell(raw), _table), (text(raw), lambda s: s)):
        tokens = parse(wrap(rendered))
        _assert_inert(tokens)
        if wrap is _table:
            assert sum(t.type == "td_open" for t in tokens) == 3
            shown = plain_text(_inline_tokens(tokens)[4])
        else:
            inlines = _inline_tokens(tokens)
            assert len(inlines) <= 1
            shown = plain_text(inlines[0]) if inlines else ""
        assert shown.replace(ZWSP, "").strip() == expected


# --- check_markdown / headings ----------------------------------------------------------------


def test_check_markdown_finds_unclosed_fence() -> None:
    problems = check_markdown("# Title\n\n```txt\nlog line\n")
    assert problems and "unclosed code fence" in problems[0]
    assert check_markdown("> ```\n> x\n\nafter") != []
    assert check_markdown("````\n```\n````\n") == []
    assert check_markdown("~~~\nx\n~~~\n") == []


def test_check_markdown_html_allow_list() -> None:
    ok = "<details>\n<summary>Logs</summary>\n\n" + fence("x") + "\n\n</details>\n\nline<br>\n"
    assert check_markdown(ok) == []
    bad = check_markdown("hi <b>x</b>\n\n<div>y</div>\n\n<!-- note -->\n")
    assert any("'<b>'" in p for p in bad)
    assert any("'<div>'" in p for p in bad)
    assert any("<!-- note -->" in p for p in bad)
    assert check_markdown("hi <b>x</b>", allowed_html={"<b>", "</b>"}) == []


def test_check_markdown_flags_markdown_swallowed_by_html_block() -> None:
    problems = check_markdown("<details>\n<summary>x</summary>\n## not a heading\n</details>\n")
    assert any("not rendered" in p for p in problems)


def test_headings() -> None:
    md = "# Postmortem `ns/app`\n\nIntro\n\n## Timeline\n\n### Finding *one*\n\n```\n# no\n```\n"
    assert headings(md) == [(1, "Postmortem ns/app"), (2, "Timeline"), (3, "Finding one")]


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_prose_property_any_unicode_stays_in_its_cell(raw: str) -> None:
    tokens = parse(_table(table_cell(raw)))
    _assert_inert(tokens)
    assert sum(t.type == "td_open" for t in tokens) == 3
    tokens = parse("Preceding | line\n" + text(raw))
    _assert_inert(tokens)
    assert {t.type for t in tokens} <= {"paragraph_open", "inline", "paragraph_close"}
