"""`keel doctor`: each configured backend checked, failures named with a fix."""

from __future__ import annotations

import json
import time
from pathlib import Path

from typer.testing import CliRunner

from agent.cli.main import app
from agent.doctor import check_database, check_kubernetes, check_log_files, check_loki, check_topology, run_checks
from agent.settings import get_settings
from tests.backends.fake_kube import FakeKube
from tests.backends.fake_loki import FakeLoki, Stream, serve_fake
from tests.backends.servers import free_port
from tests.shop import SERVICES
from tools.backends.kubernetes import load_api_client


def by_name(checks: list) -> dict[str, tuple[str, str, str]]:
    return {c.name: (c.status, c.detail, c.fix) for c in checks}


def test_defaults_are_all_ok_and_the_cli_exits_0() -> None:
    assert {c.status for c in run_checks(get_settings(), planner=False)} == {"ok"}
    r = CliRunner().invoke(app, ["doctor", "--json", "--no-planner"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["ok"] is True


def test_a_failing_backend_exits_1_with_a_fix(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KEEL_METRICS_BACKEND", "prometheus")
    monkeypatch.setenv("KEEL_PROMETHEUS_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("KEEL_BACKEND_TIMEOUT_S", "1")
    r = CliRunner().invoke(app, ["doctor", "--json", "--no-planner"])
    assert r.exit_code == 1
    out = json.loads(r.output)
    prom = next(c for c in out["checks"] if c["name"] == "metrics: prometheus")
    assert prom["status"] == "fail" and "connection refused" in prom["detail"] and "prometheus_url" in prom["fix"]


def test_log_files(tmp_path: Path) -> None:
    s = get_settings(logs_backend="files", log_dir=str(tmp_path / "nope"))
    assert by_name(check_log_files(s))["logs: files"][0] == "fail"
    d = tmp_path / "logs"
    d.mkdir()
    s = get_settings(logs_backend="files", log_dir=str(d))
    status, detail, fix = by_name(check_log_files(s))["logs: files"]
    assert status == "fail" and "no files match" in detail and "log_glob" in fix
    (d / "app.log").write_text("garbage\n" * 10)
    assert by_name(check_log_files(s))["logs: format"][0] == "warn"
    (d / "app.log").write_text(json.dumps({"ts": time.time(), "level": "info", "message": "hi"}) + "\n")
    assert [c.status for c in check_log_files(s)] == ["ok"]


def test_loki_labels() -> None:
    fake = FakeLoki([Stream({"app": s}, []) for s in SERVICES[:3]])
    with serve_fake(fake) as url:
        wrong = by_name(check_loki(get_settings(logs_backend="loki", loki_url=url)))
        right = by_name(check_loki(get_settings(logs_backend="loki", loki_url=url, loki_service_label="app")))
    assert wrong["logs: loki"][0] == "ok" and wrong["logs: loki labels"][0] == "fail"
    assert "loki_service_label" in wrong["logs: loki labels"][2]
    assert right["logs: loki labels"][0] == "warn" and SERVICES[5] in right["logs: loki labels"][1]
    down = by_name(check_loki(get_settings(logs_backend="loki", loki_url=f"http://127.0.0.1:{free_port()}",
                                           backend_timeout_s=1)))
    assert down["logs: loki"][0] == "fail" and "loki_url" in down["logs: loki"][2]


def test_kubernetes_deployments() -> None:
    fake = FakeKube("shop")
    for s in SERVICES[:-1]:
        fake.add_deployment(s, [f"{s}:v1"])
    with serve_fake(fake) as url:
        checks = by_name(check_kubernetes(get_settings(actions_backend="kubernetes", kube_namespace="shop"),
                                          api_client=load_api_client(host=url)))
        other = by_name(check_kubernetes(get_settings(actions_backend="kubernetes", kube_namespace="prod"),
                                         api_client=load_api_client(host=url)))
    assert checks["actions: kubernetes"][0] == "ok" and "10 Deployment(s)" in checks["actions: kubernetes"][1]
    assert checks["actions: deployments"][:2] == ("warn", f"no Deployment for {SERVICES[-1]}")
    assert other["actions: deployments"][0] == "fail" and "kube_namespace" in other["actions: deployments"][2]


def test_topology_file(tmp_path: Path) -> None:
    f = tmp_path / "graph.csv"
    f.write_text("Source,Target,Weight\nfront,cartservice,1\ncartservice,redis-cart,1\n")
    (status, detail, fix), = by_name(check_topology(get_settings(topology_file=str(f)))).values()
    assert status == "warn" and "front" in detail and "service_map" in fix
    ok = check_topology(get_settings(topology_file=str(f), service_map={"frontend": "front"}))
    assert [c.status for c in ok] == ["ok"]


def test_database(pg_url: str) -> None:
    assert check_database(get_settings(database_url=pg_url))[0].status == "ok"
    down = check_database(get_settings(database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/x"))[0]
    assert down.status == "fail" and "cannot connect" in down.detail and "createdb" in down.fix
    bad = check_database(get_settings(database_url="mysql://x"))[0]
    assert bad.status == "fail" and "database_url" in bad.detail
