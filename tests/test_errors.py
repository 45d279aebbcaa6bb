"""The error tree (`analyzer/errors.py`) and the CLI's one boundary: every `AnalyzerError` class,
raised by a real bad input, becomes one stderr line `analyze: error: …` naming the flag, path or
file, and exit 2; the docstring tree matches the classes."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import hung_then_healthy

from analyzer import cli, errors
from analyzer.errors import (
    AnalyzerError,
    CatalogError,
    InputError,
    KubeAuthError,
    KubeConfigError,
    KubeError,
    KubeUnreachableError,
    LokiAuthError,
    LokiConfigError,
    LokiError,
    LokiQueryError,
    LokiUnreachableError,
    OutputError,
    WindowError,
)
from testing.loki_emulator import Fault, LokiEmulator, fail_when

LOKI_VARIABLES = [
    "LOKI_ADDR",
    "LOKI_USERNAME",
    "LOKI_PASSWORD",
    "LOKI_BEARER_TOKEN",
    "LOKI_BEARER_TOKEN_FILE",
    "LOKI_ORG_ID",
    "LOKI_CA_CERT_PATH",
    "LOKI_CLIENT_CERT_PATH",
    "LOKI_CLIENT_KEY_PATH",
    "LOKI_TLS_SKIP_VERIFY",
]
TOKEN = "the-right-token"
WRONG_TOKEN = "wrong-token-XYZ"


@dataclass(frozen=True)
class Setting:
    """Where a case runs: a small log directory, a scratch directory and the emulated Loki."""

    logs: str
    tmp: Path
    loki: str


@dataclass(frozen=True)
class Case:
    error: type[AnalyzerError]
    args: Callable[[Setting], list[str]]
    needles: Callable[[Setting], list[str]]
    env: tuple[tuple[str, str], ...] = ()


def _loki(s: Setting, *more: str) -> list[str]:
    return ["--loki", s.loki, "--since", "1h", *more]


def _kube(s: Setting, server: str, token: str) -> list[str]:
    """`--kube` with a kubeconfig (written into the case's scratch directory) for `server`."""
    path = s.tmp / "kubeconfig"
    path.write_text(
        '{"apiVersion": "v1", "kind": "Config", "current-context": "ctx",'
        f' "clusters": [{{"name": "c", "cluster": {{"server": "{server}"}}}}],'
        f' "users": [{{"name": "u", "user": {{"token": "{token}"}}}}],'
        ' "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}]}'
    )
    return ["--kube", "--kubeconfig", str(path), "--since", "1h"]


CASES = {
    "bad --since": Case(WindowError, lambda s: ["--since", "4x", s.logs], lambda s: ["--since"]),
    "bad --fix-at": Case(
        WindowError, lambda s: ["--fix-at", "yesterday", s.logs], lambda s: ["--fix-at"]
    ),
    "missing path": Case(
        InputError, lambda s: [str(s.tmp / "nope.log")], lambda s: [str(s.tmp / "nope.log")]
    ),
    "no input": Case(InputError, lambda s: [], lambda s: ["no input"]),
    "--output-file in a missing directory": Case(
        OutputError,
        lambda s: ["--output-file", str(s.tmp / "gone" / "x.md"), s.logs],
        lambda s: [str(s.tmp / "gone" / "x.md")],
    ),
    "missing pattern dir": Case(
        CatalogError,
        lambda s: ["--patterns", str(s.tmp / "mine"), s.logs],
        lambda s: [str(s.tmp / "mine"), "--patterns"],
    ),
    "--loki ftp://x": Case(LokiConfigError, lambda s: ["--loki", "ftp://x"], lambda s: ["--loki"]),
    "both bearer flags": Case(
        LokiConfigError,
        lambda s: _loki(s, "--bearer-token", TOKEN, "--bearer-token-file", str(s.tmp / "t")),
        lambda s: ["--bearer-token", "--bearer-token-file"],
    ),
    "missing --ca-cert": Case(
        LokiConfigError,
        lambda s: _loki(s, "--ca-cert", str(s.tmp / "ca.pem")),
        lambda s: [str(s.tmp / "ca.pem"), "--ca-cert"],
    ),
    "bad LOKI_TLS_SKIP_VERIFY": Case(
        LokiConfigError,
        lambda s: _loki(s),
        lambda s: ["LOKI_TLS_SKIP_VERIFY"],
        env=(("LOKI_TLS_SKIP_VERIFY", "maybe"),),
    ),
    "missing --bearer-token-file": Case(
        LokiAuthError,
        lambda s: _loki(s, "--bearer-token-file", str(s.tmp / "token")),
        lambda s: [str(s.tmp / "token")],
    ),
    "401 from Loki": Case(
        LokiAuthError, lambda s: _loki(s, "--bearer-token", WRONG_TOKEN), lambda s: ["401"]
    ),
    "400 from Loki": Case(
        LokiQueryError,
        lambda s: _loki(s, "--bearer-token", TOKEN, "--selector", '{container=~"kopia"'),
        lambda s: ["HTTP 400", "LogQL"],
    ),
    "404 from Loki": Case(
        LokiError,
        lambda s: _loki(s, "--bearer-token", TOKEN, "--org-id", "gone"),
        lambda s: ["HTTP 404"],
    ),
    "nothing listens at the Loki address": Case(
        LokiUnreachableError,
        lambda s: ["--loki", "http://127.0.0.1:9", "--since", "1h"],
        lambda s: ["cannot reach Loki at http://127.0.0.1:9: connection refused"],
    ),
    "the Loki host does not resolve": Case(
        LokiUnreachableError,
        lambda s: ["--loki", "http://loki.nonexistent.invalid:3100", "--since", "1h"],
        lambda s: ["loki.nonexistent.invalid", "the host name does not resolve"],
    ),
    "every sub-range fails": Case(
        LokiUnreachableError,
        lambda s: _loki(s, "--bearer-token", TOKEN, "--org-id", "down"),
        lambda s: ["no part of the window could be read", "HTTP 503"],
    ),
    "--kube with a missing --kubeconfig": Case(
        KubeConfigError,
        lambda s: ["--kube", "--kubeconfig", str(s.tmp / "nope.yaml")],
        lambda s: [str(s.tmp / "nope.yaml")],
    ),
    "--kube with an unknown --context": Case(
        KubeConfigError,
        lambda s: [*_kube(s, "https://127.0.0.1:9", TOKEN), "--context", "elsewhere"],
        lambda s: ["elsewhere"],
    ),
    "--context without --kube": Case(
        KubeConfigError, lambda s: ["--context", "prod", s.logs], lambda s: ["--context", "--kube"]
    ),
    "nothing listens at the Kubernetes API address": Case(
        KubeUnreachableError,
        lambda s: _kube(s, "https://127.0.0.1:9", TOKEN),
        lambda s: ["cannot reach the Kubernetes API at https://127.0.0.1:9: connection refused"],
    ),
    "401 from the Kubernetes API": Case(
        KubeAuthError, lambda s: _kube(s, s.loki, WRONG_TOKEN), lambda s: ["HTTP 401", "ctx"]
    ),
    "--kube at a server that is no Kubernetes API": Case(
        KubeError,
        lambda s: _kube(s, s.loki, TOKEN),
        lambda s: ["no Kubernetes API server", "HTTP 404"],
    ),
    "--starter-pattern out of range": Case(
        AnalyzerError,
        lambda s: ["--starter-pattern", "999", s.logs],
        lambda s: ["--starter-pattern"],
    ),
}


@pytest.fixture(scope="module")
def loki_url():
    gone = fail_when(lambda info: info.headers.get("x-scope-orgid") == "gone", Fault.http(404))
    down = fail_when(lambda info: info.headers.get("x-scope-orgid") == "down", Fault.http(503))
    with LokiEmulator(bearer_token=TOKEN, faults=[gone, down]) as emulator:
        yield emulator.url


@pytest.fixture
def raised(monkeypatch) -> list[type]:
    """The class of each AnalyzerError that reaches the CLI's boundary."""
    seen: list[type] = []
    run = cli._run

    def spy(*args, **kwargs):
        try:
            return run(*args, **kwargs)
        except AnalyzerError as exc:
            seen.append(type(exc))
            raise

    monkeypatch.setattr(cli, "_run", spy)
    return seen


def _fast_retries(monkeypatch) -> None:
    """Retries as the CLI makes them, but milliseconds apart (a failing Loki takes seconds)."""
    from dataclasses import replace

    from analyzer.sources.loki import LokiConfig

    real = LokiConfig.from_env.__func__

    def fast(cls, env, **kw):
        return replace(real(cls, env, **kw), backoff_base_s=0.001, backoff_max_s=0.002)

    monkeypatch.setattr(LokiConfig, "from_env", classmethod(fast))


@pytest.mark.parametrize("name", list(CASES))
def test_every_error_is_one_line_naming_the_culprit_and_exit_2(
    name, tmp_path, loki_url, raised, monkeypatch
):
    case = CASES[name]
    for variable in LOKI_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    for variable, value in case.env:
        monkeypatch.setenv(variable, value)
    _fast_retries(monkeypatch)
    setting = Setting(str(hung_then_healthy(tmp_path / "logs")), tmp_path, loki_url)
    result = CliRunner().invoke(cli.main, case.args(setting), catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert raised == [case.error]
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("analyze: error: "), result.stderr
    assert "Traceback" not in result.output
    for needle in case.needles(setting):
        assert needle in lines[0]
    assert TOKEN not in result.stderr and WRONG_TOKEN not in result.stderr


def test_the_cases_raise_every_error_class():
    assert {case.error for case in CASES.values()} == set(_defined_classes().values())


def test_a_bad_output_fails_before_the_analysis(tmp_path, monkeypatch):
    def no_analysis(*args, **kwargs):
        raise AssertionError("the analysis ran before --output-file was checked")

    monkeypatch.setattr(cli, "analyze", no_analysis)
    logs = str(hung_then_healthy(tmp_path / "logs"))
    result = CliRunner().invoke(cli.main, ["--output-file", str(tmp_path / "gone" / "x.md"), logs])
    assert result.exit_code == 2 and "no such directory" in result.stderr


def test_a_failed_write_is_an_output_error(tmp_path, monkeypatch):
    def full(self, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    out = tmp_path / "report.md"
    result = CliRunner().invoke(
        cli.main, ["--output-file", str(out), str(hung_then_healthy(tmp_path))]
    )
    assert result.exit_code == 2
    assert result.stderr == f"analyze: error: {out}: cannot write: No space left on device\n"


def test_a_bug_keeps_its_traceback(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(cli, "analyze", broken)
    result = CliRunner().invoke(cli.main, [str(hung_then_healthy(tmp_path))])
    assert isinstance(result.exception, KeyError) and result.exit_code == 1


# --------------------------------------------------------------------------------------------
# The docstring tree
# --------------------------------------------------------------------------------------------

_TREE_LINE = re.compile(r"^(?P<indent>(?:│   |    )*)(?:[├└]── )?(?P<name>[A-Z]\w*Error)\b")


def _defined_classes() -> dict[str, type]:
    return {
        name: cls
        for name, cls in inspect.getmembers(errors, inspect.isclass)
        if cls.__module__ == errors.__name__
    }


def _docstring_tree() -> dict[str, str | None]:
    """Each class the module docstring's tree names, with the parent it is drawn under."""
    parents: dict[str, str | None] = {}
    path: list[str] = []
    for line in (errors.__doc__ or "").splitlines():
        match = _TREE_LINE.match(line)
        if not match:
            continue
        depth = len(match["indent"]) // 4 + (1 if line[len(match["indent"])] in "├└" else 0)
        path[depth:] = [match["name"]]
        parents[match["name"]] = path[depth - 1] if depth else None
    return parents


def test_docstring_tree_lists_every_class_under_its_base():
    tree = _docstring_tree()
    classes = _defined_classes()
    assert sorted(tree) == sorted(classes)
    for name, parent in tree.items():
        base = classes[name].__bases__[0]
        assert base.__name__ == (parent or "Exception"), name
    assert set(errors.__all__) == set(classes)


def test_ctrl_c_is_one_line_and_exit_130(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_run", interrupted)
    result = CliRunner().invoke(cli.main, [str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 130
    assert result.stderr.strip() == "analyze: interrupted"
