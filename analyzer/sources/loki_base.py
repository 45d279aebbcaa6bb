"""What the rest of the package needs from the Loki source without importing it (httpx,
tenacity and tqdm cost a start-up that a run over local files should not pay): the default
stream selector and the error types (defined in `analyzer.errors`)."""

from __future__ import annotations

from ..errors import LokiAuthError, LokiConfigError, LokiError, LokiQueryError

__all__ = ["DEFAULT_SELECTOR", "LokiAuthError", "LokiConfigError", "LokiError", "LokiQueryError"]

#: The mover and maintenance containers, by the names VolSync and the fork give them.
DEFAULT_SELECTOR = '{container=~"kopia|restic|kopia-maintenance"}'
