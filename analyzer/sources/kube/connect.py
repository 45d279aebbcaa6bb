"""The connection to a Kubernetes API server, configured like kubectl.

The official `kubernetes` client loads the configuration: the kubeconfig (`--kubeconfig`, else
`$KUBECONFIG` with its `:`-separated merge, else `~/.kube/config`) and `--context`, with every
auth the kubeconfig may name (client certificates, tokens, exec plugins such as
`kubelogin`/`aws eks get-token`, OIDC with refresh), or the pod's service account when run in a
cluster with no kubeconfig. Requests go through the client's own REST layer as plain GETs that
return the API's JSON untouched (the same dicts a `kubectl get -o json` dump gives), so dumps
and live reads share every reader.

No credential leaves this module: errors name the server address (without user info), the
context and the status, never a header or token, and known token values are scrubbed from any
text a library error carries.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ...errors import KubeAuthError, KubeConfigError, KubeUnreachableError

#: Connect and read timeouts (seconds) of one request.
TIMEOUT = (10.0, 120.0)
SERVICE_HOST = "KUBERNETES_SERVICE_HOST"


@dataclass
class Answer:
    """One GET's status and body (the API's `Status` message for an error)."""

    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def message(self) -> str:
        """The API's own `message` for an error answer, else the start of the body."""
        try:
            data = json.loads(self.body)
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            text = data["message"]
        else:  # a gateway's HTML page or plain text: its words, on one line
            text = re.sub(r"<[^>]*>", " ", self.body[:2000].decode("utf-8", "replace"))
        return " ".join(text.split())[:300]


@dataclass
class Cluster:
    """An API client and what may be said about it: the server (without user info) and the
    context (or `in-cluster`)."""

    client: Any
    server: str
    context: str
    secrets: tuple[str, ...] = field(default=(), repr=False)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret and len(secret) >= 8:
                text = text.replace(secret, "[REDACTED]")
        return re.sub(r"(?i)(bearer\s+)\S+", r"\1[REDACTED]", text)

    def get(self, path: str, query: list[tuple[str, str]] | None = None) -> Answer:
        """GET `path` with `query`; `KubeUnreachableError` when no answer comes at all."""
        api = self.client
        try:
            method, url, headers, _, _ = api.param_serialize(
                "GET",
                path,
                query_params=query or [],
                header_params={"Accept": "application/json, */*"},
                auth_settings=["BearerToken"],
            )
            response = api.call_api(method, url, header_params=headers, _request_timeout=TIMEOUT)
            body = response.read()
        except KubeConfigError:
            raise
        except Exception as exc:  # urllib3, ssl, an auth plugin failing on refresh
            raise self._unreachable(exc) from None
        answer = Answer(response.status, body or b"")
        if answer.status == 401:
            raise KubeAuthError(
                f"the Kubernetes API at {self.server} refused the credentials of context "
                f"{self.context} (HTTP 401: {self.scrub(answer.message)})"
            )
        return answer

    def _unreachable(self, exc: BaseException) -> KubeUnreachableError:
        text = self.scrub(_reason(exc))
        return KubeUnreachableError(f"cannot reach the Kubernetes API at {self.server}: {text}")


def _reason(exc: BaseException) -> str:
    """The root cause of a connection failure in a few words."""
    parts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(parts) < 6:
        parts.append(f"{type(seen).__name__}: {seen}")
        inner = getattr(seen, "reason", None)
        seen = inner if isinstance(inner, BaseException) else (seen.__cause__ or seen.__context__)
    text = " ".join(parts).lower()
    if "connection refused" in text:
        return "connection refused"
    if (
        "name or service not known" in text
        or "nodename nor servname" in text
        or ("temporary failure in name resolution" in text)
    ):
        return "the host name does not resolve"
    if "certificate" in text or "ssl" in text:
        return "TLS failed (" + str(exc).splitlines()[0][:160] + ")"
    if "timed out" in text or "timeout" in text:
        return "timed out"
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__


def _safe_server(host: str) -> str:
    """The server URL without user info (a kubeconfig may carry `https://user:pw@host`)."""
    parts = urlsplit(host)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def connect(
    kubeconfig: str | None = None, context: str | None = None, parallel: int = 8
) -> Cluster:
    """An API client configured like kubectl: `kubeconfig` (else `$KUBECONFIG`, else
    `~/.kube/config`) and `context`, or the pod's service account when there is no kubeconfig
    and the process runs in a cluster. A configuration that cannot be used is a
    `KubeConfigError` naming the file or context."""
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config

    configuration = k8s_client.Configuration()
    path = kubeconfig or os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    have_file = bool(kubeconfig or os.environ.get("KUBECONFIG")) or os.path.exists(path)
    try:
        if have_file:
            k8s_config.load_kube_config(
                config_file=path,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
            if context is None:
                _, active = k8s_config.list_kube_config_contexts(config_file=path)
                context = (active or {}).get("name") or "current-context"
        elif os.environ.get(SERVICE_HOST):
            if context:
                raise KubeConfigError("--context needs a kubeconfig; none was found")
            k8s_config.load_incluster_config(client_configuration=configuration)
            context = "in-cluster"
        else:
            raise KubeConfigError(
                f"no kubeconfig: {path} does not exist and $KUBECONFIG is not set "
                "(give --kubeconfig, or run in a pod with a service account)"
            )
    except KubeConfigError:
        raise
    except FileNotFoundError as exc:
        raise KubeConfigError(f"kubeconfig {exc.filename or path}: no such file") from None
    except Exception as exc:  # ConfigException, an exec plugin that failed, a broken YAML file
        where = "in-cluster config" if not have_file else f"kubeconfig {path}"
        if context and have_file:
            where += f", context {context}"
        secrets = tuple(str(v) for v in configuration.api_key.values())
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        for secret in secrets:
            text = text.replace(secret, "[REDACTED]")
        raise KubeConfigError(f"{where}: {text[:300]}") from None
    configuration.retries = 1
    configuration.connection_pool_maxsize = max(4, parallel)
    api = k8s_client.ApiClient(configuration)
    api.user_agent = "kopia-postmortem"
    secrets = tuple(
        str(v).removeprefix("Bearer ").strip() for v in configuration.api_key.values() if v
    )
    return Cluster(api, _safe_server(configuration.host), str(context), secrets)
