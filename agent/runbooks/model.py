"""Runbook definitions: the YAML schema (pydantic, at the edge), static checks, parameters, and the library.

A runbook has a name, a description, typed parameters and ordered steps. A step either calls one tool of
the contract with templated arguments, or waits for a duration. Steps may carry a `when` condition over
earlier results and an `on_failure` of `stop` (default), `continue`, or the id of a later step to jump to.
Every template is parsed when the runbook is loaded, and every `params.X` / `steps.Y` it reads must name a
declared parameter / an earlier step, so a broken runbook fails at load time with file, step and field.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from agent.runbooks.template import ROOTS, TemplateError, lookups, parse, placeholders
from tools.contract import TOOLS
from tools.durations import parse_duration
from tools.errors import InvalidInput
from tools.external import is_external_name
from tools.services import resolve_service, service_names

BUILTIN_DIR = Path(__file__).resolve().parent
MAX_WAIT_S = 3600
STEP_FIELDS = ("status", "data", "error", "args", "oversight", "risk", "approval_id")
ParamType = Literal["service", "string", "integer", "number", "boolean", "duration"]


class RunbookError(InvalidInput):
    """A runbook that does not load, an unknown runbook, or bad parameters; the message names the field."""


class ParamSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: ParamType = "string"
    description: str = ""
    required: bool = False
    default: Any = None
    choices: list[Any] | None = None
    min: float | None = None
    max: float | None = None


class StepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)
    description: str = ""
    tool: str | None = None
    args: dict[str, Any] = {}
    wait: str | None = None
    when: str | None = None
    on_failure: str = "stop"

    @field_validator("tool")
    @classmethod
    def _tool(cls, v: str | None) -> str | None:
        if v is None:
            return v
        allowed = [t for t in TOOLS if t != "run_runbook"]
        if v not in allowed and not is_external_name(v):  # server.tool: an MCP tool, checked when the step runs
            raise ValueError(f"unknown tool {v!r}; allowed: {', '.join(allowed)}, or server.tool of an MCP server")
        return v

    @field_validator("wait")
    @classmethod
    def _wait(cls, v: str | None) -> str | None:
        if v is not None and not 0 < parse_duration(v) <= MAX_WAIT_S:
            raise ValueError(f"wait must be between 1s and {MAX_WAIT_S // 60}m, got {v!r}")
        return v

    @model_validator(mode="after")
    def _kind(self) -> StepSpec:
        if (self.tool is None) == (self.wait is None):
            raise ValueError("a step needs exactly one of `tool` or `wait`")
        if self.wait is not None and self.args:
            raise ValueError("a wait step takes no args")
        return self

    @property
    def kind(self) -> str:
        return "tool" if self.tool else "wait"


class Runbook(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$", max_length=60)
    description: str
    parameters: dict[str, ParamSpec] = {}
    steps: list[StepSpec] = Field(min_length=1)
    source: str = ""

    @model_validator(mode="after")
    def _references(self) -> Runbook:
        ids = [s.id for s in self.steps]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate step ids: {', '.join(dupes)}")
        for n, step in enumerate(self.steps):
            earlier = ids[:n]
            for where, expr in _expressions(step):
                _check_expr(expr, where, step.id, earlier, list(self.parameters))
            if step.on_failure not in ("stop", "continue"):
                if step.on_failure not in ids[n + 1:]:
                    raise ValueError(f"step {step.id}: on_failure must be stop, continue or a later step id "
                                     f"({', '.join(ids[n + 1:]) or 'none'}), got {step.on_failure!r}")
        return self

    def step_index(self, step_id: str) -> int:
        return [s.id for s in self.steps].index(step_id)


def _expressions(step: StepSpec) -> Iterator[tuple[str, str]]:
    if step.when is not None:
        inner = placeholders(step.when)
        yield "when", inner[0] if len(inner) == 1 and step.when.strip().startswith("{{") else step.when

    def walk(value: Any, path: str) -> Iterator[tuple[str, str]]:
        if isinstance(value, dict):
            for k, v in value.items():
                yield from walk(v, f"{path}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                yield from walk(v, f"{path}[{i}]")
        elif isinstance(value, str):
            for expr in placeholders(value):
                yield path, expr

    yield from walk(step.args, "args")


def _check_expr(expr: str, where: str, step_id: str, earlier: list[str], params: list[str]) -> None:
    try:
        node = parse(expr)
    except TemplateError as e:
        raise ValueError(f"step {step_id}: {where}: {e}") from None
    for chain in lookups(node):
        root = chain[0]
        if root not in ROOTS:
            raise ValueError(f"step {step_id}: {where}: unknown name {root!r}; allowed: {', '.join(ROOTS)}")
        if root == "params" and len(chain) > 1 and chain[1] not in params:
            raise ValueError(f"step {step_id}: {where}: params.{chain[1]} is not a declared parameter "
                             f"({', '.join(params) or 'none'})")
        if root == "steps" and len(chain) > 1:
            if chain[1] not in earlier:
                raise ValueError(f"step {step_id}: {where}: steps.{chain[1]} is not an earlier step "
                                 f"({', '.join(earlier) or 'none'})")
            if len(chain) > 2 and chain[2] not in STEP_FIELDS:
                raise ValueError(f"step {step_id}: {where}: steps.{chain[1]}.{chain[2]}: allowed fields are "
                                 f"{', '.join(STEP_FIELDS)}")


def _describe(e: ValidationError) -> str:
    parts = []
    for err in e.errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or "runbook"
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            msg = "unknown key"
        parts.append(f"{loc}: {msg}")
    return "; ".join(parts)


def parse_runbook(raw: Any, source: str = "<memory>") -> Runbook:
    """Validate a runbook mapping; raise RunbookError naming the source and the bad field."""
    if not isinstance(raw, dict):
        raise RunbookError(f"{source}: a runbook must be a mapping with name, description, parameters, steps")
    try:
        return Runbook.model_validate({**raw, "source": source})
    except ValidationError as e:
        raise RunbookError(f"{source}: {_describe(e)}") from None


def load_runbook(path: Path) -> Runbook:
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise RunbookError(f"runbook file not found: {path}") from None
    except yaml.YAMLError as e:
        raise RunbookError(f"{path}: not valid YAML: {e}") from None
    return parse_runbook(raw, str(path))


class Library:
    """The runbooks of one or more folders (`*.yaml`), by name. The shipped ones live next to this module."""

    def __init__(self, dirs: list[Path] | None = None) -> None:
        self.runbooks: dict[str, Runbook] = {}
        for d in dirs or [BUILTIN_DIR]:
            for path in sorted(Path(d).glob("*.yaml")):
                rb = load_runbook(path)
                if rb.name in self.runbooks:
                    raise RunbookError(f"{path}: runbook {rb.name!r} is already defined in "
                                       f"{self.runbooks[rb.name].source}")
                self.runbooks[rb.name] = rb

    def names(self) -> list[str]:
        return sorted(self.runbooks)

    def get(self, name: str) -> Runbook:
        if name not in self.runbooks:
            raise RunbookError(f"unknown runbook {name!r}; available: {', '.join(self.names()) or 'none'}")
        return self.runbooks[name]


def _coerce(name: str, spec: ParamSpec, value: Any) -> Any:
    """A parameter value as its declared type, or a RunbookError naming the parameter and what is allowed.

    Kept by hand rather than a pydantic TypeAdapter per type: lax-mode pydantic takes booleans as numbers
    (`replicas: true` would be 1) and words like `on`/`t` as booleans, strict mode refuses the numeric strings
    a CLI or form passes, and its messages do not name the runbook parameter; the checks that remain (service
    names through the alias resolver, durations, bounds, choices) would be custom validators of the same size.
    """
    def bad(why: str) -> RunbookError:
        return RunbookError(f"parameter {name}: {why} (got {value!r})")

    if spec.type == "service":
        if not isinstance(value, str):
            raise bad(f"must be a service name; allowed: {', '.join(service_names())}")
        try:
            value = resolve_service(value)
        except ValueError as e:
            raise RunbookError(f"parameter {name}: {e}") from None
    elif spec.type == "duration":
        try:
            parse_duration(value)
        except ValueError as e:
            raise RunbookError(f"parameter {name}: {e}") from None
    elif spec.type in ("integer", "number"):
        if isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value.strip()):
            value = float(value) if "." in value else int(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad(f"must be a{'n integer' if spec.type == 'integer' else ' number'}")
        if spec.type == "integer":
            if isinstance(value, float) and not value.is_integer():
                raise bad("must be an integer")
            value = int(value)
        if spec.min is not None and value < spec.min:
            raise bad(f"must be at least {spec.min:g}")
        if spec.max is not None and value > spec.max:
            raise bad(f"must be at most {spec.max:g}")
    elif spec.type == "boolean":
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            value = value.lower() in ("true", "yes", "1")
        if not isinstance(value, bool):
            raise bad("must be true or false")
    elif not isinstance(value, str):
        raise bad("must be a string")
    if spec.choices is not None and value not in spec.choices:
        raise bad(f"allowed: {', '.join(map(str, spec.choices))}")
    return value


def validate_params(rb: Runbook, raw: dict[str, Any]) -> dict[str, Any]:
    """Coerce and check parameters against the runbook's declarations; fill defaults. Raise RunbookError."""
    unknown = sorted(set(raw) - set(rb.parameters))
    if unknown:
        raise RunbookError(f"runbook {rb.name}: unknown parameter(s) {', '.join(unknown)}; "
                           f"allowed: {', '.join(rb.parameters) or 'none'}")
    out: dict[str, Any] = {}
    for name, spec in rb.parameters.items():
        if name in raw and raw[name] is not None:
            out[name] = _coerce(name, spec, raw[name])
        elif spec.required:
            raise RunbookError(f"runbook {rb.name}: parameter {name} is required ({spec.description or spec.type})")
        else:
            out[name] = spec.default
    return out
