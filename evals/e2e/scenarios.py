"""End-to-end scenario files: the simulator scenario plus what a good response looks like.

A file is DESIGN.md's scenario format; `expect` carries
`root_cause` (service), `remediation` (restart | rollback | scale | none), `symptom` (the service the
request is about, whose SLO decides recovery; default the topology's entry service) and optionally `fault`
(its type). A scenario may name its `topology:`; names resolve against it.
The remediation that clears each fault type on the simulator is fixed by `REMEDIATION`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

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

# Which write tool carries out each remediation.
TOOL_OF: dict[str, str] = {"restart": "restart_service", "rollback": "rollback_deployment", "scale": "scale_service"}


@dataclass(frozen=True)
class E2EScenario:
    name: str
    path: Path
    scenario: Scenario
    at: int
    request: str
    root_cause: str
    remediation: Remediation
    symptom: str
    fault: str

    @property
    def slo_applies(self) -> bool:
        """Recovery is only judged where a write can fix the fault (not for latency injection)."""
        return self.remediation != "none"


class ScenarioError(ValueError):
    """An end-to-end scenario file without what the eval needs; the message names file and field."""


def load_e2e(path: str | Path) -> E2EScenario:
    p = Path(path)
    sc = load_scenario(p)
    if sc.at is None or sc.at < 1:
        raise ScenarioError(f"{p}: at: required for the end-to-end eval (the minute the request comes)")
    if not sc.request:
        raise ScenarioError(f"{p}: request: required for the end-to-end eval")
    if not sc.faults:
        raise ScenarioError(f"{p}: faults: an end-to-end scenario needs at least one fault")
    ex = dict(sc.expect)
    topo = sc.topo
    try:
        root = resolve_service(str(ex.get("root_cause", "")), topo)
    except ValueError as e:
        raise ScenarioError(f"{p}: expect.root_cause: {e}") from None
    main = next((f for f in sc.faults if f.service == root), None)
    if main is None:
        raise ScenarioError(f"{p}: expect.root_cause {root} has no fault in faults")
    fault = str(ex.get("fault", main.type))
    if fault not in FAULT_TYPES:
        raise ScenarioError(f"{p}: expect.fault: got {fault!r}; allowed: {', '.join(FAULT_TYPES)}")
    remediation = ex.get("remediation", REMEDIATION[fault])
    if remediation not in REMEDIATIONS:
        raise ScenarioError(f"{p}: expect.remediation: got {remediation!r}; allowed: {', '.join(REMEDIATIONS)}")
    try:
        symptom = resolve_service(str(ex.get("symptom", topo.entry)), topo)
    except ValueError as e:
        raise ScenarioError(f"{p}: expect.symptom: {e}") from None
    return E2EScenario(sc.name or p.stem, p, sc, sc.at, sc.request, root, remediation, symptom, fault)


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
    if e.remediation == "restart":
        sim.restart(e.root_cause)
    elif e.remediation == "rollback":
        sim.rollback(e.root_cause)
    elif e.remediation == "scale":
        current = int(sim.replicas[sim.idx[e.root_cause]])
        sim.scale(e.root_cause, min(sim.topology.spec(e.root_cause).max_replicas, 2 * current))


DEFAULT_DIR = Path(__file__).resolve().parents[1] / "scenarios" / "e2e"
