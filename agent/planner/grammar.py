"""A GBNF grammar for the compact call format, built from the tool contract's JSON Schemas.

Enums (metrics, levels, runbooks) become alternations, integers and durations get their own rules, and
arguments appear in schema order, required ones first-class and optional ones optional. A `service` value is
one of the inventory's names or any bare or quoted span: the user may name a service the way they like, or one
that does not exist, and the planner resolves the span afterwards (an unknown name becomes a question, never a
forced pick among the known names). Any string the grammar admits therefore parses; whether its service
resolves, and range limits, are checked after decoding.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from tools.contract import TOOLS
from tools.services import service_names

_COMMON = r'''
int ::= "0" | [1-9] | [1-9] [0-9] | [1-9] [0-9] [0-9]
duration ::= [1-9] [0-9]? [0-9]? [smhd]
bare ::= [A-Za-z0-9_#./:@+-]+
quoted ::= "\"" ( [^"\\\n] | "\\" ["\\/nt] ){1,200} "\""
text ::= bare | quoted
'''


def _alts(values: list[Any]) -> str:
    return " | ".join(json.dumps(str(v)) for v in values)


def _value_rule(name: str, prop: dict[str, Any], rules: dict[str, str], services: tuple[str, ...],
                spans: bool = True) -> str:
    if name == "service":
        rules["enum-service"] = _alts(list(services)) if services else '"-"'
        if not spans:
            return "enum-service"
        rules["service-value"] = "enum-service | bare | quoted"
        return "service-value"
    options = prop.get("anyOf") or [prop]
    options = [o for o in options if o.get("type") != "null"]
    o = options[0] if options else {}
    if "enum" in o:
        rule = f"enum-{name}"
        rules[rule] = _alts(o["enum"])
        return rule
    if o.get("type") == "integer":
        return "int"
    if name == "window":
        return "duration"
    return "text"


def _tool_rule(tool: str, rules: dict[str, str], services: tuple[str, ...], spans: bool = True) -> str:
    schema = TOOLS[tool].json_schema()
    props: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    parts = [json.dumps(tool)]
    for name, prop in props.items():
        piece = f'" {name}=" {_value_rule(name, prop, rules, services, spans)}'
        parts.append(piece if name in required else f"({piece})?")
    rule = "call-" + tool.replace("_", "-")
    rules[rule] = " ".join(parts)
    return rule


def call_grammar(tools: tuple[str, ...] | None = None, respond: bool = True,
                 services: tuple[str, ...] | None = None, spans: bool = True) -> str:
    """GBNF text: one leading space, one call of `tools` (default all) or `respond text=...`, and a newline.

    `service` values are the names of `services` (default: the current topology's), and with `spans` also any
    bare or quoted span (what the user wrote, resolved afterwards); without, only those names.
    """
    return _grammar(tools, respond, tuple(services) if services is not None else service_names(), spans)


@lru_cache(maxsize=8)
def _grammar(tools: tuple[str, ...] | None, respond: bool, services: tuple[str, ...], spans: bool = True) -> str:
    rules: dict[str, str] = {}
    names = [_tool_rule(t, rules, services, spans) for t in (tools or tuple(TOOLS))]
    if respond:
        rules["call-respond"] = '"respond text=" quoted'
        names.append("call-respond")
    # The line ends with the newline the model was trained to end a call with (decoding stops there); without
    # it, a finished call could only go on or end with EOS, and the model padded numbers ("3" became "300").
    head = f'root ::= " "? ({" | ".join(names)}) "\\n"\n'
    return head + "\n".join(f"{k} ::= {v}" for k, v in rules.items()) + _COMMON
