"""`keel bench NAME`: benchmarks that print medians and ratios and write {"bench", "figures"} JSON."""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import typer
from rich.table import Table

from cli import bench_llama_cmd, bench_soak_cmd
from cli.common import TOPOLOGY_HELP, chosen_topology, console, fail
from cli.common import bench_report as report
from tools.backends.sim.cluster import Simulator
from tools.backends.sim.faults import Fault
from tools.backends.sim.load import LoadCurve

app = typer.Typer(help="Benchmarks (medians over repeats).", no_args_is_help=True)

JsonOpt = typer.Option(None, "--json", help="write {bench, figures} to this path")
app.command("soak")(bench_soak_cmd.soak)
app.command("llama")(bench_llama_cmd.bench_llama)


@app.command("sim")
def bench_sim(
    repeats: int = typer.Option(7, min=1, help="simulated days to time"),
    clones: int = typer.Option(200, min=1, help="clones to time"),
    json_path: Path | None = JsonOpt,
    topology: str | None = typer.Option(None, "--topology", help=TOPOLOGY_HELP),
) -> None:
    """One simulated day (1440 one-minute steps, all services, two faults) and clone() of a day-old cluster.

    The faults hit the topology's second and fourth services (Online Boutique: cartservice, currencyservice).
    """
    from tools.services import current_topology

    topo = chosen_topology(topology) or current_topology()
    names = topo.names
    faults = [Fault("memory_leak", names[1 % len(names)], 300, 600, 0.5),
              Fault("cpu_hog", names[3 % len(names)], 900, 60, 0.8)]
    console.print(f"topology {topo.name}: {len(topo)} services, {len(topo.edges)} calls")
    days, cpu = [], []
    sim = Simulator(topology=topo)
    for r in range(repeats):
        sim = Simulator(LoadCurve.diurnal(seed=r), faults, seed=r, topology=topo)
        t0, c0 = time.perf_counter(), time.process_time()
        sim.step(1440)
        days.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    clone_times = []
    for _ in range(clones):
        t0 = time.perf_counter()
        sim.clone()
        clone_times.append((time.perf_counter() - t0) * 1000)
    day_s, clone_ms = statistics.median(days), statistics.median(clone_times)
    console.print(f"day: median {day_s:.3f}s over {repeats} (target < 0.5 s, {0.5 / day_s:.1f}x headroom); "
                  f"clone: median {clone_ms:.3f} ms over {clones} (target < 5 ms, {5 / clone_ms:.1f}x headroom)")
    load1 = os.getloadavg()[0]
    console.print(f"CPU time per day: median {statistics.median(cpu):.3f}s (load average {load1:.1f} on "
                  f"{os.cpu_count()} CPUs: wall time grows with other work on the machine)")
    report("sim", {"day_s": day_s, "day_cpu_s": statistics.median(cpu), "clone_ms": clone_ms},
           {"day_s": "< 0.5", "clone_ms": "< 5"}, json_path)


@app.command("audit")
def bench_audit(
    appends: int = typer.Option(2000, min=10, help="appends to time per run and measurement"),
    threads: int = typer.Option(16, min=1, max=256, help="concurrent appenders for appends_per_s"),
    verify_records: int = typer.Option(100_000, min=100, help="size of the log whose verification is timed"),
    repeats: int = typer.Option(3, min=1, help="runs of each measurement (medians are reported)"),
    directory: Path | None = typer.Option(None, "--dir", help="where to put the scratch log (default: $KEEL_HOME)"),
    json_path: Path | None = JsonOpt,
) -> None:
    """Durable audit appends per second (concurrent and single) and verification speed.

    appends_per_s: durable (synchronous=FULL) appends per second from --threads concurrent appenders,
    which group commit writes several to a transaction; appends_single_per_s: one appender alone; the
    WAL+NORMAL rate and the disk's bare fsync rate are printed alongside.
    """
    from config.settings import get_settings
    from governance import bench

    settings = get_settings()
    where = directory or settings.home / "bench"
    r = bench.run(where, appends=appends, verify_records=verify_records, repeats=repeats, threads=threads)
    console.print(
        f"appends (durable, synchronous=FULL): median {r.appends_per_s:.0f}/s from {r.threads} concurrent appenders "
        f"(target >= 1000/s, {r.appends_per_s / 1000:.1f}x; {r.records_per_commit:.1f} records per commit), "
        f"{r.appends_single_per_s:.0f}/s from one appender alone "
        f"(group commit {r.appends_per_s / r.appends_single_per_s:.1f}x). "
        f"Bare write+fdatasync on this disk {r.fsync_per_s:.0f}/s: concurrent "
        f"{r.appends_per_s / r.fsync_per_s:.1f}x, single {r.appends_single_per_s / r.fsync_per_s:.2f}x of it "
        f"(one appender pays one fsync per append). WAL+NORMAL (not power-loss safe), one appender: "
        f"{r.appends_normal_per_s:.0f}/s. verify: median {r.verify_per_s:.0f} records/s over {r.records_verified} "
        f"records ({r.verify_cpu_per_s:.0f} per CPU second) (target >= 50000/s, {r.verify_per_s / 50_000:.1f}x). "
        f"Load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    if settings.audit_sync != "full":
        console.print(f"note: this installation appends with synchronous={settings.audit_sync.upper()} "
                      f"(audit_sync); the figures above are for FULL")
    report("audit", {"appends_per_s": r.appends_per_s, "appends_single_per_s": r.appends_single_per_s,
                     "appends_normal_per_s": r.appends_normal_per_s, "records_per_commit": r.records_per_commit,
                     "appenders": float(r.threads), "fsync_per_s": r.fsync_per_s, "verify_per_s": r.verify_per_s,
                     "verify_cpu_per_s": r.verify_cpu_per_s},
           {"appends_per_s": ">= 1000", "verify_per_s": ">= 50000"}, json_path)


@app.command("agent")
def bench_agent(
    conversations: str = typer.Option("20", help="conversations started at once; a comma list (e.g. 1,5,20) runs "
                                                 "each level in turn"),
    scenario: Path | None = typer.Option(None, help="scenario for the embedded simulator (default: serve's)"),
    planner: str | None = typer.Option(None, help="planner backend (default: KEEL_PLANNER)"),
    paths: str = typer.Option("both", help="llama planner: both | batched | unbatched (both: the same levels "
                                           "with batched decoding and one call at a time, interleaved)"),
    json_path: Path | None = JsonOpt,
) -> None:
    """Concurrent conversations end to end over HTTP: latency p50/p95, errors, audit chain valid afterwards.

    With the llama planner each level runs with batched decoding and with the unbatched path (one model call
    at a time) in the same process; tokens/s is what the model thread generated per second of the run."""
    from agent.bench_agent import SweepRow, parse_levels, run_sweep
    from agent.composition import planner_from_settings
    from config.settings import get_settings

    try:
        levels = parse_levels(conversations)
    except ValueError as e:
        fail(str(e))
    if paths not in ("both", "batched", "unbatched"):
        fail(f"--paths: got {paths!r}; allowed: both, batched, unbatched")
    settings = get_settings(**({"planner": planner} if planner else {}))
    planners = {}
    try:
        if settings.planner == "llama":
            modes = ("unbatched", "batched") if paths == "both" else (paths,)
            for mode in modes:
                p = planner_from_settings(settings.model_copy(update={"planner_batching": mode == "batched"}))
                warm = getattr(p, "warm", None)
                if callable(warm):
                    warm()
                planners[mode] = p
        else:
            planners[settings.planner] = planner_from_settings(settings)
    except FileNotFoundError as e:
        fail(str(e))
    table = Table("path", "n", "p50 ms", "p95 ms", "max ms", "err", "audit", "wall s", "tok/s", "tok/step", "reused",
                  title="keel bench agent (n conversations at once; tok/s: tokens the model thread generated per "
                        "second; tok/step: sequences per batch step; reused: prompt tokens from cached prefixes)")
    figures: dict[str, float] = {}
    bad = False

    def on_row(row: SweepRow) -> None:
        nonlocal bad
        f = row.figures()
        audit = "valid" if f["audit_valid"] else "INVALID"
        reused = f"{f['reused_tokens'] / f['prompt_tokens']:.0%}" if f["prompt_tokens"] and row.mode == "batched" \
            else "-"
        table.add_row(row.mode, str(row.conversations), f"{f['p50_ms']:.0f}", f"{f['p95_ms']:.0f}",
                      f"{f['max_ms']:.0f}", f"{f['errors']:.0f}", audit[:5],
                      f"{f['wall_s']:.1f}", f"{f['tokens_per_s']:.1f}", f"{f['tokens_per_step']:.2f}", reused)
        console.print(f"{row.mode}, {row.conversations} conversations: p50 {f['p50_ms']:.0f} ms, p95 "
                      f"{f['p95_ms']:.0f} ms, {f['errors']:.0f} errors, audit {audit}")
        for t in row.result.turns:
            if t.error:
                console.print(f"[red]error[/] {t.request!r}: {t.error}")
        bad = bad or bool(f["errors"]) or not f["audit_valid"]
        figures.update({f"{row.mode}_c{row.conversations}_{k}": v for k, v in f.items()})
        default = "batched" if settings.planner_batching else "unbatched"
        if len(levels) == 1 and (len(planners) == 1 or row.mode == default):
            figures.update(f)  # the single-level keys of earlier versions: the configured path

    run_sweep(levels, planners, settings=settings, scenario=scenario, on_row=on_row)
    console.print(table)
    if "batched" in planners and "unbatched" in planners:
        for n in levels:
            b, u = figures.get(f"batched_c{n}_p95_ms"), figures.get(f"unbatched_c{n}_p95_ms")
            if b and u:
                figures[f"c{n}_p95_ratio_batched_over_unbatched"] = b / u
    load1 = os.getloadavg()[0]
    console.print(f"load average {load1:.1f} on {os.cpu_count()} CPUs (latencies grow with other work on the machine)")
    report("agent", figures, {"errors": "0", "audit_valid": "1", "batched_c1_p50_ms": "<= 3000",
                              "batched_c20_p95_ms": "<= 15000"}, json_path)
    if bad:
        raise typer.Exit(1)


@app.command("policy")
def bench_policy(
    repeats: int = typer.Option(2000, min=1, help="decisions to time"),
    policy: Path | None = typer.Option(None, help="policy file (default: the shipped scaling policy)"),
    json_path: Path | None = JsonOpt,
) -> None:
    """One scaling decision of the shipped policy (forecast, features, safety-floor mask, forward pass) and one
    HPA reconcile minute in the same run."""
    from finetune.policy.bench import time_decisions
    from finetune.policy.recommend import DEFAULT_POLICY

    figures = time_decisions(policy or DEFAULT_POLICY, repeats)
    console.print(f"decision: median {figures['decision_ms']:.4f} ms over {repeats} "
                  f"(target <= 1 ms, {1 / figures['decision_ms']:.0f}x headroom); "
                  f"forecast {figures['forecast_ms']:.4f} ms; HPA minute {figures['hpa_decision_ms']:.4f} ms "
                  f"(decision / HPA {figures['decision_vs_hpa_ratio']:.1f}x)")
    report("policy", figures, {"decision_ms": "<= 1"}, json_path)


@app.command("rca")
def bench_rca(
    services: str = typer.Option("11,50,200,1000", "--services", help="comma-separated system sizes (services)"),
    repeats: int = typer.Option(5, "--repeats", min=1, max=100, help="incidents (topologies) per size"),
    seed: int = typer.Option(0, "--seed", min=0, help="topology and incident seed"),
    json_path: Path | None = JsonOpt,
) -> None:
    """Median seconds per root-cause analysis and AC@1 per system size, with the growth exponent.

    Each size gets `repeats` layered topologies with one injected fault each; the analysis runs as the tool
    runs it (onset detected). Targets: <= 5 s at 200 services, <= 30 s at 1,000 (2 cores).
    """
    from rich.table import Table

    from cli.common import fail, write_json
    from evals import rca_bench

    try:
        sizes = [int(x) for x in services.split(",") if x.strip()]
    except ValueError:
        fail(f"--services: expected comma-separated integers like 11,50,200; got {services!r}")
    if not sizes or any(not 2 <= s <= 5000 for s in sizes):
        fail(f"--services: sizes must be within 2..5000; got {services!r}")
    table = Table("services", "layers", "runs", "median s", "AC@1", title="keel bench rca")
    figures: dict[str, float] = {}
    results = []
    for size in sizes:
        r = rca_bench.run_size(size, repeats, seed)
        results.append(r)
        table.add_row(str(size), str(rca_bench.depth_for(size)), str(r.runs), f"{r.median_s:.3f}", f"{r.ac1:.2f}")
        figures[f"median_s_{size}"] = r.median_s
        figures[f"ac1_{size}"] = r.ac1
    console.print(table)
    exponent = rca_bench.growth_exponent(results)
    if exponent == exponent:
        figures["growth_exponent"] = exponent
        console.print(f"growth exponent (log seconds over log services): {exponent:.2f}")
    else:
        console.print("growth exponent: n/a (fewer than two sizes ran)")
    for size, target in ((200, 5.0), (1000, 30.0)):
        key = f"median_s_{size}"
        if key in figures:
            console.print(f"{size} services: {figures[key]:.2f} s (target <= {target:g} s, "
                          f"{'met' if figures[key] <= target else 'NOT met'})")
    console.print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    write_json(json_path, {"bench": "rca", "figures": figures})
