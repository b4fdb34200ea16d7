"""Kubernetes backend for scale_service / restart_service / rollback_deployment (official `kubernetes` client).

Each service is a Deployment of the same name (or `service_map[service]`) in `namespace`:
- scale: `GET` then `PATCH /apis/apps/v1/namespaces/{ns}/deployments/{name}/scale` with
  `{"spec": {"replicas": n}}` (strategic merge patch on the scale subresource).
- restart: `PATCH .../deployments/{name}` setting the pod-template annotation
  `kubectl.kubernetes.io/restartedAt` to now (what `kubectl rollout restart` does).
- rollback: what `kubectl rollout undo` does: read the Deployment, list ReplicaSets by its selector,
  keep those it owns, take the one with the highest `deployment.kubernetes.io/revision` below the current
  one, and JSON-patch the Deployment's pod template to that ReplicaSet's (without `pod-template-hash`)
  along with its annotations.
Every API call gets the remaining time budget as its timeout and is retried with backoff on connection
errors, 429 and 5xx (each call is idempotent: the patches set values, never increments).
Not yet tested against a live API server: the tests check these exact requests with a local fake.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from tools.backends.base import BackendError
from tools.backends.retry import with_budget

T = TypeVar("T")

REVISION = "deployment.kubernetes.io/revision"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
HASH_LABEL = "pod-template-hash"
# Annotations `kubectl rollout undo` keeps from the Deployment instead of copying from the ReplicaSet.
_SKIP_ANNOTATIONS = {
    "kubectl.kubernetes.io/last-applied-configuration", REVISION, "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas", "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
}
MERGE = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def load_api_client(context: str = "", config_file: str | None = None, host: str | None = None) -> k8s.ApiClient:
    """An ApiClient from `host` (tests), else the kubeconfig (or the in-cluster config inside a pod)."""
    cfg = k8s.Configuration()
    if host:
        cfg.host = host
    else:
        try:
            if not config_file and not context:
                try:
                    k8s_config.load_incluster_config(client_configuration=cfg)
                except k8s_config.ConfigException:
                    k8s_config.load_kube_config(client_configuration=cfg)
            else:
                k8s_config.load_kube_config(config_file=config_file, context=context or None,
                                            client_configuration=cfg)
        except (k8s_config.ConfigException, OSError) as e:
            raise BackendError(f"kubernetes: no usable cluster configuration: {e}") from e
    cfg.retries = 0  # our budgeted retries instead of urllib3's
    return k8s.ApiClient(cfg)


def _retryable(e: BaseException) -> bool:
    if isinstance(e, ApiException):
        return e.status in (429, 500, 502, 503, 504)
    return isinstance(e, urllib3.exceptions.HTTPError)


class KubeActions:
    """ActionTarget acting on Deployments through the Kubernetes API."""

    name = "kubernetes"

    def __init__(
        self,
        namespace: str = "default",
        *,
        api_client: k8s.ApiClient | None = None,
        context: str = "",
        config_file: str | None = None,
        timeout_s: float = 5.0,
        service_map: dict[str, str] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.namespace = namespace
        self._api_client = api_client
        self._context = context
        self._config_file = config_file
        self.timeout_s = timeout_s
        self.service_map = dict(service_map or {})
        self.clock = clock

    @property
    def api_client(self) -> k8s.ApiClient:
        if self._api_client is None:
            self._api_client = load_api_client(self._context, self._config_file)
        return self._api_client

    @property
    def label(self) -> str:
        host = self._api_client.configuration.host if self._api_client is not None else "the configured cluster"
        return f"kubernetes at {host}"

    def apps(self) -> k8s.AppsV1Api:
        return k8s.AppsV1Api(self.api_client)

    def deployment_name(self, service: str) -> str:
        return self.service_map.get(service, service)

    def _call(self, what: str, fn: Callable[[float], T]) -> T:
        def describe(e: BaseException) -> str:
            if isinstance(e, ApiException):
                if e.status == 404:
                    return f"{what}: not found in namespace {self.namespace!r}"
                if e.status in (401, 403):
                    return f"{what}: {e.reason} (check the credentials and RBAC: apps/deployments get, patch)"
                return f"{what}: HTTP {e.status} {e.reason}: {(e.body or '')[:200]}"
            if isinstance(e, urllib3.exceptions.MaxRetryError):
                return f"{what}: cannot connect ({type(e.reason).__name__})"
            return f"{what}: {type(e).__name__}: {e}"

        return with_budget(fn, timeout_s=self.timeout_s, retryable=_retryable, describe=describe, label=self.label)

    # ------------------------------------------------------------------ actions
    def scale(self, service: str, replicas: int) -> dict[str, Any]:
        name, apps = self.deployment_name(service), self.apps()
        what = f"deployment {name}/scale"
        current = self._call(what, lambda t: apps.read_namespaced_deployment_scale(
            name, self.namespace, _request_timeout=t))
        before = int(current.spec.replicas or 0) if current.spec else 0
        self._call(what, lambda t: apps.patch_namespaced_deployment_scale(
            name, self.namespace, {"spec": {"replicas": replicas}}, _content_type=MERGE, _request_timeout=t))
        return {"service": service, "deployment": name, "namespace": self.namespace,
                "previous_replicas": before, "replicas": replicas}

    def restart(self, service: str) -> dict[str, Any]:
        name, apps = self.deployment_name(service), self.apps()
        now = self.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
        dep = self._call(f"deployment {name}", lambda t: apps.patch_namespaced_deployment(
            name, self.namespace, body, _content_type=MERGE, _request_timeout=t))
        n = int(dep.spec.replicas or 0) if dep is not None and dep.spec else 0
        return {"service": service, "deployment": name, "namespace": self.namespace, "restarted_at": now,
                "restarted_replicas": n}

    def rollback(self, service: str) -> dict[str, Any]:
        name, apps = self.deployment_name(service), self.apps()
        what = f"deployment {name}"
        dep = self._call(what, lambda t: apps.read_namespaced_deployment(name, self.namespace, _request_timeout=t))
        if dep.spec is None or dep.metadata is None:
            raise BackendError(f"{self.label}: {what} has no spec or metadata")
        if dep.spec.paused:
            raise BackendError(f"{self.label}: {what} is paused; resume it before rolling back")
        annotations = dict(dep.metadata.annotations or {})
        current = int(annotations.get(REVISION, "0") or 0)
        selector = label_selector(dep.spec.selector)
        rss = self._call(f"replicasets of {name}", lambda t: apps.list_namespaced_replica_set(
            self.namespace, label_selector=selector, _request_timeout=t))
        uid = dep.metadata.uid
        owned = [rs for rs in rss.items if rs.metadata is not None and rs.spec is not None and any(
            o.uid == uid and o.kind == "Deployment" for o in (rs.metadata.owner_references or []))]
        by_rev = {int((_meta(rs).annotations or {}).get(REVISION, "0") or 0): rs for rs in owned}
        older = [r for r in by_rev if 0 < r < current]
        if not older:
            raise BackendError(f"{self.label}: {what} has no previous revision to roll back to (at {current})")
        prev_rev = max(older)
        prev = by_rev[prev_rev]
        template = self.api_client.sanitize_for_serialization(prev.spec.template if prev.spec else None)
        (template.get("metadata") or {}).get("labels", {}).pop(HASH_LABEL, None)
        new_annotations = {k: v for k, v in annotations.items() if k in _SKIP_ANNOTATIONS}
        new_annotations.update({k: v for k, v in (_meta(prev).annotations or {}).items()
                                if k not in _SKIP_ANNOTATIONS})
        patch = [
            {"op": "replace", "path": "/spec/template", "value": template},
            {"op": "replace", "path": "/metadata/annotations", "value": new_annotations},
        ]
        self._call(what, lambda t: apps.patch_namespaced_deployment(
            name, self.namespace, patch, _content_type=JSON_PATCH, _request_timeout=t))
        return {"service": service, "deployment": name, "namespace": self.namespace,
                "previous_revision": current, "revision": prev_rev, "replicaset": _meta(prev).name}


def _meta(obj: Any) -> k8s.V1ObjectMeta:
    return obj.metadata if obj.metadata is not None else k8s.V1ObjectMeta()


def label_selector(selector: Any) -> str:
    """A LabelSelector as the `labelSelector` query string (matchLabels and matchExpressions)."""
    parts = [f"{k}={v}" for k, v in sorted((selector.match_labels or {}).items())]
    for expr in selector.match_expressions or []:
        op = expr.operator
        if op == "In":
            parts.append(f"{expr.key} in ({','.join(expr.values or [])})")
        elif op == "NotIn":
            parts.append(f"{expr.key} notin ({','.join(expr.values or [])})")
        elif op == "Exists":
            parts.append(expr.key)
        elif op == "DoesNotExist":
            parts.append(f"!{expr.key}")
    return ",".join(parts)
