"""Render the view as GitHub-flavoured Markdown: Jinja partials, their filters, the budget.

The templates under `reports/` see the view (`v`) and these filters only. Log text reaches
Markdown through the `markdown_safe` ones (`fence`, `code`, `cell`, `prose`); catalog text,
which is our Markdown or the user's, through `trusted` and `link_text`.

Every value from outside (log text, labels, names, file names, dump fields) is typed
`markdown_safe.Outside` by the view, and the environment's `finalize` prints such a value through
`markdown_safe.inert` when no filter rendered it: a template that forgets a filter still cannot
print outside text raw, and `trusted` / `link_text` do not trust it either.
"""

from __future__ import annotations

import functools
import os

import jinja2

from .. import markdown_safe as md
from ..analysis import Analysis
from ..resources import data_dir
from .budget import DetailLevel, fit
from .options import RenderOptions
from .view import EVIDENCE_END, build


def render_markdown(analysis: Analysis, options: RenderOptions | None = None) -> str:
    """The postmortem as GitHub-flavoured Markdown, within `options.max_chars`: the view is
    built once and rendered at narrower detail levels until it fits."""
    options = options or RenderOptions()
    postmortem = build(analysis, options)
    template = _environment().get_template("postmortem.md.j2")

    def render(level: DetailLevel) -> str:
        return template.render(v=postmortem.at(level))

    text = fit(render, options.max_chars, trim_before=EVIDENCE_END)
    # Said where every warning is said: on stderr by the CLI, and in JSON `notices`; the last
    # rendering decides (an earlier one's warning is replaced).
    kept = [n for n in analysis.notices if not n.startswith(_OVER_BUDGET)]
    if len(text) > options.max_chars:
        kept.append(over_budget_notice(len(text), options.max_chars))
    analysis.notices[:] = kept
    return text


_OVER_BUDGET = "the Markdown report is "


def over_budget_notice(size: int, max_chars: int) -> str:
    """The warning for a report that does not fit `--max-chars` even at its narrowest."""
    return (
        f"{_OVER_BUDGET}{size:,} characters, over the --max-chars budget of "
        f"{max_chars:,}: even the narrowest level, with Evidence trimmed, does not fit "
        "(the root cause, fix and criteria are never cut)"
    )


def trusted(text: str) -> str:
    """Catalog text (ours or the user's) is Markdown; `<pod>`-style placeholders are not HTML.
    Outside text is never trusted: it is rendered inert."""
    if isinstance(text, md.Outside):
        return md.inert(text)
    return text.replace("<", "&lt;").replace(">", "&gt;")


def link_text(text: str) -> str:
    """Catalog text as the text of a Markdown link: brackets cannot end it early."""
    if isinstance(text, md.Outside):
        return md.inert(text)
    return text.replace("[", "\\[").replace("]", "\\]")


def finalize(value: object) -> object:
    """What `{{ … }}` prints: outside text no filter rendered is rendered inert."""
    if isinstance(value, md.Outside):
        return _inert(value)
    return value


_inert = functools.lru_cache(maxsize=4096)(md.inert)


@functools.cache
def _environment() -> jinja2.Environment:
    """The Jinja environment for `reports/` (made once per process; templates are reloaded
    when their files change)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("reports"))),
        bytecode_cache=_template_cache(),
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        finalize=finalize,
    )
    # Pure functions, and a narrower level renders the same texts again: remember the recent.
    env.filters.update(
        cell=functools.lru_cache(maxsize=4096)(md.table_cell),
        fence=functools.lru_cache(maxsize=256)(md.fence),
        code=functools.lru_cache(maxsize=1024)(md.inline_code),
        prose=functools.lru_cache(maxsize=256)(md.text),
        trusted=trusted,
        link_text=link_text,
    )
    return env


#: Names the environment settings that change compiled templates (see `_template_cache`).
_COMPILED_WITH = "finalize-outside-1"


def _template_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates kept in the user's cache directory (compiling the report template
    costs about 0.1 s a run); none when that directory cannot be written."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    # Compiled code depends on the environment too (`finalize` is compiled in), so the folder
    # names its settings: code compiled without `finalize` would print outside text raw.
    directory = os.path.join(
        root, "kopia-postmortem", f"jinja2-{jinja2.__version__}-{_COMPILED_WITH}"
    )
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(directory) if os.access(directory, os.W_OK) else None
