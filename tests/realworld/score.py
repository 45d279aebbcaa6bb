"""Print the real-world suite's score: how the tool diagnoses every case, per variant.

    python tests/realworld/score.py                    # the built-in catalog
    REALWORLD_PATTERNS=../wt-patterns/patterns python tests/realworld/score.py
    python tests/realworld/score.py --cases            # one line per case and variant
    python tests/realworld/score.py --drop-stale-pending   # after the catalog branch is merged

Findings, per case: `named right` (every expected id named, no wrong one), `partly` (some
expected ids named, none wrong), `unrecognised` (no expected id named; the failure shows only
as unrecognised-error templates or symptoms, no root cause), `missed` (nothing at all: no
finding, no template), `wrong` (a `not_findings` id, or another root cause where an expected
one is missing), `nothing to name` (the case expects no finding and none is wrong).

Outcomes: `as expected` counts cases whose runs match the case's outcome. Hangs: `invented`
(hung although the lines show the end, or hung in a paste without times), `by rule` (hung
after lines that show no end: a pod that printed them and then nothing for 2 h), `in thread`
(hung where the thread concluded a hang).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from realworld.suite import (  # noqa: E402
    CASES,
    VARIANTS,
    Runner,
    drop_pending,
    extra_pattern_dirs,
    finding_verdict,
    hang_verdict,
    load_cases,
    outcome_problem,
)

from analyzer.catalog import load_catalog  # noqa: E402

FINDING_COLUMNS = ("named right", "partly", "unrecognised", "missed", "wrong", "nothing to name")


def _reason(exc: Exception) -> str:
    """One line for an exception (polars puts the gist of a regex error on an `error:` line)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    gist = [line for line in lines if line.startswith("error:")]
    return f"{type(exc).__name__}: {(gist or lines or [''])[0][:200]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", action="store_true", help="one line per case and variant")
    parser.add_argument(
        "--patterns",
        action="append",
        default=[],
        help="extra pattern directory (repeatable; also $REALWORLD_PATTERNS)",
    )
    parser.add_argument(
        "--drop-stale-pending",
        action="store_true",
        help="remove from the case files the pending ids the built-in catalog now has, and exit",
    )
    args = parser.parse_args(argv)
    if args.drop_stale_pending:
        built_in = {s.id for s in load_catalog().signatures}
        for path in sorted(CASES.glob("*.yaml")):
            removed = drop_pending(path, built_in)
            if removed:
                print(f"{path.name}: no longer pending: {', '.join(removed)}")
        return 0
    dirs = [*extra_pattern_dirs(), *args.patterns]
    runner = Runner(dirs)
    cases = load_cases()
    rows = []
    errors = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, case in enumerate(cases):
            for variant in VARIANTS:
                try:
                    result = runner.analyse(case, variant, Path(tmp) / variant / f"{n:03d}")
                except Exception as exc:  # a measurement: say which case broke, go on
                    errors.append((f"{case.slug} ({variant})", _reason(exc)))
                    continue
                rows.append(
                    (
                        case,
                        variant,
                        result,
                        finding_verdict(case, result),
                        outcome_problem(case, variant, result),
                        hang_verdict(case, variant, result),
                    )
                )
    catalog = ", ".join(dirs) if dirs else "built-in only"
    print(f"{len(cases)} cases; catalog: built-in + {catalog}\n")
    head = [
        "variant",
        *FINDING_COLUMNS,
        "outcome as expected",
        "invented hangs",
        "hung by rule",
        "hung in thread",
    ]
    print("| " + " | ".join(head) + " |")
    print("| --- |" + " ---: |" * (len(head) - 1))
    for variant in VARIANTS:
        mine = [r for r in rows if r[1] == variant]
        verdicts = Counter(r[3] for r in mine)
        hangs = Counter(r[5] for r in mine)
        right = sum(r[4] is None for r in mine)
        cells = [
            variant,
            *(str(verdicts[c]) for c in FINDING_COLUMNS),
            f"{right}/{len(mine)}",
            str(hangs["invented"]),
            str(hangs["by rule"]),
            str(hangs["in thread"]),
        ]
        print("| " + " | ".join(cells) + " |")
    for reason, count in Counter(reason for _, reason in errors).items():
        where = ", ".join(name for name, r in errors if r == reason)
        print(f"ERROR in {count} analyses: {reason}\n  {where[:500]}", file=sys.stderr)
    if args.cases:
        print()
        for case, variant, result, verdict, problem, hang in rows:
            named = ",".join(sorted(result.named)) or "-"
            print(
                f"{case.slug:55} {variant:8} {verdict:15} runs={result.outcomes} "
                f"named={named} templates={result.templates}"
                + (f"  OUTCOME: {problem}" if problem else "")
                + (f"  HANG: {hang}" if hang else "")
            )
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
