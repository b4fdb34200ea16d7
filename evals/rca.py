"""RCA evaluation: the method and the baselines on labelled cases, with AC@1, AC@3, Avg@5 and runtime.

Onset modes: `exact` gives every method the labelled onset, `late60` the onset 60 s late, `detect`
the onset found by the method's change-point detector (the same onset is handed to every baseline and
ablation). `keel` is the shipped configuration; on a development dataset `keel_left_out` is the
configuration chosen without that dataset (`causal.config.LEFT_OUT`), so the in-sample and the left-out
figures come from the same run. Ablations (`keel_no_pc`, `keel_no_graph`, `keel_scores_only`) switch off PC,
the call graph, or both, in the shipped configuration; `keel_with_pc` switches PC on (asked for by name).
A baseline that cannot run on a case (PC-PageRank on large systems) is n/a there, with the reason, and its
figures cover the cases it ran on.
Faults marked code-level by the loader (Nezha's return/exception) are scored in their own group and
left out of the headline figures.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from causal.baselines import BASELINES, NotApplicable
from causal.case import Case
from causal.config import LEFT_OUT, SHIPPED
from causal.pipeline import prepare, rank_prepared
from evals.calibration import calibration_table
from evals.plotting import save_figure

ONSET_MODES = ("exact", "late60", "detect")
METHODS = ("keel", *BASELINES)
ABLATIONS = ("keel_no_pc", "keel_no_graph", "keel_scores_only")
EXTRA = ("keel_with_pc",)  # the shipped configuration with PC switched on (when it ships without it)
ALL_METHODS = ("keel", "keel_left_out", *ABLATIONS, *EXTRA, *BASELINES)
LATE_S = 60.0


@dataclass
class CaseResult:
    name: str
    fault: str
    root_cause: str
    code_level: bool
    onset_error_s: float | None  # onset used minus labelled onset
    ranks: dict[str, int | None] = field(default_factory=dict)  # 1-based; None when not ranked
    seconds: dict[str, float] = field(default_factory=dict)
    top: dict[str, list[str]] = field(default_factory=dict)
    confidence: float | None = None  # keel's calibrated confidence in its first candidate
    not_applicable: dict[str, str] = field(default_factory=dict)  # method -> why it did not run


def rank_of(ranking: Sequence[str], truth: str) -> int | None:
    return ranking.index(truth) + 1 if truth in ranking else None


def metrics(ranks: Sequence[int | None], seconds: Sequence[float]) -> dict[str, float]:
    """AC@1, AC@3, Avg@5 (mean of AC@1..AC@5) and the median runtime."""
    n = len(ranks)
    if n == 0:
        return {"ac1": math.nan, "ac3": math.nan, "avg5": math.nan, "median_s": math.nan, "n": 0}

    def ac(k: int) -> float:
        return sum(1 for r in ranks if r is not None and r <= k) / n

    return {
        "ac1": ac(1), "ac3": ac(3), "avg5": sum(ac(k) for k in range(1, 6)) / 5,
        "median_s": statistics.median(seconds) if seconds else math.nan, "n": n,
    }


def _variant(name: str, dataset: str | None) -> Any:
    if name == "keel_left_out":
        return LEFT_OUT.get(dataset or "")
    if name == "keel_no_pc":
        return replace(SHIPPED, causal=False)
    if name == "keel_with_pc":
        return replace(SHIPPED, causal=True)
    if name == "keel_no_graph":
        return replace(SHIPPED, graph="none", infer=0.0)
    if name == "keel_scores_only":
        return replace(SHIPPED, causal=False, graph="none", infer=0.0)
    return None


def run_case(case: Case, mode: str, methods: Sequence[str], dataset: str | None = None) -> CaseResult:
    """Every method on one case; `dataset` names a development dataset for `keel_left_out`."""
    if mode not in ONSET_MODES:
        raise ValueError(f"onset: got {mode!r}; allowed: {', '.join(ONSET_MODES)}")
    if case.root_cause is None:
        raise ValueError(f"case {case.name} has no root_cause label")
    if case.onset is None and mode != "detect":
        raise ValueError(f"case {case.name} has no onset; use --onset detect")
    truth = case.service(case.root_cause)
    given = None if mode == "detect" else case.onset + (LATE_S if mode == "late60" else 0.0)  # type: ignore[operator]
    t0 = time.perf_counter()
    prepared = prepare(case, onset=given, detect=mode == "detect")
    result = rank_prepared(prepared)
    keel_s = time.perf_counter() - t0
    onset = result.onset
    res = CaseResult(case.name, case.fault or "unknown", truth, bool(case.meta.get("code_level")),
                     None if case.onset is None else onset - case.onset, confidence=result.confidence)
    if "keel" in methods:
        res.ranks["keel"] = rank_of(result.services(), truth)
        res.seconds["keel"] = keel_s
        res.top["keel"] = result.services()[:5]
    for name in methods:
        if name == "keel":
            continue
        t0 = time.perf_counter()
        if name in BASELINES:
            try:
                ranking = BASELINES[name](case, onset)
            except NotApplicable as e:
                res.not_applicable[name] = str(e)
                continue
            extra = 0.0
        else:
            cfg = _variant(name, dataset)
            if cfg is None:
                res.not_applicable[name] = f"no configuration chosen without dataset {dataset!r}"
                continue
            ranking = rank_prepared(prepared, cfg).services()
            extra = prepared.seconds  # the shared preparation is part of every variant's time
        res.seconds[name] = time.perf_counter() - t0 + extra
        res.ranks[name] = rank_of(ranking, truth)
        res.top[name] = ranking[:5]
    return res


def run(cases: Sequence[Case], mode: str, methods: Sequence[str] = METHODS,
        progress: Callable[[CaseResult], None] | None = None, dataset: str | None = None) -> list[CaseResult]:
    out = []
    for c in cases:
        r = run_case(c, mode, methods, dataset)
        out.append(r)
        if progress is not None:
            progress(r)
    return out


def _figures(rows: Sequence[CaseResult], m: str) -> dict[str, float]:
    ran = [r for r in rows if m in r.ranks]
    out = metrics([r.ranks[m] for r in ran], [r.seconds[m] for r in ran])
    out["na"] = len(rows) - len(ran)
    return out


def summarise(results: Sequence[CaseResult], methods: Sequence[str]) -> dict[str, dict[str, dict[str, float]]]:
    """{group: {method: metrics}} for each fault type, `overall` (metric-visible faults), `code_level`, `all`.
    `na` counts the cases a method could not run on (its figures cover the others)."""
    groups: dict[str, list[CaseResult]] = {}
    for r in results:
        groups.setdefault(r.fault, []).append(r)
    visible = [r for r in results if not r.code_level]
    code = [r for r in results if r.code_level]
    out: dict[str, dict[str, dict[str, float]]] = {}
    for g in sorted(groups, key=lambda g: (groups[g][0].code_level, g)):
        out[g] = {m: _figures(groups[g], m) for m in methods}
    out["overall"] = {m: _figures(visible, m) for m in methods}
    if code:
        out["code_level"] = {m: _figures(code, m) for m in methods}
        out["all"] = {m: _figures(results, m) for m in methods}
    return out


def calibration(results: Sequence[CaseResult]) -> list[dict[str, float]]:
    """keel's confidence buckets against its observed top-1 accuracy (metric-visible faults)."""
    rows = [r for r in results if not r.code_level and r.confidence is not None and "keel" in r.ranks]
    return calibration_table([r.confidence for r in rows], [r.ranks["keel"] == 1 for r in rows])  # type: ignore[misc]


def payload(dataset: str, path: str, mode: str, results: Sequence[CaseResult], methods: Sequence[str],
            extra_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """The documented eval JSON; `results` holds the headline (metric-visible faults), breakdowns under extra keys."""
    summary = summarise(results, methods)
    headline = {m: {k: v for k, v in summary["overall"][m].items() if k not in ("n", "na")} for m in methods}
    errors = [abs(r.onset_error_s) for r in results if r.onset_error_s is not None]
    na: dict[str, dict[str, Any]] = {}
    for r in results:
        for m, why in r.not_applicable.items():
            na.setdefault(m, {"cases": 0, "reason": why})["cases"] += 1
    return {
        "eval": "rca",
        "dataset": dataset,
        "config": {
            "path": path, "onset": mode, "methods": list(methods), "cases": len(results),
            "headline": "overall: faults visible in metrics (code-level faults in by_group.code_level)",
            "keel": SHIPPED.label(),
            **({"keel_left_out": LEFT_OUT[dataset].label()} if dataset in LEFT_OUT else {}),
            "not_applicable": na,
            "onset_error_s_median": statistics.median(errors) if errors else None,
            "onset_error_s_p90": float(np.percentile(errors, 90)) if errors else None,
            "onset_within_60s": sum(e <= 60 for e in errors) / len(errors) if errors else None,
            **(extra_config or {}),
        },
        "results": headline,
        "by_group": summary,
        "calibration": calibration(results),
        "cases": [
            {"name": r.name, "fault": r.fault, "root_cause": r.root_cause, "code_level": r.code_level,
             "onset_error_s": r.onset_error_s, "ranks": r.ranks, "seconds": r.seconds, "top": r.top,
             "confidence": r.confidence, "not_applicable": r.not_applicable}
            for r in results
        ],
    }


def plot(data: dict[str, Any], path: Any, title: str) -> None:
    """Grouped bars: AC@1, AC@3, Avg@5 per method (headline), and AC@1 per fault type per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(data["results"])
    groups = [g for g in data["by_group"] if g not in ("overall", "all")]
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [1, 1.6]})
    width = 0.8 / len(methods)
    for i, m in enumerate(methods):
        vals = [data["results"][m][k] for k in ("ac1", "ac3", "avg5")]
        axes[0].bar([x + i * width for x in range(3)], vals, width, label=m)
        gv = [data["by_group"][g][m]["ac1"] for g in groups]
        axes[1].bar([x + i * width for x in range(len(groups))], gv, width, label=m)
    axes[0].set_xticks([x + width * (len(methods) - 1) / 2 for x in range(3)], ["AC@1", "AC@3", "Avg@5"])
    axes[0].set_title("overall (metric-visible faults)")
    axes[1].set_xticks([x + width * (len(methods) - 1) / 2 for x in range(len(groups))], groups, rotation=20)
    axes[1].set_title("AC@1 per fault type")
    for ax in axes:
        ax.set_ylim(0, 1.05)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(methods), fontsize=9, frameon=False)
    fig.suptitle(title)
    save_figure(fig, path, rect=(0, 0.07, 1, 1))
