"""Real-world regression suite: excerpts from public threads (`tests/realworld/cases/`), each
with the finding ids the tool must name, the ids that would be a wrong diagnosis and the
outcome its lines show. Every case runs twice: as a bare paste (no times, no pod name) and as
`kubectl logs --timestamps` of a mover pod read 2 h after its last line, where a run whose
lines show its end must never be `hung`. `tests/realworld/README.md` describes the format;
`python tests/realworld/score.py` prints the score.

Marks live in the case files: `pending: [ids]` (signatures of the catalog branch: the findings
tests are expected failures while one is missing from the catalog, and the outcome tests too
with `pending_outcome: true`), `known_gap` / `known_gap_stamped` (an outcome the tool gets
wrong today) and `catalog_gap` (a finding the catalog gets wrong today). All are strict: a
mark that no longer fails fails the suite, so it is removed when the gap closes.
"""

from __future__ import annotations

import pytest
from realworld.suite import (
    VARIANTS,
    Runner,
    extra_pattern_dirs,
    load_cases,
    outcome_problem,
    problems,
)

from analyzer.catalog import load_catalog

CASES = load_cases()
IDS = [c.slug for c in CASES]


@pytest.fixture(scope="module")
def runner() -> Runner:
    return Runner(extra_pattern_dirs())


@pytest.fixture(scope="module")
def results(runner, tmp_path_factory):
    """Analyses, made once per case and variant (the catalog is loaded once)."""
    cache: dict = {}
    root = tmp_path_factory.mktemp("realworld")

    def get(case, variant):
        key = (case.slug, variant)
        if key not in cache:
            cache[key] = runner.analyse(case, variant, root / variant / f"{len(cache):03d}")
        return cache[key]

    return get


def _missing(runner: Runner, case) -> list[str]:
    ids = {s.id for s in runner.catalog.signatures}
    return [sid for sid in case.pending if sid not in ids]


def test_there_are_at_least_30_cases():
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_case_file_is_complete(case, runner):
    """Required keys, a https URL, a known outcome, and ids that exist in the catalog or are
    pending somewhere in the suite."""
    known = {s.id for s in runner.catalog.signatures} | {sid for c in CASES for sid in c.pending}
    assert problems(case, known) == []


def test_pending_marks_are_removed_once_the_catalog_has_them():
    """After the catalog branch is merged, its ids are built in: delete the `pending:` lines
    (`python tests/realworld/score.py --drop-stale-pending` does it)."""
    builtin = {s.id for s in load_catalog().signatures}
    stale = {c.slug: sorted(set(c.pending) & builtin) for c in CASES}
    assert {slug: ids for slug, ids in stale.items() if ids} == {}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_findings(case, variant, runner, results, request):
    missing = _missing(runner, case)
    if missing:
        request.applymarker(
            pytest.mark.xfail(
                reason=f"needs {', '.join(missing)} from the catalog branch", strict=True
            )
        )
    elif case.get("catalog_gap"):
        request.applymarker(pytest.mark.xfail(reason=case["catalog_gap"], strict=True))
    named = results(case, variant).named
    assert [sid for sid in case.findings if sid not in named] == [], named
    assert [sid for sid in case.not_findings if sid in named] == [], named


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_outcome(case, variant, runner, results, request):
    """Bare: the outcome from markers and terminal lines, never hung. Stamped: never hung when
    the lines show the end (no invented hang); hung after 2 h of silence when they do not."""
    gap = case.known_gap(variant)
    missing = _missing(runner, case)
    if gap:
        request.applymarker(pytest.mark.xfail(reason=gap, strict=True))
    elif missing and case.get("pending_outcome"):
        # a terminal signature of the catalog branch decides the outcome
        request.applymarker(
            pytest.mark.xfail(
                reason=f"needs {', '.join(missing)} from the catalog branch", strict=True
            )
        )
    assert outcome_problem(case, variant, results(case, variant)) is None
