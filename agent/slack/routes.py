"""`/slack/commands`, `/slack/events`, `/slack/actions`: verify, parse, acknowledge at once, work later.

Every request is verified first (signature, 5-minute window, replay): anything else gets 401 and nothing
runs. A malformed payload gets 400. Work that can take time runs in a worker pool after the response;
its outcome is posted to Slack, so Slack's 3-second acknowledgement deadline is always met.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from agent.http.routes_runbooks import host_for
from agent.slack.handlers import (
    ACTION_IDS,
    HELP,
    BadPayload,
    SlackWorker,
    parse_actions,
    parse_command,
    parse_event,
    text_message,
)
from agent.slack.users import parse_slack_users, principal_for
from agent.slack.verify import RequestVerifier, SlackAuthError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/slack", tags=["slack"])
_LOCK = threading.Lock()


class SlackApp:
    """Per-app Slack state: verifier, user map, worker pool, seen event ids."""

    def __init__(self, app: FastAPI) -> None:
        settings = app.state.settings
        secret = settings.slack_signing_secret.get_secret_value()
        self.verifier = RequestVerifier(secret) if secret else None
        self.users = parse_slack_users(settings.slack_users)
        self.worker = SlackWorker(app.state.service, host_for(app), settings)
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="keel-slack")
        self.events: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        app.router.add_event_handler("shutdown", lambda: self.pool.shutdown(wait=False, cancel_futures=True))

    def submit(self, fn: Any, *args: Any) -> None:
        def run() -> None:
            try:
                fn(*args)
            except Exception:
                log.exception("Slack background work failed")

        self.pool.submit(run)

    def first_time(self, event_id: str) -> bool:
        with self._lock:
            if event_id in self.events:
                return False
            self.events[event_id] = None
            while len(self.events) > 10_000:
                self.events.popitem(last=False)
            return True


def slack_of(app: FastAPI) -> SlackApp:
    with _LOCK:
        state = getattr(app.state, "slack", None)
        if state is None:
            state = app.state.slack = SlackApp(app)
        return state


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "slack_request_error", "code": status}}, status)


async def _verified(request: Request) -> tuple[SlackApp, bytes] | JSONResponse:
    slack = slack_of(request.app)
    body = await request.body()
    if slack.verifier is None:
        return _error(503, "Slack is not configured: set KEEL_SLACK_SIGNING_SECRET (slack_signing_secret)")
    try:
        slack.verifier.verify(body, request.headers)
    except SlackAuthError as e:
        log.warning("rejected Slack request to %s: %s", request.url.path, e)
        return _error(401, str(e))
    return slack, body


@router.post("/commands")
async def commands(request: Request) -> Response:
    checked = await _verified(request)
    if isinstance(checked, JSONResponse):
        return checked
    slack, body = checked
    try:
        cmd = parse_command(body)
    except BadPayload as e:
        return _error(400, str(e))
    principal = principal_for(slack.users, cmd.user_id)
    if principal is None:
        return JSONResponse(text_message(f"Your Slack user {cmd.user_id} is not mapped to a keel role; ask an "
                                         "admin to add it to slack_users. Nothing was run."))
    if not cmd.text.strip() or cmd.text.strip() == "help":
        return JSONResponse(text_message(HELP))
    slack.submit(slack.worker.command, cmd, principal)
    return JSONResponse(text_message(f"Working on it: {cmd.text.strip()[:200]}"))


@router.post("/events")
async def events(request: Request) -> Response:
    checked = await _verified(request)
    if isinstance(checked, JSONResponse):
        return checked
    slack, body = checked
    try:
        data = parse_event(body)
    except BadPayload as e:
        return _error(400, str(e))
    if data["type"] == "url_verification":
        return JSONResponse({"challenge": data["challenge"]})
    if data["type"] != "event_callback":
        return JSONResponse({"ok": True})
    event = data["event"]
    event_id = str(data.get("event_id") or "")
    if event.get("type") != "app_mention" or event.get("bot_id") or (event_id and not slack.first_time(event_id)):
        return JSONResponse({"ok": True})
    slack.submit(slack.worker.mention, event, principal_for(slack.users, str(event.get("user", ""))))
    return JSONResponse({"ok": True})


@router.post("/actions")
async def actions(request: Request) -> Response:
    checked = await _verified(request)
    if isinstance(checked, JSONResponse):
        return checked
    slack, body = checked
    try:
        act = parse_actions(body)
    except BadPayload as e:
        return _error(400, str(e))
    if act is None or act.actions[0].action_id not in ACTION_IDS:
        return Response(status_code=200)
    if not act.actions[0].value:
        return _error(400, "actions.0.value: the approval id is required")
    slack.submit(slack.worker.decide, act, principal_for(slack.users, act.user["id"]))
    return Response(status_code=200)
