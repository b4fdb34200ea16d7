"""The governance policy: the shipped YAML default, deep-merged overrides, validated into a frozen Policy.

Sources, later ones winning key by key: `governance/default_policy.yaml`, an optional policy file
(`policy_file` in keel.toml / KEEL_POLICY_FILE), and an optional `[policy]` table in keel.toml.
Validation happens once, at the edge (pydantic); the rest of governance works on the `Policy` dataclass.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tools.contract import TOOLS
from tools.durations import parse_duration
from tools.services import service_names

Risk = Literal["low", "medium", "high", "critical"]
Oversight = Literal["logging", "notification", "approval", "blocking"]
ToolKind = Literal["read", "notify", "write"]

RISKS: tuple[Risk, ...] = ("low", "medium", "high", "critical")
OVERSIGHTS: tuple[Oversight, ...] = ("logging", "notification", "approval", "blocking")
LEVELS: tuple[int, ...] = (0, 1, 2, 3, 4, 5)
DEFAULT_POLICY_PATH = Path(__file__).with_name("default_policy.yaml")


class PolicyError(ValueError):
    """A policy file that does not validate; the message names the field and the allowed values."""


# ---------------------------------------------------------------- the validated, frozen form


@dataclass(frozen=True)
class Policy:
    """Everything `decide` needs, already validated. `digest` identifies the policy in audit records."""

    version: int
    tool_risk: Mapping[str, Risk]
    max_step_ratio: float
    min_step: int
    protected_services: frozenset[str]
    default_bounds: tuple[int, int]
    service_bounds: Mapping[str, tuple[int, int]]
    oversight: Mapping[int, Mapping[Risk, Oversight]]
    kind_minimum: Mapping[int, Mapping[ToolKind, Oversight]]
    rate_limit_max_writes: int
    rate_limit_window_s: int
    self_approval_max_risk: Risk | None
    digest: str
    source: str

    def bounds(self, service: str, fallback: tuple[int, int] | None = None) -> tuple[int, int]:
        """Replica bounds of a service: the policy's own entry, else the backend's (fallback), else the default."""
        if service in self.service_bounds:
            return self.service_bounds[service]
        return fallback if fallback is not None else self.default_bounds


# ---------------------------------------------------------------- the edge: pydantic models of the YAML


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Scaling(_Strict):
    max_step_ratio: float = Field(gt=0, le=10)
    min_step: int = Field(ge=0, le=1000)


class _RiskSection(_Strict):
    tools: dict[str, Risk]
    scaling: _Scaling
    protected_services: list[str] = []

    @field_validator("tools")
    @classmethod
    def _tools(cls, v: dict[str, Risk]) -> dict[str, Risk]:
        rated = set(TOOLS) - {"scale_service"}
        unknown = set(v) - rated
        if unknown:
            raise ValueError(f"unknown tools {sorted(unknown)}; allowed: {sorted(rated)} "
                             "(scale_service is rated by risk.scaling)")
        missing = rated - set(v)
        if missing:
            raise ValueError(f"missing a risk for {sorted(missing)}")
        for name, risk in v.items():
            if TOOLS[name].kind == "read" and risk != "low":
                raise ValueError(f"{name} is a read tool; read tools are low risk")
        return v

    @field_validator("protected_services")
    @classmethod
    def _protected(cls, v: list[str]) -> list[str]:
        allowed = service_names()
        unknown = [s for s in v if s not in allowed]
        if unknown:
            raise ValueError(f"unknown services {unknown} in the current topology; allowed: {list(allowed)}")
        return v


class _Bounds(_Strict):
    min: int = Field(ge=0)
    max: int = Field(ge=1)

    @model_validator(mode="after")
    def _order(self) -> _Bounds:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


class _Replicas(_Strict):
    default: _Bounds
    services: dict[str, _Bounds] = {}

    @field_validator("services")
    @classmethod
    def _known(cls, v: dict[str, _Bounds]) -> dict[str, _Bounds]:
        allowed = service_names()
        unknown = [s for s in v if s not in allowed]
        if unknown:
            raise ValueError(f"unknown services {unknown} in the current topology; allowed: {list(allowed)}")
        return v


class _RateLimit(_Strict):
    max_writes: int = Field(ge=0)
    window: str

    @field_validator("window")
    @classmethod
    def _window(cls, v: str) -> str:
        parse_duration(v)
        return v


class _Approvals(_Strict):
    self_approval_max_risk: Literal["none", "low", "medium", "high"]


class _PolicyModel(_Strict):
    version: int
    risk: _RiskSection
    replicas: _Replicas
    oversight: dict[int, dict[Risk, Oversight]]
    kind_minimum: dict[int, dict[ToolKind, Oversight]]
    rate_limit: _RateLimit
    approvals: _Approvals

    @field_validator("oversight")
    @classmethod
    def _oversight(cls, v: dict[int, dict[Risk, Oversight]]) -> dict[int, dict[Risk, Oversight]]:
        if set(v) != set(LEVELS):
            raise ValueError(f"needs exactly the autonomy levels {list(LEVELS)}, got {sorted(v)}")
        for level, row in v.items():
            if set(row) != set(RISKS):
                raise ValueError(f"level {level}: needs every risk {list(RISKS)}, got {sorted(row)}")
            if row["critical"] != "blocking":
                raise ValueError(f"level {level}: critical must be blocking at every level, got {row['critical']!r}")
            ranks = [OVERSIGHTS.index(row[r]) for r in RISKS]
            if ranks != sorted(ranks):
                raise ValueError(f"level {level}: oversight must not decrease as risk rises: {row}")
        return v

    @field_validator("kind_minimum")
    @classmethod
    def _kind_minimum(cls, v: dict[int, dict[ToolKind, Oversight]]) -> dict[int, dict[ToolKind, Oversight]]:
        unknown = set(v) - set(LEVELS)
        if unknown:
            raise ValueError(f"unknown autonomy levels {sorted(unknown)}; allowed: {list(LEVELS)}")
        return v


# ---------------------------------------------------------------- loading


def _str_keys(obj: Any) -> Any:
    """YAML gives int keys (`3:`), TOML string keys (`"3"`): normalise so deep merges line up."""
    if isinstance(obj, Mapping):
        return {str(k): _str_keys(v) for k, v in obj.items()}
    return obj


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `over` into a copy of `base`: mappings merge key by key, anything else replaces."""
    out: dict[str, Any] = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise PolicyError(f"policy file not found: {path}") from None
    except yaml.YAMLError as e:
        raise PolicyError(f"policy file {path} is not valid YAML: {e}") from None
    if not isinstance(data, Mapping):
        raise PolicyError(f"policy file {path} must hold a mapping at the top level")
    return _str_keys(data)


def _describe(e: ValidationError) -> str:
    parts = []
    for err in e.errors():
        field = ".".join(str(p) for p in err.get("loc", ())) or "policy"
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            msg = "unknown key"
        parts.append(f"{field}: {msg}")
    return "; ".join(parts)


def build_policy(data: Mapping[str, Any], source: str = "<memory>") -> Policy:
    """Validate a merged policy mapping into a Policy; raise PolicyError naming the bad field."""
    try:
        m = _PolicyModel.model_validate(data)
    except ValidationError as e:
        raise PolicyError(f"policy {source}: {_describe(e)}") from None
    canonical = json.dumps(m.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    approver_max = m.approvals.self_approval_max_risk
    return Policy(
        version=m.version,
        tool_risk=dict(m.risk.tools),
        max_step_ratio=m.risk.scaling.max_step_ratio,
        min_step=m.risk.scaling.min_step,
        protected_services=frozenset(m.risk.protected_services),
        default_bounds=(m.replicas.default.min, m.replicas.default.max),
        service_bounds={s: (b.min, b.max) for s, b in m.replicas.services.items()},
        oversight={lvl: dict(row) for lvl, row in m.oversight.items()},
        kind_minimum={lvl: dict(m.kind_minimum.get(lvl, {})) for lvl in LEVELS},
        rate_limit_max_writes=m.rate_limit.max_writes,
        rate_limit_window_s=parse_duration(m.rate_limit.window),
        self_approval_max_risk=None if approver_max == "none" else approver_max,
        digest=hashlib.sha256(canonical.encode()).hexdigest()[:16],
        source=source,
    )


def load_policy(path: Path | None = None, overrides: Mapping[str, Any] | None = None) -> Policy:
    """The default policy, deep-merged with the file at `path` and then with `overrides`."""
    data = _read_yaml(DEFAULT_POLICY_PATH)
    sources = ["default"]
    if path is not None:
        data = deep_merge(data, _read_yaml(Path(path)))
        sources.append(str(path))
    if overrides:
        data = deep_merge(data, _str_keys(overrides))
        sources.append("keel.toml [policy]")
    return build_policy(data, " + ".join(sources))


def default_policy() -> Policy:
    return load_policy()
