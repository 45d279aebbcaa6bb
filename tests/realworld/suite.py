"""The real-world regression suite's machinery, shared by `tests/test_realworld.py` and
`tests/realworld/score.py`: load the case files, write each excerpt as a bare paste and as a
`kubectl logs --timestamps` file of a mover pod, analyse both, and judge what the tool said.

A case file (`cases/<slug>.yaml`, format in `README.md`) holds a verbatim excerpt from a public
thread and what the tool must make of it: `findings` (ids that must be named), `not_findings`
(ids that would be a wrong diagnosis) and `outcome` (what the lines show about the end of the
run: `completed`, `failed` or `unknown`).

Variants:

- `bare`: the excerpt as pasted into an issue, in a file with no pod name and no times of its
  own. Outcomes come from markers and terminal lines only; no run is ever `hung`.
- `stamped`: the excerpt as `kubectl logs --timestamps` of a mover pod would print it (9
  fractional digits, one second apart, formats.md §6.2) in `volsync-src-<app>-x7k2p.log`, read
  with a window ending 2 h after the last line. Excerpts that carry their own stamps
  (`own_timestamps: true`) are written unchanged. A run whose lines show its end must keep
  the bare outcome: `hung` there is an invented hang. A run whose lines do not show the end is
  a pod that printed them and then said nothing for 2 h, which is what `hung` means
  (`--hang-after`, default 30 min), so there `hung` is expected (or `unknown`, when a viewer
  saw the stream close: no live pod).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import yaml

from analyzer import analysis as analysis_mod
from analyzer import analyze
from analyzer.catalog import Catalog, load_catalog

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases"
#: Extra pattern directories (os.pathsep-separated) to measure against, e.g. a catalog branch
#: that is not merged yet: `REALWORLD_PATTERNS=../wt-patterns/patterns`.
PATTERNS_ENV = "REALWORLD_PATTERNS"

REQUIRED = (
    "title",
    "url",
    "excerpt",
    "conclusion",
    "findings",
    "not_findings",
    "outcome",
    "cannot_know",
)
OPTIONAL = (
    "repo",
    "mover",
    "envelope",
    "notes",
    "own_timestamps",
    "hung_in_thread",
    "pending",
    "pending_outcome",
    "known_gap",
    "known_gap_stamped",
    "catalog_gap",
)
OUTCOMES = ("completed", "failed", "unknown")
VARIANTS = ("bare", "stamped")

#: First stamp of the stamped variant; lines follow one second apart.
T0 = datetime(2026, 2, 1, 3, 0, tzinfo=UTC)
#: The stamped variant's window ends this long after the last line.
AFTER_LAST = timedelta(hours=2)
#: `<app>` of the stamped variant's pod name, `volsync-src-<app>-x7k2p`.
APP = "app"
POD = f"volsync-src-{APP}-x7k2p"
_OWN_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) ")


@dataclass(frozen=True)
class Case:
    slug: str
    data: dict

    def __getitem__(self, key: str):
        return self.data[key]

    def get(self, key: str, default=None):
        return self.data.get(key, default)

    @property
    def excerpt(self) -> str:
        return self.data["excerpt"]

    @property
    def findings(self) -> list[str]:
        return list(self.data["findings"] or [])

    @property
    def not_findings(self) -> list[str]:
        return list(self.data["not_findings"] or [])

    @property
    def pending(self) -> list[str]:
        value = self.data.get("pending") or []
        return [value] if isinstance(value, str) else list(value)

    def expected_outcomes(self, variant: str) -> set[str]:
        """`completed`/`failed`: what both variants must give. `unknown` (the lines show no
        end): bare gives `unknown` (or no run); stamped `hung` after 2 h of silence, or
        `unknown` when nothing says the pod was live (a stream a viewer saw close)."""
        outcome = self.data["outcome"]
        if variant == "stamped" and outcome == "unknown":
            return {"hung", "unknown"}
        return {outcome}

    def known_gap(self, variant: str) -> str | None:
        return self.data.get("known_gap" if variant == "bare" else "known_gap_stamped")


def load_cases(directory: Path = CASES) -> list[Case]:
    cases = []
    for path in sorted(directory.glob("*.yaml")):
        with path.open(encoding="utf-8") as fh:
            cases.append(Case(path.stem, yaml.safe_load(fh)))
    return cases


def extra_pattern_dirs() -> list[str]:
    return [d for d in os.environ.get(PATTERNS_ENV, "").split(os.pathsep) if d]


def problems(case: Case, known_ids: Iterable[str]) -> list[str]:
    """What is wrong with a case file itself (missing keys, a URL that is not https, ids that
    exist neither in the catalog nor as `pending`)."""
    data = case.data
    out = [f"missing key {key!r}" for key in REQUIRED if key not in data]
    out += [f"unknown key {key!r}" for key in data if key not in REQUIRED + OPTIONAL]
    if out:
        return out
    url = urlparse(str(data["url"]))
    if url.scheme != "https" or "." not in url.netloc or not url.path.strip("/"):
        out.append(f"url {data['url']!r} is not a https URL of a thread")
    for key in ("title", "excerpt", "conclusion", "cannot_know"):
        if not isinstance(data[key], str) or not data[key].strip():
            out.append(f"{key!r} must be non-empty text")
    if data["outcome"] not in OUTCOMES:
        out.append(f"outcome {data['outcome']!r} is not one of {', '.join(OUTCOMES)}")
    if data.get("pending_outcome") and not data.get("pending"):
        out.append("pending_outcome needs pending ids")
    if data.get("hung_in_thread") and data["outcome"] != "unknown":
        out.append("hung_in_thread needs outcome: unknown (a paste shows no hang)")
    for key in ("findings", "not_findings"):
        if not isinstance(data[key], list):
            out.append(f"{key!r} must be a list")
    if out:
        return out
    both = set(case.findings) & set(case.not_findings)
    if both:
        out.append(f"ids both expected and forbidden: {sorted(both)}")
    known = set(known_ids) | set(case.pending)
    out += [
        f"{key} id {sid!r} is neither in the catalog nor pending"
        for key in ("findings", "not_findings")
        for sid in data[key]
        if sid not in known
    ]
    return out


def write_variant(case: Case, variant: str, root: Path) -> tuple[Path, str | None]:
    """Write the case's excerpt for `variant` under `root`; return the path and the window's
    end (`to`, RFC3339) for the stamped variant."""
    root.mkdir(parents=True, exist_ok=True)
    text = case.excerpt
    if variant == "bare":
        path = root / "paste.txt"
        path.write_text(text, encoding="utf-8")
        return path, None
    path = root / f"{POD}.log"
    if case.get("own_timestamps"):
        stamps = [
            datetime.fromisoformat(m.group(1).replace("Z", "+00:00"))
            for m in map(_OWN_STAMP.match, text.splitlines())
            if m
        ]
        last = max(stamps)
        path.write_text(text, encoding="utf-8")
    else:
        lines = text.split("\n")
        if text.endswith("\n"):
            lines.pop()
        stamped = [f"{stamp(T0 + timedelta(seconds=i))} {line}" for i, line in enumerate(lines)]
        path.write_text("\n".join(stamped) + "\n", encoding="utf-8")
        last = T0 + timedelta(seconds=len(lines) - 1)
    return path, (last + AFTER_LAST).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamp(moment: datetime) -> str:
    """`kubectl logs --timestamps`' RFC3339NanoFixed: always nine fractional digits."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond * 1000:09d}Z"


@dataclass
class Result:
    """What the tool said about one variant of one case."""

    named: dict[str, str]  # finding id -> category
    outcomes: list[str]
    templates: int
    bases: list[str] = field(default_factory=list)


class Runner:
    """Analyses case variants with one catalog load (the built-in catalog plus `patterns`)."""

    def __init__(self, patterns: Iterable[str] = ()):
        self.patterns = list(patterns)
        self.catalog: Catalog = load_catalog(self.patterns)

    def analyse(self, case: Case, variant: str, root: Path) -> Result:
        path, to = write_variant(case, variant, root)
        # analyze() loads the catalog on every call; for the duration of this call it gets the
        # one loaded here, so a hundred analyses cost one load
        real = analysis_mod.catalog_mod.load_catalog
        analysis_mod.catalog_mod.load_catalog = lambda *_a, **_k: self.catalog
        try:
            a = analyze([str(path)], to=to)
        finally:
            analysis_mod.catalog_mod.load_catalog = real
        return Result(
            named=dict(zip(a.findings["signature"], a.findings["category"], strict=True)),
            outcomes=list(a.runs["outcome"]),
            templates=a.unclassified.height,
            bases=list(a.runs["outcome_basis"]),
        )


def finding_verdict(case: Case, result: Result) -> str:
    """`named right`, `partly`, `unrecognised`, `missed`, `wrong` or `nothing to name`."""
    named = set(result.named)
    expected = set(case.findings)
    roots = {sid for sid, cat in result.named.items() if cat == "root-cause"}
    if named & set(case.not_findings):
        return "wrong"
    if not expected:
        return "wrong" if roots else "nothing to name"
    if expected <= named:
        return "named right"
    if roots - expected:
        return "wrong"  # another root cause named where an expected one is missing
    if expected & named:
        return "partly"
    if result.templates or named:
        return "unrecognised"
    return "missed"


def outcome_problem(case: Case, variant: str, result: Result) -> str | None:
    """Why the runs do not show the expected outcome (None when they do)."""
    expected = case.expected_outcomes(variant)
    outcomes = result.outcomes
    if variant == "bare" and "hung" in outcomes:
        return f"a paste without times or pod name was read as hung: {outcomes}"
    if case["outcome"] in ("completed", "failed"):
        if "hung" in outcomes:
            return (
                f"invented hang: the lines show the run {case['outcome']}, the tool said {outcomes}"
            )
        if not outcomes or not set(outcomes) <= expected:
            return f"expected every run {case['outcome']}, got {outcomes or 'no run'}"
        return None
    # the lines show no end: bare `unknown` or no run; stamped hung after 2 h of silence
    if not set(outcomes) <= expected:
        return f"expected {' or '.join(sorted(expected))} (the lines show no end), got {outcomes}"
    return None


def hang_verdict(case: Case, variant: str, result: Result) -> str | None:
    """`invented` (hung although the lines show the end), `by rule` (hung after lines that
    show no end), `in thread` (hung, and the thread concluded a hang) or None."""
    if "hung" not in result.outcomes:
        return None
    if variant == "bare" or case["outcome"] != "unknown":
        return "invented"
    return "in thread" if case.get("hung_in_thread") else "by rule"


def drop_pending(path: Path, built_in: set[str]) -> list[str]:
    """Remove the ids now built in from a case file's `pending:` list (the list and
    `pending_outcome` go when it empties), editing only those lines. Returns the ids removed."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next((n for n, line in enumerate(lines) if line.rstrip("\n") == "pending:"), None)
    if start is None:
        return []
    end = start + 1
    while end < len(lines) and lines[end].startswith("  - "):
        end += 1
    items = lines[start + 1 : end]
    removed = [line[4:].strip() for line in items if line[4:].strip() in built_in]
    if not removed:
        return []
    kept = [line for line in items if line[4:].strip() not in built_in]
    lines[start:end] = [lines[start], *kept] if kept else []
    if not kept:
        lines = [line for line in lines if line.rstrip("\n") != "pending_outcome: true"]
    path.write_text("".join(lines), encoding="utf-8")
    return removed
