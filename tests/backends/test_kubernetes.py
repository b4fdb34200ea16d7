"""The Kubernetes backend (official client) against a local fake API server that checks method, path,
content type and body against the Kubernetes API reference (no API server can run here)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.backends.fake_kube import REV, FakeKube
from tests.backends.fake_loki import serve_fake
from tools.backends.base import BackendError, ToolContext
from tools.backends.kubernetes import KubeActions, load_api_client
from tools.backends.sim_backend import SimBackend
from tools.registry import call_tool

NOW = datetime(2026, 3, 1, 12, 30, 0, tzinfo=UTC)
BASE = "/apis/apps/v1/namespaces/shop/deployments"


@pytest.fixture
def kube() -> Iterator[tuple[FakeKube, KubeActions]]:
    fake = FakeKube("shop")
    fake.add_deployment("paymentservice", ["pay:v1", "pay:v2", "pay:v3"], replicas=2)
    fake.add_deployment("cart", ["cart:v1"], replicas=1)
    fake.add_foreign_replicaset("paymentservice", "pay:evil", revision=2)
    with serve_fake(fake) as url:
        yield fake, KubeActions("shop", api_client=load_api_client(host=url), timeout_s=3, clock=lambda: NOW,
                                service_map={"cartservice": "cart"})
    assert not fake.violations, fake.violations


def image(fake: FakeKube, name: str) -> str:
    return fake.deployments[name]["spec"]["template"]["spec"]["containers"][0]["image"]


def test_scale_patches_the_scale_subresource(kube: tuple[FakeKube, KubeActions]) -> None:
    fake, k = kube
    out = k.scale("paymentservice", 5)
    assert out == {"service": "paymentservice", "deployment": "paymentservice", "namespace": "shop",
                   "previous_replicas": 2, "replicas": 5}
    get, patch = fake.requests
    assert (get["method"], get["path"]) == ("GET", f"{BASE}/paymentservice/scale")
    assert (patch["method"], patch["path"]) == ("PATCH", f"{BASE}/paymentservice/scale")
    assert patch["content_type"] == "application/strategic-merge-patch+json"
    assert patch["body"] == {"spec": {"replicas": 5}}
    assert fake.deployments["paymentservice"]["spec"]["replicas"] == 5


def test_restart_sets_the_restarted_at_annotation(kube: tuple[FakeKube, KubeActions]) -> None:
    fake, k = kube
    out = k.restart("cartservice")  # mapped to the Deployment "cart"
    assert out["deployment"] == "cart" and out["restarted_at"] == "2026-03-01T12:30:00Z"
    (patch,) = fake.requests
    assert (patch["method"], patch["path"], patch["content_type"]) == (
        "PATCH", f"{BASE}/cart", "application/strategic-merge-patch+json")
    assert patch["body"] == {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": "2026-03-01T12:30:00Z"}}}}}
    assert fake.deployments["cart"]["metadata"]["annotations"][REV] == "2"  # a new rollout


def test_rollback_restores_the_previous_replicasets_template(kube: tuple[FakeKube, KubeActions]) -> None:
    fake, k = kube
    annotations = fake.deployments["paymentservice"]["metadata"]["annotations"]
    annotations["kubectl.kubernetes.io/last-applied-configuration"] = "{}"
    out = k.rollback("paymentservice")
    assert out["previous_revision"] == 3 and out["revision"] == 2
    get, lst, patch = fake.requests
    assert (get["method"], get["path"]) == ("GET", f"{BASE}/paymentservice")
    assert (lst["method"], lst["path"]) == ("GET", "/apis/apps/v1/namespaces/shop/replicasets")
    assert lst["params"]["labelSelector"] == "app=paymentservice"
    assert (patch["method"], patch["path"], patch["content_type"]) == (
        "PATCH", f"{BASE}/paymentservice", "application/json-patch+json")
    ops = {op["path"]: op for op in patch["body"]}
    assert set(ops) == {"/spec/template", "/metadata/annotations"} and all(o["op"] == "replace" for o in ops.values())
    assert ops["/spec/template"]["value"]["spec"]["containers"][0]["image"] == "pay:v2"
    assert "pod-template-hash" not in ops["/spec/template"]["value"]["metadata"]["labels"]
    assert ops["/metadata/annotations"]["value"] == {
        "kubectl.kubernetes.io/last-applied-configuration": "{}", REV: "3"}
    assert image(fake, "paymentservice") == "pay:v2"  # not the foreign ReplicaSet's pay:evil
    assert fake.deployments["paymentservice"]["metadata"]["annotations"][REV] == "4"
    again = k.rollback("paymentservice")  # like `kubectl rollout undo`: back to the one before (v3)
    assert again["previous_revision"] == 4 and image(fake, "paymentservice") == "pay:v3"


def test_nothing_to_roll_back_to(kube: tuple[FakeKube, KubeActions]) -> None:
    _, k = kube
    with pytest.raises(BackendError, match="deployment cart has no previous revision"):
        k.rollback("cartservice")


def test_missing_deployment_is_named(kube: tuple[FakeKube, KubeActions]) -> None:
    _, k = kube
    with pytest.raises(BackendError, match="deployment emailservice/scale: not found in namespace 'shop'"):
        k.scale("emailservice", 2)


def test_overload_is_retried(kube: tuple[FakeKube, KubeActions]) -> None:
    fake, k = kube
    fake.fail_next = [503, 429]
    assert k.scale("paymentservice", 3)["replicas"] == 3
    assert len(fake.requests) == 4


def test_write_tools_through_kubernetes_and_an_unreachable_api_server(kube: tuple[FakeKube, KubeActions]) -> None:
    fake, k = kube
    ctx = ToolContext(metrics=None, logs=None, topology=SimBackend(None), actions=k)  # type: ignore[arg-type]
    r = call_tool("scale_service", {"service": "payment", "replicas": 4}, ctx)
    assert r.status == "ok" and r.data["replicas"] == 4
    assert call_tool("rollback_deployment", {"service": "payment"}, ctx).data["revision"] == 2
    ctx.actions = KubeActions("shop", api_client=load_api_client(host="http://127.0.0.1:9"), timeout_s=2)
    t0 = time.perf_counter()
    r = call_tool("restart_service", {"service": "payment"}, ctx)
    assert r.status == "error" and r.error.startswith("kubernetes at http://127.0.0.1:9: deployment paymentservice")
    assert "cannot connect" in r.error and time.perf_counter() - t0 < 2.5
