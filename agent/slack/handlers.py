"""What the Slack endpoints do once a request is verified: parse payloads (pydantic), run the work in the
background, and post the outcome to Slack (the command's response_url, or the mention's channel).

Slash command `/keel <request>` asks the agent; `/keel runbook list`, `/keel runbook NAME SERVICE
[dry-run]` use the runbook engine. App mentions ask the agent. Approve / Deny buttons decide a pending
approval as the clicking user's keel principal (role approver required), then resume the conversation or
runbook run waiting on it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.runbooks.engine import run_summary
from agent.runbooks.host import RunbookHost
from agent.runbooks.model import RunbookError
from agent.runbooks.store import RunRecord
from agent.summary.blocks import APPROVE, DENY, approval_buttons, cut, escape, header, section
from agent.summary.delivery import Delivery, deliver
from governance.approvals import ApprovalError
from governance.gate import Principal
from tools.errors import InvalidInput

log = logging.getLogger(__name__)

HELP = ("Usage: `/keel <request>` (e.g. `/keel checkout is slow, what's going on?`), `/keel runbook list`, "
        "`/keel runbook NAME SERVICE [dry-run]`.")
MAX_BUTTONS = 10


class BadPayload(InvalidInput):
    """A malformed Slack payload (HTTP 400); the message names the field."""


def _describe(e: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, d['loc'])) or 'payload'}: {d['msg']}" for d in e.errors())


def _http_url(v: str) -> str:
    parts = urlsplit(v)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL")
    return v


class SlashCommand(BaseModel):
    model_config = ConfigDict(extra="ignore")
    command: str = Field(min_length=1)
    text: str = ""
    user_id: str = Field(min_length=1)
    response_url: str
    channel_id: str = ""

    _url = field_validator("response_url")(_http_url)


class Button(BaseModel):
    model_config = ConfigDict(extra="ignore")
    action_id: str
    value: str = ""


class BlockActions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["block_actions"]
    user: dict[str, Any]
    actions: list[Button] = Field(min_length=1)
    response_url: str

    _url = field_validator("response_url")(_http_url)

    @field_validator("user")
    @classmethod
    def _user(cls, v: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(v.get("id"), str) or not v["id"]:
            raise ValueError("user.id is required")
        return v


def parse_form(body: bytes) -> dict[str, str]:
    try:
        pairs = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError) as e:
        raise BadPayload(f"body must be application/x-www-form-urlencoded: {e}") from None
    return {k: v[0] for k, v in pairs.items()}


def parse_command(body: bytes) -> SlashCommand:
    try:
        return SlashCommand.model_validate(parse_form(body))
    except ValidationError as e:
        raise BadPayload(_describe(e)) from None


def parse_actions(body: bytes) -> BlockActions | None:
    """The block_actions payload; None for other interaction types (acknowledged and ignored)."""
    raw = parse_form(body).get("payload")
    if raw is None:
        raise BadPayload("payload: required (a JSON document in the form field `payload`)")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise BadPayload(f"payload: not JSON: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise BadPayload("payload: must be a JSON object with a type")
    if data["type"] != "block_actions":
        return None
    try:
        return BlockActions.model_validate(data)
    except ValidationError as e:
        raise BadPayload(_describe(e)) from None


def parse_event(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BadPayload(f"body must be JSON: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise BadPayload("body must be a JSON object with a type")
    if data["type"] == "url_verification" and not isinstance(data.get("challenge"), str):
        raise BadPayload("challenge: required for url_verification")
    if data["type"] == "event_callback" and not isinstance(data.get("event"), dict):
        raise BadPayload("event: required for event_callback")
    return data


def mention_text(text: str) -> str:
    """The request in an app mention: the text without `<@U...>` mentions."""
    return re.sub(r"<@[A-Z0-9]+(\|[^>]*)?>", "", text).strip()


# ---------------------------------------------------------------- messages


def thread_conversation_id(event: Mapping[str, Any]) -> str:
    """One keel conversation per Slack thread (the thread's root message), so follow-ups in the thread
    ("restart it", "do it") see the earlier turns; a mention outside a thread starts its own thread."""
    root = str(event.get("thread_ts") or event.get("ts") or "")
    raw = f"slack-{event.get('channel', '')}-{root}"
    return re.sub(r"[^A-Za-z0-9_.:-]", "-", raw)[:100]


def pending_blocks(pending: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in pending[:MAX_BUTTONS]:
        args = ", ".join(f"{k}={v}" for k, v in (p.get("args") or {}).items())
        why = "; ".join(p.get("reasons") or [])
        out.append(section(f":hourglass_flowing_sand: `{escape(str(p.get('tool')))}({escape(args)})` needs "
                           f"*{p.get('oversight')}* ({p.get('risk')} risk): {escape(why)}"))
        out.append(approval_buttons(str(p.get("approval_id"))))
    return out


def reply_message(reply: Any, title: str) -> dict[str, Any]:
    """An agent Reply as a Slack message: its text, and Approve / Deny buttons for pending approvals."""
    blocks = [header(title), section(escape(reply.text or "(no answer)"))]
    blocks += pending_blocks(reply.pending)
    return {"response_type": "in_channel", "text": cut(reply.text or title, 3000), "blocks": blocks}


def run_message(run: RunRecord) -> dict[str, Any]:
    s = run_summary(run)
    lines = []
    for st in s["steps"]:
        icon = {"ok": ":white_check_mark:", "skipped": ":fast_forward:", "pending_approval": ":hourglass:",
                "no_data": ":white_circle:"}.get(st["status"], ":x:")
        over = f" ({st['oversight']})" if st["oversight"] else ""
        err = f": {escape(str(st['error']))}" if st["error"] and st["status"] != "skipped" else ""
        lines.append(f"{icon} `{st['id']}` {st['tool'] or 'wait'} {st['status']}{over}{err}")
    reason = f"\n{escape(run.reason)}" if run.reason else ""
    blocks = [header(f"Runbook {run.runbook}: {run.status}"),
              section(f"run `{run.id}` on {escape(str(run.params.get('service')))}{reason}"),
              section("\n".join(lines) or "no steps")]
    if run.pending is not None:
        p = run.pending
        blocks += pending_blocks([{"approval_id": p.approval_id, "tool": p.tool, "args": p.args,
                                   "oversight": p.oversight, "risk": p.risk, "reasons": p.reasons}])
    return {"response_type": "in_channel", "text": f"runbook {run.runbook} {run.status}: {run.reason or ''}",
            "blocks": blocks}


def plan_message(plan: dict[str, Any]) -> dict[str, Any]:
    lines = [f"{s['n']}. `{s['id']}` {s.get('tool') or 'wait ' + str(s.get('wait'))}: {s.get('oversight')}"
             + (f" if {escape(str(s['when']))}" if s.get("when") else "") for s in plan["steps"]]
    return {"response_type": "ephemeral", "text": f"dry run of {plan['runbook']}",
            "blocks": [header(f"Dry run: {plan['runbook']} on {plan['params'].get('service')}"),
                       section("\n".join(lines))]}


def text_message(text: str, ephemeral: bool = True) -> dict[str, Any]:
    return {"response_type": "ephemeral" if ephemeral else "in_channel", "text": cut(text, 3000)}


# ---------------------------------------------------------------- background work


class SlackWorker:
    """Runs verified Slack requests against the agent service and the runbook host; posts the outcome."""

    def __init__(self, service: Any, host: RunbookHost, settings: Any) -> None:
        self.service, self.host, self.settings = service, host, settings

    def post(self, url: str, message: dict[str, Any]) -> Delivery:
        d = deliver(url, message, attempts=3, backoff_s=0.5)
        if d.status != "delivered":
            log.warning("could not post to Slack (%s): %s", d.host, d.error)
        return d

    def command(self, cmd: SlashCommand, principal: Principal) -> None:
        try:
            message = self._command(cmd.text.strip(), principal)
        except Exception as e:  # any failure is reported back to the person who asked
            log.exception("slash command failed")
            message = text_message(f"keel could not complete `{escape(cmd.text)}`: {type(e).__name__}: {e}")
        self.post(cmd.response_url, message)

    def _command(self, text: str, principal: Principal) -> dict[str, Any]:
        words = text.split()
        if words and words[0] == "runbook":
            return self._runbook(words[1:], principal)
        reply = self.service.ask(text, principal)
        return reply_message(reply, cut(f"keel: {text}", 150))

    def _runbook(self, words: list[str], principal: Principal) -> dict[str, Any]:
        engine = self.host.engine
        if not words or words[0] == "list":
            lines = [f"`{n}`: {escape(engine.library.get(n).description)}" for n in engine.library.names()]
            return text_message("\n".join(lines))
        dry = len(words) > 2 and words[2] in ("dry-run", "--dry-run")
        if len(words) < 2 or (len(words) > 2 and not dry):
            return text_message(f"usage: /keel runbook NAME SERVICE [dry-run]; runbooks: "
                                f"{', '.join(engine.library.names())}")
        try:
            if dry:
                return plan_message(engine.plan(words[0], {"service": words[1]}, principal, self.host.ctx()))
            run, future = self.host.start(words[0], {"service": words[1]}, principal)
            return run_message(future.result())
        except RunbookError as e:
            return text_message(str(e))

    def mention(self, event: Mapping[str, Any], principal: Principal | None) -> None:
        text = mention_text(str(event.get("text", "")))
        if principal is None:
            message = text_message(f"<@{event.get('user')}> is not mapped to a keel role; ask an admin to add "
                                   "the user to slack_users.", ephemeral=False)
        elif not text:
            message = text_message(HELP, ephemeral=False)
        else:
            try:
                reply = self.service.ask(text, principal, conversation_id=thread_conversation_id(event))
                message = reply_message(reply, cut(f"keel: {text}", 150))
            except Exception as e:
                log.exception("app mention failed")
                message = text_message(f"keel could not answer: {type(e).__name__}: {e}", ephemeral=False)
        self._reply_in_channel(event, message)

    def _reply_in_channel(self, event: Mapping[str, Any], message: dict[str, Any]) -> None:
        token = self.settings.slack_bot_token.get_secret_value()
        webhook = self.settings.slack_webhook_url.get_secret_value()
        if token:
            from slack_sdk import WebClient
            from slack_sdk.errors import SlackApiError

            client = WebClient(token=token, base_url=self.settings.slack_api_url)
            try:
                client.chat_postMessage(channel=str(event.get("channel")),
                                        thread_ts=event.get("thread_ts") or event.get("ts"),
                                        text=message["text"], blocks=message.get("blocks"))
            except (SlackApiError, OSError) as e:
                log.warning("chat.postMessage failed: %s", e)
        elif webhook:
            self.post(webhook, {k: v for k, v in message.items() if k != "response_type"})
        else:
            log.warning("no slack_bot_token or slack_webhook_url: the reply to an app mention is not posted")

    def decide(self, act: BlockActions, principal: Principal | None) -> None:
        button = act.actions[0]
        approve = button.action_id == APPROVE
        approval_id = button.value
        who = act.user["id"]
        if principal is None or principal.role != "approver":
            role = principal.role if principal else "no keel role"
            self.post(act.response_url, text_message(
                f"<@{who}> has {role}; only the approver role may approve or deny. Nothing was changed."))
            return
        try:
            message = self._decide(approval_id, principal, approve)
        except ApprovalError as e:
            message = text_message(f"Approval {approval_id}: {e}. Nothing was changed.")
        except Exception as e:
            log.exception("deciding approval %s failed", approval_id)
            message = text_message(f"Approval {approval_id}: {type(e).__name__}: {e}")
        self.post(act.response_url, {**message, "replace_original": False})

    def _decide(self, approval_id: str, principal: Principal, approve: bool) -> dict[str, Any]:
        note = "via Slack"
        run = self.host.engine.store.by_approval(approval_id)
        if run is not None and not run.context.get("conversation_id"):  # a conversation's run: resume it there
            gate = self.host.engine.gate
            (gate.approve if approve else gate.deny)(approval_id, principal, note)
            return run_message(self.host.resume(run.id).result())
        reply = self.service.decide(approval_id, principal, approve, note)
        verb = "approved" if approve else "denied"
        return reply_message(reply, f"{verb} by {principal.name}")


ACTION_IDS = (APPROVE, DENY)
