"""Planner training examples from templates: rendering a template, one single-step example, the example
record {"prompt", "target", "kind", "family", "tool", "args"}, the family split, and JSONL files.

Dev holds out whole template families (every fifth family of each tool), so dev phrasings never appear in
training. `finetune.slm.dataset.build_dataset` assembles these with the trajectories, investigations and
summaries.
"""

from __future__ import annotations

import json
import random
import re
import zlib
from pathlib import Path
from typing import Any

from finetune.slm import names, vocab
from finetune.slm.styles import stylise
from finetune.slm.templates import FAMILIES, UNKNOWN_SERVICES, WEIGHTS, Template
from runtime.prompt import encode_call, render_observations_prompt
from tools.contract import TOOLS
from tools.services import alias_table, current_topology, service_names

_SLOT = re.compile(r"\{(\w+)\}")
_ARG_OF = {"svc": "service", "metric": "metric", "win": "window", "dur": "window", "n": "replicas", "q": "query",
           "lvl": "level", "lvls": "level", "lim": "limit", "rb": "name", "ch": "channel"}
_PROTECTED = ("q", "ch")
_RCA_METRICS = ("latency_p99", "latency_p50", "error_rate", "cpu", "memory", "throughput", "queue_depth")
_LEVEL_ADJ = {"error": ["error", "ERROR", "err", "error-level"], "warn": ["warning", "warn", "WARN", "warning-level"],
              "info": ["info", "INFO", "info-level"]}
_LEVEL_PLURAL = {"error": ["errors", "error messages", "ERRORs", "error lines"],
                 "warn": ["warnings", "warning messages", "warns", "WARNs"], "info": ["info messages", "info lines"]}

DEV_EVERY = 5
SITE = "frontend"  # templates about "the site" name the entry service (written with the shop's name)


def family_id(tool: str, index: int) -> str:
    return f"{tool}.{index}"


def is_dev_family(tool: str, index: int) -> bool:
    """Every fifth template of a tool (offset by a stable hash of the tool name) is held out for dev."""
    return (index + zlib.crc32(tool.encode())) % DEV_EVERY == 0


def order_args(tool: str, args: dict[str, Any]) -> dict[str, Any]:
    if tool == "respond":
        return args
    fields = list(TOOLS[tool].args.model_fields)
    return {k: args[k] for k in fields if k in args}


def render(tool: str, template: Template, rng: random.Random, style: bool = True,
           service: str | None = None, inventory: list[str] | None = None) -> tuple[str, dict[str, Any]]:
    """Fill a template's slots; return (request text, canonical args).

    With an `inventory` (generated names), `{svc}` is one of its names written as someone might type it
    (`names.surface`), kept out of the surface noise, and the `service` arg is that span as written: the model
    copies, code resolves. Without one, services come from the current topology and args hold its names.
    """
    text, fixed = template
    args: dict[str, Any] = {}
    protected: dict[str, str] = {}
    values: dict[str, str] = {}
    svc_choice: str | None = None
    for slot in dict.fromkeys(_SLOT.findall(text)):
        if slot == "svc" and inventory is not None:
            surface, span = names.surface(service or rng.choice(inventory), rng)
            svc_choice = args["service"] = span
            protected[slot], values[slot] = surface, f"\x00{len(protected)}\x01"
        elif slot == "svc":
            surface, svc_choice = vocab.service(rng, service)
            values[slot], args["service"] = surface, svc_choice
        elif slot == "metric":
            canon = rng.choice(_RCA_METRICS) if tool == "root_cause_analysis" else None
            values[slot], args["metric"] = vocab.metric(rng, canon)
        elif slot == "win":
            values[slot], args["window"] = vocab.window(rng)
        elif slot == "dur":
            values[slot], args["window"] = vocab.duration(rng)
        elif slot == "n":
            values[slot], args["replicas"] = vocab.replicas(rng)
        elif slot == "q":
            surface, args["query"], _ = vocab.log_query(rng)
            protected[slot], values[slot] = surface, f"\x00{len(protected)}\x01"
        elif slot in ("lvl", "lvls"):
            lv = rng.choice(["error", "error", "warn", "warn", "info"])
            values[slot], args["level"] = rng.choice((_LEVEL_ADJ if slot == "lvl" else _LEVEL_PLURAL)[lv]), lv
        elif slot == "lim":
            values[slot], args["limit"] = vocab.limit(rng)
        elif slot == "rb":
            values[slot], args["name"] = vocab.runbook(rng)
        elif slot == "ch":
            surface, args["channel"] = vocab.channel(rng)
            protected[slot], values[slot] = surface, f"\x00{len(protected)}\x01"
        elif slot == "x":
            known = {n.lower() for n in service_names()} | set(alias_table())
            values[slot] = rng.choice([u for u in UNKNOWN_SERVICES if u not in known])
        else:
            raise KeyError(f"unknown slot {slot!r} in template {text!r}")
    request = text.format(**values)
    if style:
        request = stylise(request, rng)
    for i, (_, surface) in enumerate(protected.items()):
        request = request.replace(f"\x00{i}\x01", surface)
    for k, v in fixed.items():
        if tool == "respond" and isinstance(v, str):
            args[k] = v.format(x=values.get("x", ""), svc=svc_choice or "")
        elif k == "service" and v == SITE:  # "the site": whatever the topology's users enter through
            args[k] = current_topology().entry
        else:
            args[k] = v
    if tool == "respond":
        args = {"text": args["text"]}
    return request, order_args(tool, args)


def single_step(rng: random.Random, split: str, unknown_names: bool = True) -> dict[str, Any]:
    """One single-step example on the current topology; `unknown_names=False` leaves out the families that answer
    "There is no service called X" (name resolution is code's job in planner v2)."""
    tools = list(WEIGHTS)
    tool = rng.choices(tools, weights=[WEIGHTS[t] for t in tools])[0]
    fams = [(i, t) for i, t in enumerate(FAMILIES[tool]) if is_dev_family(tool, i) == (split == "dev")
            and (unknown_names or "{x}" not in t[0])]
    index, template = rng.choice(fams)
    request, args = render(tool, template, rng)
    return example(request, [], tool, args, "single", family_id(tool, index))


def example(request: str, observations: list[str], tool: str, args: dict[str, Any], kind: str,
            family: str) -> dict[str, Any]:
    return {
        "prompt": render_observations_prompt(request, observations),
        "target": " " + encode_call(tool, args) + "\n",
        "kind": kind, "family": family, "tool": tool, "args": args,
    }


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def as_eval_cases(rows: list[dict[str, Any]], prefix: str, limit: int | None = None,
                  seed: int = 0) -> list[dict[str, Any]]:
    """Single-step examples in the planner-eval case format (`keel eval planner --cases`)."""
    single = [r for r in rows if r["kind"] == "single"]
    if limit is not None and len(single) > limit:
        single = random.Random(seed).sample(single, limit)
    out = []
    for i, r in enumerate(single):
        request = r["prompt"].splitlines()[0].removeprefix("Request: ")
        args = {} if r["tool"] == "respond" else r["args"]
        out.append({"id": f"{prefix}-{i}", "request": request, "expected": {"tool": r["tool"], "args": args},
                    "family": r["family"]})
    return out


def write_eval_cases(data_dir: Path, n_train: int = 200, n_dev: int = 300) -> None:
    """`train_cases.jsonl` (a sample of training requests) and `dev_cases.jsonl` (held-out templates)."""
    write_jsonl(data_dir / "train_cases.jsonl", as_eval_cases(read_jsonl(data_dir / "train.jsonl"), "train", n_train))
    write_jsonl(data_dir / "dev_cases.jsonl", as_eval_cases(read_jsonl(data_dir / "dev.jsonl"), "dev", n_dev))
