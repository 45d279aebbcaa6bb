"""Sync runs: one row per mover pod with start, end, duration, outcome and exit code.

Markers come from every era of the fork's `entry.sh` and from upstream's restic script
(../shared/reference/formats.md §3-4): `=== Done ===`, the OPERATION SUMMARY block
(`OPERATION_RESULT`, `EXIT_CODE`, `MAINTENANCE_STATUS`, `MAINTENANCE_DURATION`),
`TIMING: Total ...`,
`Kopia completed in Ns`, `Restic completed in Ns`, the empty-directory skip, the cache-exhaustion
banner and the scripts' own `ERROR:` exits. A run whose output ends on a terminal line (restic's
`Fatal:`, Kopia's fatal `ERROR` at command exit, a Go panic, a catalog signature marked
`terminal`) is `failed` with its exit not observed. Only then is silence read: a run without an
end is `hung` when it was replaced by a newer pod of the same ReplicationSource or stayed silent
longer than `hang_after`, `running` when it was still active at the window's end. A hung run's
duration is a lower bound. `outcome_basis` says which evidence made each verdict.

What the Kubernetes API (or a dump) says about a pod is evidence the output cannot give
(`states`, from `kube.run_states`): a Terminated mover container gives a run without an end
marker its real end and exit code (`container-terminated`), a container Running when it was read
and silent longer than `hang_after` by then is hung for certain (`pod-running-silent`), and a
ReplicationSource's `latestMoverStatus.result` decides its last-run lines (`mover-status`).

Output with no pod name (a paste, `kubectl logs` saved under any name) is one run per input when
it shows mover output (a marker or a terminal line); output with no timestamps still gets its
outcome from markers and terminal lines, its duration from the mover's own report, and never a
verdict that needs time (hung, running).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from .envelopes import LOGCLI_ENVELOPES, STREAM_CLOSED_RE
from .events import UTC_NS, mover_output
from .kube import STATES_SCHEMA

DONE_RE = r"^(?:INFO: )?=== Done ===\s*$"
EXIT_CODE_RE = r"^INFO: EXIT_CODE: (\d+)"
RESULT_RE = r"^INFO: OPERATION_RESULT: (SUCCESS|FAILURE)"
MAINT_STATUS_RE = r"^INFO: MAINTENANCE_STATUS: (SUCCESS|FAILURE)"
# Durations the scripts report themselves, in seconds, newest era first.
REPORTED_DURATION_RE = (
    r"^(?:INFO: MAINTENANCE_DURATION: (\d+)"
    r"|TIMING: Total kopia operation completed in (\d+)s"
    r"|INFO: OPERATION_DURATION_SECONDS: (\d+)"
    r"|Kopia completed in (\d+)s"
    r"|Restic completed in (\d+)s)"
)
SUCCESS_END_RE = (
    r"^(?:Kopia completed in \d+s|Restic completed in \d+s"
    r"|== Directory is empty skipping backup ===)"
)
CACHE_EXHAUSTION_RE = r"^ERROR: CACHE EXHAUSTION DETECTED"
# Script error exits that end a pod without a summary block (v1/v2 fork, restic): message -> code.
SCRIPT_EXIT_RE = r"^ERROR: (?:failure [a-z ,]+|.+ must be defined|unknown operation: .*)$"
START_RE = r"^(?:Starting kopia mover container|Starting container)\s*$"
VERSION_RE = r"^(?:INFO: )?VolSync (kopia|restic) container version: (\S+)"
CONNECT_EXEC_RE = r"^Executing connection command\.\.\.\s*$"
#: Lines printed when the process exits on an error, for output no catalog signature knows
#: (formats.md §2, §4): restic's `Fatal:`, Kopia's fatal `ERROR <err>` at command exit (the
#: level word is already split off), snapshot's fatal-error summary, a Go panic or runtime fatal.
TERMINAL_RES = (
    r"^Fatal: ",
    r"^(?:error connecting to repository|unable to open repository|failed to open repository"
    r"|error opening repository|open repository|error running maintenance"
    r"|error creating repository|unable to connect to repository|error connecting to API server"
    r"|error (?:upgrading|restoring|verifying|snapshotting|listing|flushing|creating snapshot)"
    r"|restore error|flush error|snapshot GC failure|error flushing writer)\b.*:",
    r"^(?:ERROR )?Found \d+ fatal error\(s\)",
    r"^(?:ERROR )?encountered \d+ errors?\b",
    # a Go CLI's (cobra's) exit message, KopiaUI's connect failure
    r"^(?:Error|Connect Error): \S",
    # restic before `Fatal:` prefixed its exits
    r"^(?:creating|create) backend at \S+ failed: ",
    r"^panic: ",
    r"^fatal error: ",
)
#: What may follow a terminal line before the output ends: a Go stack trace, restic's
#: repository-location hint, and the scripts' error exits.
TRAILER_RE = (
    r"^(?:\t|goroutine \d+|created by |\[signal |exit status \d+|[\w./*()-]+\(.*\)$"
    r"|\S+\.go:\d+|Is there a repository at the following location\?"
    r"|(?:s3|b2|azure|gs|rest|sftp|swift|rclone|local):\S+$|/\S*$|ERROR: |error: )"
)
#: A shell prompt in a pasted transcript (`$ kopia --version`, `root@host:~# restic init`): what
#: follows it is another command, so it never keeps an earlier line from ending the run.
PROMPT_RE = r"^(?:[$#] |\S+@\S+:\S*[$#] ?)"
#: An end marker followed by more output this much later: the pod finished its work but did not
#: exit (the run is completed at its marker; the lingering is reported).
LINGER = timedelta(minutes=5)
# KopiaMaintenance Jobs end at `activeDeadlineSeconds` (default 3 h, formats.md §5.3), counted
# from the CronJob's scheduled minute that the pod name carries: a hung maintenance pod cannot
# have been alive longer than that.
MAINTENANCE_DEADLINE = timedelta(hours=3)
SCHEDULED_MINUTE_RE = r"^kopia-maint-.+-[0-9a-f]{16}-(\d+)-[a-z0-9]{5}$"

#: Every line the run reconstruction reads; pushdown mode asks Loki for exactly these.
MARKERS = (
    START_RE,
    DONE_RE,
    EXIT_CODE_RE,
    RESULT_RE,
    MAINT_STATUS_RE,
    REPORTED_DURATION_RE,
    SUCCESS_END_RE,
    CACHE_EXHAUSTION_RE,
    SCRIPT_EXIT_RE,
    VERSION_RE,
    CONNECT_EXEC_RE,
)

RUNS_SCHEMA = {
    "run_id": pl.Int64,
    "namespace": pl.String,
    "pod": pl.String,
    "container": pl.String,
    "replication_source": pl.String,
    "role": pl.String,
    "mover": pl.String,
    "start": UTC_NS,
    "end": UTC_NS,
    "last_activity": UTC_NS,
    "observed_until": UTC_NS,
    "duration_s": pl.Float64,
    "duration_is_lower_bound": pl.Boolean,
    "outcome": pl.String,
    "exit_code": pl.Int64,
    "reported_duration_s": pl.Float64,
    "restarts": pl.Int64,
    "lines": pl.Int64,
    "last_message": pl.String,
    "stalled_after_connect": pl.Boolean,
    "mover_version": pl.String,
    "source": pl.String,
    "outcome_basis": pl.String,
    "terminal_line": pl.String,
    "lingered_s": pl.Float64,
}
#: Why a run got its outcome (`outcome_basis`): an end marker; a terminal line and then nothing
#: (exit not observed); a newer pod of the same ReplicationSource started; silence longer than
#: `hang_after` before the window's end (or, for live input from stdin, before the analysis);
#: output still arriving at the window's end; no times;
#: output with no pod name, or whose stream a viewer saw close, that just stops (a paste ends
#: where it was cut, a closed stream is no live pod: no hang is read); an error line and then
#: silence (the error may have ended the process: neither a hang nor a failure is read).
BASES = (
    "end-marker",
    "terminal-line",
    "replaced",
    "silence-in-window",
    "silence-at-analysis-time",
    "active-at-window-end",
    "no-timestamps",
    "end-not-seen",
    "error-then-silence",
    # from the Kubernetes API or dumps (`states`): the container's Terminated state (its end and
    # exit code), Running when read and silent longer than `hang_after` by then, Running and
    # not that silent, and a ReplicationSource's own verdict on its last-run lines
    "container-terminated",
    "pod-running-silent",
    "pod-running",
    "mover-status",
)

_POD_OUTPUT = ("cri", "kubectl", "docker", "plain", "loki", "raw", *LOGCLI_ENVELOPES)


def run_key() -> pl.Expr:
    """What one run's lines share: the pod, or for output with no pod name, its input."""
    return pl.coalesce(pl.col("pod"), pl.lit("\x00") + pl.col("source"))


def run_evidence(terminal: tuple[str, ...] = ()) -> str:
    """The regex of lines that make output with no pod name a mover run: a run marker or a
    terminal line (built-in or `terminal`, the catalog's)."""
    return "|".join(f"(?:{rx})" for rx in (*MARKERS, *TERMINAL_RES, *terminal))


def pod_output(events: pl.DataFrame, evidence: str | None = None) -> pl.DataFrame:
    """The lines a mover pod printed itself (not Kopia's own log files). Pods that cannot be
    movers (an application's, read with `--all-pods`) make no runs. Output with no pod name
    counts when `evidence` (a regex) matches one of its input's lines: that input is one run."""
    printed = events.filter(pl.col("envelope").is_in(_POD_OUTPUT) & mover_output())
    named = pl.col("pod").is_not_null()
    if evidence is None:
        return printed.filter(named)
    shows = pl.col("message").str.contains(evidence).any().over("source")
    return printed.filter(named | shows)


def reconstruct_runs(
    events: pl.DataFrame,
    *,
    window_end: datetime | None = None,
    hang_after: timedelta = timedelta(minutes=30),
    activity: pl.DataFrame | None = None,
    terminal: tuple[str, ...] = (),
    silence_basis: str = "silence-in-window",
    hangs: tuple[str, ...] = (),
    states: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Build the runs table from pod output; `window_end` defaults to the newest event.

    `states` (`kube.STATES_SCHEMA`, one row per run key) is what the Kubernetes objects say
    about a run's end: an end marker or a terminal line in the output still decides (the
    exit code Kubernetes recorded is filled in for them); otherwise a Terminated
    container (or a ReplicationSource's `latestMoverStatus.result`) gives the outcome, end and
    exit code, unless the output had gone silent into a hang before it (silent longer than
    `hang_after` before `finishedAt`, or replaced by then) or the container was killed from
    outside (exit 137/143, not OOMKilled) after the output's own rules read a hang: the kill of
    a hung pod is no outcome of its own. A container Running when read makes the run hung when
    silent longer than `hang_after` by then (`pod-running-silent`), else running.

    `hangs` are regexes of lines that precede a hang (the catalog's `hang: true` signatures):
    silence after one is a hang even though the line is an error.

    `silence_basis` names a hang read from silence: `silence-at-analysis-time` when
    `window_end` is the time of the analysis (live input from stdin), not the data's end.

    `terminal` adds regexes of lines that end the process (the catalog's terminal signatures)
    to the built-in TERMINAL_RES.

    `activity` (per `run_key` as `key`: `lines` and `last_ts`) stands in for lines that were
    not kept: from Loki's `count_over_time` in pushdown mode, or the streaming file source's
    counts (no `last_ts`: it keeps every pod's last lines). It gives the line count, and a
    pod's last minute of activity moves its last activity forward to at least that minute's
    start.
    """
    term = "|".join(f"(?:{rx})" for rx in (*TERMINAL_RES, *terminal))
    lines = pod_output(events, run_evidence(terminal))
    if lines.height == 0:
        return pl.DataFrame(schema=RUNS_SCHEMA)
    lines = lines.with_columns(run_key().alias("_key"))
    # a viewer saw the log stream end (k9s `stream closed EOF`): the output is whole, not live
    closed = events.filter(
        (pl.col("envelope") == "viewer") & pl.col("message").str.contains(STREAM_CLOSED_RE)
    ).select(run_key().alias("_key"))["_key"]
    end_of_window = window_end or events["ts"].max()
    # File order is write order: order a pod's files (restarts, rotations) by their first time,
    # then lines by number, so one skewed timestamp cannot move a run's start or end.
    # Loki returns a pod's stdout and stderr as separate time-ordered streams: merge them by time.
    # logcli prints newest first unless --forward, to the second: its lines go by time too,
    # and within a second in the file's own direction.
    from_loki = pl.col("envelope").is_in(["loki", *LOGCLI_ENVELOPES])
    in_file_order = pl.col("ts").sort_by("line_no")
    backward = pl.col("envelope").is_in(LOGCLI_ENVELOPES) & (
        in_file_order.first().over("source") > in_file_order.last().over("source")
    )
    lines = (
        lines.with_columns(
            pl.when(from_loki).then(pl.col("_key")).otherwise(pl.col("source")).alias("_segment"),
            pl.when(from_loki)
            .then(pl.col("ts").cast(pl.Int64))
            .otherwise(pl.col("line_no"))
            .alias("_order"),
            pl.when(backward).then(-pl.col("line_no")).otherwise(0).alias("_tie"),
        )
        .with_columns(pl.col("ts").min().over("_segment").alias("_file_start"))
        .sort("_key", "_file_start", "_segment", "_order", "_tie", maintain_order=True)
    )
    msg = pl.col("message")
    said = msg.filter(msg.str.strip_chars() != "")
    end_marker = msg.str.contains(
        "|".join(f"(?:{rx})" for rx in (DONE_RE, SUCCESS_END_RE, SCRIPT_EXIT_RE, EXIT_CODE_RE))
    )
    per_pod = lines.group_by("_key", maintain_order=True).agg(
        pl.col("pod").first(),
        pl.col("source").first(),
        pl.col("namespace").drop_nulls().first(),
        pl.col("container").drop_nulls().first(),
        pl.col("replication_source").drop_nulls().first(),
        pl.col("role").drop_nulls().first(),
        pl.col("ts").drop_nulls().first().alias("_first"),
        pl.col("ts").drop_nulls().last().alias("_last"),
        pl.col("ts").filter(end_marker).drop_nulls().last().alias("_end_marker_ts"),
        pl.col("ts").min().alias("_min"),
        pl.col("ts").max().alias("_max"),
        pl.len().alias("lines"),
        pl.col("source").n_unique().alias("_files"),
        msg.filter(msg.str.contains(START_RE)).len().alias("_starts"),
        msg.filter(msg.str.contains(DONE_RE)).len().alias("_done"),
        msg.str.extract(EXIT_CODE_RE, 1).cast(pl.Int64).drop_nulls().last().alias("_exit"),
        msg.str.extract(RESULT_RE, 1).drop_nulls().last().alias("_result"),
        msg.str.extract(MAINT_STATUS_RE, 1).drop_nulls().last().alias("_maint"),
        msg.filter(msg.str.contains(SUCCESS_END_RE)).len().alias("_success_end"),
        msg.filter(msg.str.contains(CACHE_EXHAUSTION_RE)).len().alias("_cache_exhausted"),
        msg.filter(msg.str.contains(SCRIPT_EXIT_RE)).last().alias("_script_exit"),
        pl.coalesce([msg.str.extract(REPORTED_DURATION_RE, i) for i in range(1, 6)])
        .cast(pl.Float64)
        .drop_nulls()
        .last()
        .alias("reported_duration_s"),
        msg.str.extract(VERSION_RE, 2).drop_nulls().first().alias("mover_version"),
        msg.str.extract(VERSION_RE, 1).drop_nulls().first().alias("_mover_word"),
        said.last().alias("last_message"),
        pl.col("level").filter(msg.str.strip_chars() != "").last().alias("_last_level"),
        # the connect command followed by at most a couple of Kopia lines, then nothing
        said.tail(3).alias("_tail"),
        # a terminal line, then at most a stack trace or a script's error exit
        said.tail(40).alias("_ending"),
    )
    # File order is trusted for one skewed line; a clock that stepped back (last before first)
    # is not: then the earliest and latest times are the honest bounds.
    stepped_back = pl.col("_last") < pl.col("_first")
    per_pod = per_pod.with_columns(
        pl.when(stepped_back).then(pl.col("_min")).otherwise(pl.col("_first")).alias("start"),
        pl.when(stepped_back)
        .then(pl.col("_max"))
        .otherwise(pl.col("_last"))
        .alias("last_activity"),
    )
    per_pod = per_pod.with_columns(
        pl.col("_key").is_in(closed.implode()).alias("_closed"),
        pl.when(pl.col("container").str.contains("restic") | (pl.col("_mover_word") == "restic"))
        .then(pl.lit("restic"))
        .otherwise(pl.lit("kopia"))
        .alias("mover"),
        (pl.max_horizontal(pl.col("_starts"), 1) - 1).alias("restarts"),
        pl.col("_tail")
        .list.eval(pl.element().str.contains(CONNECT_EXEC_RE))
        .list.any()
        .alias("stalled_after_connect"),
        _terminal_ending(term).alias("terminal_line"),
        _error_then_silence(hangs).alias("_error_end"),
    )
    if activity is not None and activity.height:
        per_pod = _with_activity(per_pod, activity)
    per_pod = _script_exit_codes(per_pod)
    per_pod = _replacements(per_pod)
    per_pod = _with_states(per_pod, states)
    return _outcomes(per_pod, end_of_window, hang_after, silence_basis)


def _with_states(per_pod: pl.DataFrame, states: pl.DataFrame | None) -> pl.DataFrame:
    """Join the Kubernetes objects' word on each run (`_k_*` columns, null where none)."""
    columns = {c: t for c, t in STATES_SCHEMA.items() if c != "key"}
    if states is None or states.height == 0:
        return per_pod.with_columns(
            [pl.lit(None, dtype=t).alias(f"_k_{c}") for c, t in columns.items()]
        )
    given = states.select(
        pl.col("key").alias("_key"),
        *[pl.col(c).cast(t).alias(f"_k_{c}") for c, t in columns.items()],
    ).unique("_key", keep="last")
    return per_pod.join(given, on="_key", how="left", maintain_order="left")


def _with_activity(per_pod: pl.DataFrame, activity: pl.DataFrame) -> pl.DataFrame:
    seen = activity.group_by(pl.col("key").alias("_key")).agg(
        pl.col("lines").sum().alias("_act_lines"), pl.col("last_ts").max().alias("_act_last")
    )
    return (
        per_pod.join(seen, on="_key", how="left")
        .with_columns(
            pl.max_horizontal("lines", "_act_lines").cast(pl.Int64).alias("lines"),
            pl.max_horizontal(
                "last_activity", pl.col("_act_last") - pl.duration(minutes=1, time_unit="ns")
            ).alias("last_activity"),
        )
        .drop("_act_lines", "_act_last")
    )


def _script_exit_codes(frame: pl.DataFrame) -> pl.DataFrame:
    """Exit codes for eras that print none: restic's `failure` exits are 3, missing vars 1."""
    text = pl.col("_script_exit")
    code = (
        pl.when(text.str.starts_with("ERROR: failure"))
        .then(pl.lit(3))
        .when(text.str.ends_with("must be defined"))
        .then(pl.lit(1))
        .when(text.str.starts_with("ERROR: unknown operation"))
        .then(pl.lit(2))
    )
    return frame.with_columns(code.cast(pl.Int64).alias("_script_code"))


def _replacements(frame: pl.DataFrame) -> pl.DataFrame:
    """For each pod, when the next pod of the same ReplicationSource and role started."""
    keyed = frame.with_columns(
        pl.coalesce(pl.col("replication_source"), pl.col("_key")).alias("_rs_key"),
        pl.col("role").fill_null("").alias("_role_key"),
    ).sort("start")
    return keyed.with_columns(
        pl.col("start").shift(-1).over(["namespace", "_rs_key", "_role_key"]).alias("_next_start")
    )


def _terminal_ending(term: str) -> pl.Expr:
    """The last terminal line of a run's output when nothing but trailers follows it (else
    null): read from the end, trailers and terminal lines may stand until the first other line;
    among those, the earliest terminal line is the one that ended the process."""
    element = pl.element()
    is_term = element.str.contains(term)
    prompt = element.str.contains(PROMPT_RE)
    # the last pasted command's block (its prompt and what follows): when it holds no terminal
    # line it is another command, and it does not keep an earlier line from ending the run
    last_block = (prompt.cast(pl.Int32).cum_sum() == prompt.cast(pl.Int32).sum()) & prompt.any()
    skip = last_block & ~(is_term & last_block & ~prompt).any()
    ending = pl.col("_ending").list.eval(
        pl.when(
            (is_term | element.str.contains(TRAILER_RE) | skip)
            .cast(pl.Int8)
            .reverse()
            .cum_min()
            .reverse()
            .cast(pl.Boolean)
            & is_term
            & ~skip
        )
        .then(element)
        .otherwise(None)
        .drop_nulls()
    )
    return ending.list.first()


#: An error the output stops on may have ended the process (its exit not observed) or not: no
#: hang is read from the silence after one, unless a `hang: true` signature says so.
ERROR_LINE_RE = (
    r"(?i)(?:^(?:error|fatal|panic)\b|\b(?:error|failed|fatal|unable to|cannot|denied|refused"
    r"|timed out|timeout)\b)"
)


def _error_then_silence(hangs: tuple[str, ...]) -> pl.Expr:
    """Whether the last line is an error (by level or words) that no hang signature claims."""
    last = pl.col("last_message")
    error = (pl.col("_last_level") == "ERROR").fill_null(False) | last.str.contains(
        ERROR_LINE_RE
    ).fill_null(False)
    if hangs:
        error = error & ~last.str.contains("|".join(f"(?:{rx})" for rx in hangs)).fill_null(False)
    return error


def _outcomes(
    frame: pl.DataFrame, window_end: datetime, hang_after: timedelta, silence_basis: str
) -> pl.DataFrame:
    has_end = (
        (pl.col("_done") > 0) | (pl.col("_success_end") > 0) | pl.col("_script_code").is_not_null()
    )
    failed = (
        (pl.col("_result") == "FAILURE").fill_null(False)
        | (pl.col("_maint") == "FAILURE").fill_null(False)
        | (pl.col("_exit").fill_null(0) != 0)
        | (pl.col("_cache_exhausted") > 0)
        | pl.col("_script_code").is_not_null()
    )
    exit_code = (
        pl.when(pl.col("_exit").is_not_null())
        .then(pl.col("_exit"))
        .when(pl.col("_cache_exhausted") > 0)
        .then(pl.lit(137))
        .when(pl.col("_script_code").is_not_null())
        .then(pl.col("_script_code"))
        .when(has_end & ~failed)
        .then(pl.lit(0))
    )
    end_lit = pl.lit(window_end).cast(UTC_NS)
    silent_for = end_lit - pl.col("last_activity")
    replaced = pl.col("_next_start").is_not_null()
    terminal = pl.col("terminal_line").is_not_null()
    timeless = pl.col("last_activity").is_null()
    # no liveness: output with no pod name (a paste ends where it was cut) or a stream a viewer
    # saw close
    unnamed = pl.col("pod").is_null() | pl.col("_closed")
    silent = silent_for > pl.lit(hang_after)
    # What the Kubernetes objects say (`_with_states`): a Terminated container or the
    # ReplicationSource's verdict decides a run whose output shows no end, unless the output had
    # gone silent into a hang before it; Running when read, a hang needs silence by then.
    quiet = ~(terminal | timeless | unnamed | pl.col("_error_end"))
    end_by_api = pl.col("_k_finished_at")
    hung_before_end = (
        pl.when(end_by_api.is_not_null())
        .then(
            (pl.col("_next_start") <= end_by_api).fill_null(False)
            | ((end_by_api - pl.col("last_activity")) > pl.lit(hang_after)).fill_null(False)
        )
        .otherwise(replaced | silent)
        .fill_null(False)
    )
    # killed from outside (SIGKILL/SIGTERM: a roll-out, a deadline, the controller; not the
    # kernel's OOM killer): the kill is no outcome of its own, the output's hang stands
    killed = pl.col("_k_exit_code").is_in([137, 143]) & (
        pl.col("_k_reason") != "OOMKilled"
    ).fill_null(True)
    hung_at_kill = killed.fill_null(False) & (replaced | silent)
    # a terminal line stays the run's evidence (the exit code Kubernetes recorded is filled in
    # later, describe.fill_exit_codes); the objects decide only where the output shows no end
    ended_by_api = (
        pl.col("_k_result").is_not_null() & ~terminal & ~(quiet & (hung_before_end | hung_at_kill))
    )
    alive = pl.col("_k_running").fill_null(False) & ~ended_by_api
    api_silent = (
        (pl.col("_k_observed_at") - pl.col("last_activity")) > pl.lit(hang_after)
    ).fill_null(False)
    basis = (
        pl.when(has_end)
        .then(pl.lit("end-marker"))
        .when(ended_by_api)
        .then(pl.col("_k_basis"))
        .when(alive & api_silent)
        .then(pl.lit("pod-running-silent"))
        .when(alive)
        .then(pl.lit("pod-running"))
        .when(terminal)
        .then(pl.lit("terminal-line"))
        .when(timeless)
        .then(pl.lit("no-timestamps"))
        .when(unnamed)
        .then(pl.lit("end-not-seen"))
        .when(pl.col("_error_end") & (replaced | silent))
        .then(pl.lit("error-then-silence"))
        .when(replaced)
        .then(pl.lit("replaced"))
        .when(silent)
        .then(pl.lit(silence_basis))
        .when(pl.col("last_activity") <= end_lit)
        .then(pl.lit("active-at-window-end"))
    )
    outcome = (
        pl.when(has_end & failed)
        .then(pl.lit("failed"))
        .when(has_end)
        .then(pl.lit("completed"))
        .when(ended_by_api)
        .then(pl.col("_k_result"))
        .when(alive & api_silent)
        .then(pl.lit("hung"))
        .when(alive)
        .then(pl.lit("running"))
        .when(terminal)
        .then(pl.lit("failed"))
        .when(timeless | unnamed | (pl.col("_error_end") & (replaced | silent)))
        .then(pl.lit("unknown"))
        .when(replaced | silent)
        .then(pl.lit("hung"))
        .when(pl.col("last_activity") <= end_lit)
        .then(pl.lit("running"))
        .otherwise(pl.lit("unknown"))
    )
    # an end marker long before the last line: the work ended at the marker, the pod lingered
    lingered = (pl.col("last_activity") - pl.col("_end_marker_ts")).dt.total_microseconds() / 1e6
    lingering = has_end & (lingered > LINGER.total_seconds()).fill_null(False)
    frame = frame.with_columns(
        outcome.alias("outcome"),
        pl.when(has_end)
        .then(pl.coalesce(exit_code, pl.col("_k_exit_code")))
        .when(ended_by_api)
        .then(pl.col("_k_exit_code"))
        .otherwise(exit_code)
        .cast(pl.Int64)
        .alias("exit_code"),
        basis.alias("outcome_basis"),
        pl.when(lingering).then(lingered).alias("lingered_s"),
        pl.when(lingering)
        .then(pl.col("_end_marker_ts"))
        .when(ended_by_api & ~has_end)
        .then(pl.coalesce(pl.col("_k_finished_at"), pl.col("last_activity")))
        .otherwise(pl.col("last_activity"))
        .alias("_finished"),
    )
    deadline = (
        pl.col("pod").str.extract(SCHEDULED_MINUTE_RE, 1).cast(pl.Int64) * 60_000_000_000
    ).cast(UTC_NS) + pl.lit(MAINTENANCE_DEADLINE)
    bound = pl.min_horizontal(pl.col("_next_start"), end_lit, deadline)
    ended = pl.col("outcome").is_in(["completed", "failed"])
    observed = (
        pl.when(ended)
        .then(pl.col("_finished"))
        .when(timeless | unnamed)
        .then(pl.col("last_activity"))
        .when(alive)
        .then(pl.max_horizontal(pl.col("_k_observed_at"), pl.col("last_activity")))
        .otherwise(pl.max_horizontal(bound, pl.col("last_activity")))
    )
    frame = frame.with_columns(
        pl.when(ended).then(pl.col("_finished")).alias("end"),
        observed.alias("observed_until"),
    )
    measured = (pl.col("observed_until") - pl.col("start")).dt.total_microseconds() / 1e6
    frame = frame.with_columns(
        # without times, the mover's own report of how long it took is the duration
        pl.coalesce(measured, pl.when(ended).then(pl.col("reported_duration_s"))).alias(
            "duration_s"
        ),
        pl.col("outcome").is_in(["hung", "running", "unknown"]).alias("duration_is_lower_bound"),
    )
    frame = frame.sort("start", "pod", "source", nulls_last=True).with_columns(
        pl.int_range(0, pl.len(), dtype=pl.Int64).alias("run_id")
    )
    return frame.select([pl.col(c).cast(t) for c, t in RUNS_SCHEMA.items()])


def attach_to_runs(
    events: pl.DataFrame, runs: pl.DataFrame, *, slack: timedelta = timedelta(seconds=5)
) -> pl.DataFrame:
    """Map events to runs: pod lines by pod; Kopia CLI-log lines by ReplicationSource and time.

    A CLI-log line belongs to the run of its ReplicationSource (and role, when known) whose span
    [start - slack, observed_until + slack] contains it; this is how the decisive line that only
    Kopia's own log file holds explains the pod that hung. Returns `event_id, run_id`.
    """
    schema = {"event_id": pl.Int64, "run_id": pl.Int64}
    if runs.height == 0 or events.height == 0:
        return pl.DataFrame(schema=schema)
    by_pod = (
        events.filter(pl.col("pod").is_not_null())
        .join(runs.select("pod", "run_id"), on="pod", how="inner")
        .select("event_id", "run_id")
    )
    # output with no pod name is one run per input
    unnamed = runs.filter(pl.col("pod").is_null()).select("source", "run_id")
    if unnamed.height:
        by_source = (
            events.filter(pl.col("pod").is_null() & pl.col("envelope").is_in(_POD_OUTPUT))
            .join(unnamed, on="source", how="inner")
            .select("event_id", "run_id")
        )
        by_pod = pl.concat([by_pod, by_source]).sort("event_id")
    orphans = events.filter(
        pl.col("pod").is_null()
        & pl.col("replication_source").is_not_null()
        & pl.col("ts").is_not_null()
    ).select("event_id", "ts", "replication_source", pl.col("role").fill_null("*").alias("_role"))
    if orphans.height == 0:
        return by_pod
    spans = runs.filter(pl.col("replication_source").is_not_null()).select(
        "run_id",
        "replication_source",
        pl.col("role").fill_null("*").alias("_run_role"),
        (pl.col("start") - pl.lit(slack)).alias("_from"),
        (pl.col("observed_until") + pl.lit(slack)).alias("_to"),
    )
    candidates = orphans.join(spans, on="replication_source", how="inner").filter(
        (pl.col("ts") >= pl.col("_from"))
        & (pl.col("ts") <= pl.col("_to"))
        & ((pl.col("_role") == "*") | (pl.col("_role") == pl.col("_run_role")))
    )
    # Overlapping spans (a pod and its replacement): prefer the run that started last before it.
    by_time = (
        candidates.sort("event_id", "_from", descending=[False, True])
        .group_by("event_id", maintain_order=True)
        .agg(pl.col("run_id").first())
    )
    return pl.concat([by_pod, by_time]).sort("event_id")
