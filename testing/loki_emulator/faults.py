"""Fault injection: rules that pick requests and answer them with an error status, a delay, a cut
or malformed body, or a dropped connection.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .api import QUERY_RANGE


@dataclass(frozen=True)
class RequestInfo:
    """What a fault rule sees of a request."""

    index: int
    method: str
    path: str
    params: Mapping[str, str]
    headers: Mapping[str, str]


@dataclass(frozen=True)
class Fault:
    """What to do instead of (or before) answering normally."""

    status: int | None = None  # answer with this status and `body` (text/plain)
    body: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # sleep first, then go on (with the other fields, or normally)
    truncate: bool = False  # announce the full Content-Length, send half the body, close
    malformed: bool = False  # 200 with half the JSON body and a matching Content-Length
    drop: bool = False  # close the connection without any response

    @classmethod
    def http(cls, status: int, body: str = "", **headers: str) -> Fault:
        """An HTTP error such as 429 `too many outstanding requests` or 503."""
        default = {429: "too many outstanding requests", 500: "internal server error"}
        default |= {502: "bad gateway", 503: "service unavailable", 504: "request timed out"}
        return cls(status=status, body=body or default.get(status, "error"), headers=headers)


FaultRule = Callable[[RequestInfo], Fault | None]


def _is_query(info: RequestInfo, path: str | None) -> bool:
    return path is None or info.path == path


def fail_first(n: int, fault: Fault, path: str | None = QUERY_RANGE) -> FaultRule:
    """Apply `fault` to the first `n` requests to `path`."""
    state = {"seen": 0}
    lock = threading.Lock()

    def rule(info: RequestInfo) -> Fault | None:
        if not _is_query(info, path):
            return None
        with lock:
            state["seen"] += 1
            return fault if state["seen"] <= n else None

    return rule


def fail_share(share: float, fault: Fault, seed: int = 0, path: str | None = QUERY_RANGE):
    """Apply `fault` to a fixed pseudo-random share of the requests to `path`."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def rule(info: RequestInfo) -> Fault | None:
        if not _is_query(info, path):
            return None
        with lock:
            return fault if rng.random() < share else None

    return rule


def fail_when(predicate: Callable[[RequestInfo], bool], fault: Fault, times: int | None = None):
    """Apply `fault` to requests the predicate selects, at most `times` times (None: always)."""
    state = {"left": times}
    lock = threading.Lock()

    def rule(info: RequestInfo) -> Fault | None:
        if not predicate(info):
            return None
        with lock:
            if state["left"] is None:
                return fault
            if state["left"] <= 0:
                return None
            state["left"] -= 1
            return fault

    return rule
