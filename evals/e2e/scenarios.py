"""End-to-end scenario files: the simulator scenario plus what a good response looks like.

A file is the documented scenario format; `expect` carries
`root_cause` (service), `remediation` (restart | rollback | scale | none), `symptom` (the service the
request is about, whose SLO decides recovery; default the topology's entry service) and optionally `fault`
(its type). A scenario may name its `topology:`; names resolve against it.
The remediation that clears each fault type on the simulator is fixed by `REMEDIATION`.

For the harder scenarios (`evals/scenarios/e2e-hard*`) the format has a few optional extras, used by the
end-to-end eval only:
- `expect.root_cause: null` — the request is not an incident (nothing to diagnose: diagnosis is n/a);
- `expect.target` — the service the remediation must land on when it is not the root cause (a request such
  as "scale checkout up for tonight's sale"); default the root cause;
- `expect.remediation: none` — no write may run *or be attempted* (a write governance blocked still counts:
  "just tell me, don't change anything", a protected root cause to escalate);
- `turns:` (top level) — the operator's later messages, sent one by one in the same conversation after each
  answer (responders that hold no conversation, such as the fixed script and the rules, read only
  `request`); `expect.writes_from_turn: N` — a write that reached the cluster before message N (1 is
  `request`, 2 the first of `turns`) is wrong: the operator had not yet approved or chosen the fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ValidationError

from tools.backends.sim.cluster import Simulator
from tools.backends.sim.faults import FAULT_TYPES
from tools.backends.sim.scenario import Scenario, load_scenario
from tools.services import resolve_service

Remediation = Literal["restart", "rollback", "scale", "none"]
REMEDIATIONS: tuple[Remediation, ...] = ("restart", "rollback", "scale", "none")

# The write that fixes each fault on the simulator (latency_injection has none: diagnosis only).
REMEDIATION: dict[str, Remediation] = {
    "crash": "restart",
    "memory_leak": "restart",
    "error_burst": "rollback",
    "cpu_hog": "scale",
    "traffic_spike": "scale",
    "latency_injection": "none",
}
assert set(REMEDIATION) == set(FAULT_TYPES)

EXPECT_KEYS = frozenset({"root_cause", "remediation", "symptom", "fault", "target", "writes_from_turn"})

# Which write tool carries out each remediation.
TOOL_OF: dict[str, str] = {"restart": "restart_service", "rollback": "rollback_deployment", "scale": "scale_service"}


@dataclass(frozen=True)
class E2EScenario:
    name: str
    path: Path
    scenario: Scenario
    at: int
    request: str
    root_cause: str | None  # None: not an incident (diagnosis n/a)
    remediation: Remediation
    symptom: str
    fault: str
    target: str | None = None  # where the remediation must land (default the root cause)
    turns: tuple[str, ...] = ()  # the operator's later messages in the same conversation
    writes_from_turn: int = 1  # writes before this message (1: the request) are wrong

    @property
    def slo_applies(self) -> bool:
        """Recovery is only judged where a write can fix the fault (not for latency injection)."""
        return self.remediation != "none"

    @property
    def fix_target(self) -> str | None:
        return self.target or self.root_cause

    @property
    def messages(self) -> tuple[str, ...]:
        """The request and the later turns, in order."""
        return (self.request, *self.turns)


class ScenarioError(ValueError):
    """An end-to-end scenario file without what the eval needs; the message names file and field."""


E2E_ONLY = ("turns",)  # top-level keys the end-to-end eval reads and the simulator scenario does not


def _split_file(p: Path) -> tuple[Scenario, dict[str, Any]]:
    """The simulator scenario and the end-to-end-only keys of a file (the rest validated as a scenario)."""
    if not p.exists():
        raise FileNotFoundError(f"scenario file not found: {p}")
    try:
        raw = json.loads(p.read_text()) if p.suffix == ".json" else yaml.safe_load(p.read_text())
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        raise ScenarioError(f"{p}: not valid {'JSON' if p.suffix == '.json' else 'YAML'}: {e}") from None
    if not isinstance(raw, dict) or not any(k in raw for k in E2E_ONLY):
        return load_scenario(p), {}
    extra = {k: raw.pop(k) for k in E2E_ONLY if k in raw}
    raw.setdefault("name", p.stem)
    try:
        return Scenario.model_validate(raw, context={"base_dir": str(p.parent)}), extra
    except ValidationError as e:
        msgs = "; ".join(f"{'.'.join(map(str, d['loc']))}: {d['msg']}" for d in e.errors())
        raise ScenarioError(f"{p}: {msgs}") from None


def _turns(p: Path, v: Any) -> tuple[str, ...]:
    if not isinstance(v, list) or not all(isinstance(t, str) and t.strip() for t in v):
        raise ScenarioError(f"{p}: turns: a list of non-empty messages, got {v!r}")
    return tuple(v)


def load_e2e(path: str | Path) -> E2EScenario:
    p = Path(path)
    sc, extra = _split_file(p)
    if sc.at is None or sc.at < 1:
        raise ScenarioError(f"{p}: at: required for the end-to-end eval (the minute the request comes)")
    if not sc.request:
        raise ScenarioError(f"{p}: request: required for the end-to-end eval")
    if not sc.faults:
        raise ScenarioError(f"{p}: faults: an end-to-end scenario needs at least one fault")
    ex = dict(sc.expect)
    topo = sc.topo
    unknown = set(ex) - EXPECT_KEYS
    if unknown:
        raise ScenarioError(f"{p}: expect: unknown keys {sorted(unknown)}; allowed: {', '.join(sorted(EXPECT_KEYS))}")
    if "root_cause" not in ex:
        raise ScenarioError(f"{p}: expect.root_cause: required (a service, or null when it is not an incident)")
    root: str | None = None
    if ex["root_cause"] is not None:
        try:
            root = resolve_service(str(ex["root_cause"]), topo)
        except ValueError as e:
            raise ScenarioError(f"{p}: expect.root_cause: {e}") from None
    main = next((f for f in sc.faults if f.service == root), None) if root else sc.faults[0]
    if main is None:
        raise ScenarioError(f"{p}: expect.root_cause {root} has no fault in faults")
    fault = str(ex.get("fault", main.type))
    if fault not in FAULT_TYPES:
        raise ScenarioError(f"{p}: expect.fault: got {fault!r}; allowed: {', '.join(FAULT_TYPES)}")
    remediation = ex.get("remediation", REMEDIATION[fault])
    if remediation not in REMEDIATIONS:
        raise ScenarioError(f"{p}: expect.remediation: got {remediation!r}; allowed: {', '.join(REMEDIATIONS)}")
    names: dict[str, str] = {}
    for key, default in (("symptom", topo.entry), ("target", None)):
        if ex.get(key, default) is None:
            continue
        try:
            names[key] = resolve_service(str(ex.get(key, default)), topo)
        except ValueError as e:
            raise ScenarioError(f"{p}: expect.{key}: {e}") from None
    if root is None and remediation != "none" and "target" not in names:
        raise ScenarioError(f"{p}: expect.target: required when root_cause is null and remediation is {remediation}")
    turns = _turns(p, extra["turns"]) if "turns" in extra else ()
    first = ex.get("writes_from_turn", 1)
    if not isinstance(first, int) or isinstance(first, bool) or not 1 <= first <= len(turns) + 1:
        raise ScenarioError(f"{p}: expect.writes_from_turn: an int in 1..{len(turns) + 1} (1 is the request), "
                            f"got {first!r}")
    return E2EScenario(sc.name or p.stem, p, sc, sc.at, sc.request, root, remediation, names["symptom"], fault,
                       names.get("target"), turns, first)


def load_dir(directory: str | Path) -> list[E2EScenario]:
    """Every *.yaml / *.yml / *.json scenario in a directory, sorted by name."""
    d = Path(directory)
    if not d.is_dir():
        raise ScenarioError(f"scenario directory not found: {d}")
    files = sorted(f for f in d.iterdir() if f.suffix in (".yaml", ".yml", ".json"))
    if not files:
        raise ScenarioError(f"no scenario files (*.yaml, *.yml, *.json) in {d}")
    return [load_e2e(f) for f in files]


def reference_fix(sim: Simulator, e: E2EScenario) -> None:
    """The textbook remediation applied directly to a simulator (scenario validation, not the eval)."""
    target = e.fix_target
    if target is None:
        return
    if e.remediation == "restart":
        sim.restart(target)
    elif e.remediation == "rollback":
        sim.rollback(target)
    elif e.remediation == "scale":
        current = int(sim.replicas[sim.idx[target]])
        sim.scale(target, min(sim.topology.spec(target).max_replicas, 2 * current))


DEFAULT_DIR = Path(__file__).resolve().parents[1] / "scenarios" / "e2e"
