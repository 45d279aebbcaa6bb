"""`analyze`: the command line, a thin layer over `analyzer.analyze()` and the report module.

Exit codes: 0 success; 1 with `--exit-code` when a sign-off criterion fails or cannot be shown;
2 for usage, input and source errors (any `AnalyzerError`: one line on stderr), and with
`--exit-code` when part of the data is missing (a gap); 130 on Ctrl-C.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from . import catalog as catalog_mod
from . import report as report_mod
from . import templates
from .analysis import Analysis, analyze
from .cli_options import (
    AnalysisFlags,
    CatalogFlags,
    InputFlags,
    LokiFlags,
    ReportFlags,
    WindowFlags,
    analysis_options,
    catalog_options,
    input_options,
    loki_options,
    report_options,
    window_options,
)
from .errors import AnalyzerError, InputError, OutputError
from .report import RenderOptions, render_json, render_markdown
from .sources.files import Overrides
from .sources.loki import DEFAULT_SELECTOR, LokiSource
from .sources.loki.config import LokiConfig
from .timeutil import parse_duration, parse_time

EXIT_OK = 0
EXIT_CRITERIA = 1  # --exit-code: a sign-off criterion fails or cannot be shown
EXIT_USAGE = 2  # an AnalyzerError (one line on stderr) or a flag click rejects
EXIT_INCOMPLETE = 2  # --exit-code: part of the data is missing (a Loki gap)
EXIT_INTERRUPTED = 130  # Ctrl-C, as a shell reports a process ended by SIGINT


def _list_patterns(dirs: tuple[str, ...]) -> None:
    cat = catalog_mod.load_catalog(dirs)
    for sig in cat.signatures:
        click.echo(f"{sig.id:<34} {sig.severity:<9} {sig.category:<14} {sig.title}")
    for sid, path in cat.overridden:
        click.echo(f"# {sid}: built-in replaced by {path}")


def _test_patterns(directory: str) -> int:
    sigs = catalog_mod.load_dir(directory)
    failures = catalog_mod.check_examples(sigs)
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
@window_options
@analysis_options
@input_options
@report_options
@loki_options
@catalog_options
def main(
    paths: tuple[str, ...],
    window: WindowFlags,
    analysis: AnalysisFlags,
    inputs: InputFlags,
    report: ReportFlags,
    loki: LokiFlags,
    catalog: CatalogFlags,
) -> None:
    """Analyse Kopia / VolSync mover logs in PATHS (files, directories, globs, `-` for stdin)
    and write a postmortem in the structure of a resolved-incident write-up."""
    try:
        code = _run(paths, window, analysis, inputs, report, loki, catalog)
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
) -> int:
    """Everything `main` does, raising `AnalyzerError` for what the user can fix; the exit code."""
    if catalog.list_patterns:
        _list_patterns(catalog.pattern_dirs)
        return EXIT_OK
    if catalog.test_patterns:
        return _test_patterns(catalog.test_patterns)
    if report.output and not catalog.starter_pattern:
        _check_writable(report.output)  # before the analysis, not after it
    request = None
    if loki.loki_addr or (not paths and os.environ.get("LOKI_ADDR")):
        request = _loki_source(loki)
    if not paths and request is None:
        raise InputError(
            "no input: give log files, directories or globs (or - for stdin), or --loki URL"
        )
    result = analyze(
        paths,
        since=window.since,
        until=window.until,
        from_=window.from_,
        to=window.to,
        fix_at=parse_time(analysis.fix_at, flag="--fix-at") if analysis.fix_at else None,
        patterns=catalog.pattern_dirs,
        hang_after=parse_duration(analysis.hang_after, flag="--hang-after"),
        validation_hours=analysis.validation_hours,
        overrides=Overrides(inputs.namespace, inputs.pod, inputs.container),
        loki=request,
        in_memory=inputs.in_memory,
        all_pods=inputs.all_pods,
    )
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
    if report.output:
        _write_report(report.output, text)
    else:
        sys.stdout.write(text)
    for notice in result.notices:
        click.echo(f"analyze: warning: {notice}", err=True)
    if report.exit_code:
        if result.inputs.gaps:
            return EXIT_INCOMPLETE
        if result.status != "RESOLVED":
            return EXIT_CRITERIA
    return EXIT_OK


def _loki_source(flags: LokiFlags) -> LokiSource:
    """The Loki connection: the flags over the LOKI_* variables (`LokiConfigError` if unusable)."""
    deadline = parse_duration(flags.loki_deadline, flag="--loki-deadline").total_seconds()
    config = LokiConfig.from_env(os.environ, **flags.config_overrides(), deadline_s=deadline)
    return LokiSource(
        config,
        selector=flags.selector or DEFAULT_SELECTOR,
        mode=flags.mode,
        pushdown_above_mb=flags.pushdown_above_mb,
        parallel=flags.parallel,
        progress=None,
    )


def _check_writable(path: str) -> None:
    """Raise `OutputError` unless a report can be written to `path`, so that a bad `-o` fails
    in a moment rather than after the whole analysis."""
    target = Path(path)
    parent = target.parent
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
