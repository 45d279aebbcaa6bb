"""Shared fixtures: write realistic log files (formats.md) into tmp dirs for the pipeline."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path

from testing.examples import EXAMPLES as EXAMPLES  # re-exported for the tests
from testing.examples import REPO as REPO
from testing.mover import abridged_backup
from testing.write import cri_records as cri_records  # re-exported for the tests


def cri_dir(
    root: Path,
    namespace: str,
    pod: str,
    container: str,
    uid: str = "0f4c7b1e-2a3d-4c5b-8e9f-a1b2c3d4e5f6",
) -> Path:
    """`/var/log/pods/<ns>_<pod>_<uid>/<container>/` under root."""
    d = root / "var" / "log" / "pods" / f"{namespace}_{pod}_{uid}" / container
    d.mkdir(parents=True, exist_ok=True)
    return d


def write_lines(path: Path, lines: list[str], *, gz: bool = False) -> Path:
    data = ("\n".join(lines) + "\n").encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path.write_bytes(gzip.compress(data, mtime=0))
    else:
        path.write_bytes(data)
    return path


#: When the synthetic pods of the unit tests start.
T0 = datetime(2026, 1, 31, 16, 0, 3, 412000, tzinfo=UTC)


def hung_then_healthy(root: Path, hung_lines: list | None = None) -> Path:
    """A ReplicationSource whose first pod hangs after connecting and whose replacement, 50
    minutes later, completes: the smallest incident."""
    d = cri_dir(root, "media", "volsync-src-recyclarr-aaaaa", "kopia")
    write_lines(d / "0.log", cri_records(T0, hung_lines or HUNG_BACKUP))
    d = cri_dir(
        root,
        "media",
        "volsync-src-recyclarr-bbbbb",
        "kopia",
        uid="11111111-2222-3333-4444-555555555555",
    )
    write_lines(d / "0.log", cri_records(T0 + timedelta(minutes=50), HEALTHY_BACKUP))
    return root


def one_line_error(result, *needles: str) -> str:
    """A CLI result that failed as a usage error should: exit 2, one stderr line, no traceback,
    naming each of `needles`."""
    assert result.exit_code == 2, result.output
    err = result.stderr.strip()
    assert "\n" not in err and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


# A healthy v3 backup (formats.md §3.2, §8.3): (seconds after the pod started, stream, text).
HEALTHY_BACKUP = abridged_backup("recyclarr@media", "v0.17.7-cgo-fix-v2")
# A v3 backup that deadlocks in the user lookup: connect starts, then nothing.
HUNG_BACKUP = abridged_backup(version="0.17.7", hung=True)


# Hypothesis profiles. `ci` (the default) is derandomized and bounded so CI runs the same examples
# every time; a longer, randomized search is one flag away:
#   python -m pytest tests/test_properties.py --hypothesis-profile=long
# (or HYPOTHESIS_PROFILE=long). Tests that scale their example count read
# `settings.default.max_examples`, so `long` multiplies them all.
def _register_hypothesis_profiles() -> None:
    import os

    from hypothesis import HealthCheck, settings

    slow_ok = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]
    settings.register_profile(
        "ci",
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=100,
        print_blob=True,
        suppress_health_check=slow_ok,
    )
    settings.register_profile(
        "long", deadline=None, max_examples=2000, print_blob=True, suppress_health_check=slow_ok
    )
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


_register_hypothesis_profiles()
