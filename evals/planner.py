"""Planner eval: tool accuracy, argument accuracy, per-tool confusion and latency for each method.

A case is `{"id", "request", "expected": {"tool", "args"}}`, optionally with `services` (the inventory it is
asked on) and `messages` (earlier turns as OpenAI chat messages); both reach the planner as its `context`. A call is tool-correct when the tool names
match; args-correct when it is tool-correct and every listed expected argument equals the planned
(canonical) argument after the contract's normalisation (aliases, durations, ints). `respond` texts are
not compared. `args_acc` is over all cases, so it never exceeds `tool_acc`. `unnamed_write_rate` is the share of
cases whose planned write targets a service nobody named in the request or the earlier messages.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.planner.base import PlannedCall
from agent.planner.spans import in_inventory
from runtime.conversation import Conversation, conversation_from_messages, mentioned_services
from tools.contract import TOOLS, WRITE_TOOLS, ContractError, canonical_args, validate_call

DEFAULT_CASES = Path(__file__).resolve().parents[2] / "shared" / "evals" / "planner_dev.jsonl"
_DUMMY = {"service": "frontend", "metric": "cpu", "replicas": 1, "name": "high-latency"}
NO_PLAN = "(no plan)"


@dataclass(frozen=True)
class Case:
    id: str
    request: str
    tool: str
    args: dict[str, Any]
    services: tuple[str, ...] = ()
    messages: tuple[dict[str, Any], ...] = ()
    kind: str = ""

    def context(self) -> Conversation | None:
        if not self.services and not self.messages:
            return None
        return conversation_from_messages(self.messages, self.services)


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
            if not isinstance(services, list) or not all(isinstance(x, str) and x for x in services):
                raise TypeError("services must be a list of names")
            if not isinstance(messages, list) or not all(isinstance(x, dict) and "role" in x for x in messages):
                raise TypeError("messages must be a list of {role, content} objects")
            cases.append(Case(str(row.get("id", n)), str(row["request"]), str(exp["tool"]), args, tuple(services),
                              tuple(messages), str(row.get("kind", ""))))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
            why = f"{type(e).__name__}: {e}"
            raise ValueError(f"{path}:{n}: bad case ({why}); need id, request, expected.tool") from None
    if not cases:
        raise ValueError(f"{path}: no cases")
    return cases


def normalise_arg(tool: str, key: str, value: Any) -> Any:
    """An expected argument in canonical form, using the contract's own validators."""
    if tool not in TOOLS:
        return value
    required = [k for k, f in TOOLS[tool].args.model_fields.items() if f.is_required()]
    probe = {k: _DUMMY[k] for k in required if k != key and k in _DUMMY}
    try:
        return canonical_args(validate_call(tool, {**probe, key: value})).get(key, value)
    except ContractError:
        return value


def score(case: Case, call: PlannedCall) -> tuple[bool, bool]:
    """(tool correct, tool and all listed args correct); services compare after resolution in the case's inventory."""
    tool_ok = call.ok and call.tool == case.tool
    if not tool_ok:
        return False, False
    if case.tool == "respond":
        return True, True
    with in_inventory(case.context()):
        for k, v in case.args.items():
            if call.args.get(k) != normalise_arg(case.tool, k, v):
                return True, False
    return True, True


def unnamed_write(case: Case, call: PlannedCall) -> bool:
    """True when the planned call is a write on a service nobody named in the request or the earlier messages."""
    if not call.ok or call.tool not in WRITE_TOOLS:
        return False
    target = call.args.get("service")
    if not isinstance(target, str):
        return True
    text = " ".join([case.request] + [str(m.get("content") or "") for m in case.messages])
    return target not in mentioned_services(text, case.services)


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
            "p50_ms": round(statistics.median(lat), 1),
            "p95_ms": round(percentile(lat, 95), 1),
            "fallback_rate": round(sum(r["constrained"] for r in self.rows) / n, 4),
            "no_plan_rate": round(sum(not r["ok"] for r in self.rows) / n, 4),
            "unnamed_write_rate": round(sum(r.get("unnamed_write", False) for r in self.rows) / n, 4),
            "n": len(self.rows),
        }

    def confusion(self) -> Counter[tuple[str, str]]:
        return Counter((r["expected"], r["predicted"]) for r in self.rows)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    k = (len(sorted_values) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def run_method(name: str, plan: Callable[..., PlannedCall], cases: Sequence[Case],
               on_case: Callable[[], None] | None = None) -> MethodResult:
    res = MethodResult(name)
    for c in cases:
        ctx = c.context()
        call = plan(c.request) if ctx is None else plan(c.request, context=ctx)
        tool_ok, args_ok = score(c, call)
        res.rows.append({"id": c.id, "kind": c.kind, "request": c.request, "expected": c.tool,
                         "expected_args": c.args, "predicted": call.tool if call.ok else NO_PLAN, "args": call.args,
                         "raw": call.raw, "tool_ok": tool_ok, "args_ok": args_ok, "latency_ms": call.latency_ms,
                         "constrained": call.constrained, "ok": call.ok, "unnamed_write": unnamed_write(c, call)})
        if on_case:
            on_case()
    res.fallbacks = sum(r["constrained"] for r in res.rows)
    res.failures = sum(not r["ok"] for r in res.rows)
    return res


def to_json(dataset: str, config: dict[str, Any], results: Sequence[MethodResult]) -> dict[str, Any]:
    return {"eval": "planner", "dataset": dataset, "config": config,
            "results": {r.name: r.metrics() for r in results},
            "cases": {r.name: r.rows for r in results}}


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
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


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
