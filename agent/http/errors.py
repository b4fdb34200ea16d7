"""JSON errors that say what was wrong: {"error": {"message", "type", "code", "param"}} (OpenAI's shape).

Only keel's own error types are client errors (400 and up); any other exception is a bug: 500, traceback logged."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from agent.admission import Busy
from agent.approval_router import UnknownApproval
from agent.service import ConversationBusy
from governance.approvals import ApprovalError
from tools.errors import InvalidInput

log = logging.getLogger(__name__)

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
          409: "conflict_error", 413: "request_too_large", 429: "rate_limit_error"}
_APPROVAL_STATUS = {"not_found": 404, "forbidden": 403, "self_approval": 403, "already_decided": 409,
                    "expired": 409, "not_approved": 409, "in_progress": 409}


def error_body(status: int, message: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": _TYPES.get(status, "api_error"), "code": code, "param": param}}


def error_response(status: int, message: str, code: str | None = None, param: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message, code, param), status_code=status, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc if p not in ("body", "query", "path"))


def install(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def _http(_: Request, e: HTTPException) -> JSONResponse:
        return error_response(e.status_code, str(e.detail), headers=getattr(e, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        errs = e.errors()
        msgs = [f"{_field(tuple(d.get('loc', ())))}: {d.get('msg')}" for d in errs]
        first = _field(tuple(errs[0].get("loc", ()))) if errs else None
        return error_response(400, "; ".join(msgs) or "invalid request", "invalid_request", first)

    @app.exception_handler(Busy)
    async def _busy(_: Request, e: Busy) -> JSONResponse:
        return error_response(429, str(e), "queue_full", headers={"Retry-After": str(e.retry_after)})

    @app.exception_handler(ConversationBusy)
    async def _conv(_: Request, e: ConversationBusy) -> JSONResponse:
        return error_response(409, str(e), "conversation_busy")

    @app.exception_handler(UnknownApproval)
    async def _unknown(_: Request, e: UnknownApproval) -> JSONResponse:
        return error_response(404, str(e.args[0]) if e.args else "unknown approval", "not_found")

    @app.exception_handler(ApprovalError)
    async def _approval(_: Request, e: ApprovalError) -> JSONResponse:
        return error_response(_APPROVAL_STATUS.get(e.code, 400), str(e), e.code)

    @app.exception_handler(InvalidInput)
    async def _invalid_input(_: Request, e: InvalidInput) -> JSONResponse:
        return error_response(400, str(e), getattr(e, "code", None) or "invalid_value")

    @app.exception_handler(Exception)
    async def _bug(request: Request, e: Exception) -> JSONResponse:  # anything else is ours to fix, not the client's
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=e)
        return error_response(500, f"internal error ({type(e).__name__}); see the server log", "internal_error")
