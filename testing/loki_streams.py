"""Mover output as Loki streams, labelled as Promtail or Alloy ship it (formats.md §6.4), and the
line filters the pushdown tests and benchmark send.
"""

from __future__ import annotations

import random

import polars as pl

from .loki_emulator import HOUR_NS, NS, EntryIn, Stream
from .mover import mover_run_lines

_NAMESPACES = ("media", "home", "databases", "apps")
#: Substrings of the lines a postmortem needs: what pushdown must keep and full downloads filter.
FILTERS = [
    "Cannot determine current user",
    "ERROR:",
    "OPERATION_RESULT",
    "=== Done ===",
    "Starting kopia mover container",
]


def mover_streams(
    *,
    apps: int = 4,
    runs: int = 3,
    start_ns: int,
    every_ns: int = HOUR_NS,
    collector: str = "promtail",
    failure_share: float = 0.2,
    progress: tuple[int, int] = (5, 30),
    seed: int = 7,
) -> list[Stream]:
    """One backup pod per app and run, labelled as Promtail or Alloy would label it."""
    rng = random.Random(seed)
    streams: list[Stream] = []
    for app in range(apps):
        rs, namespace = f"app{app:02d}", _NAMESPACES[app % len(_NAMESPACES)]
        for run in range(runs):
            pod = f"volsync-src-{rs}-" + "".join(rng.choices("bcdfghjklmnpqrstvwxz2456789", k=5))
            failed = rng.random() < failure_share
            lines = mover_run_lines(rs, namespace, failed=failed, progress=rng.randint(*progress))
            ts = start_ns + run * every_ns + app * 7 * NS + rng.randint(0, 5 * NS)
            by_stream: dict[str, list[EntryIn]] = {}
            for stream, line in lines:
                ts += rng.randint(1_000, 900_000_000)
                by_stream.setdefault(stream, []).append((ts, line))
            streams += _labelled(collector, namespace, rs, pod, by_stream)
    return streams


def _labelled(collector: str, namespace: str, rs: str, pod: str, by_stream) -> list[Stream]:
    out = []
    for stream, entries in by_stream.items():
        if collector == "alloy":  # pod and stream become structured metadata (formats.md §6.4)
            labels = {"namespace": namespace, "container": "kopia", "job": f"{namespace}/kopia"}
            labels["service_name"] = pod
            out.append(Stream(labels, entries, {"pod": pod, "stream": stream}))
        else:
            labels = {"namespace": namespace, "pod": pod, "container": "kopia", "stream": stream}
            labels |= {"app": f"volsync-src-{rs}", "job": f"{namespace}/volsync-src-{rs}"}
            labels["node_name"] = "node-1"
            out.append(Stream(labels, entries))
    return out


def promtail_streams(events: pl.DataFrame) -> list[tuple[dict, list]]:
    """One Loki stream per (pod, container, stream) of an events frame, labelled as Promtail's
    Helm chart does."""
    out = []
    for (ns, pod, container, stream), group in events.group_by(
        ["namespace", "pod", "container", "stream"], maintain_order=True
    ):
        app = pod.rsplit("-", 1)[0]
        labels = {
            "namespace": ns,
            "pod": pod,
            "container": container or "kopia",
            "app": app,
            "job": f"{ns}/{app}",
            "node_name": "k8s-w1",
            "stream": stream or "stdout",
        }
        entries = list(
            zip(group["ts"].cast(pl.Int64).to_list(), group["message"].to_list(), strict=True)
        )
        out.append((labels, entries))
    return out
