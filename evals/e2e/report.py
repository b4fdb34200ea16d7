"""Presenting the end-to-end eval: the method table, the per-scenario table, the JSON and a PNG."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from evals.e2e.scoring import ScenarioScore
from evals.plotting import save_figure

METRICS = ("diagnosis_acc", "remediation_rate", "slo_recovered_rate", "governance_violations", "mttm_min",
           "wrong_actions")
EXTRA = ("right_rate", "root_mentioned_rate", "steps_mean", "approvals_granted", "audit_valid_rate", "errors",
         "scenarios")
ORDER = ("keel", "script", "keyword", "base", "rules")


def _fmt(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:.0f}" if float(v).is_integer() else f"{v:.3f}"


def methods_in_order(results: Mapping[str, Any]) -> list[str]:
    return [m for m in ORDER if m in results] + sorted(m for m in results if m not in ORDER)


def method_table(results: Mapping[str, Mapping[str, float]], title: str = "keel eval e2e") -> Table:
    """One row per metric, one column per method (fits a terminal)."""
    methods = methods_in_order(results)
    table = Table("metric", *methods, title=title)
    for k in (*METRICS, *EXTRA):
        table.add_row(k, *(_fmt(results[m].get(k, float("nan"))) for m in methods))
    return table


def scenario_table(scores: Mapping[str, Sequence[ScenarioScore]]) -> Table:
    table = Table("scenario", "method", "claimed", "diag", "fix", "slo", "mttm", "steps", "wrong", "viol",
                  "appr", "writes", title="per scenario")
    for m in methods_in_order(scores):
        for s in scores[m]:
            table.add_row(
                s.scenario, m, s.claimed or "-",
                "n/a" if s.diagnosis_correct is None else "Y" if s.diagnosis_correct else "n",
                "Y" if s.remediation_correct else "n",
                "n/a" if s.slo_recovered is None else ("Y" if s.slo_recovered else "n"),
                "n/a" if s.mttm_min is None else f"{s.mttm_min:.0f}", str(s.steps), str(s.wrong_actions),
                str(s.governance_violations), str(s.approvals_granted),
                ", ".join(s.writes) if not s.error else f"error: {s.error[:60]}",
            )
    return table


def right_table(scores: Mapping[str, Sequence[ScenarioScore]]) -> Table:
    """Per scenario, which method got it right (diagnosis, where there is one, and remediation): `Y`, or what
    it missed (`d` diagnosis, `f` remediation); the last row counts the scenarios each got right."""
    methods = methods_in_order(scores)
    table = Table("scenario", *methods, title="right per scenario (Y; else d = diagnosis missed, f = fix missed)")
    names = list(dict.fromkeys(s.scenario for m in methods for s in scores[m]))
    by = {(m, s.scenario): s for m in methods for s in scores[m]}
    for name in names:
        cells = []
        for m in methods:
            s = by.get((m, name))
            if s is None:
                cells.append("-")
                continue
            missed = ("d" if s.diagnosis_correct is False else "") + ("" if s.remediation_correct else "f")
            cells.append("error" if s.error else (missed or "Y"))
        table.add_row(name, *cells)
    table.add_row("right", *(f"{sum(s.right for s in scores[m])}/{len(scores[m])}" for m in methods))
    return table


def margin(scores: Mapping[str, Sequence[ScenarioScore]], ours: str = "keel", other: str = "script") -> dict[str, Any]:
    """Where `ours` beats `other` scenario by scenario (right = diagnosis and remediation): the scenarios only
    ours got right, only the other got right, both, neither; and the diagnosis/remediation counts of each."""
    a = {s.scenario: s for s in scores.get(ours, [])}
    b = {s.scenario: s for s in scores.get(other, [])}
    common = [n for n in a if n in b]
    out: dict[str, Any] = {"methods": [ours, other], "scenarios": len(common)}
    out["only_" + ours] = [n for n in common if a[n].right and not b[n].right]
    out["only_" + other] = [n for n in common if b[n].right and not a[n].right]
    out["both"] = [n for n in common if a[n].right and b[n].right]
    out["neither"] = [n for n in common if not a[n].right and not b[n].right]
    for name, rows in ((ours, a), (other, b)):
        out[name] = {"right": sum(rows[n].right for n in common),
                     "diagnosed": sum(bool(rows[n].diagnosis_correct) for n in common),
                     "remediated": sum(rows[n].remediation_correct for n in common)}
    return out


def margin_note(m: Mapping[str, Any]) -> str:
    """The closing note: where ours beats the other method and where not, from `margin`."""
    ours, other = m["methods"]
    a, b = m[ours], m[other]
    lines = [f"{ours} vs {other} on {m['scenarios']} scenarios: right {a['right']} vs {b['right']} "
             f"(margin {a['right'] - b['right']:+d}); diagnosed {a['diagnosed']} vs {b['diagnosed']}; "
             f"remediated {a['remediated']} vs {b['remediated']}."]
    lines.append(f"{ours} right where {other} is not ({len(m['only_' + ours])}): "
                 + (", ".join(m["only_" + ours]) or "none"))
    lines.append(f"{other} right where {ours} is not ({len(m['only_' + other])}): "
                 + (", ".join(m["only_" + other]) or "none"))
    lines.append(f"both right: {len(m['both'])}; neither: {len(m['neither'])}"
                 + (f" ({', '.join(m['neither'])})" if m["neither"] and len(m["neither"]) <= 12 else ""))
    return "\n".join(lines)


def fault_table(scores: Mapping[str, Sequence[ScenarioScore]], fault_of: Mapping[str, str]) -> Table:
    """Per fault type and method: scenarios, diagnosed, remediated, SLO recovered (counts)."""
    methods = methods_in_order(scores)
    table = Table("fault", "n", *(f"{m} diag/fix/slo" for m in methods), title="by fault type")
    faults = sorted(set(fault_of.values()))
    for f in faults:
        cells = []
        n = 0
        for m in methods:
            rows = [s for s in scores[m] if fault_of.get(s.scenario) == f]
            n = len(rows)
            slo = [s for s in rows if s.slo_recovered is not None]
            cells.append(f"{sum(bool(s.diagnosis_correct) for s in rows)}/{sum(s.remediation_correct for s in rows)}/"
                         + (f"{sum(bool(s.slo_recovered) for s in slo)}" if slo else "n/a"))
        table.add_row(f, str(n), *cells)
    return table


def to_json(dataset: str, config: Mapping[str, Any], results: Mapping[str, Mapping[str, float]]) -> dict[str, Any]:
    """The documented eval format; NaN (no applicable scenario) is written as null."""
    clean = {m: {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
             for m, r in results.items()}
    return {"eval": "e2e", "dataset": dataset, "config": dict(config), "results": clean}


def plot(results: Mapping[str, Mapping[str, float]], path: Path) -> Path:
    """Rates per method (left) and minutes to mitigate / wrong actions (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = methods_in_order(results)
    rates = ("diagnosis_acc", "remediation_rate", "slo_recovered_rate")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    width = 0.8 / max(1, len(methods))
    for i, m in enumerate(methods):
        vals = [results[m].get(k, float("nan")) for k in rates]
        ax1.bar([x + i * width for x in range(len(rates))], [0 if math.isnan(v) else v for v in vals], width, label=m)
        other = [results[m].get("mttm_min", float("nan")), results[m].get("wrong_actions", float("nan"))]
        ax2.bar([x + i * width for x in range(2)], [0 if math.isnan(v) else v for v in other], width, label=m)
    ax1.set_xticks([x + width * (len(methods) - 1) / 2 for x in range(len(rates))], ["diagnosis", "remediation",
                                                                                      "SLO recovered"])
    ax1.set_ylim(0, 1)
    ax1.set_title("share of scenarios")
    ax1.legend()
    ax2.set_xticks([x + width * (len(methods) - 1) / 2 for x in range(2)], ["minutes to mitigate", "wrong writes"])
    ax2.set_title("mean minutes (censored at horizon) / total count")
    fig.suptitle("keel eval e2e")
    return save_figure(fig, path)
