"""The flags of `analyze`, in groups (like sqlite-utils' `output_options`): each group is one
decorator that adds its options and hands their values to the command as one small dataclass."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

import click

from .report import DEFAULT_MAX_CHARS

F = TypeVar("F", bound=Callable[..., Any])


def _option_group(keyword: str, flags: type, *options: Callable[[F], F]) -> Callable[[F], F]:
    """A decorator adding `options` to a command; their values reach the command as one
    `flags` instance in `keyword` (the dataclass fields are the options' parameter names)."""
    names = [f.name for f in fields(flags)]

    def decorator(command: F) -> F:
        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name in names}
            return command(*args, **kwargs, **{keyword: flags(**values)})

        for option in reversed(options):  # so --help lists them in the order written here
            wrapper = option(wrapper)
        return wrapper  # type: ignore[return-value]

    return decorator


@dataclass(frozen=True)
class WindowFlags:
    """The time window: relative (`--since`/`--until`) or absolute (`--from`/`--to`)."""

    since: str | None
    until: str | None
    from_: str | None
    to: str | None


window_options = _option_group(
    "window",
    WindowFlags,
    click.option(
        "--since",
        metavar="DURATION",
        help="Window start relative to --until: 90s, 30m, 48h, 2h30m, 7d.",
    ),
    click.option(
        "--until", metavar="TIME", help="Window end, RFC3339 (default: now when --since is given)."
    ),
    click.option("--from", "from_", metavar="TIME", help="Absolute window start, RFC3339."),
    click.option("--to", metavar="TIME", help="Absolute window end, RFC3339."),
)


@dataclass(frozen=True)
class AnalysisFlags:
    """The fix time and the thresholds the runs and the sign-off are judged by."""

    fix_at: str | None
    hang_after: str
    validation_hours: float


analysis_options = _option_group(
    "analysis",
    AnalysisFlags,
    click.option(
        "--fix-at",
        metavar="TIME",
        help="When the fix was applied (RFC3339): splits before/after and starts the validation.",
    ),
    click.option(
        "--hang-after",
        default="30m",
        show_default=True,
        metavar="DURATION",
        help="Silence after which a run without an end marker counts as hung.",
    ),
    click.option(
        "--validation-hours",
        default=48.0,
        show_default=True,
        type=float,
        help="Hours of clean syncs required for sign-off.",
    ),
)


@dataclass(frozen=True)
class InputFlags:
    """How local inputs are read, and the identity of one input whose path names none."""

    all_pods: bool
    in_memory: bool
    namespace: str | None
    pod: str | None
    container: str | None


input_options = _option_group(
    "inputs",
    InputFlags,
    click.option(
        "--all-pods",
        is_flag=True,
        help="Also read node-log files of pods that cannot be VolSync movers (skipped by default).",
    ),
    click.option(
        "--in-memory",
        is_flag=True,
        help="Keep every line in memory instead of streaming "
        "(slower; for comparison and debugging).",
    ),
    click.option("--namespace", help="Namespace for a single input whose path does not name it."),
    click.option("--pod", help="Pod for a single input whose path does not name it."),
    click.option("--container", help="Container for a single input whose path does not name it."),
)


@dataclass(frozen=True)
class ReportFlags:
    """What is written, where, how it is redacted, and what the exit code says."""

    fmt: str
    output: str | None
    max_chars: int
    no_redact: bool
    redact_hosts: bool
    exit_code: bool


report_options = _option_group(
    "report",
    ReportFlags,
    click.option(
        "--format",
        "fmt",
        type=click.Choice(["markdown", "json"]),
        default="markdown",
        show_default=True,
    ),
    click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, writable=True),
        help="Write the report here instead of stdout.",
    ),
    click.option(
        "--max-chars",
        default=DEFAULT_MAX_CHARS,
        show_default=True,
        type=click.IntRange(min=5000),
        help="Markdown size budget (GitHub caps bodies at 65,536).",
    ),
    click.option(
        "--no-redact", is_flag=True, help="Do not redact secrets (never for reports you share)."
    ),
    click.option(
        "--redact-hosts",
        is_flag=True,
        help="Also replace IP addresses and host names with stable pseudonyms.",
    ),
    click.option(
        "--exit-code",
        is_flag=True,
        help="Exit 1 when a sign-off criterion fails or cannot be shown, 2 on a data gap.",
    ),
)


@dataclass(frozen=True)
class LokiFlags:
    """Where Loki is and how to read it; credentials stay out of the repr."""

    loki_addr: str | None
    selector: str | None
    mode: str
    pushdown_above_mb: float
    loki_deadline: str
    parallel: int
    username: str | None = field(repr=False)
    password: str | None = field(repr=False)
    bearer_token: str | None = field(repr=False)
    bearer_token_file: str | None
    org_id: str | None
    ca_cert: str | None
    cert: str | None
    key: str | None
    tls_skip_verify: bool | None

    def config_overrides(self) -> dict[str, Any]:
        """The `LokiConfig` fields these flags give; None leaves the LOKI_* variable or default."""
        return {
            "addr": self.loki_addr,
            "username": self.username,
            "password": self.password,
            "bearer_token": self.bearer_token,
            "bearer_token_file": self.bearer_token_file,
            "org_id": self.org_id,
            "ca_cert_path": self.ca_cert,
            "client_cert_path": self.cert,
            "client_key_path": self.key,
            "tls_skip_verify": self.tls_skip_verify,
        }


loki_options = _option_group(
    "loki",
    LokiFlags,
    click.option(
        "--loki", "loki_addr", metavar="URL", help="Read from Loki at URL (or $LOKI_ADDR)."
    ),
    click.option("--selector", default=None, metavar="LOGQL", help="Stream selector for Loki."),
    click.option(
        "--mode",
        type=click.Choice(["auto", "full", "pushdown"]),
        default="auto",
        show_default=True,
        help="Loki transfer: every line, or only what the analysis reads (auto: by the "
        "volume Loki's index reports, see --pushdown-above-mb).",
    ),
    click.option(
        "--pushdown-above-mb",
        default=32.0,
        show_default=True,
        type=click.FloatRange(min=0),
        metavar="MB",
        help="--mode auto pushes down when Loki's index/volume reports more log text than this.",
    ),
    click.option(
        "--loki-deadline",
        default="10m",
        show_default=True,
        metavar="DURATION",
        help="Time limit for the whole Loki read, retries included; what is left becomes a gap.",
    ),
    click.option("--parallel", default=4, show_default=True, type=click.IntRange(1, 32)),
    click.option("--username", help="Loki basic-auth user ($LOKI_USERNAME)."),
    click.option("--password", help="Loki basic-auth password ($LOKI_PASSWORD)."),
    click.option("--bearer-token", help="Loki bearer token ($LOKI_BEARER_TOKEN)."),
    click.option("--bearer-token-file", type=click.Path(), help="File holding the bearer token."),
    click.option("--org-id", help="Tenant, sent as X-Scope-OrgID ($LOKI_ORG_ID)."),
    click.option(
        "--ca-cert", type=click.Path(), help="CA bundle for Loki's TLS ($LOKI_CA_CERT_PATH)."
    ),
    click.option("--cert", type=click.Path(), help="Client certificate ($LOKI_CLIENT_CERT_PATH)."),
    click.option("--key", type=click.Path(), help="Client key ($LOKI_CLIENT_KEY_PATH)."),
    click.option("--tls-skip-verify", is_flag=True, default=None, help="Do not verify Loki's TLS."),
)


@dataclass(frozen=True)
class CatalogFlags:
    """Extra pattern directories, and the pattern-authoring commands that print and exit."""

    pattern_dirs: tuple[str, ...]
    list_patterns: bool
    starter_pattern: int | None
    test_patterns: str | None


catalog_options = _option_group(
    "catalog",
    CatalogFlags,
    click.option(
        "--patterns",
        "pattern_dirs",
        multiple=True,
        type=click.Path(),
        metavar="DIR",
        help="Extra pattern directory (repeatable); same id replaces a built-in.",
    ),
    click.option(
        "--list-patterns",
        is_flag=True,
        help="List the catalog (built-in plus --patterns) and exit.",
    ),
    click.option(
        "--starter-pattern",
        metavar="N",
        type=click.IntRange(min=1),
        help="Print a pattern file for unrecognised-error template N (1 = most frequent) and exit.",
    ),
    click.option(
        "--test-patterns",
        metavar="DIR",
        type=click.Path(),
        help="Run a pattern directory's examples (like semgrep --test) and exit.",
    ),
)
