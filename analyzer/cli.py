"""`analyze`: the command line, a thin layer over `analyzer.analyze()` and the report module.

Exit codes: 0 success; 1 with `--exit-code` when a sign-off criterion fails or cannot be shown;
2 for usage and input errors, and with `--exit-code` when part of the data is missing (a gap).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from . import catalog, report, templates
from .analysis import LokiRequest, analyze
from .report import DEFAULT_MAX_CHARS, RenderOptions, render_json, render_markdown
from .sources.files import InputError, Overrides
from .sources.loki_base import DEFAULT_SELECTOR, LokiError
from .timeutil import WindowError, parse_duration, parse_time

EXIT_OK, EXIT_CRITERIA, EXIT_USAGE = 0, 1, 2


def _fail(message: str) -> None:
    click.echo(f"analyze: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _list_patterns(dirs: tuple[str, ...]) -> None:
    cat = catalog.load_catalog(dirs)
    for sig in cat.signatures:
        click.echo(f"{sig.id:<34} {sig.severity:<9} {sig.category:<14} {sig.title}")
    for sid, path in cat.overridden:
        click.echo(f"# {sid}: built-in replaced by {path}")


def _test_patterns(directory: str) -> int:
    sigs = catalog.load_dir(directory)
    failures = catalog.check_examples(sigs)
    for failure in failures:
        click.echo(str(failure))
    total = sum(len(s.examples_match) + len(s.examples_no_match) for s in sigs)
    click.echo(
        f"{total - len(failures)} passed, {len(failures)} failed: "
        f"{len(sigs)} pattern file(s) in {directory}"
    )
    return 1 if failures else 0


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("paths", nargs=-1, type=click.Path(allow_dash=True))
@click.option(
    "--since",
    metavar="DURATION",
    help="Window start relative to --until: 90s, 30m, 48h, 2h30m, 7d.",
)
@click.option(
    "--until", metavar="TIME", help="Window end, RFC3339 (default: now when --since is given)."
)
@click.option("--from", "from_", metavar="TIME", help="Absolute window start, RFC3339.")
@click.option("--to", metavar="TIME", help="Absolute window end, RFC3339.")
@click.option(
    "--fix-at",
    metavar="TIME",
    help="When the fix was applied (RFC3339): splits before/after and starts the validation.",
)
@click.option(
    "--hang-after",
    default="30m",
    show_default=True,
    metavar="DURATION",
    help="Silence after which a run without an end marker counts as hung.",
)
@click.option(
    "--validation-hours",
    default=48.0,
    show_default=True,
    type=float,
    help="Hours of clean syncs required for sign-off.",
)
@click.option(
    "--patterns",
    "pattern_dirs",
    multiple=True,
    type=click.Path(),
    metavar="DIR",
    help="Extra pattern directory (repeatable); same id replaces a built-in.",
)
@click.option(
    "--all-pods",
    is_flag=True,
    help="Also read node-log files of pods that cannot be VolSync movers (skipped by default).",
)
@click.option(
    "--in-memory",
    is_flag=True,
    help="Keep every line in memory instead of streaming (slower; for comparison and debugging).",
)
@click.option("--namespace", help="Namespace for a single input whose path does not name it.")
@click.option("--pod", help="Pod for a single input whose path does not name it.")
@click.option("--container", help="Container for a single input whose path does not name it.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "json"]),
    default="markdown",
    show_default=True,
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the report here instead of stdout.",
)
@click.option(
    "--max-chars",
    default=DEFAULT_MAX_CHARS,
    show_default=True,
    type=click.IntRange(min=5000),
    help="Markdown size budget (GitHub caps bodies at 65,536).",
)
@click.option(
    "--no-redact", is_flag=True, help="Do not redact secrets (never for reports you share)."
)
@click.option(
    "--redact-hosts",
    is_flag=True,
    help="Also replace IP addresses and host names with stable pseudonyms.",
)
@click.option(
    "--exit-code",
    is_flag=True,
    help="Exit 1 when a sign-off criterion fails or cannot be shown, 2 on a data gap.",
)
@click.option("--loki", "loki_addr", metavar="URL", help="Read from Loki at URL (or $LOKI_ADDR).")
@click.option("--selector", default=None, metavar="LOGQL", help="Stream selector for Loki.")
@click.option(
    "--mode",
    type=click.Choice(["auto", "full", "pushdown"]),
    default="auto",
    show_default=True,
    help="Loki transfer: every line, or only what the analysis reads (auto: pushdown past 12 h).",
)
@click.option("--parallel", default=4, show_default=True, type=click.IntRange(1, 32))
@click.option("--username", help="Loki basic-auth user ($LOKI_USERNAME).")
@click.option("--password", help="Loki basic-auth password ($LOKI_PASSWORD).")
@click.option("--bearer-token", help="Loki bearer token ($LOKI_BEARER_TOKEN).")
@click.option("--bearer-token-file", type=click.Path(), help="File holding the bearer token.")
@click.option("--org-id", help="Tenant, sent as X-Scope-OrgID ($LOKI_ORG_ID).")
@click.option("--ca-cert", type=click.Path(), help="CA bundle for Loki's TLS ($LOKI_CA_CERT_PATH).")
@click.option("--cert", type=click.Path(), help="Client certificate ($LOKI_CLIENT_CERT_PATH).")
@click.option("--key", type=click.Path(), help="Client key ($LOKI_CLIENT_KEY_PATH).")
@click.option("--tls-skip-verify", is_flag=True, default=None, help="Do not verify Loki's TLS.")
@click.option(
    "--list-patterns", is_flag=True, help="List the catalog (built-in plus --patterns) and exit."
)
@click.option(
    "--starter-pattern",
    metavar="N",
    type=click.IntRange(min=1),
    help="Print a pattern file for unrecognised-error template N (1 = most frequent) and exit.",
)
@click.option(
    "--test-patterns",
    metavar="DIR",
    type=click.Path(),
    help="Run a pattern directory's examples (like semgrep --test) and exit.",
)
def main(
    paths: tuple[str, ...],
    since: str | None,
    until: str | None,
    from_: str | None,
    to: str | None,
    fix_at: str | None,
    hang_after: str,
    validation_hours: float,
    pattern_dirs: tuple[str, ...],
    all_pods: bool,
    in_memory: bool,
    namespace: str | None,
    pod: str | None,
    container: str | None,
    fmt: str,
    output: str | None,
    max_chars: int,
    no_redact: bool,
    redact_hosts: bool,
    exit_code: bool,
    list_patterns: bool,
    starter_pattern: int | None,
    test_patterns: str | None,
    loki_addr: str | None,
    selector: str | None,
    mode: str,
    parallel: int,
    username: str | None,
    password: str | None,
    bearer_token: str | None,
    bearer_token_file: str | None,
    org_id: str | None,
    ca_cert: str | None,
    cert: str | None,
    key: str | None,
    tls_skip_verify: bool | None,
) -> None:
    """Analyse Kopia / VolSync mover logs in PATHS (files, directories, globs, `-` for stdin)
    and write a postmortem in the structure of a resolved-incident write-up."""
    try:
        if list_patterns:
            _list_patterns(pattern_dirs)
            return
        if test_patterns:
            sys.exit(_test_patterns(test_patterns))
        loki = None
        if loki_addr or (not paths and os.environ.get("LOKI_ADDR")):
            from .sources.loki import LokiConfig  # only a Loki run pays for httpx

            config = LokiConfig.from_env(
                os.environ,
                addr=loki_addr,
                username=username,
                password=password,
                bearer_token=bearer_token,
                bearer_token_file=bearer_token_file,
                org_id=org_id,
                ca_cert_path=ca_cert,
                client_cert_path=cert,
                client_key_path=key,
                tls_skip_verify=tls_skip_verify,
            )
            loki = LokiRequest(
                config,
                selector=selector or DEFAULT_SELECTOR,
                mode=mode,
                parallel=parallel,
                progress=None,
            )
        if not paths and loki is None:
            _fail("no input: give log files, directories or globs (or - for stdin), or --loki URL")
        analysis = analyze(
            paths,
            since=since,
            until=until,
            from_=from_,
            to=to,
            fix_at=parse_time(fix_at, flag="--fix-at") if fix_at else None,
            patterns=pattern_dirs,
            hang_after=parse_duration(hang_after, flag="--hang-after"),
            validation_hours=validation_hours,
            overrides=Overrides(namespace, pod, container),
            loki=loki,
            in_memory=in_memory,
            all_pods=all_pods,
        )
    except (WindowError, InputError, catalog.CatalogError, LokiError) as exc:
        _fail(str(exc))
    options = RenderOptions(redact=not no_redact, redact_hosts=redact_hosts, max_chars=max_chars)
    if starter_pattern:
        sys.stdout.write(_starter(analysis, starter_pattern, options))
        return
    text = render_json(analysis, options) if fmt == "json" else render_markdown(analysis, options)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if exit_code:
        if analysis.inputs.gaps:
            sys.exit(EXIT_USAGE)
        if analysis.status != "RESOLVED":
            sys.exit(EXIT_CRITERIA)


def _starter(analysis, n: int, options: RenderOptions) -> str:
    """The starter pattern file for template N of the (redacted) unrecognised errors."""
    unclassified = report.redacted(analysis, options).unclassified
    if n > unclassified.height:
        _fail(f"--starter-pattern: there are {unclassified.height} unrecognised-error templates")
    return templates.starter_pattern(unclassified.row(n - 1, named=True))


if __name__ == "__main__":  # pragma: no cover
    main()
