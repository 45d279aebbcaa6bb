"""The failure-signature catalog: load and validate `patterns/*.yaml`, match them over events.

Each pattern file explains one signature (meaning, cause, fix, alternatives, references) and carries
its own examples that must and must not match; `check_examples` runs them like `semgrep --test`.
`patterns/pattern.schema.json` defines the file and `patterns/README.md` documents every field; the
loader validates against the schema and turns its errors into one line naming the file and field.
Matching is vectorised: one combined regex prefilters every message, then each signature's
regexes run only over the few survivors (see ../shared/reference/polars-performance.md).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from difflib import get_close_matches
from functools import cache
from pathlib import Path
from string import Formatter
from typing import Any

import polars as pl
import yaml

from .errors import CatalogError
from .resources import data_dir

# The schema's enums and fields, for code that needs them without reading it (test_catalog checks
# that they agree with pattern.schema.json). SEVERITIES is also the catalog's sort order.
SEVERITIES = ("critical", "high", "medium", "low", "info")
CATEGORIES = ("root-cause", "symptom", "environmental")
CONDITION_KEYS = ("container", "role", "level")
REQUIRED = ("id", "title", "severity", "category", "regex", "meaning", "why", "fix", "examples")
#: The optional fields of the first format. The unknown-key message lists these after REQUIRED,
#: byte for byte as tests/test_hardening.py pins it; the fields added since are documented in
#: patterns/README.md and suggested by name when an unknown key is close to one ("did you mean").
FIRST_OPTIONAL = ("conditions", "hang", "alternatives", "references", "validation")
OPTIONAL = (*FIRST_OPTIONAL, "terminal", "infer", "known_problems")
#: The file beside the built-in patterns that defines a pattern file (JSON Schema draft 2020-12).
SCHEMA_FILE = "pattern.schema.json"
#: Columns of the table an inference rule returns; a reason may not insert fields named so.
INFERENCE_COLUMNS = ("run_id", "signature", "reason")
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
class Inference:
    """A pattern's `infer:` block: hung runs that `rule` (analyzer/inference.py) selects, that
    show a line of `evidence` and none of `unless` (nor of the pattern itself), are probably
    caused by the pattern; `reason` says why in the report, with `{field}` of the evidence."""

    rule: str
    evidence: str
    reason: str
    unless: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        """The evidence fields `reason` inserts, in first-seen order."""
        return tuple(dict.fromkeys(_placeholder_names(self.reason)))


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
    #: `validation.always`: the criterion is listed even when no line of the signature matched.
    criterion_always: bool = False
    #: A line of this signature ends the process (a run whose log ends on it is failed, not hung).
    terminal: bool = False
    known_problems: str = ""
    infer: Inference | None = None
    path: str = ""
    #: sha256 of the file's bytes, for the catalog digest (`Catalog.digest`).
    sha256: str = ""

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
    #: What loading user directories found worth saying (an id that differs from its file name).
    warnings: list[str] = field(default_factory=list)
    #: How many signatures came from `--patterns` directories.
    user_patterns: int = 0

    def by_id(self) -> dict[str, Signature]:
        return {s.id: s for s in self.signatures}

    @property
    def digest(self) -> str:
        """`sha256:<16 hex>` over every signature in force (its id and its file's bytes): two
        reports judged by the same catalog show the same digest, whatever the paths."""
        lines = sorted(f"{s.id}\t{s.sha256}\n" for s in self.signatures)
        return "sha256:" + hashlib.sha256("".join(lines).encode()).hexdigest()[:16]

    def generator(self) -> dict[str, Any]:
        """What judged a report: the tool, its version and this catalog (JSON `generator`)."""
        from . import __version__

        return {
            "name": "kopia-postmortem",
            "version": __version__,
            "catalog": {
                "version": __version__,
                "patterns": len(self.signatures),
                "user_patterns": self.user_patterns,
                "digest": self.digest,
            },
        }


def builtin_patterns_dir() -> Path:
    """The built-in catalog directory."""
    try:
        return data_dir("patterns")
    except FileNotFoundError as exc:
        raise CatalogError(str(exc)) from None


def schema_path() -> Path:
    """The JSON Schema of a pattern file, shipped beside the built-in patterns (also in a wheel)."""
    return builtin_patterns_dir() / SCHEMA_FILE


@cache
def pattern_schema() -> dict[str, Any]:
    """The pattern-file schema, parsed once per process."""
    try:
        return json.loads(schema_path().read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CatalogError(f"{schema_path()}: cannot read the pattern schema: {exc}") from None


@cache
def _validator() -> Any:
    """A draft 2020-12 validator of the schema. jsonschema is imported here, on the first load:
    its import costs 30-100 ms that only loading a catalog needs (`import analyzer` stays as is)."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(pattern_schema())


def _regex_error(rx: str) -> str | None:
    try:
        pl.Series([""], dtype=pl.String).str.contains(rx)
    except Exception as exc:  # polars raises ComputeError for an invalid Rust regex
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None


def _placeholder_names(template: str) -> list[str]:
    """The field names a `{field}` template inserts (`{{` and `}}` are literal braces)."""
    return [name for _, name, _, _ in Formatter().parse(template) if name]


# ------------------------------------------------------------------------------------------------
# Schema errors as one-line messages
# ------------------------------------------------------------------------------------------------

#: Which of several problems in one file is reported: its shape, unknown keys, missing fields,
#: then the fields in the order the loader checked them before the schema existed (so a file with
#: several faults names the same one as before), then the fields added since, in schema order.
_ROOT_PRECEDENCE = {"type": 0, "additionalProperties": 1, "required": 2}
_FIELD_PRECEDENCE = (
    "id",
    "severity",
    "category",
    "regex",
    "conditions",
    "examples",
    "alternatives",
    "references",
    "validation",
    "hang",
    "title",
    "meaning",
    "why",
    "fix",
)


def _shown(key: Any) -> str:
    """A key as a message shows it: as written when printable text, else its repr (one line)."""
    return key if isinstance(key, str) and key.isprintable() else repr(key)


def _field_name(path: Sequence[Any]) -> str:
    """`alternatives[0].title` for the instance path ['alternatives', 0, 'title']."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{_shown(part)}" if out else _shown(part)
    return out


def _resolved(node: dict[str, Any]) -> dict[str, Any]:
    """A schema node with its local `$ref` merged in (the node's own keywords win)."""
    ref = node.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/$defs/"):
        return node
    return {**pattern_schema()["$defs"][ref.removeprefix("#/$defs/")], **node}


def _nodes(path: Sequence[Any]) -> list[dict[str, Any]]:
    """The schema node for each prefix of an instance path, root first."""
    nodes = [pattern_schema()]
    for part in path:
        parent = nodes[-1]
        child = parent.get("items") if isinstance(part, int) else None
        if child is None:
            child = parent.get("properties", {}).get(part)
        if not isinstance(child, dict):
            break
        nodes.append(_resolved(child))
    return nodes


def _template(node: dict[str, Any], keyword: str | None) -> str | None:
    """The node's `x-message` for a failing keyword (None: a descendant failed)."""
    message = node.get("x-message")
    if not isinstance(message, dict):
        return message
    return (keyword and message.get(keyword)) or message.get("default")


def _schema_message(error: Any, doc: Any) -> str:
    """The one-line message for a jsonschema error: the `x-message` of the deepest node on the
    error's path that has one; a missing field without its own message uses the field's."""
    path = list(error.absolute_path)
    nodes = _nodes(path)
    keyword = error.validator
    node = nodes[-1]
    key: Any = ""
    if keyword == "additionalProperties":
        key = sorted(set(error.instance) - set(node.get("properties", {})), key=str)[0]
    elif keyword == "required":
        key = next(k for k in error.validator_value if k not in error.instance)
    depth, template = len(nodes) - 1, _template(node, keyword)
    if template is None and keyword == "required" and key in node.get("properties", {}):
        node = _resolved(node["properties"][key])
        path, depth, template = [*path[:depth], key], depth + 1, _template(node, None)
    while template is None and depth:
        depth -= 1
        node, template = nodes[depth], _template(nodes[depth], None)
    instance = doc
    for part in path[:depth]:
        try:
            instance = instance[part]
        except (KeyError, IndexError, TypeError):  # a missing field has no value to show
            instance = None
            break
    message = (template or "field '{field}' is invalid").format(
        field=_field_name(path[:depth]),
        value=repr(instance),
        key=_shown(key),
        enum=", ".join(map(str, node.get("enum", ()))),
        allowed=", ".join(node.get("properties", ())),
        listed=", ".join((*REQUIRED, *FIRST_OPTIONAL)),
    )
    if keyword == "additionalProperties" and not path:
        close = get_close_matches(str(key), (*REQUIRED, *OPTIONAL), n=1, cutoff=0.8)
        message += f"; did you mean '{close[0]}'?" if close else ""
    return message


def _precedence(error: Any) -> tuple:
    """Sort key of a jsonschema error: see `_FIELD_PRECEDENCE`; a missing field counts as its
    own path, nested fields go in schema order and list items by index."""
    path = list(error.absolute_path)
    if not path:
        return (_ROOT_PRECEDENCE.get(error.validator, 3),)
    if error.validator == "required":
        path.append(next(k for k in error.validator_value if k not in error.instance))
    nodes = _nodes(path)
    ranks = []
    for depth, part in enumerate(path):
        if isinstance(part, int):
            ranks.append(part)
            continue
        holder = nodes[depth] if depth < len(nodes) else {}
        order = list(holder.get("properties", ()))
        if depth == 0:
            order = [*_FIELD_PRECEDENCE, *order]
        ranks.append(order.index(part) if part in order else len(order))
    return (4, tuple(ranks), error.validator)


def schema_problem(doc: Any) -> str | None:
    """What is wrong with a parsed pattern document by the schema, as one line without the file
    name (None: it conforms). With several problems, the first by `_precedence`."""
    errors = list(_validator().iter_errors(doc))
    return _schema_message(min(errors, key=_precedence), doc) if errors else None


# ------------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------------


def _as_tuple(value: str | list[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _inference(block: dict[str, Any] | None, sid: str, path: str) -> Inference | None:
    """The `infer:` block, with what the schema cannot check about one file."""
    if block is None:
        return None
    if block["evidence"] == sid:
        raise CatalogError(f"{path}: field 'infer.evidence' names the signature itself")
    try:
        pieces = list(Formatter().parse(block["reason"]))
    except ValueError as exc:
        raise CatalogError(
            f"{path}: field 'infer.reason' has a malformed {{field}}: {exc}"
        ) from None
    for _, name, spec, conversion in pieces:
        if name is not None and (
            not name.isidentifier() or name in INFERENCE_COLUMNS or spec or conversion
        ):
            raise CatalogError(
                f"{path}: field 'infer.reason' inserts {{{_shown(name)}}}: only a bare field name "
                f"of the evidence may be inserted (not {', '.join(INFERENCE_COLUMNS)})"
            )
    return Inference(
        block["rule"], block["evidence"], block["reason"].strip(), tuple(block.get("unless", ()))
    )


_LEADING_FLAG_GROUP = re.compile(r"^\(\?([a-zA-Z]*)(-[a-zA-Z]*)?\)")
_VERBOSE_FLAG = re.compile(r"(?<!\\)\(\?[a-zA-Z]*x[a-zA-Z]*(?:-[a-zA-Z]*)?[:)]")


def plain(regex: str) -> str:
    """`regex` without verbose mode: a leading `(?x)` (or `(?ix)`, ...) is taken out and the
    whitespace and `# comments` it allowed are removed, as Rust's regex reads them (everywhere,
    inside classes too; escaped ones stay). Every later stage joins regexes into alternations
    (the prefilter, the streaming keep rule, Loki's line filter, whose RE2 has no verbose mode),
    where a comment would swallow the rest; a plain regex matches the same lines anywhere.
    A regex without a leading verbose flag is returned unchanged."""
    lead = _LEADING_FLAG_GROUP.match(regex)
    if not lead or "x" not in lead.group(1):
        return regex
    on = lead.group(1).replace("x", "")
    off = lead.group(2) or ""
    flags = f"(?{on}{off})" if on or off.strip("-") else ""
    body = regex[lead.end() :]
    out: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            out.append(body[i : i + 2])
            i += 2
        elif ch == "#":
            end = body.find("\n", i)
            i = len(body) if end < 0 else end + 1
        elif ch.isspace():
            i += 1
        else:
            out.append(ch)
            i += 1
    return flags + "".join(out)


def parse_signature(doc: Any, path: str, *, name_mismatch: list[str] | None = None) -> Signature:
    """Validate one parsed YAML document and build its signature: first the schema
    (`patterns/pattern.schema.json`), then what a schema cannot say: the id is the file name,
    every regex compiles in Rust syntax, the inference reason's placeholders are field names.
    With `name_mismatch` (user directories), an id that differs from the file name is accepted
    with a warning appended there instead of refused: a starter pattern saved under a name of
    the author's choosing is still that id."""
    problem = schema_problem(doc)
    if problem:
        raise CatalogError(f"{path}: {problem}")
    sid = doc["id"]
    if Path(path).stem != sid:
        message = f"{path}: field 'id' is {sid!r} but the file is named {Path(path).name}"
        if name_mismatch is None:
            raise CatalogError(message)
        name_mismatch.append(f"{message}; the id {sid!r} is used (rename one to match)")
    regexes = _as_tuple(doc["regex"])
    for i, rx in enumerate(regexes):
        problem = _regex_error(rx)
        if problem:
            raise CatalogError(f"{path}: field 'regex[{i}]' does not compile: {problem}")
        if _VERBOSE_FLAG.search(plain(rx)):
            raise CatalogError(
                f"{path}: field 'regex[{i}]' turns on verbose mode (?x) after its start; "
                "put (?x) first or write the regex without it"
            )
    regexes = tuple(plain(rx) for rx in regexes)
    for i, rx in enumerate(regexes):
        problem = _regex_error(rx)
        if problem:  # pragma: no cover - removing verbose whitespace keeps a valid regex valid
            raise CatalogError(f"{path}: field 'regex[{i}]' does not compile: {problem}")
    validation = doc.get("validation") or {}
    return Signature(
        id=sid,
        title=doc["title"].strip(),
        severity=doc["severity"],
        category=doc["category"],
        regex=regexes,
        meaning=doc["meaning"].strip(),
        why=doc["why"].strip(),
        fix=doc["fix"].strip(),
        examples_match=_as_tuple(doc["examples"]["match"]),
        examples_no_match=_as_tuple(doc["examples"]["no_match"]),
        conditions={k: _as_tuple(v) for k, v in (doc.get("conditions") or {}).items()},
        hang=doc.get("hang", False),
        alternatives=tuple(
            Alternative(a["title"], a["body"].strip(), a.get("tradeoff", "").strip())
            for a in doc.get("alternatives") or ()
        ),
        references=tuple(
            Reference(r.get("title") or r["url"], r["url"]) for r in doc.get("references") or ()
        ),
        criterion=validation.get("criterion"),
        blocks_signoff=validation.get("blocks_signoff", True),
        criterion_always=validation.get("always", False),
        terminal=doc.get("terminal", False),
        known_problems=doc.get("known_problems", "").strip(),
        infer=_inference(doc.get("infer"), sid, path),
        path=path,
    )


def load_dir(
    directory: str | Path, *, flag: str = "--patterns", warnings: list[str] | None = None
) -> list[Signature]:
    """Load every `*.yaml`/`*.yml` file of one directory; duplicate ids inside it are an error.
    `flag` is named when the directory is not one; with `warnings`, an id that differs from its
    file name is a warning there instead of an error (user directories)."""
    root = Path(directory)
    if not root.is_dir():
        what = "does not exist" if not root.exists() else "is not a folder"
        raise CatalogError(f"{directory}: {flag} must name a folder of pattern files; it {what}")
    signatures: dict[str, Signature] = {}
    try:
        files = sorted([*root.glob("*.yaml"), *root.glob("*.yml")])
    except OSError as exc:
        raise CatalogError(f"{directory}: {flag}: cannot list: {exc.strerror or exc}") from None
    for path in files:
        try:
            data = path.read_bytes()
            text = data.decode("utf-8")
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
        sig = parse_signature(doc, str(path), name_mismatch=warnings)
        sig = Signature(**{**sig.__dict__, "sha256": hashlib.sha256(data).hexdigest()})
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
    warnings: list[str] = []
    if builtin:
        merged.update({s.id: s for s in load_dir(builtin_patterns_dir())})
    user: set[str] = set()
    for directory in user_dirs:
        for sig in load_dir(directory, warnings=warnings):
            if sig.id in merged:
                overridden.append((sig.id, sig.path))
            merged[sig.id] = sig
            user.add(sig.id)
    check_references(merged)
    return Catalog(
        sorted(merged.values(), key=lambda s: (SEVERITIES.index(s.severity), s.id)),
        overridden,
        warnings,
        len(user),
    )


def check_references(signatures: dict[str, Signature]) -> None:
    """What no single file can check: every `infer` block names signatures of the catalog in
    force, and its reason inserts only fields its evidence extracts."""
    for sig in signatures.values():
        if sig.infer is None:
            continue
        for key, sid in (
            ("evidence", sig.infer.evidence),
            *(("unless", u) for u in sig.infer.unless),
        ):
            if sid not in signatures:
                raise CatalogError(
                    f"{sig.path}: field 'infer.{key}' names {sid!r}, which no pattern file defines"
                )
        evidence = signatures[sig.infer.evidence]
        missing = [name for name in sig.infer.fields if name not in evidence.fields]
        if missing:
            raise CatalogError(
                f"{sig.path}: field 'infer.reason' inserts {{{missing[0]}}}, which "
                f"{evidence.id} ({evidence.path}) does not extract"
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


#: A placeholder the starter pattern (templates.starter_pattern) leaves for the author.
TODO_MARK = re.compile(r"^\s*TODO\b")


def todo_fields(signatures: Sequence[Signature]) -> list[str]:
    """One line per prose field still holding a starter pattern's `TODO` placeholder:
    `--test-patterns` fails until the author has written them."""
    out = []
    for sig in signatures:
        for name in ("title", "meaning", "why", "fix"):
            if TODO_MARK.match(getattr(sig, name)):
                out.append(f"{sig.path}: field '{name}' is still a TODO placeholder; write it")
    return out
