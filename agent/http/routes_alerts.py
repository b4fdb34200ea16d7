"""`POST /api/alerts/alertmanager`: Alertmanager's webhook receiver; `alert_incidents` for `/api/incidents`.

Auth as Alertmanager's `http_config` sends it: `authorization: {credentials: TOKEN}` (Bearer) or
`basic_auth: {password: TOKEN}` (any username); the token must have the operator role or above. Whatever
the token's role, the investigation runs as principal `alertmanager` with role operator.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from agent.alerts.intake import AlertIntake
from agent.alerts.payload import AlertmanagerWebhook
from agent.alerts.slack import ThreadPoster
from agent.alerts.store import IncidentStore
from agent.http.auth import RANK, Unauthorized, authenticate, principal_name
from governance.gate import Principal
from tools.resolution import resolve
from tools.services import current_inventory

router = APIRouter(tags=["alerts"])
RECENT = 50


def resolve_label(name: str) -> str | None:
    """An alert label's service in the inventory: exact, alias or normalised (`tools.resolution`, as for a
    write: the alert's services become grounded write targets, so a fuzzy guess is not enough)."""
    return resolve(name, current_inventory(), for_write=True).name


def build_intake(app: FastAPI) -> AlertIntake:
    settings = app.state.settings
    store = IncidentStore(settings.incidents_db_path())
    return AlertIntake(app.state.service, store, ThreadPoster(settings), resolve_label)


def intake_of(request: Request) -> AlertIntake:
    intake: AlertIntake = request.app.state.alerts
    return intake


def authenticate_bearer_or_basic(request: Request) -> Principal:
    """Bearer token, or HTTP basic with the token as the password."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return authenticate(request)
    try:
        _, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("malformed basic credentials: expected base64 of username:password") from None
    if not sep or not password:
        raise Unauthorized("basic auth needs a password: set basic_auth.password to a keel token")
    for known, role in request.app.state.tokens.items():
        if hmac.compare_digest(known.encode(), password.encode()):
            return Principal(name=principal_name(known, role), role=role)
    raise Unauthorized("unknown token in basic auth password")


def operator_or_above(principal: Principal = Depends(authenticate_bearer_or_basic)) -> Principal:
    if RANK.get(str(principal.role), -1) < RANK["operator"]:
        raise HTTPException(403, f"alerts need a token with the operator role or above; this one has {principal.role}")
    return principal


@router.post("/api/alerts/alertmanager", status_code=202)
async def alertmanager(hook: AlertmanagerWebhook, _: Principal = Depends(operator_or_above),
                       intake: AlertIntake = Depends(intake_of)) -> dict[str, Any]:
    return await run_in_threadpool(intake.receive, hook)


def alert_incidents(app: FastAPI, limit: int = RECENT) -> dict[str, Any]:
    """Open incidents and the most recent closed ones (newest first)."""
    intake: AlertIntake | None = getattr(app.state, "alerts", None)
    if intake is None:
        return {"open": [], "recent": []}
    opened = [i.to_dict() for i in intake.store.list(status="open", limit=500)]
    closed = [i.to_dict() for i in intake.store.list(status="closed", limit=limit)]
    return {"open": opened, "recent": closed}
