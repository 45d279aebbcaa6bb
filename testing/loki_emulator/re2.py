"""RE2 patterns on Python's `re`: the spellings Python lacks rewritten, Perl-only syntax refused as
RE2 refuses it.
"""

from __future__ import annotations

import re

from .api import ApiError

_PERL_ONLY = ("(?=", "(?!", "(?<=", "(?<!", "(?>")
_POSIX_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
    "space": "\\t\\n\\v\\f\\r ", "xdigit": "0-9A-Fa-f", "word": "\\w", "blank": " \\t",
    "punct": "!-/:-@\\[-`{-~", "cntrl": "\\x00-\\x1f\\x7f", "print": " -~", "graph": "!-~",
}  # fmt: skip


def _translate_escape(pattern: str, i: int, in_class: bool) -> tuple[str, int]:
    """One escape sequence starting at pattern[i] == '\\' -> (Python text, next index)."""
    hexa = re.match(r"\\x\{([0-9A-Fa-f]+)\}", pattern[i:])
    if hexa:
        return f"\\U{int(hexa.group(1), 16):08x}", i + hexa.end()
    nxt = pattern[i + 1 : i + 2]
    if nxt.isdigit() and nxt != "0" and not in_class:
        raise ApiError(f"invalid escape sequence: `\\{nxt}`")
    if nxt == "z" and not in_class:
        return "\\Z", i + 2
    return pattern[i : i + 2], i + 2


def _translate_class(pattern: str, i: int) -> tuple[str, int]:
    """A bracket expression starting at pattern[i] == '[' -> (Python text, next index)."""
    out, i = ["["], i + 1
    if pattern[i : i + 1] == "^":
        out.append("^")
        i += 1
    if pattern[i : i + 1] == "]":
        out.append("\\]")
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        posix = re.match(r"\[:(\^?)([a-z]+):\]", pattern[i:])
        if posix and posix.group(2) in _POSIX_CLASSES and not posix.group(1):
            out.append(_POSIX_CLASSES[posix.group(2)])
            i += posix.end()
        elif pattern[i] == "\\":
            text, i = _translate_escape(pattern, i, True)
            out.append(text)
        else:
            out.append("\\[" if pattern[i] == "[" else pattern[i])
            i += 1
    if i >= len(pattern):
        raise ApiError(f"missing closing ]: `{pattern[i - len(''.join(out)) :]}`")
    return "".join(out) + "]", i + 1


def _translate_re2(pattern: str) -> str:
    """Rewrite the RE2 spellings Python lacks; refuse Perl-only syntax as RE2 does."""
    out: list[str] = []
    multiline = re.match(r"^\(\?[a-zA-Z]*m", pattern) is not None
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            text, i = _translate_escape(pattern, i, False)
        elif ch == "[":
            text, i = _translate_class(pattern, i)
        elif pattern.startswith("(?<", i) and pattern[i + 3 : i + 4] not in ("=", "!"):
            text, i = "(?P<", i + 3
        elif ch == "(" and any(pattern.startswith(p, i) for p in _PERL_ONLY):
            token = next(p for p in _PERL_ONLY if pattern.startswith(p, i))
            raise ApiError(f"invalid or unsupported Perl syntax: `{token}`")
        elif ch == "$" and not multiline:
            text, i = "\\Z", i + 1
        else:
            text, i = ch, i + 1
        out.append(text)
    return "".join(out)


def compile_re2(pattern: str, *, anchored: bool) -> re.Pattern[str]:
    """Compile an RE2 pattern; label matchers are fully anchored as in Loki."""
    try:
        translated = _translate_re2(pattern)
        if anchored:
            translated = f"^(?:{translated})\\Z"
        return re.compile(translated)
    except ApiError as exc:
        raise ApiError(f"parse error : error parsing regexp: {exc.body}") from None
    except re.error as exc:
        raise ApiError(f"parse error : error parsing regexp: {exc}: `{pattern}`") from None
