"""Checks several test files make on a rendered Markdown report."""

from __future__ import annotations

from markdown_it import MarkdownIt

from analyzer.markdown_safe import headings
from analyzer.report import REFERENCE_HEADINGS


def assert_inert(md: str) -> None:
    """The only raw HTML in the report is its own `<details>`/`<summary>`: log text, however
    hostile, reaches GitHub as text and never as markup."""
    for tok in MarkdownIt("commonmark").enable("table").parse(md):
        if tok.type == "html_block":
            assert tok.content.strip().startswith(("<details>", "</details>", "<summary>")), (
                tok.content
            )
        for child in tok.children or []:
            assert child.type != "html_inline" or child.content in ("<details>", "</details>"), (
                child.content
            )


def assert_reference_headings(md: str) -> None:
    """The report's level-2 headings are the reference sections, in order, and nothing else."""
    assert [text for level, text in headings(md) if level == 2] == list(REFERENCE_HEADINGS)
