"""Large realistic inputs for `bench_scale.py`, generated with polars (4 GiB in well under a minute).

The mover's lines come from `testing.mover`; only their emission is vectorised here.

Shapes (formats from ../shared/reference/formats.md):

- `node-tree`: `/var/log/pods` of three nodes. The bundled example corpus's VolSync mover and
  KopiaMaintenance pods (688 runs with their Kopia CLI logs and Kubernetes dumps) surrounded by a
  few hundred application pods: nginx access logs, klog controllers on stderr, JSON services, each
  with kubelet's rotated siblings (`0.log.<ts>` plain, older ones `.gz`), CRI envelopes with
  containerd's trimmed RFC3339Nano times (§6.1). The noise carries real-looking errors too
  (`context deadline exceeded`, `connection refused`), as a node's logs do.
- `kopia-cli`: one Kopia CLI log file (§1.2) of a long `snapshot create` at debug level, with the
  user-lookup error, retries and ignored-file errors among millions of upload lines. (Kopia starts
  a new segment at 50 MB by default; a 1 GiB segment needs `--max-log-file-segment-size`.)
- `kubectl`: one `kubectl logs --timestamps` file (§6.2, 9-digit times) of a debug-mode mover pod:
  the entry script's lines around Kopia's console output and progress.

`size` is the bytes on disk (the `.gz` siblings count compressed, as `du` would).
"""

from __future__ import annotations

import gzip
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from testing import mover
from testing.write import kubectl

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "logs"
T0 = datetime(2026, 1, 28, tzinfo=UTC)
SPAN = timedelta(days=4)  # the example corpus's span
NODES = ("k8s-w1", "k8s-w2", "k8s-w3")


def _times(n: int, start: datetime, span: timedelta, seed: int, style: str = "cri") -> pl.Expr:
    """n increasing times over [start, start + span) as text: `cri` is containerd's RFC3339Nano
    with trailing zeros trimmed (0-9 fraction digits), `kopia` has 6 digits, `kubectl` 9."""
    step = span / max(n, 1)
    base = pl.datetime_range(start, start + step * (n - 1), step, time_unit="ns", eager=False)
    jitter = (pl.int_range(n).hash(seed) % 1_000_000).cast(pl.Int64)
    ts = (base.cast(pl.Int64) + jitter).cast(pl.Datetime("ns", "UTC"))
    if style == "kopia":
        return ts.dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
    if style == "kubectl":
        return ts.dt.strftime("%Y-%m-%dT%H:%M:%S%.9fZ")
    text = ts.dt.strftime("%Y-%m-%dT%H:%M:%S.%9f")
    return text.str.replace(r"0+$", "").str.replace(r"\.$", "") + pl.lit("Z")


def _rows(n: int) -> pl.DataFrame:
    """A frame of n rows to evaluate line expressions in (`pl.len()` is n there)."""
    return pl.select(pl.int_range(n).alias("i"))


def _pick(options: list[str], seed: int) -> pl.Expr:
    idx = (pl.int_range(pl.len()).hash(seed) % len(options)).cast(pl.Int64)
    return pl.lit(pl.Series(options)).gather(idx)


def _num(seed: int, mod: int) -> pl.Expr:
    return (pl.int_range(pl.len()).hash(seed) % mod).cast(pl.String)


def nginx_lines(n: int, seed: int) -> pl.Expr:
    paths = ["/", "/api/v1/items", "/api/v1/items/42", "/static/app.js", "/healthz", "/login"]
    agents = [
        "Mozilla/5.0 (X11; Linux x86_64)",
        "kube-probe/1.31",
        "curl/8.5.0",
        "Go-http-client/1.1",
    ]
    status = ["200"] * 12 + ["304", "404", "502"]
    return pl.concat_str(
        pl.lit("stdout F 10.42."),
        _num(seed, 4),
        pl.lit("."),
        _num(seed + 1, 250),
        pl.lit(' - - [28/Jan/2026:00:00:00 +0000] "GET '),
        _pick(paths, seed + 2),
        pl.lit(' HTTP/1.1" '),
        _pick(status, seed + 3),
        pl.lit(" "),
        _num(seed + 4, 90000),
        pl.lit(' "-" "'),
        _pick(agents, seed + 5),
        pl.lit('" 0.0'),
        _num(seed + 6, 90),
        pl.lit(" 0.0"),
        _num(seed + 7, 90),
    )


def klog_lines(n: int, seed: int) -> pl.Expr:
    messages = [
        'reflector.go:351] "Caches populated" type="*v1.Pod" reflector="k8s.io/client-go/informers/factory.go:160"',
        'controller.go:231] "Starting workers" controller="deployment" workerCount=5',
        'leaderelection.go:260] "successfully renewed lease" lease="kube-system/kube-controller-manager"',
        'event.go:389] "Event occurred" object="media/sonarr-0" kind="Pod" reason="Pulled"',
        'round_trippers.go:553] "Response" verb="GET" url="https://10.96.0.1:443/api/v1/pods" status="200 OK"',
    ] * 60 + [
        "leaderelection.go:332] error retrieving resource lock kube-system/kube-controller-manager: context deadline exceeded",
        'reflector.go:158] "Unhandled Error" err="failed to list *v1.Secret: Get \\"https://10.96.0.1:443/api/v1/secrets\\": dial tcp 10.96.0.1:443: connect: connection refused"',
    ]
    level = (
        pl.when(_num(seed + 9, 302).cast(pl.Int64) >= 300).then(pl.lit("E")).otherwise(pl.lit("I"))
    )
    return pl.concat_str(
        pl.lit("stderr F "),
        level,
        pl.lit("0128 12:00:00."),
        _num(seed, 999999).str.zfill(6),
        pl.lit("       1 "),
        _pick(messages, seed + 1),
    )


def json_lines(n: int, seed: int) -> pl.Expr:
    messages = [
        '"level":"info","logger":"http","msg":"request completed","status":200,"duration_ms":',
        '"level":"debug","logger":"cache","msg":"cache hit","key":"session:',
        '"level":"info","logger":"worker","msg":"job finished","queue":"default","took_ms":',
    ] * 40 + ['"level":"warn","logger":"db","msg":"slow query","table":"events","ms":']
    return pl.concat_str(
        pl.lit('stdout F {"ts":"2026-01-28T12:00:00.'),
        _num(seed, 999).str.zfill(3),
        pl.lit('Z",'),
        _pick(messages, seed + 1),
        _num(seed + 2, 5000),
        pl.lit("}"),
    )


APPS = (
    ("ingress-nginx", "ingress-nginx-controller", "controller", nginx_lines),
    ("default", "web", "nginx", nginx_lines),
    ("media", "jellyfin", "app", json_lines),
    ("databases", "postgres", "postgres", json_lines),
    ("monitoring", "prometheus-operator", "operator", klog_lines),
    ("kube-system", "cert-manager-cainjector", "cainjector", klog_lines),
    ("home", "home-assistant", "app", json_lines),
    ("monitoring", "loki-gateway", "nginx", nginx_lines),
)


def _write_app_file(
    path: Path, n: int, start: datetime, span: timedelta, seed: int, content
) -> int:
    frame = _rows(n).select(
        pl.concat_str(_times(n, start, span, seed), pl.lit(" "), content(n, seed)).alias("l")
    )
    data = (frame["l"].str.join("\n").item() + "\n").encode()
    if path.suffix == ".gz":
        data = gzip.compress(data, compresslevel=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return len(data)


def node_tree(out: Path, size: int, pods: int = 300) -> dict:
    """The example corpus plus `pods` application pods, to `size` bytes on disk."""
    shutil.copytree(EXAMPLES, out, dirs_exist_ok=True)
    base = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    budget = max(size - base, 0) // pods
    written = base
    lines = max(budget // 100, 10)
    for i in range(pods):
        ns, app, container, content = APPS[i % len(APPS)]
        pod = f"{app}-{i:04d}-{'abcdefghjk'[i % 10]}{i % 7}x{i % 3}z"
        uid = f"{i:08x}-1c2d-4e5f-8a9b-{i:012x}"
        node = NODES[i % len(NODES)]
        d = out / "nodes" / node / "var/log/pods" / f"{ns}_{pod}_{uid}" / container
        # kubelet's rotation: current, newest rotated plain, older gzipped; the line count is
        # calibrated on the first pod so the tree lands near `size`
        thirds = SPAN / 3
        before = written
        written += _write_app_file(
            d / "0.log.20260129-080000.gz", lines * 3, T0, thirds, i, content
        )
        written += _write_app_file(
            d / "0.log.20260130-160000", lines // 2, T0 + thirds, thirds, i + 1, content
        )
        written += _write_app_file(d / "0.log", lines // 2, T0 + 2 * thirds, thirds, i + 2, content)
        if i == 0:
            lines = max(int(lines * budget / (written - before)), 10)
    return {"files": sum(1 for p in out.rglob("*") if p.is_file()), "bytes": written}


def _write_lines(
    fh, size: int, line_bytes: int, start: datetime, span: timedelta, style: str, template
) -> None:
    """Write about `size` bytes of timed lines to `fh` in chunks of up to 2 M lines:
    `template(m, seed)` is a string expression whose `{}` is filled with a number, behind a
    time of `style` (see `_times`); `line_bytes` is the expected line size."""
    written, seed, n = 0, 0, size // line_bytes
    while written < size:
        m = min(2_000_000, (size - written) // line_bytes + 1)
        ts = _times(m, start + span * (written / size), span * (m / n), seed, style)
        body = template(m, seed).str.replace("{}", _num(seed + 2, 100000), literal=True)
        lines = _rows(m).select(pl.concat_str(ts, pl.lit(" "), body)).to_series()
        data = (lines.str.join("\n").item() + "\n").encode()
        fh.write(data)
        written += len(data)
        seed += 7


def kopia_cli_file(out: Path, size: int) -> dict:
    """One Kopia CLI log of `size` bytes (§1.2: 6-digit UTC times, level, module)."""
    d = out / "cache/media/volsync-src-bigmedia-cache/logs/cli-logs"
    d.mkdir(parents=True, exist_ok=True)
    path = d / "kopia-20260128-020007-57-snapshot-create.0.log"
    routine = [
        "DEBUG uploader hashing file /data/media/shows/season-{}/episode.mkv",
        "DEBUG kopia/content write-content k{}",
        "DEBUG blob PutBlob(p{}) took 12.1ms",
        "DEBUG kopia/repo flushing content manager, {} pending",
        f"INFO uploader {mover.snapshotting('bigmedia@media:/data')}",
        'INFO snapshotgc finding contents in live snapshots\t{{"snapshotsProcessed":{},"totalSnapshots":14}}',
        "DEBUG uploader completed /data/media/movies/{}.mkv",
        "DEBUG cache reading index blob xn{}-0 from cache",
    ] * 50
    incidents = [
        f"ERROR kopia/repo {mover.user_lookup_error('user: unknown userid {}')}",
        'WARN uploader Ignored error when processing "/data/media/lost+found/{}": open /data/media/lost+found: permission denied',
        "DEBUG retry got error open /repository/.shards: input/output error when GetBlobFromPath:/repository/.shards (#{}), sleeping for 100ms before retrying",
    ]

    def template(m: int, seed: int) -> pl.Expr:
        kind = (pl.int_range(m).hash(seed) % 20000).cast(pl.Int64)
        return (
            pl.when(kind < len(incidents))
            .then(pl.lit(pl.Series(incidents)).gather(kind.clip(0, len(incidents) - 1)))
            .otherwise(_pick(routine, seed + 1))
        )

    with path.open("wb") as fh:
        _write_lines(fh, size, 88, T0, SPAN, "kopia", template)
    return {"files": 1, "bytes": path.stat().st_size}


def kubectl_file(out: Path, size: int) -> dict:
    """One `kubectl logs --timestamps` file (9-digit times) of a debug-mode mover pod."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "volsync-src-bigmedia-x7k2p.log"
    preamble = [
        mover.START,
        mover.version_line("v0.17.7"),
        mover.OPERATIONS,
        mover.connecting(),
        mover.fs_path(),
        mover.WHOAMI,
        mover.EXECUTING,
        mover.CONNECTED,
        mover.snapshotting("bigmedia@media:/data"),
    ]
    ending = [
        mover.created(mover.SNAPSHOT_ROOT, mover.SNAPSHOT_ID, 14342),
        mover.snapshot_timing(14342),
        *mover.summary_lines(True, 0),
    ]
    routine = [
        mover.progress("{}", 18373, "412.1 GB", 40011, "18.4 GB", "210.4 GB"),
        "hashing file /data/media/shows/season-{}/episode.mkv",
        "uploaded pack p{} (20.1 MB)",
        "completed /data/media/movies/{}.mkv",
    ] * 100 + ['Ignored error when processing "/data/media/lost+found/{}": permission denied']
    start = T0 + timedelta(hours=2)
    span = timedelta(hours=4)

    def stamp(lines: list[str], at: datetime) -> str:
        return "\n".join(kubectl(at + timedelta(microseconds=i), t) for i, t in enumerate(lines))

    with path.open("wb") as fh:
        fh.write((stamp(preamble, start) + "\n").encode())
        _write_lines(
            fh, size, 100, start, span, "kubectl", lambda m, seed: _pick(routine, seed + 1)
        )
        fh.write((stamp(ending, start + span + timedelta(seconds=1)) + "\n").encode())
    return {"files": 1, "bytes": path.stat().st_size}


SHAPES = {"node-tree": node_tree, "kopia-cli": kopia_cli_file, "kubectl": kubectl_file}


def generate(shape: str, out: Path, size: int) -> dict:
    """Write `shape` of about `size` bytes under `out` (reused when its stamp file matches)."""
    stamp = out / ".generated"
    want = f"{shape} {size}\n"
    if stamp.exists() and stamp.read_text() == want:
        files = [p for p in out.rglob("*") if p.is_file() and p.name != ".generated"]
        return {"files": len(files), "bytes": sum(p.stat().st_size for p in files), "reused": True}
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    info = SHAPES[shape](out, size)
    stamp.write_text(want)
    return info
