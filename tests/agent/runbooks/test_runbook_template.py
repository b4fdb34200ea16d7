"""The runbook expression language: values, lookups, conditions, errors naming the path, and no escape hatch."""

from __future__ import annotations

import pytest

from agent.runbooks.template import TemplateError, eval_expr, lookups, parse, render, truthy

ENV = {
    "params": {"service": "checkoutservice", "threshold": 500},
    "steps": {
        "p99": {"status": "ok", "data": {"current": 812.5, "service": "checkoutservice"}},
        "rca": {"status": "ok", "data": {"ranking": [{"service": "paymentservice", "score": 0.91}]}},
        "rec": {"status": "skipped", "data": None},
    },
}


@pytest.mark.parametrize(("expr", "value"), [
    ("params.service", "checkoutservice"),
    ("steps.rca.data.ranking[0].service", "paymentservice"),
    ("steps.rca.data['ranking'][-1].score", 0.91),
    ("steps.p99.data.current > params.threshold", True),
    ("steps.p99.data.current > 500 and steps.rca.status == 'ok'", True),
    ("not steps.p99.data.current <= 500", True),
    ("steps.rec.status == 'ok' and steps.rec.data.recommended > 1", False),  # short-circuit: data is null
    ("steps.rec.status != 'ok' or steps.rec.data.x", True),
    ("'pay' in steps.rca.data.ranking[0].service", True),
    ("steps.rca.data.ranking[0].service if steps.rca.status == 'ok' else params.service", "paymentservice"),
    ("params.service if steps.rec.status == 'ok' else 'frontend'", "frontend"),
    ("len(steps.rca.data.ranking) + 2 * 3 - 10 // 4 % 3", 5),
    ("max(1, round(steps.p99.data.current / 100))", 8),
    ("-params.threshold", -500),
    ("[1, 2, 3][1]", 2),
    ("lower('ABC') == 'abc' and null == None and true", True),
])
def test_expressions(expr: str, value: object) -> None:
    assert eval_expr(expr, ENV) == value


def test_render_keeps_types_for_a_single_placeholder_and_formats_text() -> None:
    assert render("{{ params.threshold }}", ENV) == 500
    assert render({"a": ["{{ steps.p99.data.current }}"], "b": 3}, ENV) == {"a": [812.5], "b": 3}
    assert render("p99 {{ steps.p99.data.current }} ms on {{ params.service }}", ENV) == \
        "p99 812.5 ms on checkoutservice"
    assert render("plain text", ENV) == "plain text"
    assert truthy("{{ steps.p99.data.current > 800 }}", ENV) is True


@pytest.mark.parametrize(("expr", "needle"), [
    ("steps.rca.data.ranking[3].service", "steps.rca.data.ranking[3] is out of range (length 1)"),
    ("steps.p99.data.median", "steps.p99.data has no key 'median' (keys: current, service)"),
    ("steps.rec.data.recommended", "steps.rec.data is null"),
    ("secrets.token", "unknown name 'secrets'; available: params, steps"),
    ("steps.p99.data.current > 'x'", "cannot compare"),
    ("params.service * params.service", "cannot"),
])
def test_evaluation_errors_name_the_path(expr: str, needle: str) -> None:
    with pytest.raises(TemplateError, match=None) as e:
        eval_expr(expr, ENV)
    assert needle in str(e.value)


@pytest.mark.parametrize("src", [
    "__import__('os').system('true')", "open('/etc/passwd')", "params.__class__", "params.service.__len__()",
    "(lambda: 1)()", "1 +", "steps.[0]", "a = 1", "params; 1", "`x`", "{{ x }}", "",
])
def test_no_python_escape_hatch(src: str) -> None:
    with pytest.raises(TemplateError):
        eval_expr(src, ENV)


def test_attribute_access_only_reads_mapping_keys() -> None:
    # a dunder name is just a missing key of a dict, never a Python attribute
    with pytest.raises(TemplateError, match="has no key '__class__'"):
        eval_expr("params.__class__", ENV)


def test_lookups_lists_every_reference() -> None:
    chains = list(lookups(parse("steps.a.data[steps.b.data.i].x > params.t")))
    assert ["steps", "a", "data"] in chains and ["steps", "b", "data", "i"] in chains and ["params", "t"] in chains
