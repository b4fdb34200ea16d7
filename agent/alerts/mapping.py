"""Pure mapping from an alert's labels to inventory services, and the investigation request built from them.

Labels are tried in order (`service`, `app`, `app_kubernetes_io_name`, `job`, `deployment`, `statefulset`,
`pod`); a pod or ReplicaSet name is reduced to its owner by dropping the hash suffixes Kubernetes adds
(`checkout-7d4f8b9c6-x2k9p` -> `checkout`, `checkout-7d4f8b9c6` -> `checkout`, `redis-0` -> `redis`).
Each candidate goes through `resolve` (a name -> inventory service or None); the first that resolves names
the alert's service.

The request text the investigation runs on holds only resolved inventory names and a fixed phrase chosen
from a closed vocabulary: no label or annotation text reaches the planner verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

Resolve = Callable[[str], str | None]

SERVICE_LABELS = ("service", "app", "app_kubernetes_io_name", "job", "deployment", "statefulset", "pod")
OWNER_LABELS = ("deployment", "statefulset", "pod")  # names that may carry ReplicaSet / pod suffixes
_POD = re.compile(r"^(?P<owner>.+)-[a-z0-9]{6,10}-[a-z0-9]{5}$")  # Deployment pod: owner-<rs hash>-<pod hash>
_REPLICASET = re.compile(r"^(?P<owner>.+)-[a-z0-9]{6,10}$")  # ReplicaSet: owner-<pod-template-hash>
_GENERATED = re.compile(r"^(?P<owner>.+)-[a-z0-9]{5}$")  # DaemonSet / Job pod: owner-<5 chars>
_ORDINAL = re.compile(r"^(?P<owner>.+)-\d+$")  # StatefulSet pod: owner-<ordinal>
_SEPARATORS = re.compile(r"[\s_.:/]+")

# (words in the alert name, the phrase the request uses): a closed vocabulary, first match wins
SYMPTOMS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("latency", "slow", "p99", "p95", "duration"), "high latency"),
    (("error", "5xx", "fail", "exception"), "a high error rate"),
    (("memory", "oom", "leak"), "memory pressure"),
    (("cpu", "throttl", "saturat"), "CPU saturation"),
    (("crash", "down", "restart", "unavailable", "unhealthy"), "failing instances"),
    (("traffic", "rps", "request_rate", "surge", "load"), "a traffic surge"),
    (("queue", "backlog", "lag"), "a growing queue"),
)
DEFAULT_SYMPTOM = "an alert"


def normalise(name: str) -> str:
    """Lower case, runs of separators (space, _ . : /) as one '-'."""
    return _SEPARATORS.sub("-", name.strip().lower()).strip("-")


def exact_resolver(names: Iterable[str]) -> Resolve:
    """A resolver that matches inventory names exactly after `normalise` on both sides."""
    table = {normalise(n): n for n in names}
    return lambda name: table.get(normalise(name))


def owner_candidates(name: str) -> list[str]:
    """`name` and the owners it may stand for once Kubernetes' generated suffixes are dropped, most specific
    first (a pod name gives its Deployment, ReplicaSet, DaemonSet/Job or StatefulSet owner)."""
    out = [name]
    for rx in (_POD, _REPLICASET, _GENERATED, _ORDINAL):
        m = rx.match(name)
        if m and m.group("owner") not in out:
            out.append(m.group("owner"))
    return out


def alert_service(labels: Mapping[str, str], resolve: Resolve) -> str | None:
    """The inventory service an alert's labels name, or None."""
    for key in SERVICE_LABELS:
        value = labels.get(key)
        if not value:
            continue
        for candidate in owner_candidates(value) if key in OWNER_LABELS else [value]:
            found = resolve(candidate)
            if found:
                return found
    return None


def alert_services(alerts: Iterable[Mapping[str, str]], resolve: Resolve) -> list[str]:
    """The distinct services a group of alerts (their label maps) names, in order of first appearance."""
    out: list[str] = []
    for labels in alerts:
        s = alert_service(labels, resolve)
        if s and s not in out:
            out.append(s)
    return out


def symptom(alert_names: Iterable[str]) -> str:
    """The phrase for the first alert name that matches the vocabulary; DEFAULT_SYMPTOM otherwise."""
    names = [n.lower() for n in alert_names]
    for words, phrase in SYMPTOMS:
        if any(w in n for n in names for w in words):
            return phrase
    return DEFAULT_SYMPTOM


def request_text(services: list[str], phrase: str) -> str:
    """The investigation's request: inventory names and a vocabulary phrase only."""
    if not services:
        return f"Which services are unhealthy right now? An alert fired with {phrase} on no service I know."
    return f"Alert: {phrase} on {', '.join(services)}. What is the root cause?"
