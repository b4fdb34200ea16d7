"""`keel eval e2e`: the end-to-end incident eval: the agent with the fine-tuned adapter (`keel`), the fixed
investigation script its training data follows (`script`), the agent with the keyword planner (`keyword`), the
agent with the base model (`base`) and the threshold rules (`rules`), all in the same run."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from cli.common import console, err_console, fail, write_json
from config.settings import get_settings

METHODS = ("keel", "script", "keyword", "base", "rules")
DESCRIBED = {"rules": "threshold rules through the gate",
             "script": "fixed script: root_cause_analysis on the entry service, then the write the top "
                       "candidate's signature suggests (the training data's investigation), through the gate",
             "keyword": "agent, keyword planner"}


def _planner(method: str, settings: Any) -> Any:
    """The planner of an agent method: `keel` with the configured adapter, `base` without one, `keyword` the
    keyword router."""
    from agent.planner import load_planner

    if method == "keyword":
        return load_planner("keyword")
    adapter = settings.planner_adapter if method == "keel" else "none"
    return load_planner(settings.planner, adapter=adapter)


def _shown(path: Path) -> str:
    """A path relative to the repository when it is inside it (so results do not name a home directory)."""
    root = Path(__file__).resolve().parents[1]
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return str(path)


def e2e(
    scenarios: Path | None = typer.Option(None, "--scenarios", help="scenario directory (default evals/scenarios/e2e)"),
    json_path: Path | None = typer.Option(None, "--json", help="write {eval, dataset, config, results} here"),
    methods: str = typer.Option(",".join(METHODS), help=f"comma-separated methods: {', '.join(METHODS)}"),
    limit: int = typer.Option(0, min=0, help="run only the first N scenarios (0: all)"),
    png: Path | None = typer.Option(None, help="draw the method comparison here (default: next to --json)"),
    details: bool = typer.Option(True, help="print the per-scenario table"),
    follow_up: str | None = typer.Option(None, help="one more message to the agent when its answer left the "
                                                    "cluster untouched (e.g. 'go ahead and mitigate it'); off"),
) -> None:
    """Every scenario in DIR, answered at autonomy 3 by each method; prints the table and writes JSON.

    The harness plays the on-call approver: it approves every pending approval (as principal e2e-approver)
    and counts them; wrong writes that were approved are still charged to the method.
    """
    from evals.e2e import harness
    from evals.e2e.report import (
        fault_table,
        margin,
        margin_note,
        method_table,
        plot,
        right_table,
        scenario_table,
        to_json,
    )
    from evals.e2e.rules import RulesResponder
    from evals.e2e.scenarios import DEFAULT_DIR, ScenarioError, load_dir
    from evals.e2e.scoring import aggregate
    from evals.e2e.script import ScriptResponder
    from evals.e2e.slo import ERROR_SLACK, HOLD_MIN, HORIZON_MIN, P99_FACTOR, P99_SLACK_MS

    chosen = [m.strip() for m in methods.split(",") if m.strip()]
    bad = [m for m in chosen if m not in METHODS]
    if bad or not chosen:
        fail(f"--methods: unknown {bad or chosen}; allowed: {', '.join(METHODS)}")
    directory = scenarios or DEFAULT_DIR
    try:
        cases = load_dir(directory)
    except (ScenarioError, ValueError, FileNotFoundError) as e:
        fail(str(e))
    if limit:
        cases = cases[:limit]
    settings = get_settings()
    responders: list[Any] = []
    skipped: dict[str, str] = {}
    for m in chosen:
        if m == "rules":
            responders.append(RulesResponder())
            continue
        if m == "script":
            responders.append(ScriptResponder())
            continue
        from evals.e2e.agent_responder import AgentResponder

        try:
            responders.append(AgentResponder(m, _planner(m, settings), step_limit=settings.step_limit,
                                             follow_up=follow_up))
        except Exception as e:  # a planner that cannot load is reported, never scored
            skipped[m] = f"planner did not load: {type(e).__name__}: {e}"
            err_console.print(f"[yellow]skipping {m}:[/] {skipped[m]}")
    if not responders:
        fail("no method could run: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()), code=1)

    def progress(method: str, name: str, s: Any, secs: float) -> None:
        yn = {True: "Y", False: "n"}
        diag = "n/a" if s.diagnosis_correct is None else yn[s.diagnosis_correct]
        mark = f"error: {s.error}" if s.error else f"diag {diag} fix {yn[s.remediation_correct]}"
        console.print(f"[dim]{method:5s} {name:40s} {mark}  {secs:.1f}s[/]")

    started = datetime.now(UTC).isoformat(timespec="seconds")
    t0 = time.perf_counter()
    scores = harness.run_eval(cases, responders, settings, progress=progress)
    wall = time.perf_counter() - t0
    results = {m: aggregate(s) for m, s in scores.items()}
    config = {
        "autonomy": harness.AUTONOMY,
        "methods": {
            **{r.name: DESCRIBED.get(r.name, f"agent, planner {settings.planner}, adapter "
                                             f"{settings.planner_adapter if r.name == 'keel' else 'none'}")
               for r in responders},
            **{m: f"skipped: {why}" for m, why in skipped.items()},
        },
        "scenarios": len(cases),
        "slo": f"symptom service p99 <= {P99_FACTOR} x no-fault p99 + {P99_SLACK_MS:g} ms and error rate <= "
               f"no-fault + {ERROR_SLACK}; recovered = holds over the last {HOLD_MIN} of {HORIZON_MIN} "
               f"simulated minutes after the request",
        "mttm": "minutes from the request to the start of the final good run; unrecovered count the horizon; "
                "latency_injection scenarios are n/a for SLO and mttm (no write fixes them)",
        "time": "one simulated minute per agent step; rules re-evaluate every 2 minutes for 4 rounds",
        "request": "one natural request per scenario, then the scenario's later turns (agent methods only)" + (
            f"; when the agent's answer left the cluster untouched, one follow-up in the same conversation: "
            f"{follow_up!r}" if follow_up else "; no follow-up"),
        "approvals": "the harness approves every pending approval as principal e2e-approver (role approver); "
                     "approvals_granted counts them",
        "wrong_actions": "total over scenarios",
        "remediation": "the expected write on the root cause (or the scenario's target); for remediation none no "
                       "write may run or be attempted (blocked or denied attempts count); writes before the turn "
                       "that approves or chooses the fix are wrong",
        "right_rate": "share of scenarios with diagnosis (where there is one) and remediation both right",
        "governance_violations": "executed writes re-checked against governance.decide from the audit log, "
                                 "plus writes that reached the simulator without an audited action",
        "started": started,
        "wall_s": round(wall, 1),
    }
    if details:
        console.print(scenario_table(scores))
    console.print(right_table(scores))
    console.print(fault_table(scores, {c.name: c.fault for c in cases}))
    console.print(method_table(results))
    for name, why in skipped.items():
        console.print(f"[yellow]{name}: {why}[/]")
    if "keel" in scores and "script" in scores:
        versus = margin(scores, "keel", "script")
        config["keel_vs_script"] = versus
        console.print(margin_note(versus))
    console.print(f"{len(cases)} scenarios from {directory}, {wall:.0f}s. Approvals granted by the harness: "
                  + ", ".join(f"{m} {int(r['approvals_granted'])}" for m, r in results.items()))
    if json_path is not None:
        write_json(json_path, to_json(_shown(directory), config, results))
        write_json(json_path.with_suffix(".scenarios.json"),
                   {m: [s.to_dict() for s in ss] for m, ss in scores.items()})
        console.print(f"wrote {json_path} (per-scenario rows: {json_path.with_suffix('.scenarios.json')})")
    out_png = png or (json_path.with_suffix(".png") if json_path else None)
    if out_png is not None:
        console.print(f"wrote {plot(results, out_png)}")
