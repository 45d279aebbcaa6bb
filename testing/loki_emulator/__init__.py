"""An in-process emulation of the Grafana Loki HTTP query API, served on 127.0.0.1 with a real socket.

It follows the facts in `shared/reference/loki-api.md` and the recorded responses in
`shared/reference/loki-responses/` for the subset the Loki source uses:

* `GET/POST /loki/api/v1/query_range`: log queries (stream selector with `=`, `!=`, `=~`, `!~`;
  line filters `|=`, `!=`, `|~`, `!~`, chained, with `or`; label filters `| name op "v"` on labels
  and structured metadata) and metric queries (`count_over_time`, `rate`, `bytes_over_time`,
  `bytes_rate`, wrapped in `sum|count|min|max|avg [by|without (...)]`), `limit` counted across
  streams, `direction`, inclusive start / exclusive end, `interval`, `since`, the
  `categorize-labels` encoding flag, step alignment of metric queries, Loki's 400 bodies.
* `GET /loki/api/v1/query` (instant metric queries), `/loki/api/v1/labels`,
  `/loki/api/v1/label/<name>/values`, `POST /loki/api/v1/push` (JSON), `/ready`.
* Ingestion as Loki 3.x does it: `service_name` discovery, `detected_level` structured metadata,
  consecutive duplicate (timestamp, line) entries dropped.
* A gateway in front of it (optional basic or bearer auth, `X-Scope-OrgID` when `auth_enabled`),
  TLS (optionally with client certificates), gzip, and fault injection (status codes, delays,
  truncated or malformed bodies, dropped connections).

Regular expressions run on Python's `re` after a small RE2 -> Python translation (`\\x{..}`,
`(?<name>..)`, `\\z`, `$`); Perl-only syntax (look-arounds, back-references) is refused as RE2
refuses it. Parsers (`| json`, `| logfmt`, ...) and formatting stages are not emulated.

One module a concern: `api` (units, paths, error texts), `goformat` (Go/Prometheus parsing and
formatting), `re2`, `logql` (lexer, parser, AST), `store` (ingestion), `evaluate` (queries),
`responses` (JSON bodies, stats), `faults` and `server` (the HTTP API and `LokiEmulator`).
Synthetic mover data to serve is in `testing.loki_streams`.
"""

from .api import HOUR_NS, NS, QUERY_RANGE, ApiError
from .faults import Fault, FaultRule, RequestInfo, fail_first, fail_share, fail_when
from .goformat import go_quote, go_unquote, prom_duration_string
from .logql import Parser
from .re2 import compile_re2
from .responses import Reply, go_json, stats_block
from .server import LokiEmulator, RecordedRequest, streams_from_push
from .store import EntryIn, Store, Stream, detect_level, label_string

__all__ = [
    "HOUR_NS",
    "NS",
    "QUERY_RANGE",
    "ApiError",
    "EntryIn",
    "Fault",
    "FaultRule",
    "LokiEmulator",
    "Parser",
    "RecordedRequest",
    "Reply",
    "RequestInfo",
    "Store",
    "Stream",
    "compile_re2",
    "detect_level",
    "fail_first",
    "fail_share",
    "fail_when",
    "go_json",
    "go_quote",
    "go_unquote",
    "label_string",
    "prom_duration_string",
    "stats_block",
    "streams_from_push",
]
