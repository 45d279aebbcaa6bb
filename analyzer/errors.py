"""The errors a user can cause, in one tree. Each message is one line that names the flag, path
or file at fault, and never a credential. The CLI prints `analyze: error: <message>` on stderr and
exits 2 for any of them; any other exception is a bug and keeps its traceback.

AnalyzerError          the base the CLI catches
├── WindowError        a time flag: --since, --until, --from, --to, --fix-at, --hang-after
├── InputError         a path that cannot be read (or --namespace/--pod/--container misused)
├── OutputError        the --output-file target cannot be written
├── CatalogError       a pattern file or directory: --patterns, --test-patterns
├── LokiError          talking to Loki
│   ├── LokiConfigError  address, auth combination, TLS files, LOKI_* values (also a ValueError)
│   ├── LokiAuthError    Loki or its gateway refused the credentials (HTTP 401/403)
│   ├── LokiQueryError   Loki refused the query (HTTP 400)
│   └── LokiUnreachableError  no Loki at the address (refused, no such host), or no sub-range
│                             of the window could be read at all
└── KubeError          talking to the Kubernetes API (`--kube`)
    ├── KubeConfigError  no usable kubeconfig, context or in-cluster config; an auth plugin failed
    ├── KubeAuthError    the API server refused the credentials (HTTP 401)
    └── KubeUnreachableError  no API server answers at the address (refused, no such host, TLS)

Failures that only lose part of the data are not errors but data: skipped files, Loki gaps and
Kubernetes kinds RBAC forbids (`cannot list pods in media: forbidden`) are listed in the report,
and `--exit-code` turns a gap into exit 2.
"""

from __future__ import annotations

__all__ = [
    "AnalyzerError",
    "CatalogError",
    "InputError",
    "KubeAuthError",
    "KubeConfigError",
    "KubeError",
    "KubeUnreachableError",
    "LokiAuthError",
    "LokiConfigError",
    "LokiError",
    "LokiQueryError",
    "LokiUnreachableError",
    "OutputError",
    "WindowError",
]


class AnalyzerError(Exception):
    """A failure the user can fix; the message is one line naming the flag, path or file."""


class WindowError(AnalyzerError):
    """A time flag that cannot be used; the message names the flag."""


class InputError(AnalyzerError):
    """An input that cannot be read at all; the message names the path."""


class OutputError(AnalyzerError):
    """The report cannot be written where --output-file says; the message names the path."""


class CatalogError(AnalyzerError):
    """A pattern file that cannot be used; the message names the file and field."""


class LokiError(AnalyzerError):
    """Any failure talking to Loki; messages never carry credentials."""


class LokiConfigError(LokiError, ValueError):
    """A Loki setting that cannot work (address, auth combination, TLS file, LOKI_* value); a
    ValueError too, as `LokiConfig` raised before this tree existed."""


class LokiAuthError(LokiError):
    """Loki or its gateway refused the credentials (HTTP 401/403), or a token file is unreadable."""


class LokiQueryError(LokiError):
    """Loki refused the query (HTTP 400); the message has Loki's text and the LogQL sent."""


class LokiUnreachableError(LokiError):
    """No Loki answers at the address (connection refused, the host does not resolve) before
    any answer came, or every sub-range of the window failed: no report could look complete."""


class KubeError(AnalyzerError):
    """Any failure talking to the Kubernetes API; messages never carry credentials."""


class KubeConfigError(KubeError, ValueError):
    """No usable configuration: the kubeconfig file, `--context`, in-cluster service account,
    or an exec/OIDC auth plugin that failed."""


class KubeAuthError(KubeError):
    """The API server refused the credentials (HTTP 401). A 403 on one kind is no error but a
    stated gap: the rest is still read."""


class KubeUnreachableError(KubeError):
    """No API server answers at the address (connection refused, no such host, TLS failure)."""
