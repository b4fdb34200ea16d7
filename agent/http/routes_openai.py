"""OpenAI-compatible chat: `POST /v1/chat/completions` (plain and `stream: true` SSE) and `GET /v1/models`.

The last user message is the request; the messages before it are the conversation so far (the planner sees
them as earlier turns). A client that sends only the last message with a conversation id gets the earlier
turns from that conversation's checkpoint. The conversation is `conversation_id` in the body (or the
`X-Keel-Conversation` header), else a new one; it comes back in the `keel` field of every response and
chunk, with the agent's events, so clients that know keel can render steps and approvals.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.graph.events import Event, Reply
from agent.graph.render import event_text
from agent.http.auth import require
from agent.http.deps import get_service
from agent.http.pump import Pump
from agent.service import AgentService, new_conversation_id
from governance.gate import Principal
from runtime.conversation import Conversation, conversation_from_messages

router = APIRouter(tags=["openai"])
MODEL_ID = "keel"


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str = MODEL_ID
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    conversation_id: str | None = Field(None, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")

    @field_validator("messages")
    @classmethod
    def _has_user(cls, v: list[ChatMessage]) -> list[ChatMessage]:
        if not any(m.role == "user" and m.text().strip() for m in v):
            raise ValueError("needs at least one user message with text content")
        return v

    def request_text(self) -> str:
        return next(m.text() for m in reversed(self.messages) if m.role == "user" and m.text().strip())

    def context(self) -> Conversation | None:
        """The messages before the last user message as earlier turns; None when there are none (the server
        then uses the conversation's checkpoint)."""
        last = max(i for i, m in enumerate(self.messages) if m.role == "user" and m.text().strip())
        earlier = [{"role": m.role, "content": m.text()} for m in self.messages[:last]
                   if m.role in ("user", "assistant")]
        if not any(m["role"] == "user" for m in earlier):
            return None
        return conversation_from_messages(earlier)


@router.get("/v1/models")
def models(_: Principal = Depends(require("viewer"))) -> dict[str, Any]:
    return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "keel"}]}


def _keel(reply: Reply) -> dict[str, Any]:
    return {"conversation_id": reply.conversation_id, "status": reply.status, "steps": reply.steps,
            "pending": reply.pending}


def _completion(reply: Reply, model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex[:24], "object": "chat.completion", "created": int(time.time()),
        "model": model, "system_fingerprint": None,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text},
                     "finish_reason": "stop", "logprobs": None}],
        "usage": None, "keel": _keel(reply),
    }


def _chunk(cid: str, model: str, created: int, delta: dict[str, Any], finish: str | None,
           keel: dict[str, Any] | None = None) -> str:
    body: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                            "system_fingerprint": None,
                            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}
    if keel is not None:
        body["keel"] = keel
    return f"data: {json.dumps(body, default=str)}\n\n"


async def sse(pump: Pump, first: Event, model: str) -> AsyncIterator[str]:
    """Events as chat.completion.chunk SSE lines: each step as content text as it happens, then [DONE]."""
    cid, created = "chatcmpl-" + uuid.uuid4().hex[:24], int(time.time())
    yield _chunk(cid, model, created, {"role": "assistant", "content": ""}, None, {"event": first.to_dict()})
    try:
        async for ev in pump.rest():
            yield _chunk(cid, model, created, {"content": event_text(ev)}, None, {"event": ev.to_dict()})
    except Exception as e:  # the stream has started: report the failure in-band, then close properly
        err = Event("error", {"message": f"{type(e).__name__}: {e}"})
        yield _chunk(cid, model, created, {"content": event_text(err)}, None, {"event": err.to_dict()})
    yield _chunk(cid, model, created, {}, "stop")
    yield "data: [DONE]\n\n"


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(
    body: ChatRequest,
    principal: Principal = Depends(require("viewer")),
    service: AgentService = Depends(get_service),
    x_keel_conversation: str | None = Header(None),
) -> dict[str, Any] | StreamingResponse:
    cid = body.conversation_id or x_keel_conversation or new_conversation_id()
    text = body.request_text()
    context = body.context()
    if not body.stream:
        reply = await run_in_threadpool(service.ask, text, principal, cid, "", context)
        return _completion(reply, body.model)
    pump = Pump(service.stream(text, principal, cid, "", context=context))
    first = await pump.next()  # admission and conversation checks raise here, before any SSE is sent
    return StreamingResponse(sse(pump, first, body.model), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Keel-Conversation": cid})
