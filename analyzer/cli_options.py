"""The flags of `analyze`, in groups (like sqlite-utils' `output_options`): each group is one
decorator that adds its options and hands their values to the command as one small dataclass.

`--help` shows each group as its own section (cloup's option groups, as kubectl and gh group
their flags): Inputs, Window, Analysis, Output, Loki, Patterns. Every help line says what the flag
does and gives an example, and stays one line at 100 columns."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

import click
import cloup

from .report import DEFAULT_MAX_CHARS

F = TypeVar("F", bound=Callable[..., Any])


def _option_group(
    keyword: str, title: str, flags: type, *options: Callable[[F], F]
) -> Callable[[F], F]:
    """A decorator adding `options` to a command as the help section `title`; their values reach
    the command as one `flags` instance in `keyword` (the dataclass fields are the options'
    parameter names)."""
    names = [f.name for f in fields(flags)]

    def decorator(command: F) -> F:
        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name in names}
            return command(*args, **kwargs, **{keyword: flags(**values)})

        return cloup.option_group(title, *options)(wrapper)  # type: ignore[return-value]

    return decorator


#: The report formats `-o/--output` takes (kubectl, logcli and k8sgpt's meaning of `-o`).
FORMATS = ("markdown", "json")


class _Format(click.Choice):
    """`-o markdown|json`, and a pointer to `--output-file` when the value is a file name (the
    meaning `-o` had before: `-o report.md` must not look like an unknown format)."""

    def __init__(self) -> None:
        super().__init__(FORMATS, case_sensitive=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and value.lower() in ("md", "markdown"):
            return "markdown"
        if (
            isinstance(value, str)
            and value.lower() not in FORMATS
            and (value == "-" or any(ch in value for ch in "./\\"))
        ):
            self.fail(
                f"{value!r} is not a format (markdown, json); -o names the format as in kubectl, "
                f"write to a file with --output-file {value}",
                param,
                ctx,
            )
        return super().convert(value, param, ctx)


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
    "Inputs (PATHS: files, folders, globs, - for stdin; piped stdin when none is given)",
    InputFlags,
    click.option(
        "--all-pods",
        is_flag=True,
        help="Also read node logs of pods that cannot be movers: analyze --all-pods /var/log/pods",
    ),
    click.option(
        "--in-memory",
        is_flag=True,
        hidden=True,  # the reference the streaming path is tested against, not a user flag
        help="Keep every line in memory instead of streaming (tests and debugging).",
    ),
    # `-n/--namespace` is the one namespace flag of the command. The `--kube` group (issue 18)
    # reads this same value for its API queries instead of declaring a second `--namespace`;
    # keep one option so `-n media` means one thing whether the input is a file, Loki or kube.
    click.option(
        "-n",
        "--namespace",
        metavar="NS",
        help="Namespace of an input whose path names none: -n media",
    ),
    click.option(
        "--pod",
        metavar="POD",
        help="Pod of an input whose path names none: --pod volsync-src-app-x7k2p",
    ),
    click.option(
        "-c",
        "--container",
        metavar="NAME",
        help="Container of an input whose path names none: -c kopia",
    ),
)


@dataclass(frozen=True)
class WindowFlags:
    """The time window: relative (`--since`/`--until`) or absolute (`--from`/`--to`)."""

    since: str | None
    until: str | None
    from_: str | None
    to: str | None


window_options = _option_group(
    "window",
    "Window (times RFC3339 with Z or an offset; durations in s, m, h, d, w)",
    WindowFlags,
    click.option(
        "--since",
        metavar="DURATION",
        help="Window start relative to --until: --since 48h, --since 2h30m",
    ),
    click.option(
        "--until",
        metavar="TIME",
        help="Window end (default now with --since): --until 2026-02-01T00:00:00Z",
    ),
    click.option(
        "--from", "from_", metavar="TIME", help="Absolute window start: --from 2026-01-30T00:00:00Z"
    ),
    click.option("--to", metavar="TIME", help="Absolute window end: --to 2026-02-01T00:00:00Z"),
)


@dataclass(frozen=True)
class AnalysisFlags:
    """The fix time and the thresholds the runs and the sign-off are judged by."""

    fix_at: str | None
    hang_after: str
    validation_hours: str


analysis_options = _option_group(
    "analysis",
    "Analysis",
    AnalysisFlags,
    click.option(
        "--fix-at",
        metavar="TIME",
        help="When the fix was applied; splits before/after: --fix-at 2026-01-29T18:00:00Z",
    ),
    click.option(
        "--hang-after",
        default="30m",
        show_default=True,
        metavar="DURATION",
        help="Silence after which a run without an end marker is hung: --hang-after 20m",
    ),
    click.option(
        "--validation-hours",
        default="48h",
        show_default=True,
        metavar="DURATION",
        help="Clean syncs needed for sign-off (a bare number is hours): --validation-hours 24h",
    ),
)


@dataclass(frozen=True)
class ReportFlags:
    """What is written, where, how it is redacted, and what the exit code says."""

    fmt: str
    output_file: str | None
    max_chars: int
    no_redact: bool
    redact_hosts: bool
    exit_code: bool
    quiet: bool


report_options = _option_group(
    "report",
    "Output",
    ReportFlags,
    click.option(
        "-o",
        "--output",
        "--format",
        "fmt",
        type=_Format(),
        default="markdown",
        show_default=True,
        metavar="FORMAT",
        help="Report format, markdown or json: -o json",
    ),
    click.option(
        "--output-file",
        metavar="PATH",
        help="Write the report to PATH (- is stdout): --output-file report.md",
    ),
    click.option(
        "--max-chars",
        default=DEFAULT_MAX_CHARS,
        show_default=True,
        type=click.IntRange(min=5000),
        help="Markdown size budget (GitHub caps at 65,536): --max-chars 30000",
    ),
    click.option(
        "--no-redact", is_flag=True, help="Do not redact secrets (never for reports you share)."
    ),
    click.option(
        "--redact-hosts",
        is_flag=True,
        help="Also replace IPs and host names with stable pseudonyms (host-1, ip-2).",
    ),
    click.option(
        "--exit-code",
        is_flag=True,
        help="Exit 1 unless every sign-off criterion holds, 2 on a data gap (CI gates).",
    ),
    click.option(
        "-q",
        "--quiet",
        is_flag=True,
        help="No progress bar, warnings or 'wrote' line on stderr (errors still show).",
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
    "Loki (logcli's LOKI_* variables are read; the flags override them)",
    LokiFlags,
    click.option(
        "--loki",
        "--addr",
        "loki_addr",
        metavar="URL",
        help="Read from Loki ($LOKI_ADDR): --addr http://127.0.0.1:3100",
    ),
    click.option(
        "--selector",
        default=None,
        metavar="LOGQL",
        help="Stream selector: --selector '{namespace=\"media\"}'",
    ),
    click.option(
        "--mode",
        type=click.Choice(["auto", "full", "pushdown"]),
        default="auto",
        show_default=True,
        help="Lines sent (auto: by index volume): --mode full",
    ),
    click.option(
        "--pushdown-above-mb",
        default=4.0,
        type=click.FloatRange(min=0),
        metavar="MB",
        help="auto's threshold (4): --pushdown-above-mb 16",
    ),
    click.option(
        "--loki-deadline",
        default="10m",
        metavar="DURATION",
        help="Limit on the whole read (10m): --loki-deadline 30m",
    ),
    click.option(
        "--parallel",
        "--parallel-max-workers",
        "parallel",
        default=4,
        show_default=True,
        type=click.IntRange(1, 32),
        help="Sub-ranges fetched at once: --parallel-max-workers 8",
    ),
    click.option("--username", metavar="USER", help="Basic-auth user ($LOKI_USERNAME): ops"),
    click.option("--password", metavar="PASS", help='Basic-auth password ($LOKI_PASSWORD): "$PW"'),
    click.option(
        "--bearer-token", metavar="TOKEN", help='Bearer token ($LOKI_BEARER_TOKEN): "$TOKEN"'
    ),
    click.option(
        "--bearer-token-file",
        metavar="PATH",
        help="Token file: /var/run/secrets/loki-token",
    ),
    click.option("--org-id", metavar="TENANT", help="Tenant ($LOKI_ORG_ID): homelab"),
    click.option("--ca-cert", metavar="PATH", help="CA bundle ($LOKI_CA_CERT_PATH): ca.pem"),
    click.option("--cert", metavar="PATH", help="Client cert ($LOKI_CLIENT_CERT_PATH): c.pem"),
    click.option("--key", metavar="PATH", help="Client key ($LOKI_CLIENT_KEY_PATH): client.key"),
    click.option(
        "--tls-skip-verify",
        is_flag=True,
        default=None,
        help="Do not verify Loki's certificate ($LOKI_TLS_SKIP_VERIFY).",
    ),
)


@dataclass(frozen=True)
class CatalogFlags:
    """Extra pattern directories, and the pattern-authoring commands that print and exit."""

    pattern_dirs: tuple[str, ...]
    list_patterns: bool
    test_patterns: str | None
    starter_pattern: int | None
    pattern_schema: bool


catalog_options = _option_group(
    "catalog",
    "Patterns (the authoring commands print and exit)",
    CatalogFlags,
    click.option(
        "--patterns",
        "pattern_dirs",
        multiple=True,
        type=click.Path(file_okay=False),
        metavar="DIR",
        help="Extra pattern folder, repeatable; an id replaces a built-in: --patterns ./mine",
    ),
    click.option(
        "--list-patterns",
        is_flag=True,
        help="List the catalog (id, severity, category, title; -o json): --list-patterns",
    ),
    click.option(
        "--test-patterns",
        metavar="DIR",
        type=click.Path(file_okay=False),
        help="Run a folder's pattern examples, like semgrep --test: --test-patterns ./mine",
    ),
    click.option(
        "--starter-pattern",
        metavar="N",
        type=click.IntRange(min=1),
        help="Print a pattern file for unrecognised error N: --starter-pattern 1 > mine/x.yaml",
    ),
    click.option(
        "--pattern-schema",
        is_flag=True,
        help="Print the JSON Schema of pattern files (for editors): > pattern.schema.json",
    ),
)


@dataclass(frozen=True)
class KubeFlags:
    """Reading the cluster itself through the Kubernetes API (`--kube`); `-n/--namespace`
    (the inputs group's) limits the namespace read."""

    kube: bool
    kube_context: str | None
    kubeconfig: str | None
    all_namespaces: bool


kube_options = _option_group(
    "kube",
    "Kubernetes API (--kube; -n NS limits it to one namespace)",
    KubeFlags,
    click.option(
        "--kube",
        is_flag=True,
        help="Read the cluster: VolSync objects, mover Jobs, Pods, Events, logs: "
        "analyze --kube -n media --since 48h",
    ),
    click.option(
        "--context", "kube_context", metavar="NAME", help="kubeconfig context: --context prod"
    ),
    click.option(
        "--kubeconfig",
        type=click.Path(),
        metavar="PATH",
        help="kubeconfig file, else $KUBECONFIG, ~/.kube/config, in-cluster: --kubeconfig k.yaml",
    ),
    click.option(
        "-A",
        "--all-namespaces",
        is_flag=True,
        help="Read every namespace, the default without -n: analyze --kube -A --since 7d",
    ),
)
