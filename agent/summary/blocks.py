"""Findings -> a Slack Block Kit message within Slack's limits, plus a plain-text fallback.

Limits (Slack's): at most 50 blocks; a header's plain_text at most 150 characters; a section's text at
most 3000; at most 10 fields of 2000 each; a button's text 75, value 2000. Anything longer is cut with an
ellipsis and marked "(truncated)"; when there are too many actions they are folded into one section.
Pending approvals get Approve / Deny buttons (action ids `keel_approve` / `keel_deny`, value = approval id).
"""

from __future__ import annotations

from typing import Any

from agent.summary.findings import ActionTaken, Findings, num

MAX_BLOCKS = 50
MAX_HEADER = 150
MAX_SECTION = 3000
MAX_FIELD = 2000
MAX_FALLBACK = 40_000
TRUNCATED = "… (truncated)"
APPROVE, DENY = "keel_approve", "keel_deny"
_ICON = {"ok": ":white_check_mark:", "pending_approval": ":hourglass_flowing_sand:", "denied": ":no_entry:",
         "error": ":x:"}
_STATUS = {"mitigated": ":large_green_circle: mitigated", "waiting_approval": ":large_yellow_circle: waiting for "
           "approval", "failed": ":red_circle: mitigation failed", "open": ":large_orange_circle: open"}


def escape(text: str) -> str:
    """Slack's three control characters in message text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    """`text` if it fits, else its start, an ellipsis and "(truncated)", exactly `limit` characters at most."""
    return text if len(text) <= limit else text[: limit - len(TRUNCATED)] + TRUNCATED


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": cut(text, MAX_HEADER), "emoji": True}}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(text, MAX_SECTION)}}


def fields(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "section", "fields": [{"type": "mrkdwn", "text": cut(f"*{k}*\n{v}", MAX_FIELD)}
                                          for k, v in pairs[:10]]}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": cut(text, MAX_SECTION)}]}


def approval_buttons(approval_id: str) -> dict[str, Any]:
    return {"type": "actions", "block_id": f"approval-{approval_id}"[:255], "elements": [
        {"type": "button", "action_id": APPROVE, "style": "primary", "value": approval_id,
         "text": {"type": "plain_text", "text": "Approve"}},
        {"type": "button", "action_id": DENY, "style": "danger", "value": approval_id,
         "text": {"type": "plain_text", "text": "Deny"}},
    ]}


def action_line(a: ActionTaken) -> str:
    args = ", ".join(f"{k}={num(v)}" for k, v in a.args.items())
    gov = f"oversight *{a.oversight}*" + (f" ({a.risk} risk)" if a.risk else "") if a.oversight else "not governed"
    audit = f"audit #{', #'.join(map(str, a.audit_ids))}" if a.audit_ids else "no audit records"
    by = f", approved by {escape(a.approved_by)}" if a.approved_by else ""
    detail = f"\n    {escape(a.detail)}" if a.detail else ""
    return (f"{_ICON.get(a.status, ':grey_question:')} `{a.tool}({escape(args)})`: {a.status.replace('_', ' ')} — "
            f"{gov}{by}; {audit}" + (f"; action `{a.action_id}`" if a.action_id else "") + detail)


def _sections(f: Findings) -> list[tuple[str, str]]:
    """(title, body) of each findings part, body in mrkdwn."""
    parts: list[tuple[str, str]] = []
    parts.append(("Symptom", escape(f.symptom.text()) if f.symptom else "no measurement of the symptom"))
    if f.root_cause:
        rc = f.root_cause
        lines = [f"*{escape(rc.service)}*" + (f" (score {num(rc.score)})" if rc.score is not None else "")]
        if rc.path:
            lines.append("path: " + escape(" → ".join(rc.path)))
        lines += [f"• {escape(e)}" for e in rc.evidence]
        if f.other_causes:
            lines.append("then: " + ", ".join(escape(c.service) + (f" ({num(c.score)})" if c.score is not None
                                                                     else "") for c in f.other_causes))
        parts.append(("Root cause", "\n".join(lines)))
    else:
        parts.append(("Root cause", "not determined"))
    if f.evidence:
        parts.append(("Evidence", "\n".join(f"• {escape(e)}" for e in f.evidence)))
    parts.append(("Current state", escape(f.state.text()) if f.state else "not measured after the actions"))
    parts.append(("Next steps", "\n".join(f"• {escape(s)}" for s in f.next_steps) or "none"))
    return parts


def build_message(f: Findings, narrative: str) -> dict[str, Any]:
    """{"text": fallback, "blocks": [...]} ready for an incoming webhook or chat.postMessage."""
    title = f"Incident: {f.title}"
    top = [header(title), section(escape(narrative))]
    info = [("Status", _STATUS.get(f.status, f.status)), ("Service", escape(f.service or "unknown"))]
    if f.source.get("runbook"):
        info.append(("Runbook", f"`{escape(str(f.source['runbook']))}` run `{escape(str(f.source.get('run_id')))}`"))
    top.append(fields(info))
    top.append({"type": "divider"})
    parts = _sections(f)
    body = [section(f"*{t}*\n{b}") for t, b in parts[:-2]]
    tail = [section(f"*{t}*\n{b}") for t, b in parts[-2:]]
    actions: list[dict[str, Any]] = [section("*Actions*\n" + ("none taken" if not f.actions else ""))]
    if f.actions:
        actions = [section("*Actions*")] + [section(action_line(a)) for a in f.actions]
    pending = [a.approval_id for a in f.actions if a.status == "pending_approval" and a.approval_id]
    buttons = [approval_buttons(p) for p in pending]
    foot = [context(" · ".join(escape(f"{k} {v}") for k, v in f.source.items() if v) or "keel")]
    room = MAX_BLOCKS - len(top) - len(body) - len(tail) - len(foot)
    if len(actions) + len(buttons) > room:
        listing = "\n".join(action_line(a) for a in f.actions)
        actions = [section("*Actions*\n" + listing)]
        if len(actions) + len(buttons) > room:
            keep = max(0, room - 2)
            dropped = len(buttons) - keep
            buttons = buttons[:keep] + [context(f"{dropped} more pending approvals not shown (truncated)")]
    blocks = top + body + actions + buttons + tail + foot
    if len(blocks) > MAX_BLOCKS:  # cannot happen with the folding above; kept as the hard limit
        blocks = blocks[: MAX_BLOCKS - 1] + [context(f"{len(blocks) - MAX_BLOCKS + 1} blocks omitted (truncated)")]
    return {"text": fallback_text(f, narrative), "blocks": blocks}


def fallback_text(f: Findings, narrative: str) -> str:
    """The same findings as plain text (notifications, clients without Block Kit)."""
    lines = [f"Incident: {f.title} [{f.status}]", narrative]
    for t, b in _sections(f):
        lines.append(f"{t}: {b}".replace("*", "").replace("•", "-"))
    for a in f.actions:
        lines.append("Action: " + action_line(a).replace("*", "").replace("`", ""))
    return cut("\n".join(lines), MAX_FALLBACK)
