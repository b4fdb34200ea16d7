"""A local stand-in for the Kubernetes API server (apps/v1 Deployments, their scale subresource and
ReplicaSets) that checks each request against the API reference and keeps state like the real one.

Checked (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/deployment-v1/ and
.../replica-set-v1/, and api-concepts "Patch operations"):
- paths `/apis/apps/v1/namespaces/{ns}/deployments` (list), `.../deployments/{name}`, `.../deployments/{name}/scale`,
  `/apis/apps/v1/namespaces/{ns}/replicasets`; methods GET and PATCH only, as used here;
- PATCH bodies by Content-Type: `application/json-patch+json` (a list of RFC 6902 operations),
  `application/merge-patch+json` or `application/strategic-merge-patch+json` (an object); a scale patch
  may touch only spec.replicas;
- list `labelSelector` in the `k=v,k2=v2` form.
It plays the Deployment controller too: a changed pod template gets a new (or the matching old)
ReplicaSet and the next `deployment.kubernetes.io/revision`, as the real controller does.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from typing import Any

REV = "deployment.kubernetes.io/revision"
PATCH_TYPES = {"application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"}
_DEP = re.compile(r"^/apis/apps/v1/namespaces/([a-z0-9-]+)/deployments/([a-z0-9-]+)(/scale)?$")
_DEPS = re.compile(r"^/apis/apps/v1/namespaces/([a-z0-9-]+)/deployments$")
_STS = re.compile(r"^/apis/apps/v1/namespaces/([a-z0-9-]+)/statefulsets$")
_HPAS = re.compile(r"^/apis/autoscaling/v1/namespaces/([a-z0-9-]+)/horizontalpodautoscalers$")
_RS = re.compile(r"^/apis/apps/v1/namespaces/([a-z0-9-]+)/replicasets$")


def template(image: str, app: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": app}}, "spec": {"containers": [{"name": "server", "image": image}]}}


def _strip_hash(t: dict[str, Any]) -> dict[str, Any]:
    t = copy.deepcopy(t)
    t.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
    return t


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386 merge patch (strategic merge acts the same on the maps patched here)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge(out.get(k), v)
    return out


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


class FakeKube:
    def __init__(self, namespace: str = "shop") -> None:
        self.namespace = namespace
        self.deployments: dict[str, dict[str, Any]] = {}
        self.statefulsets: dict[str, dict[str, Any]] = {}
        self.hpas: dict[str, dict[str, Any]] = {}
        self.replicasets: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.violations: list[str] = []
        self.fail_next: list[int] = []

    # ------------------------------------------------------------------ state
    def add_deployment(self, name: str, images: list[str], replicas: int = 2) -> dict[str, Any]:
        """A Deployment whose history is one ReplicaSet per image (revisions 1..n, the last one current)."""
        dep = {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": self.namespace, "uid": f"uid-{name}", "annotations": {},
                         "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": template(images[0], name)},
            "status": {"replicas": replicas},
        }
        self.deployments[name] = dep
        for image in images:
            dep["spec"]["template"] = template(image, name)
            self._controller(dep)
        return dep

    def add_statefulset(self, name: str, image: str, replicas: int = 1) -> dict[str, Any]:
        sts = {"apiVersion": "apps/v1", "kind": "StatefulSet",
               "metadata": {"name": name, "namespace": self.namespace, "uid": f"uid-{name}", "labels": {"app": name}},
               "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                        "template": template(image, name)}}
        self.statefulsets[name] = sts
        return sts

    def add_hpa(self, target: str, lo: int, hi: int, kind: str = "Deployment") -> dict[str, Any]:
        hpa = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
               "metadata": {"name": f"{target}-hpa", "namespace": self.namespace},
               "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": target},
                        "minReplicas": lo, "maxReplicas": hi, "targetCPUUtilizationPercentage": 70}}
        self.hpas[target] = hpa
        return hpa

    def add_foreign_replicaset(self, app: str, image: str, revision: int) -> None:
        """Same labels, owned by another Deployment: must never be rolled back to."""
        self.replicasets.append(self._rs(app, template(image, app), revision, owner=("other", "uid-other")))

    def _rs(self, app: str, tmpl: dict[str, Any], revision: int, owner: tuple[str, str]) -> dict[str, Any]:
        h = hashlib.sha1(json.dumps(tmpl, sort_keys=True).encode()).hexdigest()[:10]
        t = copy.deepcopy(tmpl)
        t["metadata"].setdefault("labels", {})["pod-template-hash"] = h
        return {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{owner[0] if owner[0] != app else app}-{h}", "namespace": self.namespace,
                         "labels": dict(t["metadata"]["labels"]), "annotations": {REV: str(revision)},
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": owner[0],
                                              "uid": owner[1], "controller": True}]},
            "spec": {"replicas": 0, "selector": {"matchLabels": dict(t["metadata"]["labels"])}, "template": t},
        }

    def _controller(self, dep: dict[str, Any]) -> None:
        name, uid = dep["metadata"]["name"], dep["metadata"]["uid"]
        owned = [rs for rs in self.replicasets if rs["metadata"]["ownerReferences"][0]["uid"] == uid]
        top = max((int(rs["metadata"]["annotations"][REV]) for rs in owned), default=0)
        same = [rs for rs in owned if _strip_hash(rs["spec"]["template"]) == _strip_hash(dep["spec"]["template"])]
        if same:
            if int(same[0]["metadata"]["annotations"][REV]) == top:
                return  # unchanged template
            same[0]["metadata"]["annotations"][REV] = str(top + 1)
        else:
            self.replicasets.append(self._rs(name, dep["spec"]["template"], top + 1, owner=(name, uid)))
        dep["metadata"]["annotations"][REV] = str(top + 1)

    # ------------------------------------------------------------------ HTTP
    def handle(self, method: str, path: str, params: dict[str, str], headers: dict[str, str]) -> tuple[int, Any]:
        body_text = headers.pop("__body__", "")
        req = {"method": method, "path": path, "params": params, "content_type": headers.get("content-type"),
               "body": json.loads(body_text) if body_text else None}
        self.requests.append(req)
        if self.fail_next:
            code = self.fail_next.pop(0)
            return code, status(code, "ServiceUnavailable", "try again")
        if "application/json" not in headers.get("accept", ""):
            self.violations.append(f"{method} {path}: Accept does not include application/json")
        if m := _RS.match(path):
            if method != "GET":
                return self._bad(405, "MethodNotAllowed", f"{method} {path}")
            return 200, self._list_rs(m[1], params)
        if m := _STS.match(path):
            items = list(self.statefulsets.values()) if m[1] == self.namespace else []
            return 200, {"apiVersion": "apps/v1", "kind": "StatefulSetList", "metadata": {}, "items": items}
        if m := _HPAS.match(path):
            items = list(self.hpas.values()) if m[1] == self.namespace else []
            return 200, {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscalerList", "metadata": {},
                         "items": items}
        if m := _DEPS.match(path):
            items = list(self.deployments.values()) if m[1] == self.namespace else []
            return 200, {"apiVersion": "apps/v1", "kind": "DeploymentList", "metadata": {}, "items": items}
        m = _DEP.match(path)
        if not m or m[1] != self.namespace:
            return 404, status(404, "NotFound", f"the server could not find the requested resource ({path})")
        name, scale = m[2], bool(m[3])
        dep = self.deployments.get(name)
        if dep is None:
            return 404, status(404, "NotFound", f'deployments.apps "{name}" not found')
        if method == "GET":
            return 200, self._scale(dep) if scale else dep
        if method != "PATCH":
            return self._bad(405, "MethodNotAllowed", f"{method} {path}")
        ctype = (req["content_type"] or "").split(";")[0]
        if ctype not in PATCH_TYPES:
            return self._bad(415, "UnsupportedMediaType", f"PATCH with Content-Type {ctype!r}")
        patch = req["body"]
        if ctype == "application/json-patch+json":
            ops_ok = isinstance(patch, list) and all(isinstance(op, dict) and {"op", "path"} <= set(op) for op in patch)
            if not ops_ok:
                return self._bad(400, "BadRequest", "a JSON patch must be a list of operations")
        elif not isinstance(patch, dict):
            return self._bad(400, "BadRequest", f"{ctype} needs a JSON object")
        if scale:
            if ctype == "application/json-patch+json" or set(patch) != {"spec"} or set(patch["spec"]) != {"replicas"}:
                return self._bad(422, "Invalid", f"scale patch may only set spec.replicas: {patch}")
            if not isinstance(patch["spec"]["replicas"], int) or patch["spec"]["replicas"] < 0:
                return self._bad(422, "Invalid", "spec.replicas must be a non-negative integer")
            dep["spec"]["replicas"] = patch["spec"]["replicas"]
            return 200, self._scale(dep)
        before = copy.deepcopy(dep["spec"]["template"])
        if isinstance(patch, list):
            for op in patch:
                if op["op"] != "replace" or op["path"] not in ("/spec/template", "/metadata/annotations"):
                    return self._bad(422, "Invalid", f"unexpected JSON patch operation {op}")
                section, key = op["path"].strip("/").split("/")
                dep[section][key] = copy.deepcopy(op["value"])
        else:
            merged = merge(dep, patch)
            dep.clear()
            dep.update(merged)
        if dep["spec"]["template"] != before:
            self._controller(dep)
        return 200, dep

    def _bad(self, code: int, reason: str, message: str) -> tuple[int, Any]:
        self.violations.append(message)
        return code, status(code, reason, message)

    def _scale(self, dep: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": "autoscaling/v1", "kind": "Scale",
                "metadata": {"name": dep["metadata"]["name"], "namespace": self.namespace},
                "spec": {"replicas": dep["spec"]["replicas"]},
                "status": {"replicas": dep["spec"]["replicas"], "selector": f"app={dep['metadata']['name']}"}}

    def _list_rs(self, namespace: str, params: dict[str, str]) -> dict[str, Any]:
        want: dict[str, str] = {}
        for part in filter(None, params.get("labelSelector", "").split(",")):
            if "=" not in part or "!" in part:
                self.violations.append(f"unsupported label selector term {part!r}")
                continue
            k, v = part.split("=", 1)
            want[k.strip()] = v.strip()
        items = [rs for rs in self.replicasets if rs["metadata"]["namespace"] == namespace
                 and all(rs["metadata"]["labels"].get(k) == v for k, v in want.items())]
        return {"apiVersion": "apps/v1", "kind": "ReplicaSetList", "metadata": {}, "items": items}
