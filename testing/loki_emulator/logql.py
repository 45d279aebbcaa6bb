"""LogQL lexer, AST and recursive-descent parser for the subset the Loki source sends; errors read
like Loki's goyacc errors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .api import ERR_EMPTY_SELECTOR, ApiError
from .goformat import go_unquote, parse_go_duration, parse_prom_duration
from .re2 import compile_re2

_TOKEN_RE = re.compile(
    r"""(?P<ws>\s+)|(?P<string>"(?:[^"\\\n]|\\.)*"|`[^`]*`)|(?P<range>\[[^\]]*\])
    |(?P<op>\|=|\|~|\|>|!=|!~|=~|!>|==|=|\||\{|\}|\(|\)|,)
    |(?P<ident>[a-zA-Z_][a-zA-Z0-9_]*)|(?P<number>[0-9]+(?:\.[0-9]+)?)|(?P<other>.)""",
    re.X,
)
VECTOR_OPS = ("sum", "count", "min", "max", "avg")
RANGE_FUNCS = ("count_over_time", "rate", "bytes_over_time", "bytes_rate")
PARSER_STAGES = ("json", "logfmt", "pattern", "regexp", "unpack", "line_format", "label_format")
PARSER_STAGES += ("decolorize", "drop", "unwrap")


@dataclass(frozen=True)
class Token:
    kind: str  # string, range, op, ident, number, other, eof
    text: str
    line: int
    col: int

    def display(self) -> str:
        """How goyacc names the token in `unexpected X`."""
        names = {"string": "STRING", "range": "RANGE", "ident": "IDENTIFIER", "eof": "$end"}
        names["number"] = "NUMBER"
        return names.get(self.kind, self.text)


def tokenize(query: str) -> list[Token]:
    """Split a LogQL query into tokens with 0-based line and 1-based column."""
    tokens, line, line_start = [], 0, 0
    for match in _TOKEN_RE.finditer(query):
        kind = match.lastgroup or "other"
        if kind != "ws":
            tokens.append(Token(kind, match.group(), line, match.start() - line_start + 1))
        for offset, ch in enumerate(match.group()):
            if ch == "\n":
                line, line_start = line + 1, match.start() + offset + 1
    tokens.append(Token("eof", "", line, len(query) - line_start + 1))
    return tokens


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str
    regex: re.Pattern[str] | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Prometheus semantics: an absent label is the empty string."""
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self.regex is not None
        found = self.regex.match(actual) is not None
        return found if self.op == "=~" else not found


@dataclass(frozen=True)
class LineFilter:
    op: str  # |=, !=, |~, !~
    values: tuple[str, ...]
    regexes: tuple[re.Pattern[str], ...] = ()

    def keep(self, line: str) -> bool:
        """`or`-chained values: positive filters need one hit, negative ones none."""
        if self.op in ("|=", "!="):
            hit = any(value in line for value in self.values)
        else:
            hit = any(regex.search(line) is not None for regex in self.regexes)
        return hit if self.op in ("|=", "|~") else not hit


@dataclass(frozen=True)
class LogQuery:
    matchers: tuple[Matcher, ...]
    line_filters: tuple[LineFilter, ...]
    label_filters: tuple[Matcher, ...]
    #: `| keep a, b`: the labels (stream labels and structured metadata) the result keeps
    keep: tuple[str, ...] | None = None


@dataclass(frozen=True)
class RangeAgg:
    func: str
    inner: LogQuery
    range_ns: int


@dataclass(frozen=True)
class VectorAgg:
    op: str
    by: tuple[str, ...] | None
    without: tuple[str, ...] | None
    inner: RangeAgg | VectorAgg


Expr = LogQuery | RangeAgg | VectorAgg


class Parser:
    """Recursive-descent parser for the LogQL subset; errors read like Loki's goyacc errors."""

    def __init__(self, query: str) -> None:
        self.tokens = tokenize(query)
        self.pos = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def error(self, expecting: Sequence[str] = ()) -> ApiError:
        tok = self.tok
        # As a real Loki 3.7.6 numbers them: the end of the query on its 1-based line, any
        # other token on "line 0" whatever its line (the column is on its own line).
        line = tok.line + 1 if tok.kind == "eof" else 0
        message = f"parse error at line {line}, col {tok.col}: syntax error: "
        message += f"unexpected {tok.display()}"
        if expecting:
            message += ", expecting " + " or ".join(expecting)
        return ApiError(message)

    def take(self, kind: str, text: str | None = None, expecting: Sequence[str] = ()) -> Token:
        tok = self.tok
        if tok.kind != kind or (text is not None and tok.text != text):
            raise self.error(expecting or [text or kind.upper()])
        self.pos += 1
        return tok

    def parse(self) -> Expr:
        expr = self.expr()
        if self.tok.kind != "eof":
            raise self.error()
        return expr

    def expr(self) -> Expr:
        tok = self.tok
        if tok.kind == "op" and tok.text == "{":
            return self.log_query()
        if tok.kind == "ident" and tok.text in VECTOR_OPS:
            return self.vector_agg()
        if tok.kind == "ident" and tok.text in RANGE_FUNCS:
            return self.range_agg()
        raise self.error()

    def vector_agg(self) -> VectorAgg:
        op = self.take("ident").text
        grouping = self.grouping()
        self.take("op", "(")
        inner = self.expr()
        if isinstance(inner, LogQuery):
            raise ApiError("parse error : invalid aggregation " + op + " without unwrap")
        self.take("op", ")", expecting=[")"])
        grouping = grouping or self.grouping()
        by = grouping[1] if grouping and grouping[0] == "by" else None
        without = grouping[1] if grouping and grouping[0] == "without" else None
        return VectorAgg(op, by, without, inner)

    def grouping(self) -> tuple[str, tuple[str, ...]] | None:
        if not (self.tok.kind == "ident" and self.tok.text in ("by", "without")):
            return None
        kind = self.take("ident").text
        self.take("op", "(")
        names: list[str] = []
        while not (self.tok.kind == "op" and self.tok.text == ")"):
            names.append(self.take("ident", expecting=["IDENTIFIER"]).text)
            if self.tok.kind == "op" and self.tok.text == ",":
                self.pos += 1
        self.take("op", ")")
        return kind, tuple(names)

    def range_agg(self) -> RangeAgg:
        func = self.take("ident").text
        self.take("op", "(")
        inner = self.log_query()
        token = self.take("range", expecting=["RANGE"])
        self.take("op", ")", expecting=[")"])
        return RangeAgg(func, inner, self.range_duration(token))

    def range_duration(self, token: Token) -> int:
        text = token.text[1:-1].strip()
        try:
            return parse_prom_duration(text)
        except ApiError:
            return parse_go_duration(text)

    def log_query(self) -> LogQuery:
        matchers = self.selector()
        line_filters: list[LineFilter] = []
        label_filters: list[Matcher] = []
        keep: tuple[str, ...] | None = None
        while self.tok.kind == "op" and self.tok.text in ("|=", "|~", "!=", "!~", "|"):
            if self.tok.text == "|" and self.tokens[self.pos + 1].text == "keep":
                keep = self.keep_stage(keep)
            elif self.tok.text == "|":
                label_filters.append(self.label_filter())
            else:
                line_filters.append(self.line_filter())
        return LogQuery(tuple(matchers), tuple(line_filters), tuple(label_filters), keep)

    def keep_stage(self, before: tuple[str, ...] | None) -> tuple[str, ...]:
        """`| keep a, b, c` (names only; a second keep keeps what both keep)."""
        self.take("op", "|")
        self.take("ident", "keep")
        names = [self.take("ident", expecting=["IDENTIFIER"]).text]
        while self.tok.kind == "op" and self.tok.text == ",":
            self.pos += 1
            names.append(self.take("ident", expecting=["IDENTIFIER"]).text)
        return tuple(n for n in names if before is None or n in before)

    def selector(self) -> list[Matcher]:
        self.take("op", "{")
        matchers = [self.matcher()]
        while self.tok.kind == "op" and self.tok.text == ",":
            self.pos += 1
            matchers.append(self.matcher())
        self.take("op", "}", expecting=["}", ","])
        if not any(_requires_value(m) for m in matchers):
            raise ApiError(ERR_EMPTY_SELECTOR)
        return matchers

    def matcher(self) -> Matcher:
        name = self.take("ident", expecting=["IDENTIFIER"]).text
        op_tok = self.tok
        if op_tok.kind != "op" or op_tok.text not in ("=", "!=", "=~", "!~"):
            raise self.error(["=", "!=", "=~", "!~"])
        self.pos += 1
        value = self.string()
        regex = compile_re2(value, anchored=True) if op_tok.text in ("=~", "!~") else None
        return Matcher(name, op_tok.text, value, regex)

    def string(self, expecting: Sequence[str] = ("STRING",)) -> str:
        tok = self.take("string", expecting=list(expecting))
        try:
            return go_unquote(tok.text)
        except ValueError:
            raise ApiError(
                f"parse error at line {tok.line}, col {tok.col}: invalid syntax"
            ) from None

    def line_filter(self) -> LineFilter:
        op = self.take("op").text
        # a line filter's value may also be `ip("...")` (not emulated, but named in errors)
        values = [self.string(("STRING", "ip"))]
        while self.tok.kind == "ident" and self.tok.text == "or":
            self.pos += 1
            values.append(self.string(("STRING", "ip")))
        regexes = tuple(compile_re2(v, anchored=False) for v in values) if "~" in op else ()
        return LineFilter(op, tuple(values), regexes)

    def label_filter(self) -> Matcher:
        self.take("op", "|")
        if self.tok.kind == "ident" and self.tok.text in PARSER_STAGES:
            raise ApiError(f"emulator: the `{self.tok.text}` stage is not emulated")
        return self.matcher()


def _requires_value(matcher: Matcher) -> bool:
    """True when the matcher cannot match the empty string (so it narrows the stream set)."""
    if matcher.op == "=":
        return matcher.value != ""
    if matcher.op == "=~":
        assert matcher.regex is not None
        return matcher.regex.match("") is None
    return False
