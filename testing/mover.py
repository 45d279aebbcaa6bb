"""What the VolSync Kopia mover prints: the fork's entry.sh lines for a run, as (stream, text)."""

from __future__ import annotations


def mover_run_lines(
    rs: str, namespace: str, *, failed: bool, progress: int
) -> list[tuple[str, str]]:
    """(stream, line) pairs of one Kopia mover backup run, as the fork's entry.sh prints them."""
    ident = f"{rs}@{namespace}"
    out = [("stdout", "Starting kopia mover container"), ("stdout", "")]
    out += [("stdout", "INFO: VolSync kopia container version: v0.14.0")]
    out += [
        ("stdout", "INFO: Arguments: backup"),
        ("stdout", "INFO: Setting cache directory: /cache"),
    ]
    out += [("stdout", "INFO: Creating cache and log directories...")]
    out += [("stdout", "INFO: Cache and log directories created successfully")]
    out += [("stdout", "=== DEBUG: Environment Setup ==="), ("stdout", "HOME: /")]
    if failed:
        out += [
            ("stderr", "whoami: cannot find name for user ID 1000"),
            ("stdout", "Current user: "),
        ]
    else:
        out += [("stdout", "Current user: kopia")]
    out += [("stdout", "Current working directory: /"), ("stdout", "Cache directory writable: Yes")]
    for var in ("KOPIA_REPOSITORY", "KOPIA_PASSWORD", "AWS_ACCESS_KEY_ID", "KOPIA_S3_BUCKET"):
        out.append(("stdout", f"{var}: [SET]"))
    out += [("stdout", "=== END DEBUG ==="), ("stdout", "INFO: === Checking Kopia Version ===")]
    out += [("stdout", "0.22.3 build: 5aa12a71 from: kopia/kopia")]
    out += [
        ("stdout", "TIMING: Kopia version check took 0 seconds"),
        ("stdout", "====================="),
    ]
    out += [("stdout", "Testing mandatory env variables")]
    out += [("stdout", "INFO: === Starting kopia operations ===")]
    out += [("stdout", "INFO: Operation mode: command-based")]
    out += [("stdout", "INFO: === Starting repository connection process ===")]
    out += [("stdout", "INFO: Checking existing repository connection status...")]
    out += [("stdout", "TIMING: Repository status check took 1 seconds (not connected)")]
    out += [
        ("stdout", "Connecting to S3 repository"),
        ("stdout", "Executing connection command..."),
    ]
    if failed:
        out += [("stderr", "Cannot determine current user: user: unknown userid 1000")]
    out += [("stdout", "Connected to repository.")]
    out += [("stdout", f"INFO: Setting client identity to '{ident}'")]
    out += [("stdout", f"INFO:  Client identity set successfully to {ident}")]
    out += [("stdout", "TIMING: Total repository connection process took 3 seconds")]
    out += [("stdout", "INFO: === Starting backup operation ===")]
    out += [("stdout", f"INFO: Creating snapshot for {ident}:/data")]
    out += [("stdout", "INFO: Starting kopia snapshot creation...")]
    out += [("stdout", f"Snapshotting {ident}:/data ...")]
    for step in range(progress):
        pct = 100.0 * (step + 1) / progress
        out.append(
            ("stdout", f" | 0 hashing, {step * 13} hashed (1.{step % 10} GB), 40211 cached "
             f"(18.4 GB), uploaded {step * 0.03:.2f} GB, estimated 20.5 GB ({pct:.1f}%) 1s left")
        )  # fmt: skip
    if failed:
        out += [
            ("stderr", "error creating snapshot: unable to get local user: unknown userid 1000")
        ]
        out += [("stdout", "TIMING: Snapshot creation failed after 63 seconds")]
        out += [("stdout", ""), ("stdout", "ERROR: Failed to create snapshot")]
    else:
        out += [("stdout", "Created snapshot with root k5f3d0c2 and ID 7c9e4b1d in 1m2s")]
        out += [("stdout", "TIMING: Snapshot creation completed in 63 seconds")]
        out += [("stdout", "INFO: Snapshot created successfully")]
        out += [("stdout", "=== Applying retention policy ===")]
        out += [("stdout", "Retention policy applied successfully")]
    out += [
        ("stdout", "INFO: === OPERATION SUMMARY ==="),
        ("stdout", "INFO: OPERATION_TYPE: unknown"),
    ]
    out += [("stdout", f"INFO: OPERATION_RESULT: {'FAILURE' if failed else 'SUCCESS'}")]
    out += [("stdout", f"INFO: EXIT_CODE: {1 if failed else 0}"), ("stdout", "INFO: === Done ===")]
    return out
