"""Dry-run plans: what a run would do and the oversight each step would get, with nothing run or recorded.

Steps whose arguments come from earlier results cannot be decided before those exist: for them the plan
gives the oversight the policy sets for the tool and says what decides it at run time.
"""

from __future__ import annotations

from typing import Any

from agent.runbooks.model import Library, StepSpec, validate_params
from agent.runbooks.template import lookups, parse, placeholders, render, truthy
from governance.gate import Gate, Principal
from governance.policy import OVERSIGHTS
from tools.backends.base import ToolContext
from tools.contract import TOOLS, ContractError


def _uses_steps(text: str) -> bool:
    exprs = placeholders(text) if "{{" in text else [text]
    return any(chain and chain[0] == "steps" for e in exprs for chain in lookups(parse(e)))


def _args_use_steps(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_args_use_steps(v) for v in value.values())
    if isinstance(value, list):
        return any(_args_use_steps(v) for v in value)
    return isinstance(value, str) and "{{" in value and _uses_steps(value)


def _exprs(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [e for v in value.values() for e in _exprs(v)]
    if isinstance(value, list):
        return [e for v in value for e in _exprs(v)]
    return placeholders(value) if isinstance(value, str) else []


def plan(gate: Gate, library: Library, name: str, params: dict[str, Any], principal: Principal,
         ctx: ToolContext | None = None) -> dict[str, Any]:
    """What a run would do and the oversight each step would get now. Nothing runs, nothing is recorded.

    Steps whose arguments come from earlier results cannot be decided before those exist: for them the
    plan gives the oversight the policy sets for the tool and says what decides it at run time.
    """
    rb = library.get(name)
    values = validate_params(rb, params)
    env = {"params": values, "steps": {}, "run": {"id": "(dry-run)", "runbook": rb.name}}
    out = []
    for n, spec in enumerate(rb.steps):
        item: dict[str, Any] = {"n": n + 1, "id": spec.id, "kind": spec.kind, "description": spec.description}
        if spec.when:
            item["when"] = spec.when
            item["condition"] = "decided at run time" if _uses_steps(spec.when) else str(truthy(spec.when, env))
        if spec.on_failure != "stop":
            item["on_failure"] = spec.on_failure
        if spec.wait:
            item.update(wait=spec.wait, risk="none", oversight="none", reasons=["waiting runs no action"])
            out.append(item)
            continue
        item["tool"] = spec.tool
        if _args_use_steps(spec.args):
            item["args"] = spec.args
            item.update(_expected(gate, spec))
        else:
            args = render(spec.args, env)
            item["args"] = args
            try:
                d = gate.explain(spec.tool or "", args, ctx, principal, f"runbook {rb.name} (dry-run) step {spec.id}")
                item.update(risk=d.risk, oversight=d.oversight, reasons=list(d.reasons), decided="now")
            except ContractError as e:
                item.update(risk=None, oversight=None, reasons=[str(e)], decided="invalid arguments")
        out.append(item)
    return {"runbook": rb.name, "params": values, "dry_run": True, "autonomy": gate.autonomy,
            "principal": {"name": principal.name, "role": principal.role}, "steps": out}


def _expected(gate: Gate, spec: StepSpec) -> dict[str, Any]:
    tool = spec.tool or ""
    policy, level = gate.policy, gate.autonomy
    refs = sorted({".".join(map(str, c[:2])) for e in _exprs(spec.args) for c in lookups(parse(e))
                   if c and c[0] == "steps"})
    basis = f"arguments come from {', '.join(refs)}"
    if tool not in TOOLS:  # an operator's MCP tool (server.tool): a read, or a high-risk write if marked so
        return {"risk": "low or high", "oversight": "decided at run time",
                "reasons": [f"{tool} is an external tool: a read unless the operator marked it write; {basis}"],
                "decided": "at run time"}
    if TOOLS[tool].kind == "read":
        return {"risk": "low", "oversight": policy.oversight[level]["low"], "reasons": [f"{tool} only reads"],
                "decided": f"at run time ({basis})"}
    if tool == "scale_service":
        lo = policy.oversight[level]["medium"]
        hi = policy.oversight[level]["high"]
        return {"risk": "medium or high", "oversight": f"{lo} or {hi}",
                "reasons": [f"a bounded step is medium ({lo}), a larger one high ({hi}); to 0 or outside the "
                            f"replica bounds critical (blocking); {basis}"],
                "decided": "at run time"}
    risk = policy.tool_risk[tool]
    oversight = policy.oversight[level][risk]
    floor = policy.kind_minimum[level].get(TOOLS[tool].kind)
    if floor and OVERSIGHTS.index(floor) > OVERSIGHTS.index(oversight):
        oversight = floor
    return {"risk": risk, "oversight": oversight,
            "reasons": [f"{tool} is rated {risk} by the policy; at autonomy {level} that needs {oversight} "
                        f"(blocking if the service is protected: {', '.join(sorted(policy.protected_services))})"],
            "decided": f"at run time ({basis})"}
