"""Remove secrets (and optionally host names and IPs) from log text before it reaches a report.

Kopia and VolSync logs can carry repository passwords, cloud keys, tokens, passwords in URLs,
PEM keys and whole environment dumps. `Redactor` replaces each secret value with a named
placeholder `[REDACTED:<kind>]` and keeps the key name visible, e.g.
`KOPIA_PASSWORD=[REDACTED:kopia-password]`. The mover's `NAME: [SET]` lines carry no value and
are left untouched.

All matching is done by polars' Rust regex engine (linear time, never backtracks), both for a
single string and for a whole column, so the two paths cannot disagree. Rules run in order,
specific before generic; each replaced value becomes an internal private-use sentinel that no
later rule can match, so a value is redacted (and counted) once. Private-use characters
U+E000-U+E004 in the input are replaced by U+FFFD for that reason.

Secrets also span lines: a PEM key printed line by line, a Kubernetes env entry pasted as YAML
or pretty-printed JSON (`- name: KOPIA_PASSWORD` then `  value: …`), an argv list with the flag
on one line and its value on the next. Given the rows of one stream in order
(`redact_column(..., stream=[...])`, `redact_lines`), the redactor reads each row beside the row
before and after it and the PEM blocks it is inside of.

`scrub_credentials` removes known credentials (a Loki password, a bearer token) in every form
an error body may echo them: as given, base64 `user:password`, URL- and JSON-encoded.
"""

from __future__ import annotations

import base64
import ipaddress
import itertools
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

import polars as pl

#: Every kind a placeholder can name, besides the pseudonym kinds `host` and `ip`.
SECRET_KINDS: tuple[str, ...] = (
    "kopia-password",
    "restic-password",
    "aws-secret-key",
    "aws-access-key",
    "aws-session-token",
    "azure-key",
    "azure-sas",
    "b2-key",
    "gcs-private-key",
    "private-key",
    "bearer-token",
    "basic-auth",
    "url-password",
    "password",
    "secret",
    "token",
)

#: Host names (and their subdomains) kept as-is with `redact_hosts=True`: the report links them.
DEFAULT_KEEP_HOSTS: frozenset[str] = frozenset(
    {
        "github.com",
        "githubusercontent.com",
        "github.io",
        "kopia.io",
        "bugzilla.redhat.com",
        "access.redhat.com",
        "readthedocs.io",
        "golang.org",
        "go.dev",
        "gopkg.in",
        "k8s.io",
        "kubernetes.io",
    }
)

# Top-level domains and internal suffixes that make a dotted word a host name. Deliberately
# short: ccTLDs that double as common file extensions (.go is none, but .sh .py .rs .md .pl
# .so .cc .mk .ps .am ...) are left out so file names are not taken for hosts.
_TLD_WORDS = """
com net org edu gov mil int info biz io dev app cloud tech online site xyz
eu de uk fr nl be ch at it es pt se no dk fi ie cz sk hu ro gr ee lv lt si hr
us ca au nz jp cn kr tw hk sg br ru ua tr za co me tv ai
local lan home arpa internal intranet corp localdomain svc private test example invalid
box lab homelab localnet priv infra
"""
_TLDS: frozenset[str] = frozenset(_TLD_WORDS.split())

_OPEN, _CLOSE = "\ue000", "\ue001"  # around a redacted kind while rules run
_PROTECT = "\ue002"  # stands in for `[` of `[SET]` while rules run
_HOST_OPEN, _HOST_CLOSE = "\ue002", "\ue003"  # around a host candidate (after secrets)
_QUIET = "\ue004"  # ends a placeholder that is not counted (the further lines of one PEM block)
_SENT = "\ue000-\ue004"  # the sentinel range, for character classes

# One character of a secret value: not whitespace, not a sentinel.
_NS = rf"[^\s{_SENT}]"
# A value after `=`, `:` or a flag: a quoted string (plus anything glued to it) or a bare word.
_VALUE = rf"(?:\"[^\"\n{_SENT}]*\"{_NS}*|'[^'\n{_SENT}]*'{_NS}*|[\"']?[^\s\"'{_SENT}]{_NS}*)"
# The body of a JSON string, and of a JSON string that is itself inside a JSON string.
_JSON_BODY = rf"(?:[^\"\\{_SENT}]|\\[^{_SENT}])+"
_EJSON_BODY = rf"(?:\\\\\\\"|\\[^\"{_SENT}]|[^\"\\{_SENT}])+"
# `Authorization` header in any dump style: `Authorization: `, `"Authorization": "`, `[...`.
_AUTH = r"(?i:\bauthorization)[\"']?[ \t]*[:=][ \t]*\[?[\"']?[ \t]*"
_QUERY_VALUE = rf"[^&\s#\"'{_SENT}]+"


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: str  # named groups: v = the secret; optional k / e = text kept before / after it


@dataclass(frozen=True)
class _Family:
    """One kind of secret and the names it goes by in each syntax."""

    kind: str
    env: str | None = None  # case-sensitive env var names: NAME=value, NAME: value
    keys: str | None = None  # case-insensitive keys: JSON "key": "v", key=value
    colon_keys: str | None = None  # keys also trusted with `key: value` (default: `keys`)
    json_keys: str | None = None  # keys trusted only as JSON keys (too common elsewhere)
    flags: str | None = None  # CLI flags: --flag=value, --flag value


# Specific before generic: the first family to match a value names its kind.
_FAMILIES: tuple[_Family, ...] = (
    _Family("kopia-password", env=r"KOPIA_[A-Z0-9_]*PASSWORD", flags=r"password|new-password"),
    _Family("restic-password", env=r"RESTIC_[A-Z0-9_]*PASSWORD"),
    _Family(
        "aws-secret-key",
        env=r"[A-Z0-9_]*SECRET_ACCESS_KEY|AWS_SECRET_KEY",
        keys=r"(?:aws_?)?secret_?access_?key|secret_?key",
        flags=r"secret-access-key|secret-key",
    ),
    _Family(
        "aws-access-key",
        env=r"[A-Z0-9_]*ACCESS_KEY_ID|AWS_ACCESS_KEY",
        keys=r"(?:aws_?)?access_?key(?:_?id)?|awsaccesskeyid",
        flags=r"access-key|access-key-id",
    ),
    _Family(
        "aws-session-token",
        env=r"AWS_SESSION_TOKEN|AWS_SECURITY_TOKEN",
        keys=r"(?:aws_?)?session_?token|(?:x-amz-)?security-?token",
        flags=r"session-token",
    ),
    _Family(
        "azure-sas",
        env=r"AZURE_[A-Z0-9_]*SAS[A-Z0-9_]*",
        keys=r"sas_?token|shared_?access_?signature",
        flags=r"sas-token",
    ),
    _Family(
        "azure-key",
        env=r"AZURE_[A-Z0-9_]*(?:KEY|SECRET)",
        keys=r"(?:azure_?)?(?:storage|account)_?key|shared_?access_?key",
        flags=r"storage-key|account-key",
    ),
    _Family(
        "b2-key",
        env=r"B2_[A-Z0-9_]*(?:KEY|KEY_ID|ACCOUNT_ID)",
        keys=r"b2_?[a-z_]*key(?:_?id)?|key_?id|application_?key(?:_?id)?",
        flags=r"key-id|key",
    ),
    _Family(
        "gcs-private-key",
        env=r"(?:GCS|GOOGLE|GCP)_[A-Z0-9_]*(?:PRIVATE_KEY|SECRET)",
        keys=r"private_?key(?:_?id)?",
    ),
    _Family(
        "private-key",
        env=r"[A-Z0-9_]*PRIVATE_KEY",
        keys=r"key_?data|ssh_?key",
        flags=r"key-data|private-key",
    ),
    _Family(
        "password",
        env=r"[A-Z0-9_]*(?:PASSWORD|PASSWD|PASSPHRASE)|[A-Z0-9_]+_(?:PASS|PWD)",
        keys=r"[a-z0-9_.-]*(?:password|passwd|passphrase)",
        flags=r"[a-z0-9-]*(?:password|passwd|passphrase)",
    ),
    _Family(
        "token",
        env=r"[A-Z0-9_]*TOKEN",
        keys=r"[a-z0-9_.-]*token|x-api-key|api_?key|apikey",
        colon_keys=r"[a-z0-9_.-]+[_.-]token|[a-z0-9]+Token|x-api-key|api_?key|apikey",
        flags=r"[a-z0-9-]*token|api-key",
    ),
    _Family(
        "secret",
        env=r"[A-Z0-9_]*(?:SECRET|_KEY|_KEY_ID|APIKEY|_CREDENTIALS)",
        keys=r"[a-z0-9_.-]*secret|credentials?",
        json_keys=r"key",
        colon_keys=r"[a-z0-9_.-]+[_.-]secret|[a-z0-9]+Secret",
        flags=r"[a-z0-9-]*secret|[a-z0-9-]+-key",
    ),
)


def _family_rules(fam: _Family, *forms: str) -> list[_Rule]:
    # One family's rules for the given syntaxes: json, ejson (JSON inside JSON), flag, assign.
    out: list[_Rule] = []
    keys = [f"(?i:{k})" for k in (fam.keys, fam.json_keys) if k] + ([fam.env] if fam.env else [])
    names = "|".join(keys)
    if "json" in forms and names:
        pat = rf'(?P<k>"(?:{names})"[ \t]*:[ \t]*")(?P<v>{_JSON_BODY})(?P<e>")'
        out.append(_Rule(fam.kind, pat))
    if "json" in forms and fam.env:
        # Kubernetes env entries: {"name": "KOPIA_PASSWORD", "value": "..."} and the YAML form.
        pat = rf'(?P<k>"name"[ \t]*:[ \t]*"(?:{fam.env})"[ \t]*,[ \t]*"value"[ \t]*:[ \t]*")'
        out.append(_Rule(fam.kind, rf'{pat}(?P<v>{_JSON_BODY})(?P<e>")'))
        pat = rf"(?P<k>\bname:[ \t]*[\"']?(?:{fam.env})[\"']?[ \t]*\r?\n[ \t]*value:[ \t]*)"
        out.append(_Rule(fam.kind, rf"{pat}(?P<v>{_VALUE})"))
    if "ejson" in forms and names:
        pat = rf'(?P<k>\\"(?:{names})\\"[ \t]*:[ \t]*\\")(?P<v>{_EJSON_BODY})(?P<e>\\")'
        out.append(_Rule(fam.kind, pat))
    if "flag" in forms and fam.flags:
        # Quoted whole, as `set -x` prints it: '--password=two words'; an argv array element:
        # "--password", "value".
        for q in ("'", '"'):
            pat = rf"(?P<k>{q}--(?:{fam.flags})=)(?P<v>[^{q}\n{_SENT}]+)(?P<e>{q})"
            out.append(_Rule(fam.kind, pat))
        pat = rf'(?P<k>"--(?:{fam.flags})"[ \t]*,[ \t]*")(?P<v>{_JSON_BODY})(?P<e>")'
        out.append(_Rule(fam.kind, pat))
        out.append(_Rule(fam.kind, rf"(?P<k>--(?:{fam.flags})(?:=|[ \t]+))(?P<v>{_VALUE})"))
    if "assign" in forms:
        # The key may be quoted (`"key": v`, `\"key\": v`); the value keeps its own quotes.
        # `key = v` may have spaces (ini files); `key: v` may not before the colon (except for
        # env names), so prose like `volume "kopia-secret" : secret "x" not found` keeps its words.
        quote = r"(?:\\?[\"'])?"
        eq, colon = rf"{quote}[ \t]*=[ \t]*", rf"{quote}:[ \t]*"
        if fam.env:
            for q in ("'", '"'):
                pat = rf"(?P<k>{q}(?:{fam.env})=)(?P<v>[^{q}\n{_SENT}]+)(?P<e>{q})"
                out.append(_Rule(fam.kind, pat))
            pat = rf"(?P<k>\b(?:{fam.env})(?:{eq}|[ \t]*{colon}))(?P<v>{_VALUE})"
            out.append(_Rule(fam.kind, pat))
        if fam.keys:
            colon_keys = fam.colon_keys or fam.keys
            out.append(_Rule(fam.kind, rf"(?P<k>\b(?i:{fam.keys}){eq})(?P<v>{_VALUE})"))
            out.append(_Rule(fam.kind, rf"(?P<k>\b(?i:{colon_keys}){colon})(?P<v>{_VALUE})"))
    return out


def _merge(rules: Iterable[_Rule]) -> tuple[tuple[str, str], ...]:
    # (pattern, replacement) pairs; consecutive rules of one kind become one alternation with
    # numbered groups (groups of alternatives that did not match expand to nothing). Fewer
    # regexes keep polars' small compiled-regex cache warm: `redact` gets ~10x faster. `\b` is
    # made ASCII-only, which keeps the fast DFA engines usable on non-ASCII text (~5x faster).
    out: list[tuple[str, str]] = []
    for kind, group in itertools.groupby(rules, key=lambda r: r.kind):
        alts: list[str] = []
        kept_k: list[str] = []
        kept_e: list[str] = []
        for i, rule in enumerate(group):
            pat = rule.pattern.replace(r"\b", r"(?-u:\b)")
            for name in ("k", "v", "e"):
                pat = pat.replace(f"(?P<{name}>", f"(?P<{name}{i}>")
            alts.append(f"(?:{pat})")
            kept_k += [f"${{k{i}}}"] if f"(?P<k{i}>" in pat else []
            kept_e += [f"${{e{i}}}"] if f"(?P<e{i}>" in pat else []
        replacement = "".join(kept_k) + f"{_OPEN}{kind}{_CLOSE}" + "".join(kept_e)
        out.append(("|".join(alts), replacement))
    return tuple(out)


#: Rules besides a family's own, put just before that family's rules.
_EXTRA: dict[str, list[_Rule]] = {
    "password": [
        # .netrc `machine h login u password p`.
        _Rule("password", rf"(?P<k>\blogin[ \t]+[^\s{_SENT}]+[ \t]+password[ \t]+)(?P<v>{_VALUE})"),
        # A short `-p <password>` on a kopia / sshpass / mysql command line.
        _Rule(
            "password",
            rf"(?P<k>\b(?:kopia|sshpass|mysql|mysqldump)\b[^\n{_SENT}]*?[ \t]-p(?:=|[ \t]+))"
            rf"(?P<v>{_VALUE})",
        ),
        # rclone.conf (ini) keys that hold secrets, the whole value: `pass = …`.
        _Rule(
            "password",
            rf"(?m)(?P<k>^[ \t]*(?:pass|password2)[ \t]*=[ \t]*)(?P<v>[^\r\n{_SENT}]+)",
        ),
    ],
    "secret": [
        _Rule(
            "secret",
            rf"(?m)(?P<k>^[ \t]*(?:key|client_secret|sas_url|service_account_credentials)"
            rf"[ \t]*=[ \t]*)(?P<v>[^\r\n{_SENT}]+)",
        ),
    ],
}


def _build_rules() -> tuple[tuple[str, str], ...]:
    gcs = next(f for f in _FAMILIES if f.kind == "gcs-private-key")
    rules: list[_Rule] = [
        # Authorization headers by scheme, before anything can split `Bearer <token>`.
        _Rule("bearer-token", rf"(?P<k>{_AUTH}(?i:bearer)[ \t]+)(?P<v>{_VALUE})"),
        _Rule("basic-auth", rf"(?P<k>{_AUTH}(?i:basic)[ \t]+)(?P<v>{_VALUE})"),
        # Docker config `"auth": "<base64 user:password>"`.
        _Rule("basic-auth", rf'(?P<k>"(?i:auth)"[ \t]*:[ \t]*")(?P<v>{_JSON_BODY})(?P<e>")'),
        _Rule("azure-key", rf"(?P<k>{_AUTH}(?i:sharedkey(?:lite)?)[ \t]+)(?P<v>[^\r\n{_SENT}]+)"),
        _Rule(
            "token",
            rf"(?P<k>{_AUTH}(?i:token|digest|negotiate|ntlm|apikey|hmac|aws4-hmac-sha256)[ \t]+)"
            rf"(?P<v>[^\r\n{_SENT}]+)",
        ),
        _Rule("token", rf'(?P<k>"(?i:authorization)"[ \t]*:[ \t]*")(?P<v>{_JSON_BODY})(?P<e>")'),
        # A GCS service-account key holds a PEM block: name it before the PEM rule does.
        *_family_rules(gcs, "json", "ejson"),
        # PEM private keys, also unterminated ones (to the end of the text).
        _Rule(
            "private-key",
            r"(?s)(?P<k>-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)(?P<v>.+?)"
            r"(?P<e>-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\z)",
        ),
        # Passwords in URLs: scheme://user:password@host (up to the last @ before the path).
        _Rule(
            "url-password",
            rf"(?P<k>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:{_SENT}]*:)"
            rf"(?P<v>[^\s/?#{_SENT}]+)(?P<e>@)",
        ),
        # ... and passwords holding `/`, `?` or `#` (AWS secret keys in `s3://` URLs), up to the
        # last `@` of the word; a port (`host:8080/path@x`) is not taken for one.
        _Rule(
            "url-password",
            rf"(?P<k>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:{_SENT}]+:)"
            rf"(?P<v>(?:[^\s@0-9/?#{_SENT}]|[0-9]+[^\s@0-9/?#{_SENT}])[^\s{_SENT}]*)(?P<e>@)",
        ),
        # Query parameters of signed URLs (Azure SAS, S3 presigned, API keys).
        _Rule("azure-sas", rf"(?P<k>[?&;](?i:sig)=)(?P<v>{_QUERY_VALUE})"),
        _Rule(
            "aws-access-key",
            rf"(?P<k>[?&](?i:x-amz-credential|awsaccesskeyid)=)(?P<v>{_QUERY_VALUE})",
        ),
        _Rule("aws-session-token", rf"(?P<k>[?&](?i:x-amz-security-token)=)(?P<v>{_QUERY_VALUE})"),
        _Rule(
            "token",
            rf"(?P<k>[?&](?i:x-amz-signature|signature|token|access_token|api_?key|key)=)"
            rf"(?P<v>{_QUERY_VALUE})",
        ),
    ]
    for fam in _FAMILIES:
        forms = ("flag", "assign") if fam is gcs else ("json", "ejson", "flag", "assign")
        # Rules of one kind stay together: `_merge` makes them one regex (see there).
        rules += _EXTRA.get(fam.kind, []) + _family_rules(fam, *forms)
    rules += [
        # A bare Authorization value, only when it ends the line or the field.
        _Rule("token", rf"(?m)(?P<k>{_AUTH})(?P<v>{_VALUE})(?P<e>[ \t]*(?:$|[,;}}\]]))"),
        _Rule("token", rf"(?P<k>\b(?i:cookie|set-cookie)[ \t]*:[ \t]*)(?P<v>[^\r\n{_SENT}]+)"),
        # Well-known token shapes wherever they appear.
        _Rule("token", r"(?P<k>\bSignature=)(?P<v>[0-9a-fA-F]{16,})"),
        _Rule("token", r"\b(?P<v>eyJ[A-Za-z0-9+/_=.-]{20,})"),  # JWTs, Kopia repository tokens
        _Rule("token", r"\b(?P<v>gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})"),
        _Rule("token", r"\b(?P<v>glpat-[A-Za-z0-9_-]{20,}|xox[abprs]-[A-Za-z0-9-]{10,})"),
        _Rule("token", r"\b(?P<v>AIza[0-9A-Za-z_-]{35})"),
        # Google OAuth access tokens and refresh tokens.
        _Rule("token", r"\b(?P<v>ya29\.[0-9A-Za-z_-]{20,})"),
        _Rule("token", r"(?P<k>(?:^|[^0-9A-Za-z/:]))(?P<v>1//[0-9A-Za-z_-]{20,})"),
        _Rule("bearer-token", r"(?P<k>\b[Bb]earer[ \t]+)(?P<v>[A-Za-z0-9._~+/-]{16,}=*)"),
        _Rule(
            "aws-access-key",
            r"\b(?P<v>(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA)[A-Z0-9]{16})\b",
        ),
    ]
    return _merge(rules)


_RULES = _build_rules()

# --- Secrets across rows: conditions on a row and its neighbours of the same stream. --------
_PEM_BEGIN = r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
_PEM_END = r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
# A whole row that is one line of a PEM body: 64 base64 characters, not all of them hex (a
# content id or a hash is hex).
_PEM_LINE = r"^[ \t]*[A-Za-z0-9+/]{64}[ \t]*\r?$"
_NOT_HEX = r"[g-zG-Z+/]"
# The last, shorter line of a PEM body (only just before its END line).
_PEM_TAIL = r"^[ \t]*[A-Za-z0-9+/]{4,64}={0,2}[ \t]*\r?$"
_WHOLE_ROW = rf"^(?P<k>[ \t]*)(?P<v>[^\r\n{_SENT}]*[^\s{_SENT}])(?P<e>[ \t]*\r?)$"
# `value: x` / `"value": "x",` alone on a row (the YAML or pretty-printed JSON of an env entry).
_VALUE_ROW = (
    rf"^(?P<k>[ \t]*(?:-[ \t]*)?\\?\"?value\\?\"?[ \t]*:[ \t]*)"
    rf"(?P<v>\"(?:[^\"\\{_SENT}]|\\[^{_SENT}])*\"|'[^'{_SENT}]*'|[^\s,{_SENT}][^\r\n{_SENT}]*?)"
    rf"(?P<e>[ \t]*,?[ \t]*\r?)$"
)
# The argument after a flag that ended the row before: `"value",` / `- value` / `value`.
_ARG_ROW = (
    rf"^(?P<k>[ \t]*(?:-[ \t]+)?)"
    rf"(?P<v>\"[^\"\\\-{_SENT}](?:[^\"\\{_SENT}]|\\[^{_SENT}])*\"|'[^'\-{_SENT}][^'{_SENT}]*'"
    rf"|[^\s,\"'\-{_SENT}][^\s,{_SENT}]*)(?P<e>,?[ \t]*\r?)$"
)


def _name_row(env: str) -> str:
    # `- name: KOPIA_PASSWORD` / `"name": "KOPIA_PASSWORD",` alone on a row.
    return (
        rf"^[ \t]*(?:-[ \t]*)?\\?\"?name\\?\"?[ \t]*:[ \t]*\\?[\"']?(?:{env})\\?[\"']?"
        r"[ \t]*,?[ \t]*\r?$"
    )


def _flag_row(flags: str) -> str:
    # A row that ends with a secret flag whose value is on the next row.
    return rf"(?:^|[\s\"'\[,])--(?:{flags})[\"']?[ \t]*,?[ \t]*\r?$"


def _placeholder(kind: str, counted: bool = True) -> str:
    return f"${{k}}{_OPEN}{kind}{_CLOSE if counted else _QUIET}${{e}}"


def _branches(
    text: pl.Expr, prev: pl.Expr, nxt: pl.Expr, pem: pl.Expr, first: pl.Expr
) -> list[tuple[pl.Expr, pl.Expr]]:
    """(condition, `text` redacted) for each secret that only neighbouring rows reveal."""
    branches: list[tuple[pl.Expr, pl.Expr]] = [
        # Inside a PEM block: the whole row (counted once per block).
        (pem & first, text.str.replace(_WHOLE_ROW, _placeholder("private-key"))),
        (pem, text.str.replace(_WHOLE_ROW, _placeholder("private-key", counted=False))),
        (
            nxt.str.contains(_PEM_END) & text.str.contains(_PEM_TAIL),
            text.str.replace(_WHOLE_ROW, _placeholder("private-key")),
        ),
    ]
    value_row = text.str.contains(_VALUE_ROW)
    arg_row = text.str.contains(_ARG_ROW)
    for fam in _FAMILIES:
        if fam.env:
            cond = value_row & prev.str.contains(_name_row(fam.env))
            branches.append((cond, text.str.replace(_VALUE_ROW, _placeholder(fam.kind))))
        if fam.flags:
            cond = arg_row & prev.str.contains(_flag_row(fam.flags))
            branches.append((cond, text.str.replace(_ARG_ROW, _placeholder(fam.kind))))
    return branches


def _cross_row(text: pl.Expr, prev: pl.Expr, nxt: pl.Expr, pem: pl.Expr, first: pl.Expr) -> pl.Expr:
    """`text` with the secrets that only its neighbouring rows reveal replaced."""
    chain: Any = pl
    for cond, then in _branches(text, prev, nxt, pem, first):
        chain = chain.when(cond.fill_null(False)).then(then)
    return chain.otherwise(text)


def _helpers(column: str) -> tuple[pl.Expr, pl.Expr, pl.Expr, pl.Expr]:
    # prev, next, inside a PEM block (or shaped like a PEM line), first row of its block.
    text = pl.col(column)
    pem = pl.col("_rd_pem") | _pem_row(text)
    first = pl.col("_rd_first") | (_pem_row(text) & ~pl.col("_rd_pem"))
    return pl.col("_rd_prev"), pl.col("_rd_next"), pem, first


def _maybe_cross_row(column: str) -> pl.Expr:
    """A superset of the rows `_cross_row` changes, by literal tests only: polars keeps few
    compiled regexes, and the redaction rules should keep theirs."""
    text = pl.col(column)
    return (
        pl.col("_rd_pem")
        | (
            text.str.strip_chars().str.len_chars().is_between(4, 66)
            & ~text.str.strip_chars().str.contains(" ", literal=True)
        )
        | pl.col("_rd_next").str.contains("-----END", literal=True).fill_null(False)
        | (
            pl.col("_rd_prev").str.contains("name", literal=True).fill_null(False)
            & text.str.contains("value", literal=True)
        )
        | pl.col("_rd_prev").str.contains("--", literal=True).fill_null(False)
    )


def _pem_row(text: pl.Expr) -> pl.Expr:
    """A row that is a line of a PEM body by its shape alone (its BEGIN line may be far)."""
    return text.str.contains(_PEM_LINE) & text.str.contains(_NOT_HEX)


# The mover's `NAME: [SET]` / `NAME: [NOT SET]` lines carry no value; their `[` is hidden from
# the rules. Only when nothing follows on the line, so a password can't pass as `[SET]...`.
_NO_VALUE = r"(?m)(?P<k>: *)\[(?P<w>SET|NOT SET)\](?P<t>[ \t\r]*)$"
# A placeholder while rules run; one ending in _QUIET is not counted (one regex for both
# keeps polars' compiled-regex cache small).
_PLACEHOLDER = rf"{_OPEN}(?P<kind>[a-z0-9-]+)[{_CLOSE}{_QUIET}]"

_HEX = "[0-9A-Fa-f]{1,4}"
_IPV6 = (
    rf"(?:(?:{_HEX})?:){{2,7}}[0-9]{{1,3}}(?:\.[0-9]{{1,3}}){{3}}"  # ::ffff:10.0.0.1
    rf"|(?:{_HEX}:){{7}}{_HEX}"
    rf"|(?:{_HEX}:){{1,7}}:(?:{_HEX}(?::{_HEX}){{0,6}})?"
    rf"|::{_HEX}(?::{_HEX}){{0,6}}"
)
_IPV4 = r"[0-9]+(?:\.[0-9]+){3,}"
_HOSTNAME = r"(?:[A-Za-z0-9][A-Za-z0-9-]*\.)+[A-Za-z][A-Za-z0-9-]*"
_HOST_CANDIDATE = rf"(?P<pre>^|[^0-9A-Za-z_.\-{_SENT}])(?P<h>{_IPV6}|{_IPV4}|{_HOSTNAME})"


def credential_forms(secrets: Iterable[str | None], *, username: str | None = None) -> list[str]:
    """Every form in which a server's error body or a library's message may echo `secrets`
    (passwords, tokens): as given, URL-encoded (`%2F` and `%2f`, `+` for spaces), JSON-escaped
    (also twice, JSON inside JSON), and, with `username`, base64 of `username:secret` (the Basic
    auth header, standard and URL-safe, with and without padding). Longest first; a value is
    always listed as given, its derived forms only from 3 characters on."""
    forms: set[str] = set()
    given: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        given.add(secret)
        escaped = json.dumps(secret)[1:-1]
        forms |= {
            secret,
            quote(secret, safe=""),
            quote(secret, safe="").lower(),
            quote(secret, safe="/:@"),
            quote_plus(secret),
            escaped,
            json.dumps(secret, ensure_ascii=False)[1:-1],
            json.dumps(escaped)[1:-1],
        }
        pairs = [f"{username}:{secret}"] if username else []
        for raw in [*pairs, secret]:
            for enc in (base64.b64encode, base64.urlsafe_b64encode):
                coded = enc(raw.encode()).decode()
                forms |= {coded, coded.rstrip("=")}
    return sorted({f for f in forms if len(f) >= 3} | given, key=len, reverse=True)


def scrub_credentials(
    text: str,
    secrets: Iterable[str | None],
    *,
    username: str | None = None,
    placeholder: str = "***",
) -> str:
    """`text` (an error body, an exception message) with every known credential removed in
    every form `credential_forms` lists: for what goes to stderr or into a report's Data gaps
    table when a server echoes the request. The username alone is not a secret and stays."""
    for form in credential_forms(secrets, username=username):
        text = text.replace(form, placeholder)
    return text


def _as_valid_utf8(text: str) -> str:
    # Lone surrogates (e.g. from surrogateescape-decoded bytes) cannot go into polars.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _occurrences(frame: pl.DataFrame, column: str, pattern: str) -> list[tuple[str, int]]:
    # Each distinct match of `pattern` in `column` with its count, in order of first appearance.
    found = frame.select(pl.col(column).str.extract_all(pattern).alias("match"))
    counted = found.explode("match").drop_nulls().group_by("match", maintain_order=True).len()
    return [(m, n) for m, n in counted.iter_rows()]


_NEIGHBOURS = ["_rd_prev", "_rd_next", "_rd_pem", "_rd_first"]
_REDACTED = re.compile(r"\[REDACTED:([a-z0-9-]+)\]")


def _with_neighbours(
    frame: pl.DataFrame, column: str, stream: Sequence[str] | None
) -> pl.DataFrame:
    # Per row: the rows before and after it in its stream, and whether it is inside a PEM
    # block (after a BEGIN line whose END has not come yet), the first such row of its block.
    # Without a stream every row stands alone.
    if stream is None:
        return frame.with_columns(
            pl.lit(None, pl.String).alias("_rd_prev"),
            pl.lit(None, pl.String).alias("_rd_next"),
            pl.lit(False).alias("_rd_pem"),
            pl.lit(False).alias("_rd_first"),
        )
    stream = list(stream)

    def over(e: pl.Expr) -> pl.Expr:
        return e.over(stream) if stream else e

    text = pl.col(column)
    # Literal tests (see `_maybe_cross_row`): a BEGIN / END line of a private key.
    key = text.str.contains("PRIVATE KEY", literal=True)
    begin = (key & text.str.contains("-----BEGIN ", literal=True)).fill_null(False)
    end = (key & text.str.contains("-----END ", literal=True)).fill_null(False)
    step = (begin & ~end).cast(pl.Int32) - (end & ~begin).cast(pl.Int32)
    depth_before = over(step.cum_sum()) - step
    inside = (depth_before > 0) & ~end
    return frame.with_columns(
        over(text.shift(1)).alias("_rd_prev"),
        over(text.shift(-1)).alias("_rd_next"),
        inside.alias("_rd_pem"),
    ).with_columns(
        (pl.col("_rd_pem") & ~over(pl.col("_rd_pem").shift(1)).fill_null(False)).alias("_rd_first")
    )


def _kept(host: str, keep: Iterable[str]) -> bool:
    return any(host == k or host.endswith("." + k) for k in keep)


@dataclass
class Redactor:
    """Replaces secrets with `[REDACTED:<kind>]` and, if asked, hosts/IPs with pseudonyms.

    One instance keeps its counts and its pseudonym table across calls, so the same host gets
    the same `host-N` token everywhere in one report.
    """

    redact_hosts: bool = False
    keep_hosts: frozenset[str] = DEFAULT_KEEP_HOSTS
    _counts: Counter[str] = field(default_factory=Counter, init=False, repr=False)
    _pseudonyms: dict[tuple[str, str], str] = field(default_factory=dict, init=False, repr=False)
    _issued: Counter[str] = field(default_factory=Counter, init=False, repr=False)

    def counts(self) -> dict[str, int]:
        """Number of values redacted per kind (incl. `host`, `ip`), over all calls so far."""
        return dict(self._counts)

    def redact(self, text: str) -> str:
        """`text` with every secret value (and host/IP, if enabled) replaced; never raises."""
        return self.redact_many([text])[0]

    def redact_many(self, texts: Iterable[str]) -> list[str]:
        """`redact` for many strings in one vectorised pass (cheaper than a loop of `redact`)."""
        values = [_as_valid_utf8(t) for t in texts]
        frame = pl.DataFrame({"text": values}, schema={"text": pl.String})
        return self.redact_column(frame, "text").get_column("text").to_list()

    def redact_lines(self, lines: Sequence[str]) -> list[str]:
        """`lines`, consecutive rows of one stream, redacted together: a secret that spans rows
        (a PEM block, a YAML env entry, a flag and its value) is found as well."""
        values = [_as_valid_utf8(t) for t in lines]
        frame = pl.DataFrame({"text": values}, schema={"text": pl.String})
        return self.redact_column(frame, "text", stream=[]).get_column("text").to_list()

    def redact_column(
        self,
        frame: pl.DataFrame,
        column: str,
        *,
        stream: Sequence[str] | None = None,
        keep: pl.Expr | None = None,
    ) -> pl.DataFrame:
        """`frame` with string `column` redacted like `redact`, vectorised over all rows.

        With `stream` (columns naming a stream; `[]`: all rows are one), the rows are taken as
        the consecutive rows of their stream, in order, and secrets spanning rows are found too.
        `keep` then selects the rows returned (and counted) after their neighbours were read,
        so a caller can pass more rows than it shows. An all-null (`pl.Null`) column is
        returned as is; any other non-string column is cast to `pl.String` first.
        """
        dtype = frame.schema[column]
        if dtype == pl.Null or frame.height == 0:
            return frame if keep is None else frame.filter(keep)
        if dtype != pl.String:
            frame = frame.with_columns(pl.col(column).cast(pl.String))
        frame = _with_neighbours(frame, column, stream)
        if keep is not None:
            frame = frame.filter(keep)
        out = self._redact_prepared(frame, column)
        return self._pseudonymise(out, column) if self.redact_hosts else out

    def _redact_prepared(self, frame: pl.DataFrame, column: str) -> pl.DataFrame:
        # `frame` has the `_rd_*` neighbour columns; they are dropped from the result.
        col = pl.col(column)
        expr = col.str.replace_all(f"[{_SENT}]", "\ufffd").str.replace_all(
            _NO_VALUE, f"${{k}}{_PROTECT}${{w}}]${{t}}"
        )
        if frame.select(_maybe_cross_row(column).fill_null(False).any()).item():
            expr = _cross_row(expr, *_helpers(column))
        for pattern, replacement in _RULES:
            expr = expr.str.replace_all(pattern, replacement)
        marked = frame.with_columns(expr).drop(_NEIGHBOURS)
        for placeholder, n in _occurrences(marked, column, _PLACEHOLDER):
            if placeholder.endswith(_CLOSE):
                self._counts[placeholder[1:-1]] += n
        return marked.with_columns(
            col.str.replace_all(_PLACEHOLDER, "[REDACTED:${kind}]").str.replace_all(
                _PROTECT, "[", literal=True
            )
        )

    def neighbour_secrets(
        self, frame: pl.DataFrame, column: str, stream: Sequence[str]
    ) -> dict[str, str]:
        """Texts of rows (consecutive rows of their `stream`, in order) that hold a secret only
        their neighbours reveal (a `value:` row after `- name: KOPIA_PASSWORD`, a PEM body
        line), each with its redacted text; nothing is counted. Other tables that copy such a
        row (a run's last line, an example) are redacted with `apply_known`."""
        if frame.height == 0 or frame.schema[column] == pl.Null:
            return {}
        rows = _with_neighbours(frame.select(column, *stream), column, stream)
        rows = rows.filter(_maybe_cross_row(column).fill_null(False))
        text = pl.col(column)
        rows = rows.filter(_cross_row(text, *_helpers(column)) != text)
        if rows.height == 0:
            return {}
        raw = rows[column].to_list()
        redacted = Redactor()._redact_prepared(rows, column)[column].to_list()
        return {r: d for r, d in zip(raw, redacted, strict=True) if r is not None and r != d}

    def apply_known(self, frame: pl.DataFrame, column: str, known: dict[str, str]) -> pl.DataFrame:
        """`column` (text, or a list of texts) with each text found in `known` (from
        `neighbour_secrets`) replaced by its redacted text, and those redactions counted."""
        if not known or frame.height == 0 or column not in frame.columns:
            return frame
        dtype = frame.schema[column]
        if dtype == pl.Null:
            return frame
        values = frame[column].explode() if isinstance(dtype, pl.List) else frame[column]
        for text, n in values.drop_nulls().value_counts().iter_rows():
            if text in known:
                for kind in _REDACTED.findall(known[text]):
                    self._counts[kind] += n
        old, new = list(known), list(known.values())
        if isinstance(dtype, pl.List):
            swap = pl.element().replace(old, new)
            return frame.with_columns(pl.col(column).list.eval(swap))
        return frame.with_columns(pl.col(column).replace(old, new))

    def _classify(self, candidate: str) -> tuple[str, str] | None:
        # (kind, canonical key) for a real host or IP worth hiding, else None.
        try:
            ip = ipaddress.ip_address(candidate)
        except ValueError:
            ip = None
        if ip is not None:
            # An IPv4-mapped IPv6 address (`::ffff:10.0.0.5`) is its IPv4 address.
            ip = getattr(ip, "ipv4_mapped", None) or ip
            return None if ip.is_loopback or ip.is_unspecified else ("ip", ip.compressed)
        host = candidate.lower()
        labels = host.split(".")
        # A capitalised last label is code (`log.Info`, `x.Net`), not a domain; one in
        # capitals (`NAS.LAN`, `Backup.Example.COM`) is.
        tld = candidate.rsplit(".", 1)[-1]
        if not (tld.islower() or tld.isupper()) or labels[-1] not in _TLDS or len(host) > 253:
            return None
        if any(not lab or len(lab) > 63 or lab.endswith("-") for lab in labels):
            return None
        return None if _kept(host, self.keep_hosts) else ("host", host)

    def _pseudonym(self, kind: str, key: str) -> str:
        token = self._pseudonyms.get((kind, key))
        if token is None:
            self._issued[kind] += 1
            token = self._pseudonyms[(kind, key)] = f"{kind}-{self._issued[kind]}"
        return token

    def _pseudonymise(self, frame: pl.DataFrame, column: str) -> pl.DataFrame:
        col = pl.col(column)
        wrapped = frame.with_columns(
            col.str.replace_all(_HOST_CANDIDATE, f"${{pre}}{_HOST_OPEN}${{h}}{_HOST_CLOSE}")
        )
        found = _occurrences(wrapped, column, f"{_HOST_OPEN}[^{_HOST_CLOSE}]*{_HOST_CLOSE}")
        if not found:
            return frame
        patterns, replacements = [], []
        for wrapped_candidate, n in found:
            candidate = wrapped_candidate[1:-1]
            cls = self._classify(candidate)
            patterns.append(wrapped_candidate)
            if cls is None:
                replacements.append(candidate)
            else:
                replacements.append(self._pseudonym(*cls))
                self._counts[cls[0]] += n
        return wrapped.with_columns(col.str.replace_many(patterns, replacements, leftmost=True))
