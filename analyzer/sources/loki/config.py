"""`LokiConfig`: where and how to reach Loki, read from logcli's `LOKI_*` variables and flags;
its repr and `safe_addr` never show a credential."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ...errors import LokiConfigError

__all__ = [
    "BACKOFF_BASE_S",
    "BACKOFF_MAX_S",
    "DEADLINE_S",
    "DEFAULT_ADDR",
    "ENV_VARIABLES",
    "SECRET_FIELDS",
    "LokiConfig",
]

DEFAULT_ADDR = "http://localhost:3100"

#: Default first backoff (seconds) between retries; `LokiConfig.backoff_base_s` overrides it.
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 30.0
#: Default limit on a whole fetch, retries included (`LokiConfig.deadline_s`, `--loki-deadline`).
DEADLINE_S = 600.0

#: The config field each logcli variable sets.
ENV_VARIABLES = {
    "addr": "LOKI_ADDR",
    "username": "LOKI_USERNAME",
    "password": "LOKI_PASSWORD",
    "bearer_token": "LOKI_BEARER_TOKEN",
    "bearer_token_file": "LOKI_BEARER_TOKEN_FILE",
    "org_id": "LOKI_ORG_ID",
    "ca_cert_path": "LOKI_CA_CERT_PATH",
    "client_cert_path": "LOKI_CLIENT_CERT_PATH",
    "client_key_path": "LOKI_CLIENT_KEY_PATH",
    "tls_skip_verify": "LOKI_TLS_SKIP_VERIFY",
}
#: Fields that hold credentials: never shown, and replaced in any text Loki sends back.
SECRET_FIELDS = ("username", "password", "bearer_token")


@dataclass(frozen=True, repr=False)
class LokiConfig:
    """Where and how to reach Loki, like logcli's flags; see `from_env` for the variables."""

    addr: str
    username: str | None = None
    password: str | None = None
    bearer_token: str | None = None
    bearer_token_file: str | None = None
    org_id: str | None = None
    ca_cert_path: str | None = None
    client_cert_path: str | None = None
    client_key_path: str | None = None
    tls_skip_verify: bool = False
    timeout_s: float = 30.0
    backoff_base_s: float = BACKOFF_BASE_S
    backoff_max_s: float = BACKOFF_MAX_S
    #: The whole fetch's time limit: what is not read by then becomes a gap.
    deadline_s: float = DEADLINE_S

    def __post_init__(self) -> None:
        try:
            urlsplit(self.addr)
        except ValueError as exc:  # urllib: "Invalid IPv6 URL", a bad port, ...
            raise LokiConfigError(f"--loki (or LOKI_ADDR): not a URL: {exc}") from None
        if urlsplit(self.addr).scheme not in ("http", "https"):
            shown = self.safe_addr.rsplit("@", 1)[-1]  # no scheme: user:password@ is still there
            raise LokiConfigError(
                f"--loki (or LOKI_ADDR): {shown!r} does not start with http:// or https://"
            )
        if self.bearer_token and self.bearer_token_file:
            raise LokiConfigError(
                "at most one of --bearer-token and --bearer-token-file may be given "
                "(flags or LOKI_BEARER_TOKEN, LOKI_BEARER_TOKEN_FILE)"
            )
        if (self.username or self.password) and (self.bearer_token or self.bearer_token_file):
            raise LokiConfigError(
                "at most one of basic auth (--username/--password) and bearer auth "
                "(--bearer-token, --bearer-token-file) may be given, as flags or LOKI_* variables"
            )
        if not self.timeout_s > 0:
            raise ValueError("timeout_s must be positive")
        if not self.deadline_s > 0:
            raise ValueError("deadline_s must be positive")

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> LokiConfig:
        """Read logcli's LOKI_* variables from `environ`; overrides that are not None win."""
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown LokiConfig field(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {"addr": DEFAULT_ADDR}
        for name, variable in ENV_VARIABLES.items():
            if environ.get(variable):
                values[name] = environ[variable]
        if "tls_skip_verify" in values:
            values["tls_skip_verify"] = _parse_bool(values["tls_skip_verify"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def safe_addr(self) -> str:
        """The address with any user:password@ part removed."""
        parts = urlsplit(self.addr)
        host = parts.netloc.rsplit("@", 1)[-1]
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS and value:
                shown.append(f"{f.name}=<redacted>")
            elif f.name == "addr":
                shown.append(f"addr={self.safe_addr!r}")
            else:
                shown.append(f"{f.name}={value!r}")
        return f"LokiConfig({', '.join(shown)})"


def _parse_bool(text: str) -> bool:
    """LOKI_TLS_SKIP_VERIFY as logcli reads it (strconv.ParseBool plus yes/no/on/off)."""
    if text.strip().lower() in ("1", "true", "t", "yes", "y", "on"):
        return True
    if text.strip().lower() in ("", "0", "false", "f", "no", "n", "off"):
        return False
    raise LokiConfigError(f"LOKI_TLS_SKIP_VERIFY must be true or false, not {text!r}")
