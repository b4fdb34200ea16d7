"""Planner eval: tool accuracy, argument accuracy, per-tool confusion, latency and unnamed writes per method.

A case is `{"id", "request", "expected": {"tool", "args"}}`, optionally with `services` (the inventory the
case is asked on; default the current one) and `messages` (earlier turns as OpenAI chat messages, oldest
first; `runtime.conversation.conversation_from_messages`). Each case is planned with its inventory current
and its conversation as `context`, then put through the agent's grounded-target check
(`runtime.grounded_targets`): a write on an ungrounded target becomes the question the agent would ask,
as in the agent graph. A call is tool-correct when the tool names match; args-correct when it is
tool-correct and every listed expected argument equals the planned (canonical) argument after the
contract's normalisation (resolution against the case's inventory, durations, ints). `respond` texts are
not compared. `args_acc` is over all cases, so it never exceeds `tool_acc`.

Unnamed writes: `unnamed_write_rate` is the share of cases whose call, after the check, is a write on an
ungrounded target (what keel would send to governance; zero whenever the check is in place, which is what
it verifies); `planner_unnamed_write_rate` the same for the planner's own call before the check (what the
check caught); `wrong_write_rate`, judged from the labels alone and not from the check, the share of
cases whose call is a write other than the expected one (tool or service differs).
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.planner.base import RESPOND, PlannedCall
from evals.plotting import save_figure
from runtime.conversation import conversation_from_messages
from runtime.grounded_targets import check_target
from tools.contract import TOOLS, WRITE_TOOLS, ContractError, canonical_args, validate_call
from tools.inventory import from_names
from tools.services import current_inventory, service_names, use_inventory

DEFAULT_CASES = Path(__file__).resolve().parents[2] / "shared" / "evals" / "planner_dev.jsonl"
_DUMMY = {"metric": "cpu", "replicas": 1, "name": "high-latency"}
NO_PLAN = "(no plan)"
ROLES = ("system", "user", "assistant", "tool")


@dataclass(frozen=True)
class Case:
    id: str
    request: str
    tool: str
    args: dict[str, Any]
    services: tuple[str, ...] = ()
    messages: tuple[dict[str, Any], ...] = ()
    kind: str = ""  # a category for reporting


def load_cases(path: Path) -> list[Case]:
    """Read JSONL cases; errors name the line and the missing field."""
    if not path.exists():
        raise FileNotFoundError(f"cases file not found: {path}")
    cases = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            exp = row["expected"]
            args = dict(exp.get("args") or {})
            services = row.get("services") or []
            messages = row.get("messages") or []
            if not isinstance(services, list) or not all(isinstance(x, str) and x.strip() for x in services):
                raise TypeError("services must be a list of service names")
            if not isinstance(messages, list) or not all(isinstance(m, dict) and m.get("role") in ROLES
                                                         for m in messages):
                raise TypeError(f"messages must be a list of {{role, content}} objects, role one of {ROLES}")
            cases.append(Case(str(row.get("id", n)), str(row["request"]), str(exp["tool"]), args,
                              tuple(services), tuple(messages), str(row.get("kind", ""))))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
            why = f"{type(e).__name__}: {e}"
            raise ValueError(f"{path}:{n}: bad case ({why}); need id, request, expected.tool; optional services "
                             "(list of names), messages (OpenAI chat messages)") from None
    if not cases:
        raise ValueError(f"{path}: no cases")
    return cases


def normalise_arg(tool: str, key: str, value: Any) -> Any:
    """An expected argument in canonical form, using the contract's own validators."""
    if tool not in TOOLS:
        return value
    required = [k for k, f in TOOLS[tool].args.model_fields.items() if f.is_required()]
    dummy = {**_DUMMY, "service": (service_names() or ("x",))[0]}
    probe = {k: dummy[k] for k in required if k != key and k in dummy}
    try:
        return canonical_args(validate_call(tool, {**probe, key: value})).get(key, value)
    except ContractError:
        return value


def score(case: Case, call: PlannedCall) -> tuple[bool, bool]:
    """(tool correct, tool and all listed args correct)."""
    tool_ok = call.ok and call.tool == case.tool
    if not tool_ok:
        return False, False
    if case.tool == "respond":
        return True, True
    for k, v in case.args.items():
        if call.args.get(k) != normalise_arg(case.tool, k, v):
            return True, False
    return True, True


@dataclass
class MethodResult:
    name: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    fallbacks: int = 0
    failures: int = 0

    def metrics(self) -> dict[str, float]:
        n = max(1, len(self.rows))
        lat = sorted(r["latency_ms"] for r in self.rows) or [0.0]
        return {
            "tool_acc": round(sum(r["tool_ok"] for r in self.rows) / n, 4),
            "args_acc": round(sum(r["args_ok"] for r in self.rows) / n, 4),
            "unnamed_write_rate": round(sum(r["unnamed_write"] for r in self.rows) / n, 4),
            "planner_unnamed_write_rate": round(sum(r["planner_unnamed_write"] for r in self.rows) / n, 4),
            "wrong_write_rate": round(sum(r["wrong_write"] for r in self.rows) / n, 4),
            "p50_ms": round(statistics.median(lat), 1),
            "p95_ms": round(percentile(lat, 95), 1),
            "fallback_rate": round(sum(r["constrained"] for r in self.rows) / n, 4),
            "no_plan_rate": round(sum(not r["ok"] for r in self.rows) / n, 4),
            "n": len(self.rows),
        }

    def by_kind(self) -> dict[str, dict[str, float]]:
        """tool_acc, args_acc and unnamed-write rates per case `kind` (cases without one under "")."""
        out: dict[str, dict[str, float]] = {}
        for kind in dict.fromkeys(r.get("kind", "") for r in self.rows):
            rows = [r for r in self.rows if r.get("kind", "") == kind]
            out[kind] = MethodResult(self.name, rows).metrics()
        return out

    def confusion(self) -> Counter[tuple[str, str]]:
        return Counter((r["expected"], r["predicted"]) for r in self.rows)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    k = (len(sorted_values) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def plan_case(plan: Callable[..., PlannedCall], case: Case) -> tuple[PlannedCall, PlannedCall, bool, bool]:
    """(the planner's call, the call after the grounded-target check, whether the planner's call and whether
    the checked call is a write on an ungrounded target), planned with the case's inventory current and its
    messages as context."""
    inventory = from_names(case.services, "case") if case.services else current_inventory()
    with use_inventory(inventory):
        context = conversation_from_messages(list(case.messages), case.services)
        call = plan(case.request, (), context=context)

        def unnamed(c: PlannedCall) -> bool:
            check = check_target(c.tool, c.args, case.request, context, (), inventory) if c.ok else None
            return check is not None and not check.grounded

        if not unnamed(call):
            return call, call, False, False
        check = check_target(call.tool, call.args, case.request, context, (), inventory)
        question = check.question if check is not None else ""
        asked = PlannedCall(RESPOND, {"text": question}, call.raw, call.constrained, call.latency_ms, True)
        return call, asked, True, unnamed(asked)


def _wrong_write(case: Case, call: PlannedCall) -> bool:
    if not call.ok or call.tool not in WRITE_TOOLS:
        return False
    if call.tool != case.tool:
        return True
    want = case.args.get("service")
    return want is not None and call.args.get("service") != normalise_arg(case.tool, "service", want)


def run_method(name: str, plan: Callable[..., PlannedCall], cases: Sequence[Case],
               on_case: Callable[[], None] | None = None, concurrency: int = 1) -> MethodResult:
    """Plan and score every case; `concurrency` > 1 plans that many cases at once (a batching planner then
    decodes them together; each case's latency includes its wait)."""
    res = MethodResult(name)
    planned: Sequence[tuple[PlannedCall, PlannedCall, bool, bool]] | None = None
    if concurrency > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(concurrency) as pool:
            planned = list(pool.map(lambda c: plan_case(plan, c), cases))
    for i, c in enumerate(cases):
        raw, call, caught, still = planned[i] if planned is not None else plan_case(plan, c)
        inventory = from_names(c.services, "case") if c.services else current_inventory()
        with use_inventory(inventory):
            tool_ok, args_ok = score(c, call)
            wrong = _wrong_write(c, call)
        res.rows.append({"id": c.id, "kind": c.kind, "request": c.request, "expected": c.tool, "expected_args": c.args,
                         "predicted": call.tool if call.ok else NO_PLAN, "args": call.args, "raw": call.raw,
                         "planner_predicted": raw.tool if raw.ok else NO_PLAN, "planner_args": raw.args,
                         "tool_ok": tool_ok, "args_ok": args_ok, "latency_ms": call.latency_ms,
                         "constrained": call.constrained, "ok": call.ok, "guarded": caught,
                         "unnamed_write": still, "planner_unnamed_write": caught,
                         "wrong_write": wrong})
        if on_case:
            on_case()
    res.fallbacks = sum(r["constrained"] for r in res.rows)
    res.failures = sum(not r["ok"] for r in res.rows)
    return res


def to_json(dataset: str, config: dict[str, Any], results: Sequence[MethodResult]) -> dict[str, Any]:
    """The eval JSON: results per method, and `cases`, one row per case and method (id, expected, predicted,
    ok flags, ms)."""
    return {"eval": "planner", "dataset": dataset, "config": config,
            "results": {r.name: r.metrics() for r in results},
            "cases": [case_row(r.name, row) for r in results for row in r.rows]}


def case_row(method: str, row: dict[str, Any]) -> dict[str, Any]:
    return {"method": method, "id": row["id"], "kind": row.get("kind", ""), "request": row["request"],
            "expected": {"tool": row["expected"], "args": row["expected_args"]},
            "predicted": {"tool": row["predicted"], "args": row["args"]},
            "planner_predicted": {"tool": row["planner_predicted"], "args": row["planner_args"]},
            "tool_ok": row["tool_ok"], "args_ok": row["args_ok"], "unnamed_write": row["unnamed_write"],
            "planner_unnamed_write": row["planner_unnamed_write"], "wrong_write": row["wrong_write"],
            "guarded": row["guarded"], "ok": row["ok"], "constrained": row["constrained"],
            "ms": round(row["latency_ms"], 1)}


def plot(results: Sequence[MethodResult], path: Path) -> Path:
    """Accuracy bars and p50/p95 latency per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.name for r in results]
    m = [r.metrics() for r in results]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4))
    x = range(len(names))
    a1.bar([i - 0.2 for i in x], [v["tool_acc"] for v in m], 0.4, label="tool_acc")
    a1.bar([i + 0.2 for i in x], [v["args_acc"] for v in m], 0.4, label="args_acc")
    a1.set_xticks(list(x), names)
    a1.set_ylim(0, 1.05)
    a1.set_title("accuracy")
    a1.legend(loc="lower right")
    a2.bar([i - 0.2 for i in x], [v["p50_ms"] for v in m], 0.4, label="p50")
    a2.bar([i + 0.2 for i in x], [v["p95_ms"] for v in m], 0.4, label="p95")
    a2.set_xticks(list(x), names)
    a2.set_ylabel("ms per planning step")
    a2.set_title("latency")
    a2.legend()
    return save_figure(fig, path)


def score_prompts(complete: Callable[[str], str], rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Next-call accuracy on rendered multi-step prompts (training-format rows with kind "multi")."""
    from agent.planner.validate import check_call, check_output
    from runtime.prompt import decode_call

    multi = [r for r in rows if r.get("kind") == "multi"]
    tool_ok = args_ok = 0
    for r in multi:
        got = check_output(complete(r["prompt"]))
        want_tool, want_args = decode_call(r["target"])
        want = check_call(want_tool, want_args)
        if got.ok and got.tool == want.tool:
            tool_ok += 1
            args_ok += int(got.tool == "respond" or got.args == want.args)
    n = max(1, len(multi))
    return {"tool_acc": round(tool_ok / n, 4), "args_acc": round(args_ok / n, 4), "n": len(multi)}
