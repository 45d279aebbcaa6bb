"""Kubernetes documents as text: `kubectl get … -o yaml` dumps told from log lines by content.

`kubectl get … -o json` dumps are recognised in `analyzer/sources/files/` (a pretty-printed JSON
object); a YAML dump starts with `apiVersion:` or `kind:` (after an optional `---` and
comments), which no log line the analysis reads does. It is parsed with the safe loader,
timestamps left as the strings the API gives, and kept only when it is a Kubernetes object or a
List of them; anything else (a config file, a broken paste) stays a log input.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

_BLANKS = rb"(?:[ \t]*(?:#[^\n]*)?\r?\n)*"  # empty lines and comments
_YAML_START = re.compile(
    rb"\A(?:\xef\xbb\xbf)?" + _BLANKS + rb"(?:---[ \t]*\r?\n" + _BLANKS + rb")?"
    rb"(?:apiVersion|kind):[ \t]"
)


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The safe loader, with times kept as text (the API's RFC3339 strings, as JSON has them)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def looks_like_yaml_document(head: bytes) -> bool:
    """Whether a file's first bytes start a Kubernetes YAML document."""
    return bool(_YAML_START.match(head[:4096]))


def yaml_document(text: str) -> dict | None:
    """A `kubectl get … -o yaml` dump as the same dict its JSON form gives (several `---`
    documents become one List), or None when it is not a Kubernetes object."""
    try:
        docs = [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
    except (yaml.YAMLError, RecursionError, ValueError, TypeError):
        return None
    if not docs or not all(_is_object(d) for d in docs):
        return None
    if len(docs) == 1:
        return docs[0]
    return {"apiVersion": "v1", "kind": "List", "items": docs}


def _is_object(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("kind"), str) and "apiVersion" in doc
