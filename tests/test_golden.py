"""Golden outputs: the Markdown and JSON the CLI writes for fixed inputs, kept byte for byte.

These pin what a refactoring must not change: the example incident (with and without a fix
time, a window, host pseudonyms, a tight size budget), the nasty corpus of `tests/corpus/logs`,
and the example pod logs served by the Loki emulator in both transfer modes. A change that means
to alter a report regenerates them on purpose and shows the difference in its diff:

    UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from analyzer.cli import main

GOLDEN = Path(__file__).parent / "golden"
REPO = Path(__file__).parent.parent
FIX = "2026-01-29T18:00:00Z"
CORPUS = "tests/corpus/logs"

#: name -> CLI arguments (paths relative to the repository, as a user in a checkout types them).
CASES: dict[str, list[str]] = {
    "examples": ["examples/logs/"],
    "examples-fix": ["examples/logs/", "--fix-at", FIX],
    "examples-window": [
        "examples/logs/",
        "--from",
        "2026-01-29T00:00:00Z",
        "--to",
        "2026-01-31T00:00:00Z",
        "--fix-at",
        FIX,
    ],
    "examples-hosts": ["examples/logs/", "--fix-at", FIX, "--redact-hosts"],
    "examples-budget": ["examples/logs/", "--fix-at", FIX, "--max-chars", "20000"],
    "examples-in-memory": ["examples/logs/", "--fix-at", FIX, "--in-memory"],
    "corpus": [CORPUS],
    "corpus-in-memory": [CORPUS, "--in-memory"],
}


def _run(args: list[str], fmt: str, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(main, [*args, "--format", fmt], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing; run with UPDATE_GOLDEN=1 to write it"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, f"{name} differs from its golden output"


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch):
    monkeypatch.chdir(REPO)


#: The cases whose JSON is kept too (the others' JSON equals one of these, or is pinned by the
#: streaming/in-memory parity tests).
JSON_CASES = ("examples", "examples-fix", "examples-window", "examples-hosts", "corpus")


@pytest.mark.parametrize(
    ("case", "fmt"),
    [(c, "markdown") for c in sorted(CASES)] + [(c, "json") for c in JSON_CASES],
)
def test_output_is_byte_identical_to_its_golden_copy(case, fmt):
    suffix = "md" if fmt == "markdown" else "json"
    _check(f"{case}.{suffix}", _run(CASES[case], fmt))


@pytest.fixture(scope="module")
def loki_url():
    """The example pod logs pushed to the emulator as Promtail labels them."""
    from analyzer import analyze
    from testing.examples import POD_LOGS, WINDOW
    from testing.loki_emulator import LokiEmulator
    from testing.loki_streams import promtail_streams

    emulator = LokiEmulator()
    for labels, entries in promtail_streams(analyze(POD_LOGS, **WINDOW).events):
        emulator.push(labels, entries)
    with emulator:
        yield emulator.url


@pytest.mark.parametrize("mode", ["full", "pushdown"])
def test_loki_output_is_byte_identical_to_its_golden_copy(loki_url, mode):
    args = ["--loki", loki_url, "--mode", mode, "--from", "2026-01-28T00:00:00Z"]
    args += ["--to", "2026-02-01T00:00:00Z", "--fix-at", FIX]
    text = _run(args, "markdown").replace(loki_url, "LOKI_URL")
    # response sizes vary with HTTP framing from run to run; everything else is fixed
    text = re.sub(r"\d+ bytes over the wire", "N bytes over the wire", text)
    _check(f"loki-{mode}.md", text)
