"""Outcomes that follow the evidence: a run is `failed` when its output ends on a terminal line,
`hung` only after silence following a step that was still working, `completed` at its end
marker even when the pod lingered, and without times or a pod name no verdict needs a clock.

Lines follow formats.md: restic's `Fatal:` (§4), Kopia's console `ERROR <err>` at command exit
(§1.4, §2.2), the fork's script markers (§3.2), a Go runtime panic.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl
from conftest import T0, cri_dir, cri_records, write_lines

from analyzer import analyze

START = [
    (0.0, "stdout", "Starting container"),
    (0.001, "stdout", "VolSync restic container version: v0.13.0"),
]
RESTIC_FATAL = [
    *START,
    (1.0, "stdout", "Testing mandatory env variables"),
    (2.0, "stderr", "Fatal: unable to open config file: Stat: The specified key does not exist."),
    (2.0, "stderr", "Is there a repository at the following location?"),
    (2.0, "stderr", "s3:https://s3.example.com/volsync/app"),
]
KOPIA_FATAL = [
    (0.0, "stdout", "Starting kopia mover container"),
    (0.31, "stdout", "Executing connection command..."),
    (
        3.0,
        "stderr",
        "ERROR error connecting to repository: unable to create format manager: invalid repository password",
    ),
]
PANIC = [
    (0.0, "stdout", "Starting kopia mover container"),
    (1.0, "stderr", "panic: runtime error: invalid memory address or nil pointer dereference"),
    (1.0, "stderr", "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x1c3b2e5]"),
    (1.0, "stderr", ""),
    (1.0, "stderr", "goroutine 1 [running]:"),
    (1.0, "stderr", "github.com/kopia/kopia/cli.(*App).Run(0xc000158000)"),
    (1.0, "stderr", "\t/build/cli/app.go:318 +0x1c5"),
]
# a Kopia error that the command survives: it goes on snapshotting, then goes quiet
ERROR_THEN_WORK = [
    (0.0, "stdout", "Starting kopia mover container"),
    (0.31, "stdout", "Executing connection command..."),
    (1.0, "stderr", "ERROR error connecting to repository: dial tcp: i/o timeout"),
    (5.0, "stdout", "Connected to repository."),
    (6.0, "stdout", "Snapshotting app@media:/data ..."),
]
DONE_THEN_LINGER = [
    (0.0, "stdout", "Starting kopia mover container"),
    (40.0, "stdout", "Kopia completed in 40s"),
    (41.0, "stdout", "INFO: === Done ==="),
    (4 * 3600.0, "stderr", 'Get "https://10.96.0.1:443/": context canceled'),
]


def pod(root, name, lines, start=T0, uid="0f4c7b1e-2a3d-4c5b-8e9f-a1b2c3d4e5f6"):
    d = cri_dir(root, "media", name, "kopia", uid=uid)
    write_lines(d / "0.log", cri_records(start, lines))


def only_run(analysis) -> dict:
    assert analysis.runs.height == 1, analysis.runs
    return analysis.runs.row(0, named=True)


def test_restic_fatal_then_silence_is_failed_not_hung(tmp_path):
    pod(tmp_path, "volsync-src-app-aaaaa", RESTIC_FATAL)
    run = only_run(analyze([str(tmp_path)], to="2026-01-31T20:00:00Z"))
    assert run["outcome"] == "failed" and run["outcome_basis"] == "terminal-line"
    assert run["exit_code"] is None  # the exit was not observed, only inferred
    assert run["terminal_line"].startswith("Fatal: unable to open config file")
    assert run["end"] == run["last_activity"] and not run["duration_is_lower_bound"]


def test_kopia_fatal_error_at_exit_is_failed(tmp_path):
    pod(tmp_path, "volsync-src-app-aaaaa", KOPIA_FATAL)
    run = only_run(analyze([str(tmp_path)], to="2026-01-31T20:00:00Z"))
    assert (run["outcome"], run["outcome_basis"]) == ("failed", "terminal-line")


def test_a_go_panic_with_its_stack_trace_is_failed(tmp_path):
    pod(tmp_path, "volsync-src-app-aaaaa", PANIC)
    run = only_run(analyze([str(tmp_path)], to="2026-01-31T20:00:00Z"))
    assert run["outcome"] == "failed" and run["terminal_line"].startswith("panic: ")


def test_an_error_the_command_survives_is_no_terminal_line_silence_after_work_is_a_hang(tmp_path):
    pod(tmp_path, "volsync-src-app-aaaaa", ERROR_THEN_WORK)
    run = only_run(analyze([str(tmp_path)], to="2026-01-31T20:00:00Z"))
    assert run["terminal_line"] is None
    assert (run["outcome"], run["outcome_basis"]) == ("hung", "silence-in-window")


def test_silence_shorter_than_the_threshold_is_still_running(tmp_path):
    pod(tmp_path, "volsync-src-app-aaaaa", ERROR_THEN_WORK)
    run = only_run(analyze([str(tmp_path)], to="2026-01-31T16:10:00Z"))
    assert (run["outcome"], run["outcome_basis"]) == ("running", "active-at-window-end")


def test_a_replaced_pod_without_an_end_is_hung_by_replacement(tmp_path):
    pod(tmp_path, "volsync-src-app-aaaaa", ERROR_THEN_WORK)
    later = T0 + timedelta(minutes=10)
    pod(
        tmp_path,
        "volsync-src-app-bbbbb",
        ERROR_THEN_WORK,
        later,
        uid="1" * 8 + "-2a3d-4c5b-8e9f-a1b2c3d4e5f6",
    )
    a = analyze([str(tmp_path)], to="2026-01-31T16:12:00Z")
    first = a.runs.filter(pl.col("pod") == "volsync-src-app-aaaaa").row(0, named=True)
    assert (first["outcome"], first["outcome_basis"]) == ("hung", "replaced")


def test_a_pod_that_lingers_after_its_end_marker_completed_at_the_marker(tmp_path):
    pod(tmp_path, "volsync-src-app-aaaaa", DONE_THEN_LINGER)
    run = only_run(analyze([str(tmp_path)]))
    assert (run["outcome"], run["outcome_basis"]) == ("completed", "end-marker")
    assert run["duration_s"] == 41.0 and run["end"] == T0 + timedelta(seconds=41)
    assert run["lingered_s"] == 4 * 3600 - 41


def test_a_prompt_exit_has_no_lingering(tmp_path):
    pod(tmp_path, "volsync-src-app-aaaaa", DONE_THEN_LINGER[:3])
    assert only_run(analyze([str(tmp_path)]))["lingered_s"] is None


def test_a_paste_without_times_or_pod_gets_its_outcome_and_duration_from_the_mover(tmp_path):
    paste = tmp_path / "issue-comment.txt"
    paste.write_text(
        "Starting kopia mover container\n"
        "Connected to repository.\n"
        "Snapshotting app@media:/data ...\n"
        "Kopia completed in 42s\n"
        "INFO: === Done ===\n"
    )
    run = only_run(analyze([str(paste)]))
    assert run["pod"] is None and run["source"] == str(paste)
    assert (run["outcome"], run["outcome_basis"]) == ("completed", "end-marker")
    assert run["start"] is None and run["duration_s"] == 42.0


def test_a_paste_that_just_stops_is_unknown_never_hung(tmp_path):
    paste = tmp_path / "issue-comment.txt"
    paste.write_text("Starting kopia mover container\nExecuting connection command...\n")
    run = only_run(analyze([str(paste)]))
    assert (run["outcome"], run["outcome_basis"]) == ("unknown", "no-timestamps")
    assert run["duration_s"] is None


def test_a_timed_paste_with_no_pod_name_that_stops_is_unknown_never_hung(tmp_path):
    paste = tmp_path / "issue-comment.txt"
    paste.write_text(
        "2026-01-31T16:00:00.000000000Z Starting kopia mover container\n"
        "2026-01-31T16:00:01.000000000Z Executing connection command...\n"
    )
    run = only_run(analyze([str(paste)], to="2026-01-31T20:00:00Z"))
    assert (run["outcome"], run["outcome_basis"]) == ("unknown", "end-not-seen")
    assert run["duration_is_lower_bound"]


def test_a_paste_ending_in_restic_fatal_is_failed_without_any_time(tmp_path):
    paste = tmp_path / "issue-comment.txt"
    paste.write_text("\n".join(text for _, _, text in RESTIC_FATAL) + "\n")
    run = only_run(analyze([str(paste)]))
    assert (run["outcome"], run["outcome_basis"]) == ("failed", "terminal-line")


def test_text_that_is_no_mover_output_makes_no_run(tmp_path):
    (tmp_path / "notes.txt").write_text("we saw a hang yesterday\nmaybe NFS?\n")
    assert analyze([str(tmp_path / "notes.txt")]).runs.height == 0


K9S_DONE = """2025-09-05T06:02:45.211453310Z kopia Retention policy applied successfully
2025-09-05T06:02:45.211803949Z kopia Kopia completed in 12s
2025-09-05T06:02:45.211866841Z kopia === Done ===
2025-09-05T08:15:12.304959797Z stream closed EOF for automation/volsync-src-home-assistant-nas-2rnkj (kopia)
"""
K9S_LOCKED = """Starting container
VolSync restic container version: unknown
Testing mandatory env variables
repo already locked, waiting up to 0s for the lock
unable to create lock in backend: repository is already locked exclusively by PID 48 on volsync-src-mealie-96mvk by  (UID 0, GID 0)
ERROR: failure checking existence of repository
Stream closed EOF for selfhosted/volsync-src-mealie-vrl4b (restic)
"""


def test_k9s_paste_names_its_pod_drops_the_container_column_and_ends_at_the_marker(tmp_path):
    """perfectra1n/volsync#8: the `stream closed` line carries the viewer's clock, hours later."""
    paste = tmp_path / "k9s.txt"
    paste.write_text(K9S_DONE)
    a = analyze([str(paste)])
    run = only_run(a)
    assert run["pod"] == "volsync-src-home-assistant-nas-2rnkj"
    assert run["namespace"] == "automation" and run["replication_source"] == "home-assistant-nas"
    assert (run["outcome"], run["outcome_basis"]) == ("completed", "end-marker")
    assert run["end"].isoformat().startswith("2025-09-05T06:02:45")
    assert run["lingered_s"] is None  # the viewer's clock is not the container's
    viewer = a.events.filter(pl.col("envelope") == "viewer")
    assert viewer.height == 1 and viewer["ts"][0] == run["end"]


def test_a_closed_stream_without_an_end_is_never_a_hang(tmp_path):
    paste = tmp_path / "k9s.txt"
    paste.write_text(
        "2025-09-05T06:00:00.000000000Z kopia Starting kopia mover container\n"
        "2025-09-05T06:00:01.000000000Z kopia Executing connection command...\n"
        "2025-09-05T08:15:12.304959797Z stream closed EOF for media/volsync-src-app-2rnkj (kopia)\n"
    )
    run = only_run(analyze([str(paste)], to="2025-09-05T12:00:00Z"))
    assert (run["outcome"], run["outcome_basis"]) == ("unknown", "end-not-seen")


def test_old_k9s_capitalised_line_names_the_pod_of_an_untimed_paste(tmp_path):
    """backube/volsync#1042: k9s < 0.32.6 wrote `Stream closed EOF`."""
    paste = tmp_path / "k9s.txt"
    paste.write_text(K9S_LOCKED)
    run = only_run(analyze([str(paste)]))
    assert run["pod"] == "volsync-src-mealie-vrl4b" and run["namespace"] == "selfhosted"
    assert (run["outcome"], run["exit_code"]) == ("failed", 3)


def test_an_error_glued_to_a_progress_line_is_its_own_row(tmp_path):
    """kopia/kopia#3432: the `\\r` before the final ERROR was lost in the paste."""
    paste = tmp_path / "paste.txt"
    paste.write_text(
        " | 0 hashing, 0 hashed (0 B), 1 cached (779.5 MB), uploaded 0 B, "
        "estimating...ERROR flush error: access denied\n"
    )
    events = analyze([str(paste)]).events
    assert events["message"].to_list()[-1] == "flush error: access denied"
    assert events["level"].to_list()[-1] == "ERROR"


def test_docker_compose_prefixes_are_a_column_and_restic_hints_stay_trailers(tmp_path):
    """lobaro/restic-backup-docker-like pastes: `<service>-1  | ` before every line."""
    paste = tmp_path / "compose.txt"
    paste.write_text(
        "backup-1  | Starting container\n"
        "backup-1  | Fatal: unable to open config file: Stat: The specified key does not exist.\n"
        "backup-1  | Is there a repository at the following location?\n"
        "backup-1  | s3:https://s3.example.com/backups\n"
    )
    run = only_run(analyze([str(paste)]))
    assert (run["outcome"], run["outcome_basis"]) == ("failed", "terminal-line")
    assert run["terminal_line"].startswith("Fatal: unable to open config file")


def test_a_go_cli_exit_message_is_terminal_but_an_error_before_silence_is_not_one(tmp_path):
    """The reference incident: `ERROR Cannot determine current user` and then a deadlock."""
    pod(
        tmp_path,
        "volsync-src-app-aaaaa",
        [
            (0.0, "stdout", "Starting kopia mover container"),
            (0.31, "stdout", "Executing connection command..."),
            (0.4, "stderr", "ERROR Cannot determine current user: user: unknown userid 1000"),
        ],
    )
    run = only_run(analyze([str(tmp_path)], to="2026-01-31T20:00:00Z"))
    assert run["outcome"] == "hung" and run["terminal_line"] is None
    paste = tmp_path / "kopiaui.txt"
    paste.write_text("Error: error flushing writer: error writing pack: access denied\n")
    assert only_run(analyze([str(paste)]))["outcome"] == "failed"


def test_an_error_and_then_silence_is_neither_a_hang_nor_a_failure(tmp_path):
    pod(
        tmp_path,
        "volsync-src-app-aaaaa",
        [
            (0.0, "stdout", "Starting kopia mover container"),
            (6.0, "stdout", "Snapshotting app@media:/data ..."),
            (9.0, "stderr", "ERROR error reading directory /data/db: input/output error"),
        ],
    )
    run = only_run(analyze([str(tmp_path)], to="2026-01-31T20:00:00Z"))
    assert (run["outcome"], run["outcome_basis"]) == ("unknown", "error-then-silence")
    assert run["exit_code"] is None and run["duration_is_lower_bound"]


def test_a_later_pasted_command_does_not_hide_the_line_that_ended_the_run(tmp_path):
    """kopia/kopia#3459: the paste goes on with `$ kopia --version` after the final error."""
    paste = tmp_path / "shell.txt"
    paste.write_text(
        "Finished full maintenance.\n"
        "ERROR snapshot GC failure: error running snapshot gc: unable to find in-use content ID\n"
        "$ kopia --version\n"
        "0.15.0 build: dd1ebb11cfdb7902a2b87106dfeea038858bafb5 from: kopia/kopia\n"
    )
    run = only_run(analyze([str(paste)]))
    assert (run["outcome"], run["outcome_basis"]) == ("failed", "terminal-line")
    # a prompt before the command's own output ends nothing
    earlier = tmp_path / "init.txt"
    earlier.write_text(
        "root@foo:~# restic init\n"
        "create backend at s3:s3.amazonaws.com/foo/restic failed: client.BucketExists: Access Denied.\n"
    )
    assert only_run(analyze([str(earlier)]))["outcome"] == "failed"


def test_stern_output_names_pod_and_container_per_line(tmp_path):
    paste = tmp_path / "stern.txt"
    paste.write_text(
        "volsync-src-app-2rnkj kopia Starting kopia mover container\n"
        "volsync-src-app-2rnkj kopia Executing connection command...\n"
        "volsync-src-app-2rnkj kopia Kopia completed in 12s\n"
        "volsync-src-app-2rnkj kopia === Done ===\n"
    )
    run = only_run(analyze([str(paste)]))
    assert run["pod"] == "volsync-src-app-2rnkj" and run["replication_source"] == "app"
    assert (run["outcome"], run["duration_s"]) == ("completed", 12.0)
