"""`keel doctor`'s checks: each configured backend probed, the CPU and one planner call, with what is wrong and
how to fix it.

Every check returns a `Check(name, status, detail, fix)`; status is ok, warn (works, but something is
missing) or fail (the tools that need it will return errors). Probes use the backends' own code paths
and the configured time budget, so a check fails the way a tool call would.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tools.backends.base import BackendError
from tools.services import current_topology, service_names

Status = str  # "ok" | "warn" | "fail"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def _missing(present: set[str], smap: dict[str, str]) -> list[str]:
    return [s for s in service_names() if smap.get(s, s) not in present]


def _guard(name: str, fn: Callable[[], list[Check]], fix: str) -> list[Check]:
    try:
        return fn()
    except BackendError as e:
        return [Check(name, "fail", str(e), fix)]
    except Exception as e:  # a check must never crash the doctor
        return [Check(name, "fail", f"{type(e).__name__}: {e}", fix)]


# ------------------------------------------------------------------------------------------ metrics
def check_prometheus(settings: Any) -> list[Check]:
    from tools.backends.prometheus import PrometheusMetrics
    from tools.backends.promql import render

    url = settings.prometheus_url
    reach_fix = f"start Prometheus at {url}, or set prometheus_url in keel.toml (KEEL_PROMETHEUS_URL)"
    try:
        prom = PrometheusMetrics(url, preset=settings.prometheus_preset, queries=settings.prometheus_queries,
                                 timeout_s=settings.backend_timeout_s, service_map=settings.service_map)
    except ValueError as e:
        return [Check("metrics: prometheus config", "fail", str(e), "fix prometheus_preset / [prometheus_queries]")]

    def probe() -> list[Check]:
        info = prom.api("status/buildinfo", {})
        out = [Check("metrics: prometheus", "ok", f"{url} answers (Prometheus {(info or {}).get('version', '?')})")]
        smap = dict(settings.service_map or {})
        for metric, mq in prom.queries.items():
            q = render(mq, [smap.get(s, s) for s in service_names()])
            try:
                data = prom.api("query", {"query": f"group by ({mq.label}) ({q})"})
            except BackendError as e:
                out.append(Check(f"metrics: {metric}", "fail", str(e),
                                 f"fix the PromQL for {metric} under [prometheus_queries] in keel.toml"))
                continue
            present = {r["metric"].get(mq.label, "") for r in data.get("result", [])}
            missing = _missing(present, smap)
            if len(missing) == len(service_names()):
                out.append(Check(f"metrics: {metric}", "fail", f"no series: {q}",
                                 "is the exporter scraped (Prometheus Status > Targets)? else choose "
                                 "prometheus_preset or override the query under [prometheus_queries]"))
            elif missing:
                out.append(Check(f"metrics: {metric}", "warn", f"no data for {', '.join(missing)}",
                                 "map these services to your names with [service_map]"))
            else:
                out.append(Check(f"metrics: {metric}", "ok", f"all {len(service_names())} services"))
        return out

    return _guard("metrics: prometheus", probe, reach_fix)


# ------------------------------------------------------------------------------------------ logs
def check_log_files(settings: Any) -> list[Check]:
    from tools.backends.logfiles import FileLogs, parse_line

    if not settings.log_dir:
        return [Check("logs: files", "fail", "logs_backend is 'files' but log_dir is not set",
                      "set log_dir in keel.toml (KEEL_LOG_DIR) to the directory holding the log files")]
    d = Path(settings.log_dir)
    if not d.is_dir():
        return [Check("logs: files", "fail", f"{d} does not exist or is not a directory",
                      f"create it or point log_dir at your logs (`keel sim serve --log-dir {d}` writes some)")]
    if not os.access(d, os.R_OK | os.X_OK):
        return [Check("logs: files", "fail", f"{d} is not readable by this user", f"chmod/chown {d}")]
    files = FileLogs(d, glob=settings.log_glob).files()
    if not files:
        return [Check("logs: files", "fail", f"no files match {settings.log_glob!r} in {d}",
                      "set log_glob in keel.toml to match your file names (rotated ones included)")]
    newest = max(files, key=lambda p: p.stat().st_mtime)
    try:
        with newest.open("r", encoding="utf-8", errors="replace") as fh:
            tail = fh.readlines()[-200:]
    except OSError as e:
        return [Check("logs: files", "fail", f"cannot read {newest.name}: {e}", f"check the permissions of {newest}")]
    parsed = [r for r in (parse_line(t, newest.name.split(".")[0]) for t in tail) if r is not None]
    age = time.time() - newest.stat().st_mtime
    out = [Check("logs: files", "ok", f"{len(files)} file(s) in {d}; newest {newest.name}, written {age:.0f} s ago")]
    if tail and len(parsed) < len(tail) / 2:
        out.append(Check("logs: format", "warn", f"only {len(parsed)} of the last {len(tail)} lines of "
                         f"{newest.name} have a timestamp keel understands",
                         "write JSON lines with ts/level/message/service, or '<ISO time> LEVEL [service:] text'"))
    elif age > 3600:
        out.append(Check("logs: freshness", "warn", f"nothing written for {age / 3600:.1f} h",
                         "is the application still logging to this directory?"))
    return out


def check_loki(settings: Any) -> list[Check]:
    from tools.backends.loki import LokiLogs

    url = settings.loki_url
    loki = LokiLogs(url, service_label=settings.loki_service_label, level_label=settings.loki_level_label,
                    tenant=settings.loki_tenant, timeout_s=settings.backend_timeout_s, service_map=settings.service_map)

    def probe() -> list[Check]:
        values = loki.get(f"/loki/api/v1/label/{settings.loki_service_label}/values", {})
        present = set(values if isinstance(values, list) else [])
        out = [Check("logs: loki", "ok", f"{url} answers; label {settings.loki_service_label!r} has "
                     f"{len(present)} value(s)")]
        missing = _missing(present, dict(settings.service_map or {}))
        if len(missing) == len(service_names()):
            out.append(Check("logs: loki labels", "fail", f"no stream has label {settings.loki_service_label!r} "
                             "with a service name", "set loki_service_label to the label holding the service "
                             "(e.g. app, service_name), or map names with [service_map]"))
        elif missing:
            out.append(Check("logs: loki labels", "warn", f"no streams for {', '.join(missing)}",
                             "map these services to your names with [service_map]"))
        return out

    return _guard("logs: loki", probe, f"start Loki at {url} or set loki_url (and loki_tenant if multi-tenant)")


# ------------------------------------------------------------------------------------------ actions
def check_kubernetes(settings: Any, api_client: Any = None) -> list[Check]:
    from kubernetes import client as k8s

    from tools.backends.kubernetes import KubeActions

    acts = KubeActions(settings.kube_namespace, api_client=api_client, context=settings.kube_context,
                       config_file=str(settings.kube_config) if settings.kube_config else None,
                       timeout_s=settings.backend_timeout_s, service_map=settings.service_map)

    def probe() -> list[Check]:
        apps = k8s.AppsV1Api(acts.api_client)
        deps = acts._call(f"deployments in {settings.kube_namespace}", lambda t: apps.list_namespaced_deployment(
            settings.kube_namespace, _request_timeout=t))
        names = {d.metadata.name for d in deps.items if d.metadata is not None and d.metadata.name}
        out = [Check("actions: kubernetes", "ok", f"{acts.label}: {len(names)} Deployment(s) in namespace "
                     f"{settings.kube_namespace!r}")]
        missing = _missing(names, dict(settings.service_map or {}))
        if len(missing) == len(service_names()):
            out.append(Check("actions: deployments", "fail", f"none of the services is a Deployment in "
                             f"{settings.kube_namespace!r}", "set kube_namespace, or map names with [service_map]"))
        elif missing:
            out.append(Check("actions: deployments", "warn", f"no Deployment for {', '.join(missing)}",
                             "map these services to Deployment names with [service_map]"))
        return out

    return _guard("actions: kubernetes", probe,
                  "set kube_config / kube_context (or run inside the cluster with a service account that may "
                  "get, list and patch apps/deployments and list apps/replicasets)")


# ------------------------------------------------------------------------------------------ topology, database
def check_topology(settings: Any) -> list[Check]:
    from tools.backends.factory import read_edges

    if not settings.topology_file:
        default = f"the {current_topology().name} call graph (default)"
        return [Check("topology", "ok", default if settings.metrics_backend != "sim" else "the simulator's call graph")]
    try:
        edges = read_edges(Path(settings.topology_file), settings.service_map)
    except ValueError as e:
        return [Check("topology", "fail", str(e), "give a CSV with caller,callee (or Source,Target) columns")]
    unknown = sorted({n for e in edges for n in e} - set(service_names()))
    if unknown:
        return [Check("topology", "warn", f"{len(edges)} edges; names outside the contract: {', '.join(unknown[:5])}",
                      "map them with [service_map] so RCA and get_topology use contract names")]
    return [Check("topology", "ok", f"{len(edges)} edges from {settings.topology_file}")]


def check_database(settings: Any) -> list[Check]:
    from governance.stores import is_postgres, open_stores

    url = (settings.database_url or "").strip()
    where = "PostgreSQL" if is_postgres(url) else f"SQLite {settings.audit_db_path()}"
    try:
        audit, approvals = open_stores(settings)
    except ValueError as e:
        return [Check("database", "fail", str(e), "set database_url to '' or postgresql://user@host:port/db")]
    except Exception as e:
        fix = ("start PostgreSQL, create the database (createdb) and check user/host/port in database_url"
               if is_postgres(url) else f"make {settings.home} writable (KEEL_HOME)")
        return [Check("database", "fail", f"{where}: {e}", fix)]
    try:
        seq, _ = audit.head()
        pending = len(approvals.list("pending"))
        return [Check("database", "ok", f"{where}: audit log at record {seq}, {pending} pending approval(s)")]
    except Exception as e:
        return [Check("database", "fail", f"{where}: {e}", "run `keel audit verify`; check the database")]
    finally:
        audit.close()
        approvals.close()


# ------------------------------------------------------------------------------------------ CPU and planner
def check_planner(settings: Any) -> list[Check]:
    """The CPU's features, then one planner call in a child process (a native crash is reported, not raised)."""
    from agent.planner.probe import probe_planner
    from finetune.slm.llama_runtime import FIX, amx_flags, cpu_summary, extra_bufts_default

    amx = amx_flags()
    bufts = extra_bufts_default(settings.llama_extra_bufts)
    cpu = Check("cpu", "ok", f"{cpu_summary()}; AMX: {', '.join(amx) or 'no'}; llama.cpp extra buffer types "
                f"{'on' if bufts else 'off'}" + (" (setting)" if settings.llama_extra_bufts is not None else ""))
    if settings.planner == "keyword":
        return [cpu, Check("planner", "ok", "keyword planner (no model)")]
    result = probe_planner()
    if result.ok:
        return [cpu, Check("planner", "ok", result.detail)]
    fix = FIX if "crashed" in result.detail else ("check planner / planner_adapter in keel.toml; "
                                                  "`keel doctor --json` shows the details")
    return [cpu, Check("planner", "fail", result.detail, fix)]


def run_checks(settings: Any, planner: bool = True) -> list[Check]:
    out: list[Check] = []
    if settings.metrics_backend == "prometheus":
        out += check_prometheus(settings)
    else:
        out.append(Check("metrics: sim", "ok", "embedded simulator"))
    if settings.logs_backend == "files":
        out += check_log_files(settings)
    elif settings.logs_backend == "loki":
        out += check_loki(settings)
    else:
        out.append(Check("logs: sim", "ok", "embedded simulator"))
    if settings.actions_backend == "kubernetes":
        out += check_kubernetes(settings)
    else:
        out.append(Check("actions: sim", "ok", "embedded simulator"))
    out += check_topology(settings)
    out += check_database(settings)
    if planner:
        out += check_planner(settings)
    return out
