"""Metric -> PromQL mapping: presets for `keel sim serve` and for common Kubernetes exporters.

Each of the eight contract metrics maps to a PromQL expression that returns one series per service,
in the contract's unit, with the service name in a label (`label`, default `service`). The token
`$service` stands for an RE2 alternation of the services asked for; write it inside a `=~` matcher.

Presets:
- `keel_sim` (default): the gauges `keel sim serve` exports (`keel_sim_cpu_percent{service=...}` ...).
- `kubernetes`: cAdvisor (CPU, memory working set) and kube-state-metrics (replicas, CPU requests)
  with Deployment names taken from pod names, and an Istio/Envoy request histogram for latency
  quantiles, error rate and throughput (`istio_request_duration_milliseconds_bucket`,
  `istio_requests_total`, labelled `destination_workload`); queue depth from Envoy's pending
  upstream requests. Override any entry in keel.toml under `[prometheus_queries]`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tools.contract import METRICS


@dataclass(frozen=True)
class MetricQuery:
    query: str
    label: str = "service"


# The gauges `keel sim serve` exports, each labelled service=<name>, in the contract's units.
SIM_GAUGES: dict[str, str] = {
    "cpu": "keel_sim_cpu_percent",
    "memory": "keel_sim_memory_mb",
    "latency_p50": "keel_sim_latency_p50_ms",
    "latency_p99": "keel_sim_latency_p99_ms",
    "error_rate": "keel_sim_error_ratio",
    "throughput": "keel_sim_throughput_rps",
    "replicas": "keel_sim_replicas",
    "queue_depth": "keel_sim_queue_depth",
}

KEEL_SIM: dict[str, MetricQuery] = {m: MetricQuery(f'{g}{{service=~"$service"}}') for m, g in SIM_GAUGES.items()}

# Pod names are <deployment>-<replicaset hash>-<pod suffix>; label_replace recovers the Deployment.
_POD = '"service", "$1", "pod", "(.+)-[a-z0-9]+-[a-z0-9]+"'
_CONTAINERS = 'container!="", container!="POD", pod=~"($service)-[a-z0-9]+-[a-z0-9]+"'
_ISTIO = 'reporter="destination", destination_workload=~"$service"'


def _quantile(q: float) -> MetricQuery:
    return MetricQuery(
        f"histogram_quantile({q}, sum by (le, destination_workload) "
        f"(rate(istio_request_duration_milliseconds_bucket{{{_ISTIO}}}[2m])))",
        "destination_workload",
    )


KUBERNETES: dict[str, MetricQuery] = {
    "cpu": MetricQuery(
        f"100 * sum by (service) (label_replace(rate(container_cpu_usage_seconds_total{{{_CONTAINERS}}}[2m]), {_POD}))"
        f" / sum by (service) (label_replace(kube_pod_container_resource_requests{{resource=\"cpu\", "
        f"pod=~\"($service)-[a-z0-9]+-[a-z0-9]+\"}}, {_POD}))"
    ),
    "memory": MetricQuery(
        f"avg by (service) (label_replace(sum by (pod) (container_memory_working_set_bytes{{{_CONTAINERS}}}), {_POD}))"
        " / 1048576"
    ),
    "latency_p50": _quantile(0.5),
    "latency_p99": _quantile(0.99),
    "error_rate": MetricQuery(
        f'sum by (destination_workload) (rate(istio_requests_total{{{_ISTIO}, response_code=~"5.."}}[2m]))'
        f" / sum by (destination_workload) (rate(istio_requests_total{{{_ISTIO}}}[2m]))",
        "destination_workload",
    ),
    "throughput": MetricQuery(
        f"sum by (destination_workload) (rate(istio_requests_total{{{_ISTIO}}}[2m]))", "destination_workload"
    ),
    "replicas": MetricQuery('kube_deployment_status_replicas_available{deployment=~"$service"}', "deployment"),
    "queue_depth": MetricQuery(
        'sum by (service) (label_replace(envoy_cluster_upstream_rq_pending_active{cluster_name=~"inbound.*", '
        f'pod=~"($service)-[a-z0-9]+-[a-z0-9]+"}}, {_POD}))'
    ),
}

PRESETS: dict[str, dict[str, MetricQuery]] = {"keel_sim": KEEL_SIM, "kubernetes": KUBERNETES}


def build_queries(preset: str, overrides: dict[str, Any] | None = None) -> dict[str, MetricQuery]:
    """The preset's mapping with keel.toml overrides applied (a string, or a table with query and label)."""
    if preset not in PRESETS:
        raise ValueError(f"prometheus_preset: unknown preset {preset!r}; allowed: {', '.join(PRESETS)}")
    out = dict(PRESETS[preset])
    for metric, value in (overrides or {}).items():
        if metric not in METRICS:
            raise ValueError(f"prometheus_queries: unknown metric {metric!r}; allowed: {', '.join(METRICS)}")
        if isinstance(value, str):
            out[metric] = MetricQuery(value, out[metric].label)
        elif isinstance(value, dict) and isinstance(value.get("query"), str):
            out[metric] = MetricQuery(value["query"], str(value.get("label", out[metric].label)))
        else:
            raise ValueError(f"prometheus_queries.{metric}: give a PromQL string or a table with query (and label)")
        if "$service" not in out[metric].query:
            raise ValueError(f"prometheus_queries.{metric}: the query must select services with $service")
    return out


_RE2_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


def service_regex(names: list[str]) -> str:
    """An RE2 alternation matching exactly these names, escaped for a double-quoted PromQL string."""
    alternation = "|".join(_RE2_SPECIAL.sub(r"\\\1", n) for n in names)
    return alternation.replace("\\", "\\\\").replace('"', '\\"')


def render(mq: MetricQuery, names: list[str]) -> str:
    return mq.query.replace("$service", service_regex(names))
