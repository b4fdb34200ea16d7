"""build_context: the simulator by default; real backends where the settings name them."""

from __future__ import annotations

from agent.context import build_context
from config.settings import Settings
from tools.backends.sim_backend import SimBackend
from tools.registry import call_tool


def test_default_context_is_the_simulator() -> None:
    live = build_context(Settings(), live=False)
    try:
        assert live.info["backend"] == "sim" and live.tools.sim is not None
        assert call_tool("query_metrics", {"service": "frontend", "metric": "cpu"}, live.tools).status == "ok"
    finally:
        live.close()


def test_configured_backends_replace_the_simulator_roles(tmp_path) -> None:
    settings = Settings(metrics_backend="prometheus", prometheus_url="http://127.0.0.1:9", backend_timeout_s=0.5,
                        logs_backend="files", log_dir=str(tmp_path))
    live = build_context(settings, live=False)
    try:
        assert live.info["backend"]["metrics"] == "prometheus" and live.info["backend"]["logs"] == "files"
        assert not isinstance(live.tools.metrics, SimBackend) and live.tools.sim is None
        r = call_tool("query_metrics", {"service": "frontend", "metric": "cpu"}, live.tools)
        assert r.status == "error" and "prometheus" in (r.error or "")
        # actions stay on the (locked) simulator
        assert call_tool("get_topology", {}, live.tools).status == "ok"
    finally:
        live.close()
