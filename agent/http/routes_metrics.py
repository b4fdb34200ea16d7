"""`GET /metrics`: keel's own metrics in Prometheus' text format (see `agent.observe.metrics`).

Readable with a viewer (or higher) bearer token, or with the `metrics_token` setting (a scrape-only token
that opens nothing else).
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from agent.http.auth import require
from agent.observe.metrics import REGISTRY

router = APIRouter(tags=["metrics"])


def _scrape_token_ok(request: Request) -> bool:
    token = request.app.state.settings.metrics_token.get_secret_value()
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), given.strip().encode())


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    if not _scrape_token_ok(request):
        from agent.http.auth import authenticate

        require("viewer")(authenticate(request))
    state: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(REGISTRY) + generate_latest(state), media_type=CONTENT_TYPE_LATEST)
