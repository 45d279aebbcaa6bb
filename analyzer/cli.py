"""`analyze`: the command line, a thin layer over `analyzer.analyze()` and the report module.

Exit codes: 0 success; 1 with `--exit-code` when a sign-off criterion fails or cannot be shown;
2 for usage, input and source errors (any `AnalyzerError`, and any flag click rejects: one line
on stderr), and with `--exit-code` when part of the data is missing (a gap); 130 on Ctrl-C.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import cloup

from . import catalog as catalog_mod
from . import report as report_mod
from . import templates
from .analysis import Analysis, analyze
from .cli_options import (
    AnalysisFlags,
    CatalogFlags,
    InputFlags,
    KubeFlags,
    LokiFlags,
    ReportFlags,
    WindowFlags,
    analysis_options,
    catalog_options,
    input_options,
    kube_options,
    loki_options,
    report_options,
    window_options,
)
from .errors import (
    AnalyzerError,
    CatalogError,
    InputError,
    KubeConfigError,
    OutputError,
    WindowError,
)
from .report import RenderOptions, render_json, render_markdown
from .sources.files import Overrides
from .sources.loki import DEFAULT_SELECTOR, LokiSource
from .sources.loki.config import LokiConfig
from .timeutil import fmt_utc, parse_duration, parse_hours, parse_time

EXIT_OK = 0
EXIT_CRITERIA = 1  # --exit-code: a sign-off criterion fails or cannot be shown
EXIT_USAGE = 2  # an AnalyzerError (one line on stderr) or a flag click rejects
EXIT_INCOMPLETE = 2  # --exit-code: part of the data is missing (a Loki gap)
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports a process ended by SIGINT

#: How far ahead of this machine's clock `--fix-at` may be: clock skew between the machine that
#: applied the fix and this one, not a fix planned for later.
FIX_AT_SKEW = timedelta(minutes=5)

EXIT_CODES = """\b
Exit codes:
  0    the report was written (--exit-code: every sign-off criterion holds, RESOLVED)
  1    --exit-code: a criterion fails or cannot be shown (OPEN, OBSERVING, NO DATA)
  2    a usage, input or source error (one line on stderr), or --exit-code and a data gap
  130  interrupted (Ctrl-C)"""


class AnalyzeCommand(cloup.Command):
    """The command, with click's usage errors as one line like every other error: `analyze:
    error: <message>` on stderr and exit 2, never a usage block or a traceback."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click.ClickException as exc:
            message = " ".join(exc.format_message().split())
            click.echo(f"analyze: error: {message}", err=True)
            sys.exit(EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code)
        except click.Abort:  # Ctrl-C while click itself was reading
            click.echo("analyze: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(code if isinstance(code, int) else EXIT_OK)


def generator_line() -> str:
    """What `--version` prints: the tool and the built-in catalog that judges the logs."""
    gen = catalog_mod.load_catalog().generator()
    cat = gen["catalog"]
    return (
        f"analyze (kopia-postmortem) {gen['version']}\n"
        f"catalog {cat['version']}: {cat['patterns']} patterns, {cat['digest']}"
    )


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    try:
        click.echo(generator_line())
    except AnalyzerError as exc:
        raise click.ClickException(str(exc)) from None
    ctx.exit(EXIT_OK)


def _list_patterns(dirs: tuple[str, ...], fmt: str) -> None:
    cat = catalog_mod.load_catalog(dirs)
    _warn_all(cat.warnings)
    if fmt == "json":
        overridden = dict(cat.overridden)
        rows = [
            {
                "id": sig.id,
                "severity": sig.severity,
                "category": sig.category,
                "title": sig.title,
                "path": sig.path,
                "replaces_builtin": sig.id in overridden,
            }
            for sig in cat.signatures
        ]
        doc = {"generator": cat.generator(), "patterns": rows}
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    for sig in cat.signatures:
        click.echo(f"{sig.id:<34} {sig.severity:<9} {sig.category:<14} {sig.title}")
    for sid, path in cat.overridden:
        click.echo(f"# {sid}: built-in replaced by {path}")


def _test_patterns(directory: str) -> int:
    warnings: list[str] = []
    sigs = catalog_mod.load_dir(directory, flag="--test-patterns", warnings=warnings)
    _warn_all(warnings)
    if not sigs:
        raise CatalogError(
            f"{directory}: --test-patterns found no pattern files (*.yaml, *.yml) in the folder"
        )
    todos = catalog_mod.todo_fields(sigs)
    failures = catalog_mod.check_examples(sigs)
    for line in [*todos, *map(str, failures)]:
        click.echo(line)
    total = sum(len(s.examples_match) + len(s.examples_no_match) for s in sigs)
    todo_note = f", {len(todos)} TODO field(s) to write" if todos else ""
    click.echo(
        f"{total - len(failures)} passed, {len(failures)} failed{todo_note}: "
        f"{len(sigs)} pattern file(s) in {directory}"
    )
    return 1 if failures or todos else 0


def _warn_all(warnings: list[str], quiet: bool = False) -> None:
    if not quiet:
        for warning in warnings:
            click.echo(f"analyze: warning: {warning}", err=True)


@click.command(
    cls=AnalyzeCommand,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EXIT_CODES,
    align_option_groups=False,
)
@click.argument("paths", nargs=-1, type=click.Path(allow_dash=True))
@input_options
@window_options
@analysis_options
@report_options
@loki_options
@catalog_options
@kube_options
@click.option(
    "--version",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=_print_version,
    help="Print the version of the tool and of its catalog, and exit.",
)
def main(
    paths: tuple[str, ...],
    window: WindowFlags,
    analysis: AnalysisFlags,
    inputs: InputFlags,
    report: ReportFlags,
    loki: LokiFlags,
    catalog: CatalogFlags,
    kube: KubeFlags,
) -> None:
    """Analyse Kopia / VolSync mover logs and write a postmortem in the structure of a
    resolved-incident write-up.

    \b
      analyze examples/logs/ --fix-at 2026-01-29T18:00:00Z > report.md
      kubectl logs pod/volsync-src-app-x7k2p | analyze -n media -o json
      analyze --addr http://127.0.0.1:3100 --since 48h --output-file report.md
    """
    try:
        code = _run(paths, window, analysis, inputs, report, loki, catalog, kube)
    except AnalyzerError as exc:  # anything else is a bug and keeps its traceback
        click.echo(f"analyze: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except KeyboardInterrupt:  # Ctrl-C: no traceback, the shell's code for SIGINT
        click.echo("analyze: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if code != EXIT_OK:
        sys.exit(code)


def _run(
    paths: tuple[str, ...],
    window: WindowFlags,
    analysis: AnalysisFlags,
    inputs: InputFlags,
    report: ReportFlags,
    loki: LokiFlags,
    catalog: CatalogFlags,
    kube: KubeFlags | None = None,
) -> int:
    """Everything `main` does, raising `AnalyzerError` for what the user can fix; the exit code."""
    if catalog.pattern_schema:
        sys.stdout.write(json.dumps(catalog_mod.pattern_schema(), indent=2) + "\n")
        return EXIT_OK
    if catalog.list_patterns:
        _list_patterns(catalog.pattern_dirs, report.fmt)
        return EXIT_OK
    if catalog.test_patterns:
        return _test_patterns(catalog.test_patterns)
    output_file = None if report.output_file in (None, "-") else report.output_file
    if output_file and not catalog.starter_pattern:
        _check_writable(output_file)  # before the analysis, not after it
    fix_at = _fix_at(analysis.fix_at) if analysis.fix_at else None
    hang_after = parse_duration(analysis.hang_after, flag="--hang-after")
    validation_hours = parse_hours(analysis.validation_hours, flag="--validation-hours")
    request = None
    if loki.loki_addr or (not paths and os.environ.get("LOKI_ADDR")):
        request = _loki_source(loki, quiet=report.quiet)
    cluster, inputs = _kube_source(kube, inputs)
    if not paths and request is None and cluster is None:
        if not stdin_is_piped() or _stdin_is_empty():
            raise InputError(
                "no input: give log files, folders or globs (or - for stdin), pipe logs in, "
                "--loki URL or --kube"
            )
        paths = ("-",)
    result = analyze(
        paths,
        since=window.since,
        until=window.until,
        from_=window.from_,
        to=window.to,
        fix_at=fix_at,
        patterns=catalog.pattern_dirs,
        hang_after=hang_after,
        validation_hours=validation_hours,
        overrides=Overrides(inputs.namespace, inputs.pod, inputs.container),
        loki=request,
        in_memory=inputs.in_memory,
        all_pods=inputs.all_pods,
        progress=False if report.quiet else None,
        sources=[cluster] if cluster else [],
    )
    _warn_all(result.catalog.warnings, report.quiet)
    options = RenderOptions(
        redact=not report.no_redact, redact_hosts=report.redact_hosts, max_chars=report.max_chars
    )
    if catalog.starter_pattern:
        sys.stdout.write(_starter(result, catalog.starter_pattern, options))
        return EXIT_OK
    if report.fmt == "json":
        text = render_json(result, options)
    else:
        text = render_markdown(result, options)
    if output_file:
        _write_report(output_file, text)
        if not report.quiet:
            click.echo(f"analyze: wrote the {report.fmt} report to {output_file}", err=True)
    else:
        sys.stdout.write(text)
    _warn_all(list(result.notices), report.quiet)
    if report.exit_code:
        if result.inputs.gaps:
            return EXIT_INCOMPLETE
        if result.status != "RESOLVED":
            return EXIT_CRITERIA
    return EXIT_OK


def stdin_is_piped() -> bool:
    """Whether stdin holds data to read when no path is given, as `jq` and `grep` read it: a
    pipe, a redirected file or a socket. A terminal (someone forgot the path) or a closed or
    null stdin is not: then the usual "no input" error."""
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (AttributeError, OSError, ValueError):  # no stdin, or a test's in-memory one
        return sys.stdin is not None and not sys.stdin.isatty()
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode) or stat.S_ISSOCK(mode)


def _stdin_is_empty() -> bool:
    """Whether piped stdin ends before its first byte (`analyze < /dev/null`, `true | analyze`),
    looked at without consuming anything: waits for the first byte, as `grep` would."""
    buffer = sys.stdin.buffer
    peek = getattr(buffer, "peek", None)
    if peek is not None:
        return not peek(1)
    position = buffer.tell()  # an in-memory stdin (click's test runner)
    first = buffer.read(1)
    buffer.seek(position)
    return not first


def _fix_at(text: str) -> datetime:
    """`--fix-at`, refused when it lies in the future: a fix cannot have been applied later than
    now, so such a time is a typo (year, month, offset) that would silently leave every run
    "before the fix" and the validation window empty."""
    value = parse_time(text, flag="--fix-at")
    now = datetime.now(UTC)
    if value > now + FIX_AT_SKEW:
        raise WindowError(
            f"--fix-at: {fmt_utc(value)} is in the future (now {fmt_utc(now)}); "
            "give the time the fix was applied"
        )
    return value


def _loki_source(flags: LokiFlags, *, quiet: bool = False) -> LokiSource:
    """The Loki connection: the flags over the LOKI_* variables (`LokiConfigError` if unusable)."""
    deadline = parse_duration(flags.loki_deadline, flag="--loki-deadline").total_seconds()
    config = LokiConfig.from_env(os.environ, **flags.config_overrides(), deadline_s=deadline)
    return LokiSource(
        config,
        selector=flags.selector or DEFAULT_SELECTOR,
        mode=flags.mode,
        pushdown_above_mb=flags.pushdown_above_mb,
        parallel=flags.parallel,
        progress=False if quiet else None,
    )


def _kube_source(flags: KubeFlags | None, inputs: InputFlags) -> tuple[Any, InputFlags]:
    """The `--kube` read (None without `--kube`); with it, `-n/--namespace` is the namespace
    read instead of a single input's namespace."""
    if flags is None or not flags.kube:
        if flags and (flags.kube_context or flags.kubeconfig or flags.all_namespaces):
            raise KubeConfigError("-A, --context and --kubeconfig read the cluster: add --kube")
        return None, inputs
    from dataclasses import replace

    from .sources.kube import KubeSource

    namespace = None if flags.all_namespaces else inputs.namespace
    source = KubeSource(
        kubeconfig=flags.kubeconfig,
        context=flags.kube_context,
        namespaces=(namespace,) if namespace else (),
    )
    return source, replace(inputs, namespace=None)


def _check_writable(path: str) -> None:
    """Raise `OutputError` unless a report can be written to `path`, so that a bad
    `--output-file` fails in a moment rather than after the whole analysis."""
    target = Path(path)
    parent = target.parent
    if target.is_dir():
        raise OutputError(f"{path}: --output-file names a folder, not a file")
    if not parent.is_dir():
        raise OutputError(f"{path}: cannot write: no such directory {parent}")
    if target.exists() and not os.access(target, os.W_OK):
        raise OutputError(f"{path}: cannot write: permission denied")
    if not target.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: cannot write: directory {parent} is not writable")


def _write_report(path: str, text: str) -> None:
    """Write the report to `path`; an `OutputError` names the path."""
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None


def _starter(analysis: Analysis, n: int, options: RenderOptions) -> str:
    """The starter pattern file for template N of the (redacted) unrecognised errors."""
    unclassified = report_mod.redacted(analysis, options).unclassified
    if n > unclassified.height:
        raise AnalyzerError(
            f"--starter-pattern: there are {unclassified.height} unrecognised-error templates"
        )
    return templates.starter_pattern(unclassified.row(n - 1, named=True))


if __name__ == "__main__":  # pragma: no cover
    main()
