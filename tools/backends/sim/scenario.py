"""Scenario files (YAML or JSON): topology, seed, load, faults, and for the end-to-end eval the request and expectation.

`topology:` names a built-in topology or a file (relative to the scenario file); service names in the
scenario are resolved against it (default: Online Boutique). `load_scenario` resolves it when reading the
file; `Scenario.model_validate(raw, context={"base_dir": DIR})` does the same for a mapping.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializationInfo,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tools.backends.sim.cluster import Simulator
from tools.backends.sim.faults import FAULT_TYPES, Fault
from tools.backends.sim.load import LoadCurve
from tools.durations import minutes
from tools.services import current_topology, resolve_service, use_topology
from tools.topology import Topology, TopologyError, load_topology, topology_from_dict


def _dump_topology(topo: Topology | None, info: SerializationInfo) -> str | None:
    """A dumped scenario names its topology: the file it came from, else its name (which `load_topology`
    resolves to the same topology in this process)."""
    return None if topo is None else topo.reference


def _to_minutes(v: Any) -> Any:
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, str):
        return 0 if v.strip() in ("0", "0m") else minutes(v)
    return v


class LoadSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["diurnal", "bursty", "constant"] | None = None
    trace: str | None = None
    column: str | None = None
    offset: int = 0
    peak_rps: float = Field(400.0, gt=0)


class FaultSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: str
    service: str
    start: int
    duration: int = 120
    intensity: float = Field(0.8, gt=0, le=1)

    _m = field_validator("start", "duration", mode="before")(_to_minutes)
    _s = field_validator("service", mode="before")(lambda v: resolve_service(v) if isinstance(v, str) else v)

    @field_validator("type")
    @classmethod
    def _type(cls, v: str) -> str:
        if v not in FAULT_TYPES:
            raise ValueError(f"unknown fault type {v!r}; allowed: {', '.join(FAULT_TYPES)}")
        return v


class DeploySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service: str
    at: int

    _m = field_validator("at", mode="before")(_to_minutes)
    _s = field_validator("service", mode="before")(lambda v: resolve_service(v) if isinstance(v, str) else v)


class PlantedLogSpec(BaseModel):
    """A verbatim log line `service` writes from minute `at` for `repeat` minutes (adversarial tests)."""

    model_config = ConfigDict(extra="forbid")
    service: str
    at: int
    message: str = Field(..., min_length=1, max_length=2000)
    level: Literal["error", "warn", "info"] = "info"
    repeat: int = Field(1, ge=1, le=1440)

    _m = field_validator("at", mode="before")(_to_minutes)
    _s = field_validator("service", mode="before")(lambda v: resolve_service(v) if isinstance(v, str) else v)


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    # set on validation: the named one (built-in name, file relative to the scenario, or an inline mapping),
    # else the current one
    topology: Annotated[Topology | None, PlainSerializer(_dump_topology)] = None
    seed: int = 0
    load: LoadSpec = LoadSpec(kind="diurnal", peak_rps=400.0)
    faults: list[FaultSpec] = []
    deploys: list[DeploySpec] = []
    replicas: dict[str, int] = {}
    inject_logs: list[PlantedLogSpec] = []
    at: int | None = None
    request: str | None = None
    expect: dict[str, Any] = {}
    name: str = ""

    _m = field_validator("at", mode="before")(_to_minutes)

    @model_validator(mode="wrap")
    @classmethod
    def _in_topology(cls, data: Any, handler: Any, info: ValidationInfo) -> Any:
        """Resolve `topology` first, then validate every service name against it."""
        if not isinstance(data, dict) or isinstance(data.get("topology"), Topology):
            topo = data.get("topology") if isinstance(data, dict) else None
        else:
            ref = data.get("topology")
            base = (info.context or {}).get("base_dir") if info.context else None
            try:
                if isinstance(ref, dict):
                    topo = topology_from_dict(ref, "topology")
                else:
                    topo = load_topology(ref, Path(base) if base else None) if ref is not None else None
            except TopologyError as e:
                raise ValueError(f"topology: {e}") from None
        topo = topo or current_topology()
        if isinstance(data, dict):
            data = {**data, "topology": topo}
        with use_topology(topo):
            return handler(data)

    @field_validator("replicas", mode="before")
    @classmethod
    def _replicas(cls, v: Any) -> Any:
        return {resolve_service(k): n for k, n in v.items()} if isinstance(v, dict) else v

    @property
    def topo(self) -> Topology:
        """The scenario's topology (the current one when the file names none)."""
        return self.topology or current_topology()

    def build(self, base_dir: Path | None = None) -> Simulator:
        """A fresh simulator at minute 0 for this scenario (reads the trace file if one is named)."""
        spec = self.load
        if spec.trace:
            path = Path(spec.trace)
            if not path.is_absolute() and base_dir is not None and not path.exists():
                path = base_dir / path
            load = LoadCurve.from_counts(read_trace(path, spec.column), spec.peak_rps, spec.offset, path.name)
        elif spec.kind == "bursty":
            load = LoadCurve.bursty(spec.peak_rps, seed=self.seed)
        elif spec.kind == "constant":
            load = LoadCurve.constant(spec.peak_rps)
        else:
            load = LoadCurve.diurnal(spec.peak_rps, seed=self.seed)
        faults = [Fault(f.type, f.service, f.start, f.duration, f.intensity) for f in self.faults]
        sim = Simulator(load, faults, seed=self.seed, replicas=self.replicas, topology=self.topo)
        for d in self.deploys:
            sim.schedule_deploy(d.service, d.at)
        for p in self.inject_logs:
            for minute in range(p.at, p.at + p.repeat):
                sim.plant_log(p.service, minute, p.level, p.message)
        return sim


def read_trace(path: Path, column: str | None = None) -> np.ndarray:
    """Per-minute request counts from `minute,[timestamp,]requests` or a one-column-per-function file."""
    import pandas as pd

    if not path.exists():
        raise FileNotFoundError(f"trace file not found: {path}")
    df = pd.read_csv(path)
    if "requests" in df.columns:
        return df["requests"].to_numpy(dtype=float)
    minute_cols = [c for c in df.columns if str(c).startswith("minute_")]
    if minute_cols:
        if column:
            match = df[(df == column).any(axis=1)]
            if match.empty:
                raise ValueError(f"no row named {column!r} in {path.name}")
            return match[minute_cols].iloc[0].to_numpy(dtype=float)
        return df[minute_cols].sum(axis=0).to_numpy(dtype=float)
    if column and column in df.columns:
        return df[column].to_numpy(dtype=float)
    raise ValueError(f"{path.name}: expected a 'requests' column or minute_N columns; got {list(df.columns)[:5]}")


def load_scenario(path: str | Path) -> Scenario:
    """Parse a YAML or JSON scenario file; errors name the file and the bad field."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"scenario file not found: {p}")
    text = p.read_text()
    try:
        raw = json.loads(text) if p.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        raise ValueError(f"{p}: not valid {'JSON' if p.suffix == '.json' else 'YAML'}: {e}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{p}: a scenario must be a mapping with seed, load, faults")
    raw.setdefault("name", p.stem)
    try:
        return Scenario.model_validate(raw, context={"base_dir": str(p.parent)})
    except ValidationError as e:
        msgs = "; ".join(f"{'.'.join(map(str, d['loc']))}: {d['msg']}" for d in e.errors())
        raise ValueError(f"{p}: {msgs}") from None
