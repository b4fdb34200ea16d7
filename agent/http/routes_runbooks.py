"""`/api/runbooks`: list and show runbooks, dry-run or start a run, read runs, resume a paused run.

A run executes in the server's runbook pool: `POST /api/runbooks/{name}/run` answers 202 with the run id
at once (or, with `"wait": true`, the record once it finished or paused). Runs paused on an approval are
resumed by `POST /api/runbooks/runs/{id}/resume`, and by a watcher as soon as the approval is decided.
"""

from __future__ import annotations

import concurrent.futures
import threading
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from agent.http.auth import require
from agent.runbooks.host import RunbookHost, service_host
from agent.runbooks.model import RunbookError
from agent.runbooks.store import RUN_STATUSES, RunRecord
from governance.gate import Principal

router = APIRouter(prefix="/api/runbooks", tags=["runbooks"])
_LOCK = threading.Lock()


def host_for(app: FastAPI) -> RunbookHost:
    """The app's runbook host: the service's own (built on first use when it has none), its watcher started."""
    with _LOCK:
        host = getattr(app.state, "runbooks", None)
        if host is None:
            service, settings = app.state.service, app.state.settings
            host = service.runbooks or service_host(service, settings)  # one engine: the agent's and the API's
            service.attach_runbooks(host)
            host.poll_s = settings.runbook_resume_poll_s
            host.start_watcher()
            app.state.runbooks = host
            app.router.add_event_handler("shutdown", host.close)
        return host


def get_host(request: Request) -> RunbookHost:
    return host_for(request.app)


class RunBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service: str | None = Field(None, description="the service (shorthand for params.service)")
    params: dict[str, Any] = Field(default_factory=dict)
    dry_run: bool = False
    wait: bool = Field(False, description="answer when the run finished or paused, not at once")
    timeout_s: float = Field(120.0, gt=0, le=900)


def _record(run: RunRecord) -> dict[str, Any]:
    return run.to_dict()


def _unknown(e: RunbookError) -> HTTPException:
    return HTTPException(404, str(e))


async def _settle(future: concurrent.futures.Future[RunRecord], timeout_s: float) -> RunRecord | None:
    try:
        return await run_in_threadpool(future.result, timeout_s)
    except concurrent.futures.TimeoutError:
        return None


@router.get("")
def list_runbooks(_: Principal = Depends(require("viewer")),
                  host: RunbookHost = Depends(get_host)) -> dict[str, Any]:
    lib = host.engine.library
    return {"runbooks": [{"name": n, "description": lib.get(n).description,
                          "parameters": list(lib.get(n).parameters)} for n in lib.names()]}


@router.get("/runs")
def list_runs(status: Literal[RUN_STATUSES] | None = Query(None),  # type: ignore[valid-type]
              limit: int = Query(50, ge=1, le=500), _: Principal = Depends(require("viewer")),
              host: RunbookHost = Depends(get_host)) -> dict[str, Any]:
    return {"runs": [_record(r) for r in host.engine.store.list(status, limit)]}


@router.get("/runs/{run_id}")
def get_run(run_id: str, _: Principal = Depends(require("viewer")),
            host: RunbookHost = Depends(get_host)) -> dict[str, Any]:
    try:
        return {"run": _record(host.engine.get_run(run_id))}
    except RunbookError as e:
        raise _unknown(e) from None


@router.post("/runs/{run_id}/resume")
async def resume(run_id: str, wait: bool = Query(False), timeout_s: float = Query(120.0, gt=0, le=900),
                 _: Principal = Depends(require("operator")), host: RunbookHost = Depends(get_host)) -> JSONResponse:
    try:
        future = host.resume(run_id)
    except RunbookError as e:
        raise _unknown(e) from None
    run = await _settle(future, timeout_s) if wait else None
    return JSONResponse({"run": _record(run or host.engine.get_run(run_id))}, status_code=200 if run else 202)


@router.get("/{name}")
def show(name: str, _: Principal = Depends(require("viewer")), host: RunbookHost = Depends(get_host)) -> dict[str, Any]:
    try:
        return host.engine.describe(name)
    except RunbookError as e:
        raise _unknown(e) from None


@router.post("/{name}/run")
async def run(name: str, body: RunBody, principal: Principal = Depends(require("operator")),
              host: RunbookHost = Depends(get_host)) -> JSONResponse:
    try:
        host.engine.library.get(name)
    except RunbookError as e:
        raise _unknown(e) from None
    params = dict(body.params)
    if body.service is not None:
        params["service"] = body.service
    if body.dry_run:
        plan = await run_in_threadpool(host.engine.plan, name, params, principal, host.ctx())
        return JSONResponse({"plan": plan})
    created, future = host.start(name, params, principal)  # RunbookError (bad params) -> 400 by the app
    done = await _settle(future, body.timeout_s) if body.wait else None
    current = done or host.engine.get_run(created.id)
    return JSONResponse({"run": _record(current)}, status_code=200 if done else 202)
