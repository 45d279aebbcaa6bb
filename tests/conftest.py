"""Shared fixtures: write realistic log files (formats.md) into tmp dirs for the pipeline."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


def cri_dir(root: Path, namespace: str, pod: str, container: str, uid: str = "0f4c7b1e-2a3d-4c5b-8e9f-a1b2c3d4e5f6") -> Path:
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


@pytest.fixture
def tmp_logs(tmp_path: Path) -> Path:
    return tmp_path
