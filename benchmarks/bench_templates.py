"""Template mining: polars masking (`analyzer.templates.mine`) against drain3's Drain.

Two generated corpora of problem lines whose true kind is known:

* small: ~400 lines over 8 kinds taken from formats.md (a few bad nights of one cluster);
* large: >= 200,000 lines over 40 kinds with varying ids, paths, pods, times, sizes, some kinds
  differing in one or two words only, some carrying a variable word that no mask knows (bucket and
  DNS names), a few paths with spaces; kind sizes follow a Zipf-like law (a few kinds dominate).

Methods: `mine` (polars masking + group_by); Drain (drain3 `TemplateMiner`, default config);
Drain with masking instructions equivalent to ours; and "mask + Drain": our masking, then Drain
over the distinct masked templates only (to merge templates that differ in an unmasked word).

Quality against the true kind: number of templates, kinds recovered exactly (one template holding
all of the kind's lines and nothing else), templates mixing kinds, homogeneity, completeness,
V-measure, adjusted Rand index (all by hand). Speed: wall time and lines/s, same process.

Run:  python benchmarks/bench_templates.py [--lines 200000] [--seed 1] [--skip-drain]
"""

from __future__ import annotations

import argparse
import logging
import math
import random
import statistics
import string
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analyzer.events import EVENTS_SCHEMA, conform  # noqa: E402
from analyzer.templates import (  # noqa: E402
    group_key_expr,
    mine,
    problem_lines,
    template_expr,
)

T0 = datetime(2026, 2, 1, tzinfo=UTC)
RSS = ("photos", "media", "paperless", "immich-db", "home-assistant", "nextcloud", "gitea", "vault")
K8S = "bcdfghjklmnpqrstvwxz2456789"
BUCKETS = ("media-backups", "volsync-kopia", "homelab-offsite")
HOSTS = ("minio.backup.svc", "s3.internal.lan", "nas.local", "truenas.home.arpa")


# --------------------------------------------------------------------------------------------
# Generators of realistic values


class Gen:
    """Random values for the `{placeholders}` of a kind's line; a name repeated in one line gets
    the same value (`write {blob}.tmp.{hex16}` after `PutBlobInPath:{blob}`)."""

    def __init__(self, rng: random.Random) -> None:
        self.r = rng

    def hex(self, n: int) -> str:
        return "".join(self.r.choice("0123456789abcdef") for _ in range(n))

    def hex16(self) -> str:
        return self.hex(16)

    def hex32(self) -> str:
        return self.hex(32)

    def rs(self) -> str:
        return self.r.choice(RSS)

    def pod(self, rs: str | None = None) -> str:
        suffix = "".join(self.r.choice(K8S) for _ in range(5))
        return f"volsync-src-{rs or self.rs()}-{suffix}"

    def blob(self) -> str:
        b = self.r.choice("pq") + self.hex(32)
        return f"/repository/{b[:3]}/{b[3:6]}/{b}.f"

    def dir(self) -> str:
        top = self.r.choice(["photos", "media", "docs", "db"])
        leaf = f"{self.r.choice(['trip', 'img', 'x'])}-{self.r.randint(1, 999)}"
        path = f"/data/{top}/{self.r.randint(2015, 2026)}/{leaf}"
        if self.r.random() < 0.03:  # a few real-world paths with a space
            path = path.replace("/photos/", "/My Photos/")
        return path

    def rel(self) -> str:
        top = self.r.choice(["photos", "docs"])
        return f"{top}/{self.r.randint(2015, 2026)}/IMG_{self.r.randint(1000, 9999)}.jpg"

    def dur(self) -> str:
        r = self.r
        return r.choice(
            [
                f"{r.randint(1, 900)}ms",
                f"{r.randint(1, 59)}s",
                f"{r.randint(1, 59)}m{r.randint(0, 59)}.{r.randint(1, 999)}s",
            ]
        )

    def ago(self) -> str:
        r = self.r
        return f"{r.randint(1, 30)}h{r.randint(0, 59)}m{r.randint(0, 59)}.{r.randint(1, 10**9)}s"

    def ip(self) -> str:
        r = self.r
        return f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"

    def ts(self) -> str:
        t = T0 + timedelta(
            seconds=self.r.randint(0, 30 * 86400), microseconds=self.r.randint(0, 10**6 - 1)
        )
        return t.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " +0000 UTC"

    def ts2(self) -> str:
        return self.ts()

    def second(self) -> str:
        return self.ts()[:19]

    def xn(self) -> str:
        return f"xn{self.r.randint(0, 400)}_{self.hex(32)}-c1"

    def n(self) -> int:
        return self.r.randint(1, 50)

    def blobs(self) -> int:
        return self.r.randint(1000, 40000)

    def pid(self) -> int:
        return self.r.randint(2, 999)

    def uid(self) -> int:
        return self.r.choice([568, 1000, 1001, 65534])

    def code(self) -> int:
        return self.r.choice([1, 2, 3, 137])

    def retries(self) -> int:
        return self.r.choice([5, 10])

    def pct(self) -> int:
        return self.r.randint(80, 99)

    def gi(self) -> int:
        return self.r.choice([1, 2, 4, 8, 16])

    def ns(self) -> str:
        return self.r.choice(["apps", "media", "home"])

    def cachedir(self) -> str:
        return self.r.choice(["contents", "metadata", "indexes"])

    def bucket(self) -> str:  # a variable word no mask knows
        return self.r.choice(BUCKETS)

    def host(self) -> str:  # a variable word no mask knows
        return self.r.choice(HOSTS)

    def fill(self, template: str) -> str:
        names = {f for _, f, _, _ in string.Formatter().parse(template) if f}
        return template.format(**{name: getattr(self, name)() for name in names})


#: (true kind, level, stream, line with {placeholders} filled by `Gen`). Pairs that differ in one
#: or two words: putblob-readonly/-nospace, readdir-io/-denied, whoami/id-cmd,
#: unknown-userid/-groupid, create-snapshot/-repo-failed, dial-refused/-timeout, ...
KINDS: list[tuple[str, str | None, str | None, str]] = [
    (
        "putblob-readonly",
        None,
        "stderr",
        "unable to complete PutBlobInPath:{blob} despite 2 "
        "retries: can't write temporary file: write {blob}.tmp.{hex16}: read-only file system",
    ),
    (
        "putblob-nospace",
        None,
        "stderr",
        "unable to complete PutBlobInPath:{blob} despite 2 "
        "retries: can't write temporary file: write {blob}.tmp.{hex16}: no space left on device",
    ),
    (
        "deleteblob-readonly",
        None,
        "stderr",
        "unable to complete DeleteBlobInPath:{blob} despite "
        "10 retries: remove {blob}: read-only file system",
    ),
    (
        "shards-denied",
        None,
        "stdout",
        "error connecting to repository: unable to read format "
        "blob: error determining sharded path: error getting sharding parameters for storage: "
        "unable to complete GetBlobFromPath:/mnt/{rs}/.shards despite 10 retries: open "
        "/mnt/{rs}/.shards: permission denied",
    ),
    (
        "retry-denied",
        "DEBUG",
        None,
        "got error open {blob}: permission denied when "
        "GetBlobFromPath:{blob} (#{n}), sleeping for {dur} before retrying",
    ),
    ("readdir-io", "ERROR", None, "error reading directory {dir}: input/output error"),
    ("readdir-denied", "ERROR", None, "error reading directory {dir}: permission denied"),
    (
        "processing-error",
        None,
        "stderr",
        'Error when processing "{rel}": open /data/{rel}: permission denied',
    ),
    (
        "processing-ignored",
        None,
        "stderr",
        'Ignored error when processing "{rel}": open /data/{rel}: permission denied',
    ),
    (
        "quick-maint-failed",
        "WARN",
        "stdout",
        "WARN: Quick maintenance failed (exit code {code}), continuing with full maintenance...",
    ),
    (
        "full-maint-failed",
        "ERROR",
        "stdout",
        "ERROR: Kopia maintenance run --full failed with exit code {code}",
    ),
    (
        "clock-skew",
        None,
        "stderr",
        "error running maintenance: error checking for clock skew: "
        "clock skew detected: local clock is out of sync with repository timestamp by more than "
        "allowed 5m0s (local: {ts} repository: {ts2} skew: {dur}). Refusing to run maintenance.",
    ),
    (
        "dial-refused",
        None,
        "stderr",
        "error connecting to repository: unable to open storage: "
        "dial tcp {ip}:9000: connect: connection refused",
    ),
    (
        "dial-timeout",
        None,
        "stderr",
        "error connecting to repository: unable to open storage: dial tcp {ip}:9000: i/o timeout",
    ),
    (
        "dns",
        None,
        "stderr",
        "error connecting to repository: unable to open storage: dial tcp: "
        "lookup {host} on {ip}:53: no such host",
    ),
    (
        "bucket-missing",
        None,
        "stderr",
        "error connecting to repository: unable to open storage: bucket {bucket} does not exist",
    ),
    (
        "index-bloat",
        "ERROR",
        None,
        "Found too many index blobs ({blobs}), this may result in degraded performance.",
    ),
    (
        "mmap",
        None,
        "stderr",
        'error loading indexes: unable to open pack index "{xn}": mmap error: invalid argument',
    ),
    (
        "invalid-header",
        None,
        "stderr",
        'error loading indexes: unable to open pack index "{xn}": '
        "error openind index from /cache/indexes/{xn}.sndx: invalid header: invalid header",
    ),
    (
        "restic-lock",
        None,
        "stdout",
        "unable to create lock in backend: repository is already "
        "locked exclusively by PID {pid} on {pod} by  (UID 0, GID 0)",
    ),
    ("restic-lock-created", None, "stderr", "lock was created at {second} ({ago} ago)"),
    ("whoami", None, "stderr", "whoami: cannot find name for user ID {uid}"),
    ("id-cmd", None, "stderr", "id: cannot find name for user ID {uid}"),
    ("unknown-userid", "ERROR", None, "Cannot determine current user: user: unknown userid {uid}"),
    (
        "unknown-groupid",
        "ERROR",
        None,
        "Cannot determine current user: group: unknown groupid {uid}",
    ),
    ("not-owner", None, "stderr", "maintenance must be run by designated user: {rs}@{ns}"),
    (
        "owner-differs",
        "WARN",
        "stdout",
        "WARN: Repository has different maintenance owner: nobody@{pod}",
    ),
    ("cache-warning", "WARN", "stdout", "WARN: CACHE_EXHAUSTION_WARNING: Cache usage at {pct}%"),
    (
        "emptydir-evicted",
        "WARN",
        None,
        'Usage of EmptyDir volume "cache" exceeds the limit "{gi}Gi". ',
    ),
    (
        "flush-blob-not-found",
        None,
        "stderr",
        "error flushing contents: error flushing indexes: "
        "error writing index blob: error writing index blob: unable to complete "
        "WriteTemporaryFileAndCreateParentDirs despite {retries} retries: BLOB not found",
    ),
    ("fatal-errors", "ERROR", None, "Found {n} fatal error(s) while snapshotting {rs}@apps:/data."),
    ("ignored-errors", "WARN", None, "Ignored {n} error(s) while snapshotting {rs}@apps:/data."),
    ("restore-failed", "ERROR", "stdout", "ERROR: Failed to restore snapshot: {hex32}"),
    ("create-snapshot-failed", "ERROR", "stdout", "ERROR: Failed to create snapshot"),
    ("create-repo-failed", "ERROR", "stdout", "ERROR: Failed to create repository"),
    ("cache-dir-failed", "ERROR", "stdout", "ERROR: Failed to set cache directory"),
    (
        "deadline",
        None,
        "stderr",
        "error running maintenance: error running snapshot gc: unable "
        "to find in-use content ID: context deadline exceeded after {dur}",
    ),
    (
        "cache-busy",
        "ERROR",
        None,
        "unable to remove cache directory: unlinkat /cache/{cachedir}: device or resource busy",
    ),
    ("sigterm", "WARN", "stdout", "WARN: Received SIGTERM signal - pod is being terminated"),
    (
        "stale-handle",
        None,
        "stderr",
        "unable to complete GetMetadataFromPath:{blob} despite 10 "
        "retries: stat {blob}: stale file handle",
    ),
]

SMALL_KINDS = (
    "putblob-readonly",
    "shards-denied",
    "readdir-io",
    "quick-maint-failed",
    "dial-refused",
    "restic-lock",
    "whoami",
    "create-snapshot-failed",
)


def corpus(n_lines: int, kinds: list, seed: int) -> tuple[pl.DataFrame, list[str]]:
    """Events (canonical schema) of `n_lines` problem lines, and the true kind of each."""
    rng = random.Random(seed)
    g = Gen(rng)
    weights = [1 / (i + 1) ** 1.1 for i in range(len(kinds))]
    rng.shuffle(weights)
    # Every kind gets at least a handful of lines; the rest is drawn Zipf-like.
    picks = [i for i in range(len(kinds)) for _ in range(5)]
    picks += rng.choices(range(len(kinds)), weights=weights, k=n_lines - len(picks))
    rng.shuffle(picks)
    rows: dict[str, list] = {c: [] for c in ("ts", "pod", "level", "stream", "message")}
    truth: list[str] = []
    for j, i in enumerate(picks):
        name, level, stream, template = kinds[i]
        rows["ts"].append(T0 + timedelta(seconds=j * 7))
        rows["pod"].append(g.pod(RSS[i % len(RSS)]))
        rows["level"].append(level)
        rows["stream"].append(stream)
        rows["message"].append(g.fill(template))
        truth.append(name)
    events = conform(pl.DataFrame(rows, schema_overrides={"ts": EVENTS_SCHEMA["ts"]}))
    return events, truth


# --------------------------------------------------------------------------------------------
# Quality measures (by hand, no sklearn)


def _entropy(counts) -> float:
    n = sum(counts)
    return -sum(c / n * math.log(c / n) for c in counts if c)


def quality(truth: list[str], pred: list) -> dict[str, float]:
    df = pl.DataFrame({"k": truth, "c": [str(p) for p in pred]})
    n = df.height
    joint = df.group_by("k", "c").len()
    k_sizes = df.group_by("k").len()["len"].to_list()
    c_sizes = df.group_by("c").len()["len"].to_list()
    h_k, h_c = _entropy(k_sizes), _entropy(c_sizes)
    # H(K|C) and H(C|K) from the joint table.
    jc = joint.join(df.group_by("c").len().rename({"len": "nc"}), on="c")
    jk = joint.join(df.group_by("k").len().rename({"len": "nk"}), on="k")
    h_k_c = -sum(r["len"] / n * math.log(r["len"] / r["nc"]) for r in jc.iter_rows(named=True))
    h_c_k = -sum(r["len"] / n * math.log(r["len"] / r["nk"]) for r in jk.iter_rows(named=True))
    homogeneity = 1.0 if h_k == 0 else 1 - h_k_c / h_k
    completeness = 1.0 if h_c == 0 else 1 - h_c_k / h_c
    v = (
        0.0
        if homogeneity + completeness == 0
        else (2 * homogeneity * completeness / (homogeneity + completeness))
    )

    def pairs(x: int) -> int:
        return x * (x - 1) // 2

    index = sum(pairs(x) for x in joint["len"].to_list())
    sum_k = sum(pairs(x) for x in k_sizes)
    sum_c = sum(pairs(x) for x in c_sizes)
    expected = sum_k * sum_c / pairs(n)
    maximum = (sum_k + sum_c) / 2
    ari = 1.0 if maximum == expected else (index - expected) / (maximum - expected)
    # Kinds recovered exactly: one template holds every line of the kind and nothing else.
    per_c = joint.group_by("c").agg(kinds=pl.len(), k=pl.col("k").first())
    pure = set(per_c.filter(pl.col("kinds") == 1)["c"].to_list())
    per_k = joint.group_by("k").agg(templates=pl.len(), c=pl.col("c").first())
    exact = per_k.filter((pl.col("templates") == 1) & pl.col("c").is_in(list(pure))).height
    merged = (
        joint.group_by("c")
        .agg(pl.col("k").sort())
        .filter(pl.col("k").list.len() > 1)["k"]
        .to_list()
    )
    split = per_k.filter(pl.col("templates") > 1).sort("k")
    return {
        "merged": sorted(" + ".join(k) for k in merged),
        "split": [f"{k} ({n})" for k, n in split.select("k", "templates").iter_rows()],
        "templates": len(c_sizes),
        "kinds": len(k_sizes),
        "exact": exact,
        "mixed": per_c.filter(pl.col("kinds") > 1).height,
        "homogeneity": homogeneity,
        "completeness": completeness,
        "v": v,
        "ari": ari,
    }


# --------------------------------------------------------------------------------------------
# Methods


REPEAT = 3


def run_mine(events: pl.DataFrame, repeat: int = REPEAT) -> tuple[list[str], float, int]:
    """Per-line template keys of `mine`'s grouping, and the median wall time of `mine` itself."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        mined = mine(events, None)
        times.append(time.perf_counter() - t)
    lines = problem_lines(events, None)
    assert lines.height == events.height, "every generated line must be a problem line"
    keys = lines.select(group_key_expr(template_expr("message")))["message"].to_list()
    assert mined["count"].sum() == len(keys) and mined.height == len(set(keys))
    return keys, statistics.median(times), mined.height


# Our masks in Python `re` syntax (drain3 masks with Python regexes; whole match replaced).
PY_MASKS = [
    (
        r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2})?(?:[.,]\d+)?)?(?:Z|\s?[+-]\d{2}:?\d{2})?"
        r"(?: (?:UTC|GMT|[A-Z]{1,2}[SD]T|CES?T|EES?T|WES?T|MSK))?\b",
        "TS",
    ),
    (r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b", "TS"),
    (r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]*[^\s\"'<>.,;:!?)\]]", "URL"),
    (r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", "UUID"),
    (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b", "IP"),
    (r"\[[0-9a-fA-F:.]*:[0-9a-fA-F:.%\w]*\](?::\d{1,5})?", "IP"),
    (r"\b\w[\w.-]*@\w[\w.-]*\w", "ID"),
    (r"\bvolsync-(?:src|dst)-[a-z0-9][a-z0-9.-]*?-[bcdfghjklmnpqrstvwxz2456789]{5}\b", "POD"),
    (
        r"\bkopia-maint-(?:manual-)?[a-z0-9][a-z0-9.-]*?-[0-9a-f]{16}(?:-\d+)?"
        r"(?:-[bcdfghjklmnpqrstvwxz2456789]{5})?\b",
        "POD",
    ),
    (r"(?:(?<=[\s:=(\[{,'\"])|^)/(?:[^\s:'\",;)\]}]|:[^\s'\",;)\]}])*", "PATH"),
    (r"\"[^\"\s/]*/[^\"\s]*\"", "PATH"),
    (r"\b(?:[pq][0-9a-f]{32}|xn\d+_[0-9a-f]{8,}(?:-[0-9a-z]+)*|_log_\w+)\b", "ID"),
    (r"\b\d+(?:\.\d+)?(?:ns|us|µs|ms|h|m|s)(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|h|m|s))*\b", "DUR"),
    (r"\b\d+(?:\.\d+)?\s?(?:[kKMGTPE]i?B|B|bytes|[KMGTPE]i)\b", "SIZE"),
    (r"\bv?\d+(?:[.,]\d+)*\b", "NUM"),
    (r"\b\w*?(?:[0-9a-f]{8,}|[0-9A-F]{8,})\w*", "ID"),
    (r"\b(?=[A-Za-z0-9]*\d)[A-Za-z0-9]{10,}\b", "ID"),
]


def drain_miner(masked: bool, sim_th: float | None = None):
    from drain3 import TemplateMiner
    from drain3.masking import MaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()  # the defaults: sim_th 0.4, depth 4, max_children 100
    if sim_th is not None:
        config.drain_sim_th = sim_th
    if masked:
        config.masking_instructions = [MaskingInstruction(p, k) for p, k in PY_MASKS]
    return TemplateMiner(config=config)


def run_drain(
    messages: list[str], masked: bool, sim_th: float | None = None
) -> tuple[list[int], float, int]:
    """Drain's cluster of each line as it is added (one run: Drain is the slow side)."""
    miner = drain_miner(masked, sim_th)
    t = time.perf_counter()
    ids = [miner.add_log_message(m)["cluster_id"] for m in messages]
    return ids, time.perf_counter() - t, len(miner.drain.clusters)


def run_mask_then_drain(events: pl.DataFrame, keys: list[str]) -> tuple[list[int], float, int]:
    """Our masking (`mine`), then Drain over the distinct masked templates only."""
    times = []
    for _ in range(REPEAT):
        t = time.perf_counter()
        mine(events, None)
        miner = drain_miner(masked=False)
        distinct = list(dict.fromkeys(keys))
        cluster = {k: miner.add_log_message(k)["cluster_id"] for k in distinct}
        times.append(time.perf_counter() - t)
    return [cluster[k] for k in keys], statistics.median(times), len(miner.drain.clusters)


# --------------------------------------------------------------------------------------------


def evaluate(label: str, events: pl.DataFrame, truth: list[str], skip_drain: bool) -> list[dict]:
    messages = events["message"].to_list()
    n = len(messages)
    results = []
    keys, secs, _ = run_mine(events)
    results.append({"method": "polars masking (`mine`)", "secs": secs, **quality(truth, keys)})
    if not skip_drain:
        ids, secs, _ = run_drain(messages, masked=False)
        results.append({"method": "Drain3, default config", "secs": secs, **quality(truth, ids)})
        ids, secs, _ = run_drain(messages, masked=True)
        results.append({"method": "Drain3 + our masks", "secs": secs, **quality(truth, ids)})
        ids, secs, _ = run_drain(messages, masked=True, sim_th=0.9)
        results.append(
            {"method": "Drain3 + our masks, sim_th 0.9", "secs": secs, **quality(truth, ids)}
        )
        ids, secs, _ = run_mask_then_drain(events, keys)
        results.append(
            {"method": "our masks, then Drain3 on templates", "secs": secs, **quality(truth, ids)}
        )
    print(f"\n### {label}: {n:,} problem lines, {len(set(truth))} true kinds\n")
    print(
        "| method | templates | kinds exact | mixed templates | homogeneity | completeness "
        "| V | ARI | wall s | lines/s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['method']} | {r['templates']} | {r['exact']}/{r['kinds']} | {r['mixed']} "
            f"| {r['homogeneity']:.4f} | {r['completeness']:.4f} | {r['v']:.4f} | {r['ari']:.4f} "
            f"| {r['secs']:.3f} | {n / r['secs']:,.0f} |"
        )
    print()
    for r in results:
        print(f"- {r['method']}: kinds mixed in one template: {'; '.join(r['merged']) or 'none'}")
        print(f"  kinds split over several templates: {', '.join(r['split']) or 'none'}")
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=200_000, help="size of the large corpus")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-drain", action="store_true", help="time `mine` only")
    args = parser.parse_args(argv)
    logging.getLogger("drain3").setLevel(logging.WARNING)
    if not args.skip_drain:
        try:
            import drain3  # noqa: F401
        except ImportError:
            print("drain3 is not installed (pip install drain3): timing `mine` only")
            args.skip_drain = True
    print(f"polars {pl.__version__}, {pl.thread_pool_size()} threads; seed {args.seed}")
    small_kinds = [k for k in KINDS if k[0] in SMALL_KINDS]
    events, truth = corpus(400, small_kinds, args.seed)
    evaluate("small corpus", events, truth, args.skip_drain)
    events, truth = corpus(args.lines, KINDS, args.seed)
    evaluate("large corpus", events, truth, args.skip_drain)


if __name__ == "__main__":
    main()
