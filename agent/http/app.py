"""`create_app(settings, service=None)`: the FastAPI app. Routers live in small modules; add one with one line."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse

from agent.http import (
    errors,
    routes_alerts,
    routes_approvals,
    routes_audit,
    routes_conversations,
    routes_incidents,
    routes_metrics,
    routes_openai,
    routes_runbooks,
    routes_services,
)
from agent.http.auth import parse_tokens
from agent.http.limits import MaxBodySize
from agent.observe import metrics as observe_metrics
from agent.observe import tracing
from agent.service import AgentService
from agent.slack import routes as slack_routes
from config.settings import Settings

WEB = Path(__file__).resolve().parents[1] / "web"


def create_app(settings: Settings, service: AgentService | None = None) -> FastAPI:
    """The app over `service` (built from settings with the default scenario when not given)."""
    if service is None:
        from agent.composition import build_service

        service = build_service(settings)
    app = FastAPI(title="keel", version="0.1.0", description="Local-first ops assistant: chat, approvals, audit.")
    app.state.settings = settings
    app.state.service = service
    app.state.tokens = parse_tokens(settings.tokens.get_secret_value())
    errors.install(app)
    app.add_middleware(MaxBodySize, max_bytes=settings.max_request_bytes)
    _observe(app, settings, service)
    app.include_router(routes_openai.router)
    app.include_router(routes_approvals.router)
    app.include_router(routes_audit.router)
    app.include_router(routes_incidents.router)
    app.include_router(routes_conversations.router)
    app.include_router(routes_runbooks.router)
    app.include_router(routes_services.router)
    app.include_router(slack_routes.router)
    app.include_router(routes_alerts.router)
    app.include_router(routes_metrics.router)
    # the runbook host (shared with the agent) and its watcher run from startup: a run's approval decided
    # anywhere (HTTP, Slack, `keel approvals`) resumes the run even before anyone calls /api/runbooks
    app.router.add_event_handler("startup", lambda: routes_runbooks.host_for(app))

    app.router.add_event_handler("startup", app.state.alerts.recover)
    app.router.add_event_handler("shutdown", app.state.alerts.close)

    from agent.http import routes_charts
    from agent.mcp.http import mount as mount_mcp

    app.include_router(routes_charts.router)  # /api/conversations/{id}/charts: SVG charts of the tool results
    mount_mcp(app)  # /mcp: keel's tools over MCP (streamable HTTP), same tokens and roles

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(WEB / "index.html", media_type="text/html")

    return app


def _observe(app: FastAPI, settings: Settings, service: AgentService) -> None:
    """Metrics and traces of the service's planner, gate and routes; the alert intake and its incidents."""
    from prometheus_client import CollectorRegistry

    observe_metrics.instrument(service)
    tracing.instrument(service)
    if settings.otlp_endpoint:
        tracing.configure(settings.otlp_endpoint)
    app.add_middleware(observe_metrics.RouteMetrics)
    app.state.alerts = routes_alerts.build_intake(app)
    app.state.metrics_registry = CollectorRegistry()
    app.state.metrics_registry.register(observe_metrics.StateCollector(service, app.state.alerts.store.count_open))
