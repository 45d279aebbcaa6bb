"""The bundled example corpus as the tests and benchmarks read it: where it is, which of its files
Loki would have (pod output only), its window and fix time, and what two readings must agree on.
"""

from __future__ import annotations

from pathlib import Path

from analyzer.report import to_json

#: The repository root, and its bundled example incident.
REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
#: The pod logs (Loki ships pod output only, not Kopia's own log files on the cache volume); the
#: Kubernetes dumps name the namespace of the pods saved with `kubectl logs`.
POD_LOGS = [str(EXAMPLES / "logs" / d) for d in ("nodes", "kubectl", "kube")]
WINDOW = {"from_": "2026-01-28T00:00:00Z", "to": "2026-02-01T00:00:00Z"}
FIX = "2026-01-29T18:00:00Z"


def comparable(analysis) -> dict:
    """The JSON output without `inputs`: what files and Loki must agree on for the same lines."""
    data = to_json(analysis)
    data.pop("inputs")
    return data
