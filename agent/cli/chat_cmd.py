"""`keel chat` (a terminal client of a running `keel serve`, streaming) and `keel investigate "text"`
(one shot: in-process on the embedded simulator, or against a server with --url)."""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import typer

from agent.cli.common import TOPOLOGY_HELP, console, err_console, fail
from agent.graph.events import Event
from agent.graph.render import event_text

URL = typer.Option("http://127.0.0.1:8080", "--url", help="a running `keel serve`")
TOKEN = typer.Option(None, "--token", help="bearer token (default: $KEEL_TOKEN)")


def remote_events(url: str, token: str, text: str, conversation_id: str | None) -> Iterator[Event]:
    """Stream one turn from a server as Events (SSE chunks of /v1/chat/completions)."""
    body = {"model": "keel", "stream": True, "messages": [{"role": "user", "content": text}],
            "conversation_id": conversation_id}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.stream("POST", url.rstrip("/") + "/v1/chat/completions", json=body, headers=headers,
                      timeout=httpx.Timeout(10.0, read=600.0)) as r:
        if r.status_code != 200:
            r.read()
            raise RuntimeError(_error_text(r))
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            ev = (json.loads(line[6:]).get("keel") or {}).get("event")
            if ev:
                yield Event(ev["kind"], ev["data"])


def _error_text(r: httpx.Response) -> str:
    try:
        return f"HTTP {r.status_code}: {r.json()['error']['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {r.status_code}: {r.text[:200]}"


def show(ev: Event) -> None:
    text = event_text(ev)
    if ev.kind == "plan":
        err_console.print(f"[dim]planned {ev.data.get('tool')} ({ev.data.get('latency_ms')} ms)[/]")
    elif text:
        console.print(text.rstrip("\n"), markup=False, highlight=False)


def _decide_remote(url: str, token: str, verb: str, rest: str) -> None:
    approval_id, _, note = rest.partition(" ")
    r = httpx.post(f"{url.rstrip('/')}/api/approvals/{approval_id}/{verb}", json={"note": note},
                   headers={"Authorization": f"Bearer {token}"}, timeout=600)
    if r.status_code != 200:
        err_console.print(_error_text(r))
        return
    reply = r.json()["reply"]
    console.print(reply["text"], markup=False, highlight=False)


def chat(url: str = URL, token: str | None = TOKEN) -> None:
    """Talk to a running keel: each step streams as it happens. /approve ID [note], /deny ID [note], /quit."""
    token = token or os.environ.get("KEEL_TOKEN", "")
    if not token:
        fail("a token is needed: --token or KEEL_TOKEN (keel serve prints one)")
    conversation: str | None = None
    console.print("[bold]keel chat[/]: ask a question; /approve ID, /deny ID, /quit")
    while True:
        try:
            line = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not line:
            continue
        if line in ("/quit", "/exit"):
            break
        if line.startswith(("/approve ", "/deny ")):
            verb, _, rest = line[1:].partition(" ")
            _decide_remote(url, token, verb, rest.strip())
            continue
        try:
            for ev in remote_events(url, token, line, conversation):
                if ev.kind == "turn":
                    conversation = ev.data.get("conversation_id", conversation)
                show(ev)
        except (RuntimeError, httpx.HTTPError) as e:
            err_console.print(f"[red]{e}[/]")


def investigate(
    text: str = typer.Argument(..., help="the question, e.g. \"why is checkout slow?\""),
    scenario: Path | None = typer.Option(None, help="scenario file for the in-process simulator"),
    url: str | None = typer.Option(None, "--url", help="ask a running `keel serve` instead of running in-process"),
    token: str | None = TOKEN,
    topology: str | None = typer.Option(None, "--topology", help=TOPOLOGY_HELP),
) -> None:
    """Investigate one question and print each step and the grounded answer."""
    if url:
        token = token or os.environ.get("KEEL_TOKEN", "")
        if not token:
            fail("--url needs a token: --token or KEEL_TOKEN")
        try:
            for ev in remote_events(url, token, text, None):
                show(ev)
        except (RuntimeError, httpx.HTTPError) as e:
            fail(str(e), 1)
        return
    from agent.service import build_service
    from agent.settings import get_settings
    from governance.gate import Principal

    try:
        overrides = {"topology": topology} if topology is not None else {}
        service = build_service(get_settings(**overrides), scenario, live=False)
    except (ValueError, FileNotFoundError) as e:
        fail(str(e))
    try:
        for ev in service.stream(text, Principal(getpass.getuser(), "operator"), channel="cli"):
            show(ev)
    finally:
        service.close()
