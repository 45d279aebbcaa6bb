"""What the emulated API shares: time units, the query path, Loki's error texts and ApiError."""

from __future__ import annotations

NS = 1_000_000_000
HOUR_NS = 3600 * NS
DEFAULT_SINCE_NS = HOUR_NS
QUERY_RANGE = "/loki/api/v1/query_range"
ERR_END_BEFORE_START = "end timestamp must not be before or equal to start time"
ERR_STEP_ZERO = (
    "zero or negative query resolution step widths are not accepted. Try a positive integer"
)
ERR_STEP_TOO_SMALL = (
    "exceeded maximum resolution of 11,000 points per time series. "
    "Try increasing the value of the step parameter"
)
ERR_EMPTY_SELECTOR = (
    "parse error : queries require at least one regexp or equality matcher that does not have an "
    'empty-compatible value. For instance, app=~".*" does not meet this requirement, but '
    'app=~".+" will'
)
ERR_INSTANT_LOG = (
    "log queries are not supported as an instant query type, please change your query to a "
    "range query type"
)
NGINX_401 = (
    "<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n"
    "<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


class ApiError(Exception):
    """A request Loki answers with a non-2xx status and a plain-text body."""

    def __init__(self, body: str, status: int = 400) -> None:
        super().__init__(body)
        self.body = body
        self.status = status
