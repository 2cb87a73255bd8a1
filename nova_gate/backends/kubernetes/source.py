"""Kubernetes facts through the API server: deployments, pods, nodes, endpoint slices, pod logs.

Every list is paginated (``limit=page_size`` + ``continue``) and streamed page by page: only one
page of raw JSON is held at a time and each object is reduced to a small frozen fact before the
next page is fetched, so a cluster with thousands of pods is never loaded at once. Every call has
a connect/read timeout; urllib3 retries are off, so an unreachable API server fails fast.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

from nova_gate.backends.base import Source, SourceError
from nova_gate.backends.kubernetes.config import Kubernetes
from nova_gate.backends.kubernetes.facts import (
    DeploymentFacts,
    EndpointFacts,
    NodeFacts,
    PodFacts,
    deployment_facts,
    node_facts,
    pod_facts,
)

#: the label an EndpointSlice's owning Service is named by (discovery.k8s.io/v1)
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def _short(exc: BaseException) -> str:
    """urllib3's MaxRetryError wraps the real cause; keep the innermost reason."""
    reason = getattr(exc, "reason", None)
    return str(reason if isinstance(reason, BaseException) else exc)


class KubernetesSource(Source):
    backend = "kubernetes"

    def __init__(self, cfg: Kubernetes) -> None:
        super().__init__()
        self.cfg = cfg
        self._client: Any = None
        self.pages = 0
        errors: list[type[BaseException]] = [OSError, ValueError]
        try:
            import urllib3
            from kubernetes.client.exceptions import ApiException, OpenApiException

            errors += [urllib3.exceptions.HTTPError, OpenApiException, ApiException]
        except ImportError:  # pragma: no cover - the client is a dependency
            pass
        self.driver_errors = tuple(errors)

    # -- connection ----------------------------------------------------------------------------
    @property
    def timeout(self) -> tuple[float, float]:
        return (self.cfg.timeout_s, self.cfg.timeout_s)

    def _api(self) -> Any:
        if self._client is not None:
            return self._client
        from kubernetes import client as kclient
        from kubernetes import config as kconfig

        conf = kclient.Configuration()
        load_kube_config: Any = kconfig.load_kube_config
        load_incluster_config: Any = kconfig.load_incluster_config
        with self.call("load kubeconfig"):
            try:
                if self.cfg.kubeconfig is not None:
                    if not self.cfg.kubeconfig.is_file():
                        raise SourceError(self.backend, f"kubeconfig {self.cfg.kubeconfig} not found")
                    load_kube_config(
                        config_file=str(self.cfg.kubeconfig),
                        context=self.cfg.context,
                        client_configuration=conf,
                        persist_config=False,
                    )
                elif os.environ.get("KUBERNETES_SERVICE_HOST"):
                    load_incluster_config(client_configuration=conf)
                else:
                    load_kube_config(context=self.cfg.context, client_configuration=conf, persist_config=False)
            except kconfig.ConfigException as exc:
                raise SourceError(self.backend, "loading the client configuration", exc) from exc
        conf.retries = False  # fail fast: the gate's own timeouts bound every call
        self._client = kclient.ApiClient(conf)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- raw calls -----------------------------------------------------------------------------
    def _raw(self, what: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException

        with self.call(what):
            try:
                resp = method(*args, _request_timeout=self.timeout, _preload_content=False, **kwargs)
            except ApiException as exc:
                raise SourceError(self.backend, what, _api_failure(exc)) from None
            except AttributeError as exc:
                # the client decodes the body of the ApiException it raises for a transport failure
                # (status 0: a TLS EOF, a reset) and there is none: an AttributeError while handling it
                if not isinstance(exc.__context__, ApiException):
                    raise
                raise SourceError(self.backend, what, _api_failure(exc.__context__)) from None
            except self.driver_errors as exc:
                # the message carries the cause; dropping the chain keeps failure reports short and fast
                raise SourceError(self.backend, what, _short(exc)) from None
            try:
                return resp.data
            finally:
                resp.release_conn()

    def _list(self, what: str, method: Callable[..., Any], *args: Any, **params: Any) -> Iterator[dict[str, Any]]:
        """Yield raw objects page by page (``limit`` + ``continue``); one page in memory at a time."""
        params = {k: v for k, v in params.items() if v is not None}
        token: str | None = None
        while True:
            page_params = dict(params, limit=self.cfg.page_size)
            if token:
                page_params["_continue"] = token
            body = json.loads(self._raw(f"list {what}", method, *args, **page_params))
            self.pages += 1
            items = body.get("items") or []
            token = (body.get("metadata") or {}).get("continue") or None
            del body
            yield from items
            if not token:
                return

    def _core(self) -> Any:
        from kubernetes import client as kclient

        return kclient.CoreV1Api(self._api())

    def _apps(self) -> Any:
        from kubernetes import client as kclient

        return kclient.AppsV1Api(self._api())

    # -- facts ---------------------------------------------------------------------------------
    def deployments(self, namespace: str, selector: str | None = None) -> list[DeploymentFacts]:
        api = self._apps()
        return [
            deployment_facts(d)
            for d in self._list(
                f"deployments {namespace} {selector or ''}".strip(),
                api.list_namespaced_deployment,
                namespace,
                label_selector=selector,
            )
        ]

    def pods(self, namespace: str | None, selector: str | None = None, field: str | None = None) -> Iterator[PodFacts]:
        """Pods of one namespace (None: all namespaces), streamed."""
        api = self._core()
        if namespace is None:
            raw = self._list(
                "pods (all namespaces)", api.list_pod_for_all_namespaces, label_selector=selector, field_selector=field
            )
        else:
            raw = self._list(
                f"pods {namespace} {selector or ''}".strip(),
                api.list_namespaced_pod,
                namespace,
                label_selector=selector,
                field_selector=field,
            )
        for p in raw:
            yield pod_facts(p)

    def nodes(self) -> list[NodeFacts]:
        return [node_facts(n) for n in self._list("nodes", self._core().list_node)]

    def endpoints_by_service(self, namespace: str) -> dict[str, EndpointFacts]:
        """Ready/not-ready endpoints of every Service of the namespace: one paginated list of its
        EndpointSlices (those a Service owns carry ``kubernetes.io/service-name``), whatever the estate."""
        from kubernetes import client as kclient

        api = kclient.DiscoveryV1Api(self._api())
        counts: dict[str, list[int]] = {}
        for s in self._list(
            f"endpointslices {namespace}",
            api.list_namespaced_endpoint_slice,
            namespace,
            label_selector=SERVICE_NAME_LABEL,
        ):
            service = ((s.get("metadata") or {}).get("labels") or {}).get(SERVICE_NAME_LABEL)
            if not service:
                continue
            tally = counts.setdefault(str(service), [0, 0])
            for ep in s.get("endpoints") or []:
                tally[0 if (ep.get("conditions") or {}).get("ready") is not False else 1] += 1
        return {name: EndpointFacts(name, ready, not_ready) for name, (ready, not_ready) in counts.items()}

    def service_names(self, namespace: str) -> set[str]:
        """The names of every Service of the namespace: one paginated list (instead of a get per service)."""
        return {
            str((s.get("metadata") or {}).get("name"))
            for s in self._list(f"services {namespace}", self._core().list_namespaced_service, namespace)
        }

    def pod_log(self, namespace: str, pod: str, container: str, tail_lines: int = 2000) -> str:
        """The container's log through the API server's pod log endpoint (kubelet containerLogs)."""
        data = self._raw(
            f"log {namespace}/{pod}/{container}",
            self._core().read_namespaced_pod_log,
            pod,
            namespace,
            container=container,
            tail_lines=tail_lines,
            limit_bytes=1_000_000,
        )
        return bytes(data).decode("utf-8", errors="replace")


def _api_failure(exc: Any) -> str:
    """One line for an ApiException: the HTTP status, or for status 0 (no answer) the transport's words."""
    reason = " ".join(str(exc.reason or "").split())
    return f"HTTP {exc.status} {reason}" if exc.status else f"no answer: {reason}"
