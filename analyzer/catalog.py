"""The failure-signature catalog: load and validate `patterns/*.yaml`, match them over events.

Each pattern file explains one signature (meaning, cause, fix, alternatives, references) and carries
its own examples that must and must not match; `check_examples` runs them like `semgrep --test`.
Matching is vectorised: one combined regex prefilters every message, then each signature's
regexes run only over the few survivors (see ../shared/reference/polars-performance.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from .errors import CatalogError
from .resources import data_dir

SEVERITIES = ("critical", "high", "medium", "low", "info")
CATEGORIES = ("root-cause", "symptom", "environmental")
CONDITION_KEYS = ("container", "role", "level")
REQUIRED = ("id", "title", "severity", "category", "regex", "meaning", "why", "fix", "examples")
OPTIONAL = ("conditions", "hang", "alternatives", "references", "validation")
ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Rust's regex accepts both `(?P<name>...)` and `(?<name>...)` (never `(?<=` or `(?<!`).
_NAMED_GROUP = re.compile(r"\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>")


@dataclass(frozen=True)
class Alternative:
    title: str
    body: str
    tradeoff: str = ""


@dataclass(frozen=True)
class Reference:
    title: str
    url: str


@dataclass(frozen=True)
class Signature:
    """One validated pattern file."""

    id: str
    title: str
    severity: str
    category: str
    regex: tuple[str, ...]
    meaning: str
    why: str
    fix: str
    examples_match: tuple[str, ...]
    examples_no_match: tuple[str, ...]
    conditions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    hang: bool = False
    alternatives: tuple[Alternative, ...] = ()
    references: tuple[Reference, ...] = ()
    criterion: str | None = None
    blocks_signoff: bool = True
    path: str = ""

    @property
    def fields(self) -> list[str]:
        """Named groups over all regexes, in first-seen order."""
        names: list[str] = []
        for rx in self.regex:
            for name in _NAMED_GROUP.findall(rx):
                if name not in names:
                    names.append(name)
        return names


@dataclass
class Catalog:
    """The signatures in force, and which built-in ones a user directory replaced."""

    signatures: list[Signature]
    overridden: list[tuple[str, str]] = field(default_factory=list)  # (id, replacing file)

    def by_id(self) -> dict[str, Signature]:
        return {s.id: s for s in self.signatures}


def builtin_patterns_dir() -> Path:
    """The built-in catalog directory."""
    try:
        return data_dir("patterns")
    except FileNotFoundError as exc:
        raise CatalogError(str(exc)) from None


def _regex_error(rx: str) -> str | None:
    try:
        pl.Series([""], dtype=pl.String).str.contains(rx)
    except Exception as exc:  # polars raises ComputeError for an invalid Rust regex
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise CatalogError(f"{where}: expected a string or a non-empty list of strings")


def _text(doc: dict, key: str, where: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CatalogError(f"{where}: field '{key}' must be non-empty text")
    return value.strip()


def parse_signature(doc: Any, path: str) -> Signature:
    """Validate one parsed YAML document against the schema."""
    if not isinstance(doc, dict):
        raise CatalogError(f"{path}: expected a mapping at the top level")
    unknown = sorted(set(doc) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise CatalogError(
            f"{path}: unknown key '{unknown[0]}' (allowed: {', '.join(REQUIRED + OPTIONAL)})"
        )
    for key in REQUIRED:
        if key not in doc:
            raise CatalogError(f"{path}: missing required field '{key}'")
    sid = doc["id"]
    if not isinstance(sid, str) or not ID_RE.match(sid):
        raise CatalogError(f"{path}: field 'id' must be kebab-case (got {sid!r})")
    if Path(path).stem != sid:
        raise CatalogError(f"{path}: field 'id' is {sid!r} but the file is named {Path(path).name}")
    if doc["severity"] not in SEVERITIES:
        raise CatalogError(f"{path}: field 'severity' must be one of {', '.join(SEVERITIES)}")
    if doc["category"] not in CATEGORIES:
        raise CatalogError(f"{path}: field 'category' must be one of {', '.join(CATEGORIES)}")
    regexes = _strings(doc["regex"], f"{path}: field 'regex'")
    for i, rx in enumerate(regexes):
        problem = _regex_error(rx)
        if problem:
            raise CatalogError(f"{path}: field 'regex[{i}]' does not compile: {problem}")
    conditions: dict[str, tuple[str, ...]] = {}
    raw_conditions = doc.get("conditions") or {}
    if not isinstance(raw_conditions, dict):
        raise CatalogError(
            f"{path}: field 'conditions' must be a mapping of {', '.join(CONDITION_KEYS)}"
        )
    for key, value in raw_conditions.items():
        if key not in CONDITION_KEYS:
            raise CatalogError(
                f"{path}: field 'conditions.{key}' is unknown "
                f"(allowed: {', '.join(CONDITION_KEYS)})"
            )
        conditions[key] = _strings(value, f"{path}: field 'conditions.{key}'")
    examples = doc["examples"]
    if not isinstance(examples, dict) or set(examples) - {"match", "no_match"}:
        raise CatalogError(f"{path}: field 'examples' must have only 'match' and 'no_match' lists")
    must = _strings(examples.get("match"), f"{path}: field 'examples.match'")
    must_not = _strings(examples.get("no_match"), f"{path}: field 'examples.no_match'")
    for key in ("alternatives", "references"):
        if not isinstance(doc.get(key) or [], list):
            raise CatalogError(f"{path}: field '{key}' must be a list")
    alternatives = []
    for i, alt in enumerate(doc.get("alternatives") or []):
        if not isinstance(alt, dict) or not alt.get("title") or not alt.get("body"):
            raise CatalogError(f"{path}: field 'alternatives[{i}]' needs 'title' and 'body'")
        alternatives.append(
            Alternative(
                str(alt["title"]), str(alt["body"]).strip(), str(alt.get("tradeoff", "")).strip()
            )
        )
    references = []
    for i, ref in enumerate(doc.get("references") or []):
        if not isinstance(ref, dict) or not str(ref.get("url", "")).startswith(
            ("https://", "http://")
        ):
            raise CatalogError(
                f"{path}: field 'references[{i}]' needs 'title' and an http(s) 'url'"
            )
        references.append(Reference(str(ref.get("title") or ref["url"]), str(ref["url"])))
    validation = doc.get("validation") or {}
    if validation and (not isinstance(validation, dict) or not validation.get("criterion")):
        raise CatalogError(f"{path}: field 'validation' needs a 'criterion'")
    if validation and not isinstance(validation["criterion"], str):
        raise CatalogError(f"{path}: field 'validation.criterion' must be text")
    if validation and not isinstance(validation.get("blocks_signoff", True), bool):
        raise CatalogError(f"{path}: field 'validation.blocks_signoff' must be true or false")
    hang = doc.get("hang", False)
    if not isinstance(hang, bool):
        raise CatalogError(f"{path}: field 'hang' must be true or false")
    return Signature(
        id=sid,
        title=_text(doc, "title", path),
        severity=doc["severity"],
        category=doc["category"],
        regex=regexes,
        meaning=_text(doc, "meaning", path),
        why=_text(doc, "why", path),
        fix=_text(doc, "fix", path),
        examples_match=must,
        examples_no_match=must_not,
        conditions=conditions,
        hang=hang,
        alternatives=tuple(alternatives),
        references=tuple(references),
        criterion=validation.get("criterion"),
        blocks_signoff=bool(validation.get("blocks_signoff", True)),
        path=path,
    )


def load_dir(directory: str | Path) -> list[Signature]:
    """Load every `*.yaml`/`*.yml` file of one directory; duplicate ids inside it are an error."""
    root = Path(directory)
    if not root.is_dir():
        raise CatalogError(f"{directory}: --patterns must name a directory of pattern files")
    signatures: dict[str, Signature] = {}
    for path in sorted([*root.glob("*.yaml"), *root.glob("*.yml")]):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise CatalogError(f"{path}: not UTF-8 text (byte {exc.start})") from None
        except OSError as exc:
            raise CatalogError(f"{path}: cannot read: {exc.strerror or exc}") from None
        try:
            doc = yaml.load(text, Loader=_YAML_LOADER)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}" if mark else "YAML"
            raise CatalogError(
                f"{path}: {where}: malformed YAML ({getattr(exc, 'problem', exc)})"
            ) from None
        sig = parse_signature(doc, str(path))
        if sig.id in signatures:
            raise CatalogError(
                f"{path}: field 'id' duplicates {sig.id!r} from {signatures[sig.id].path}"
            )
        signatures[sig.id] = sig
    return list(signatures.values())


def load_catalog(user_dirs: Sequence[str | Path] = (), *, builtin: bool = True) -> Catalog:
    """The built-in catalog plus user directories; a user file with a built-in id replaces it."""
    merged: dict[str, Signature] = {}
    overridden: list[tuple[str, str]] = []
    if builtin:
        merged.update({s.id: s for s in load_dir(builtin_patterns_dir())})
    for directory in user_dirs:
        for sig in load_dir(directory):
            if sig.id in merged:
                overridden.append((sig.id, sig.path))
            merged[sig.id] = sig
    return Catalog(
        sorted(merged.values(), key=lambda s: (SEVERITIES.index(s.severity), s.id)), overridden
    )


#: libyaml's loader when PyYAML was built with it (ten times faster on the catalog), else Python's.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_LEADING_FLAGS = re.compile(r"^\(\?([a-zA-Z]+)\)")


def anonymous(regex: str) -> str:
    """`regex` made safe to share one alternation with others: named groups become
    non-capturing, and leading flags like `(?i)` are scoped to it as `(?i:...)`."""
    regex = _NAMED_GROUP.sub("(?:", regex)
    flags = _LEADING_FLAGS.match(regex)
    return f"(?{flags.group(1)}:{regex[flags.end() :]})" if flags else regex


def unanchored(regex: str) -> str:
    """`regex` without its start/end anchors (`^`, `$`, `\\A`, `\\z`): a superset that may run
    on a whole enveloped log line, where the message starts after a timestamp and a `\\r`
    refresh or a partial record can end it early. Classes and escapes are left alone."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(regex):
        ch = regex[i]
        if ch == "\\" and i + 1 < len(regex):
            if not in_class and regex[i + 1] in "Az":
                i += 2
                continue
            out.append(regex[i : i + 2])
            i += 2
            continue
        if in_class:
            if ch == "]" and not (out and out[-1] in ("[", "[^")):
                in_class = False
            out.append(ch)
        elif ch == "[":
            in_class = True
            if regex.startswith("[^", i):
                out.append("[^")
                i += 2
                continue
            out.append(ch)
        elif ch not in "^$":
            out.append(ch)
        i += 1
    return "".join(out)


_CLASS_ESCAPES = frozenset("dDsSwWbBAzpPhHvV")


def _class_end(regex: str, start: int) -> int:
    """Index just past the character class that opens at `start`."""
    j = start + 1
    if regex[j : j + 1] == "^":
        j += 1
    if regex[j : j + 1] == "]":
        j += 1
    while regex[j] != "]":
        if regex[j] == "\\":
            j += 2
        elif regex.startswith("[:", j):
            j = regex.index(":]", j) + 2
        elif regex[j] == "[":
            j = _class_end(regex, j)
        else:
            j += 1
    return j + 1


def _atoms(regex: str) -> list[str]:
    """Split a regex into top-level atoms, each with its quantifier: a character, an escape, a
    class `[...]`, a group `(...)`, or `|` (a branch separator)."""
    atoms: list[str] = []
    i = 0
    while i < len(regex):
        ch = regex[i]
        if ch == "\\":
            j = i + 2
            if regex[i + 1 : i + 2] in ("p", "P", "x") and regex[j : j + 1] == "{":
                j = regex.index("}", j) + 1
            elif regex[i + 1 : i + 2] == "x":
                j += 2
        elif ch == "[":
            j = _class_end(regex, i)
        elif ch == "(":
            depth, j = 0, i
            while True:
                c = regex[j]
                if c == "\\":
                    j += 2
                    continue
                if c == "[":
                    j = _class_end(regex, j)
                    continue
                depth += {"(": 1, ")": -1}.get(c, 0)
                j += 1
                if depth == 0:
                    break
        else:
            j = i + 1
        if ch != "|" and j < len(regex) and regex[j] in "?*+{":
            j = regex.index("}", j) + 1 if regex[j] == "{" else j + 1
            if j < len(regex) and regex[j] in "?+":  # lazy or possessive
                j += 1
        atoms.append(regex[i:j])
        i = j
    return atoms


def _optional(atom: str) -> bool:
    """Whether `atom` may match nothing (`?`, `*`, `{0,n}`)."""
    if atom.endswith(("?", "*", "*?", "??")) and len(atom) > 1 and atom[-2:] != "\\?":
        return not (atom.endswith("+?") or atom.endswith("}?") and "{0" not in atom)
    return bool(re.search(r"\{0(?:,\d*)?\}\??$", atom))


def _literal_led(atom: str) -> bool:
    """Whether every match of `atom` starts with a fixed character (not a class)."""
    if _optional(atom):
        return False
    if atom.startswith("\\"):
        return atom[1] not in _CLASS_ESCAPES and atom[1] not in "x"
    if atom.startswith("["):
        return False
    if atom.startswith("("):
        inner = atom[1 : atom.rindex(")")]
        if inner.startswith("?"):
            if inner[1:2] in ("=", "!", "<"):
                return False
            inner = inner[inner.index(":") + 1 :] if ":" in inner[:8] else ""
        branches = _branches(_atoms(inner))
        return all(b and _literal_led(b[0]) for b in branches)
    return atom not in (".", "^", "$")


def _branches(atoms: list[str]) -> list[list[str]]:
    out: list[list[str]] = [[]]
    for atom in atoms:
        if atom == "|":
            out.append([])
        else:
            out[-1].append(atom)
    return out


def literal_core(regex: str) -> str:
    """A superset of unanchored `regex` that starts with a literal where it can: leading atoms
    that are classes, assertions or optional are dropped (a line matching `regex` somewhere
    still matches what is left), so the combined keep-regex of the file source gets a literal
    prefilter instead of running its automaton over every byte. Trailing optional or class
    atoms go too. Branches of a top-level alternation are treated one by one."""
    try:
        atoms = _atoms(regex)
    except (ValueError, IndexError):
        return regex
    out = []
    for branch in _branches(atoms):
        if len(branch) == 1 and branch[0].startswith("(?") and branch[0].endswith(")"):
            head = branch[0][: branch[0].index(":") + 1] if ":" in branch[0][:8] else ""
            if head and head not in ("(?=", "(?!"):
                out.append(f"{head}{literal_core(branch[0][len(head) : -1])})")
                continue
        core = list(branch)
        while len(core) > 1 and not _literal_led(core[0]):
            core.pop(0)
        while len(core) > 1 and (_optional(core[-1]) or not _literal_led(core[-1])):
            core.pop()
        out.append("".join(core) if core else "".join(branch))
    return "|".join(out)


def prefilter_regex(signatures: Iterable[Signature]) -> str:
    """One alternation of every regex with group names removed (names may repeat across files)."""
    parts = [anonymous(rx) for sig in signatures for rx in sig.regex]
    return "|".join(f"(?:{p})" for p in parts) if parts else "$^"


MATCHES_SCHEMA = {"event_id": pl.Int64, "signature": pl.String, "fields": pl.String}


def match_events(events: pl.DataFrame, signatures: Sequence[Signature]) -> pl.DataFrame:
    """The matches table: one row per (event, signature) with extracted fields as a JSON object."""
    if events.height == 0 or not signatures:
        return pl.DataFrame(schema=MATCHES_SCHEMA)
    try:
        survivors = events.filter(pl.col("message").str.contains(prefilter_regex(signatures)))
    except pl.exceptions.ComputeError:
        # Every regex compiled on its own (load_catalog checks), but their alternation can pass
        # the Rust regex size limit with many or large user patterns: match without prefilter.
        survivors = events
    out: list[pl.DataFrame] = []
    for sig in signatures:
        hit = pl.any_horizontal([pl.col("message").str.contains(rx) for rx in sig.regex])
        for key, allowed in sig.conditions.items():
            hit = hit & pl.col(key).is_in(list(allowed)).fill_null(False)
        rows = survivors.filter(hit)
        if rows.height == 0:
            continue
        names = sig.fields
        if names:
            extracted = [
                pl.col("message").str.extract_groups(rx).struct.field(n)
                if n in _NAMED_GROUP.findall(rx)
                else pl.lit(None, dtype=pl.String)
                for rx in sig.regex
                for n in names
            ]
            per_field = [
                pl.coalesce([extracted[i * len(names) + j] for i in range(len(sig.regex))]).alias(n)
                for j, n in enumerate(names)
            ]
            fields = pl.struct(per_field).struct.json_encode()
        else:
            fields = pl.lit("{}")
        out.append(
            rows.select(
                pl.col("event_id"), pl.lit(sig.id).alias("signature"), fields.alias("fields")
            )
        )
    if not out:
        return pl.DataFrame(schema=MATCHES_SCHEMA)
    return pl.concat(out).sort("event_id", "signature")


@dataclass(frozen=True)
class ExampleFailure:
    """One example that did not behave as its file says."""

    signature: str
    path: str
    kind: str  # "match" (should have matched) or "no_match" (should not have)
    example: str

    def __str__(self) -> str:
        verb = "did not match" if self.kind == "match" else "matched but must not"
        return f"{self.path}: examples.{self.kind}: {verb}: {self.example!r}"


def check_examples(signatures: Sequence[Signature]) -> list[ExampleFailure]:
    """Run every file's examples through the same matcher the analysis uses (conditions aside)."""
    failures: list[ExampleFailure] = []
    for sig in signatures:
        bare = Signature(**{**sig.__dict__, "conditions": {}})
        for kind, lines in (("match", sig.examples_match), ("no_match", sig.examples_no_match)):
            frame = pl.DataFrame({"message": list(lines)}).with_row_index("event_id")
            frame = frame.with_columns(pl.col("event_id").cast(pl.Int64))
            hits = set(match_events(frame, [bare])["event_id"].to_list())
            for i, line in enumerate(lines):
                if (i in hits) != (kind == "match"):
                    failures.append(ExampleFailure(sig.id, sig.path, kind, line))
    return failures
