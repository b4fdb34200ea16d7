"""A local HTML rendering of a Block Kit message (header, section, fields, divider, context, image, actions), to
look at a summary without a Slack workspace. Images given by `slack_file.id` are looked up in `files`
(id -> PNG bytes) and inlined. Slack's mrkdwn subset: *bold*, _italic_, `code`, <url|text> links, newlines."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping
from typing import Any

CSS = "".join((
    "body{margin:0;background:#f8f8f8;font:15px/1.46 -apple-system,'Segoe UI',system-ui,sans-serif;color:#1d1c1d}",
    '.msg{max-width:720px;margin:16px;padding:12px 16px;background:#fff;border:1px solid #ddd;border-radius:8px;',
    'display:flex;gap:10px}',
    '.avatar{width:36px;height:36px;border-radius:6px;background:#111827;color:#fff;font-weight:700;',
    'display:flex;align-items:center;justify-content:center;flex:none}',
    '.who{font-weight:700}',
    '.who span{font-weight:400;color:#616061;font-size:12px}',
    '.h{font-size:18px;font-weight:800;margin:6px 0}',
    '.s{margin:6px 0;white-space:pre-wrap}',
    '.f{display:grid;grid-template-columns:1fr 1fr;gap:6px 24px;margin:6px 0}',
    '.c{color:#616061;font-size:12.5px;margin:6px 0}',
    'hr{border:0;border-top:1px solid #ddd;margin:10px 0}',
    'code{background:#f6f6f6;border:1px solid #e0e0e0;border-radius:3px;padding:0 3px;color:#c01343;font-size:12.5px}',
    '.img{margin:8px 0}',
    '.img .t{font-size:13px;color:#616061;margin-bottom:4px}',
    '.img img{max-width:100%;border:1px solid #eee;border-radius:6px}',
    '.b{display:inline-block;margin:6px 6px 6px 0;padding:4px 12px;border:1px solid #ccc;border-radius:4px;',
    'font-weight:700;font-size:13px}',
    '.primary{background:#007a5a;color:#fff;border-color:#007a5a}',
    '.danger{color:#e01e5a;border-color:#e01e5a}',
))


def mrkdwn(text: str) -> str:
    t = html.escape(html.unescape(text), quote=False)
    t = re.sub(r"&lt;(https?://[^|&]+)\|([^&]+)&gt;", r'<a href="\1">\2</a>', t)
    t = re.sub(r"`([^`]+)`", r"<code>\1</code>", t)
    t = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"<b>\1</b>", t)
    return re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"<i>\1</i>", t)


def _text(obj: Mapping[str, Any] | None) -> str:
    if not obj:
        return ""
    return mrkdwn(str(obj.get("text", ""))) if obj.get("type") == "mrkdwn" else html.escape(str(obj.get("text", "")))


def _block(b: Mapping[str, Any], files: Mapping[str, bytes]) -> str:
    kind = b.get("type")
    if kind == "header":
        return f'<div class="h">{_text(b.get("text"))}</div>'
    if kind == "section":
        out = f'<div class="s">{_text(b.get("text"))}</div>' if b.get("text") else ""
        if b.get("fields"):
            out += '<div class="f">' + "".join(f"<div>{_text(f)}</div>" for f in b["fields"]) + "</div>"
        return out
    if kind == "divider":
        return "<hr>"
    if kind == "context":
        return '<div class="c">' + " ".join(_text(e) for e in b.get("elements") or []) + "</div>"
    if kind == "image":
        fid = str((b.get("slack_file") or {}).get("id") or "")
        src = (f"data:image/png;base64,{base64.b64encode(files[fid]).decode()}" if fid in files
               else html.escape(str(b.get("image_url") or (b.get("slack_file") or {}).get("url") or "")))
        return (f'<div class="img" data-file-id="{html.escape(fid)}"><div class="t">{_text(b.get("title"))}'
                f'</div><img src="{src}" alt="{html.escape(str(b.get("alt_text", "")))}"></div>')
    if kind == "actions":
        return "<div>" + "".join(f'<span class="b {html.escape(str(e.get("style", "")))}">{_text(e.get("text"))}</span>'
                                 for e in b.get("elements") or []) + "</div>"
    return f'<div class="c">[{html.escape(str(kind))} block]</div>'


def render_html(message: Mapping[str, Any], files: Mapping[str, bytes] | None = None, app: str = "keel") -> str:
    """The message as a standalone HTML page, laid out like a Slack message from `app`."""
    body = "".join(_block(b, files or {}) for b in message.get("blocks") or [])
    return (f"<!doctype html><html><head><meta charset='utf-8'><style>{CSS}</style></head><body><div class='msg'>"
            f"<div class='avatar'>{html.escape(app[:1].upper())}</div><div><div class='who'>{html.escape(app)} "
            f"<span>APP</span></div>{body}</div></div></body></html>")
