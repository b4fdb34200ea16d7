"""Runbook files: the five shipped ones load; broken ones fail at load time naming file, step and field;
parameters are validated with the allowed values named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.runbooks.model import Library, RunbookError, parse_runbook, validate_params
from tools.contract import RUNBOOKS

SHIPPED = {"high-latency", "error-spike", "memory-leak", "traffic-surge", "bad-deploy"}


def test_the_five_runbooks_ship_and_match_the_contract() -> None:
    lib = Library()
    assert set(lib.names()) == SHIPPED == set(RUNBOOKS)
    for name in lib.names():
        rb = lib.get(name)
        assert rb.description and rb.parameters["service"].required
        assert rb.steps[-1].tool == "post_incident_summary"
        assert any(s.tool in ("scale_service", "restart_service", "rollback_deployment") for s in rb.steps)


def test_high_latency_follows_p99_rca_scale_recheck_summary() -> None:
    tools = [s.tool or "wait" for s in Library().get("high-latency").steps]
    assert tools == ["query_metrics", "root_cause_analysis", "query_metrics", "recommend_scaling", "scale_service",
                     "wait", "query_metrics", "post_incident_summary"]


def test_unknown_runbook_lists_the_runbooks() -> None:
    with pytest.raises(RunbookError) as e:
        Library().get("fix-everything")
    assert "unknown runbook 'fix-everything'; available: bad-deploy, error-spike, high-latency" in str(e.value)


def _rb(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "t", "description": "test",
        "parameters": {"service": {"type": "service", "required": True}},
        "steps": [{"id": "a", "tool": "query_metrics", "args": {"service": "{{ params.service }}", "metric": "cpu"}},
                  {"id": "b", "tool": "restart_service", "args": {"service": "{{ steps.a.data.service }}"}}],
    }
    base.update(over)
    return base


@pytest.mark.parametrize(("change", "needle"), [
    ({"steps": [{"id": "a", "tool": "drop_database"}]}, "unknown tool 'drop_database'; allowed: query_metrics"),
    ({"steps": [{"id": "a", "tool": "run_runbook", "args": {}}]}, "unknown tool 'run_runbook'"),
    ({"steps": [{"id": "a", "tool": "get_topology", "args": {"service": "{{ steps.b.data }}"}},
                {"id": "b", "tool": "get_topology"}]}, "steps.b is not an earlier step"),
    ({"steps": [{"id": "a", "tool": "get_topology", "args": {"service": "{{ params.svc }}"}}]},
     "params.svc is not a declared parameter (service)"),
    ({"steps": [{"id": "a", "tool": "get_topology", "when": "steps.a.status == 'ok'"}]}, "not an earlier step"),
    ({"steps": [{"id": "a", "tool": "get_topology", "args": {"service": "{{ params.service + }}"}}]},
     "step a: args.service: unexpected end of expression"),
    ({"steps": [{"id": "a", "tool": "get_topology", "on_failure": "retry"}]},
     "on_failure must be stop, continue or a later step id"),
    ({"steps": [{"id": "a", "tool": "get_topology"}, {"id": "a", "tool": "get_topology"}]}, "duplicate step ids: a"),
    ({"steps": [{"id": "a", "wait": "2d"}]}, "wait must be between 1s and 60m"),
    ({"steps": [{"id": "a"}]}, "exactly one of `tool` or `wait`"),
    ({"steps": [{"id": "Bad Id", "tool": "get_topology"}]}, "steps.0.id"),
    ({"steps": []}, "steps"),
    ({"color": "red"}, "color: unknown key"),
    ({"steps": [{"id": "a", "tool": "get_topology", "args": {"service": "{{ os.environ }}"}}]},
     "unknown name 'os'; allowed: params, steps, run"),
    ({"steps": [{"id": "a", "tool": "get_topology"},
                {"id": "b", "tool": "get_topology", "when": "steps.a.result == 1"}]},
     "steps.a.result: allowed fields are status, data, error"),
])
def test_broken_runbooks_fail_at_load_time(change: dict[str, Any], needle: str) -> None:
    with pytest.raises(RunbookError) as e:
        parse_runbook(_rb(**change), "broken.yaml")
    assert "broken.yaml" in str(e.value) and needle in str(e.value), str(e.value)


def test_library_reads_a_folder_and_rejects_duplicates(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text(yaml.safe_dump(_rb(name="one")))
    assert Library([tmp_path]).names() == ["one"]
    (tmp_path / "two.yaml").write_text(yaml.safe_dump(_rb(name="one")))
    with pytest.raises(RunbookError, match="already defined"):
        Library([tmp_path])
    (tmp_path / "two.yaml").write_text("name: [unclosed")
    with pytest.raises(RunbookError, match="not valid YAML"):
        Library([tmp_path])


def test_parameters_are_coerced_and_defaulted() -> None:
    rb = Library().get("high-latency")
    assert validate_params(rb, {"service": "checkout"}) == {
        "service": "checkoutservice", "saturation_cpu": 80, "channel": "#incidents"}
    assert validate_params(rb, {"service": "payments", "saturation_cpu": "90"})["saturation_cpu"] == 90


@pytest.mark.parametrize(("params", "needle"), [
    ({}, "parameter service is required"),
    ({"service": "nosuch"}, "parameter service: unknown service 'nosuch'; allowed: frontend"),
    ({"service": "cart", "saturation_cpu": 150}, "parameter saturation_cpu: must be at most 100"),
    ({"service": "cart", "saturation_cpu": "hot"}, "parameter saturation_cpu: must be a number"),
    ({"service": "cart", "colour": "red"}, "unknown parameter(s) colour; allowed: service, saturation_cpu, channel"),
    ({"service": 7}, "must be a service name"),
])
def test_bad_parameters_name_the_field(params: dict[str, Any], needle: str) -> None:
    with pytest.raises(RunbookError) as e:
        validate_params(Library().get("high-latency"), params)
    assert needle in str(e.value), str(e.value)
