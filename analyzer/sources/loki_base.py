"""What the rest of the package needs from the Loki source without importing it (httpx,
tenacity and tqdm cost a start-up that a run over local files should not pay): the default
stream selector and the error types."""

from __future__ import annotations

#: The mover and maintenance containers, by the names VolSync and the fork give them.
DEFAULT_SELECTOR = '{container=~"kopia|restic|kopia-maintenance"}'


class LokiError(Exception):
    """Any failure talking to Loki; messages are one line and never carry credentials."""


class LokiQueryError(LokiError):
    """Loki refused the query (HTTP 400); the message has Loki's text and the LogQL sent."""


class LokiAuthError(LokiError):
    """Loki or its gateway refused the credentials (HTTP 401/403)."""
