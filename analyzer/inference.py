"""Inference: hung runs attributed to a signature whose own line is not among the inputs.

A pattern file declares the attribution in an `infer:` block (patterns/README.md): the rule, the
evidence signature, the signatures that would explain the run directly (`unless`) and the reason
the report prints. This module implements each rule once, for any signature, so no signature id
is written in Python. A run showing a line of the declaring signature itself is explained
directly and never inferred.

Rules (the schema's `infer.rule` enum lists the same names):

- `silent-after-connect`: the run hung, its last lines end right after the connect command
  (`stalled_after_connect`, see runs.py), and a line of the evidence signature is attached to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from string import Formatter

import polars as pl

from .catalog import Inference, Signature

#: The table `infer` returns when no rule attributes a run (the evidence fields a reason inserts
#: are more String columns between `signature` and `reason`).
PROBABLE_SCHEMA = {"run_id": pl.Int64, "signature": pl.String, "reason": pl.String}

#: A rule: (runs, matches joined to their run, the declaring signature's id, its block) -> the
#: candidate runs with `run_id` and `fields` (the JSON fields of the evidence line).
Rule = Callable[[pl.DataFrame, pl.DataFrame, str, Inference], pl.DataFrame]


def _silent_after_connect(
    runs: pl.DataFrame, with_run: pl.DataFrame, sid: str, block: Inference
) -> pl.DataFrame:
    """Hung runs that went silent right after the connect command and show the evidence."""
    explained = with_run.filter(pl.col("signature").is_in([sid, *block.unless]))["run_id"].unique()
    evidence = (
        with_run.filter(pl.col("signature") == block.evidence)
        .group_by("run_id")
        .agg(pl.col("fields").first())
    )
    return runs.filter(
        (pl.col("outcome") == "hung")
        & pl.col("stalled_after_connect")
        & ~pl.col("run_id").is_in(explained.implode())
    ).join(evidence, on="run_id", how="inner")


#: Every rule a pattern may name, by the name it uses.
RULES: dict[str, Rule] = {"silent-after-connect": _silent_after_connect}


def _reason(template: str) -> pl.Expr:
    """The reason text with each `{field}` taken from that evidence field's column."""
    parts: list[pl.Expr] = []
    for literal, name, _, _ in Formatter().parse(template):
        if literal:
            parts.append(pl.lit(literal))
        if name:
            parts.append(pl.col(name))
    return pl.concat_str(parts) if parts else pl.lit("")


def infer(
    runs: pl.DataFrame,
    matches: pl.DataFrame,
    run_map: pl.DataFrame,
    signatures: Sequence[Signature],
) -> pl.DataFrame:
    """The runs each signature's `infer:` block attributes to it, with the evidence fields its
    reason inserts and the reason: run_id, signature, <fields>, reason."""
    with_run = matches.join(run_map, on="event_id", how="inner")
    parts = []
    for sig in signatures:
        if sig.infer is None:
            continue
        block = sig.infer
        fields = [
            pl.col("fields").str.json_path_match(f"$.{name}").alias(name) for name in block.fields
        ]
        candidates = RULES[block.rule](runs, with_run, sig.id, block).select(
            "run_id", pl.lit(sig.id).alias("signature"), *fields
        )
        parts.append(candidates.with_columns(_reason(block.reason).alias("reason")))
    if not parts:
        return pl.DataFrame(schema=PROBABLE_SCHEMA)
    return pl.concat(parts, how="diagonal_relaxed")
