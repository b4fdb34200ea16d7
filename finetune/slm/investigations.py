"""Whole-incident planner examples: symptom request -> root-cause analysis -> (logs) -> mitigation -> answer.

Each script injects a random fault (sometimes with a red herring: an unrelated deploy or a mild traffic rise
elsewhere) into a fresh simulator, phrases an operator's symptom report about a service the fault reaches
(the faulty one or a caller), and runs the calls an experienced on-call engineer makes, with the real tools:
root_cause_analysis on the symptom, optionally the top candidate's logs, then the write its signature
suggests (restart, rollback, or recommend_scaling followed by scale_service to the recommendation), and a
short answer that names the root cause. The script follows what the tools say (not the injected truth), so
the model learns to act on evidence. A write is sometimes shown as denied by governance or by a person.
recommend_scaling results are synthesised in the tool's data shape (current replicas from the simulator, a
proportional CPU rule for the target): the scaling policy is trained and shipped on its own schedule, and
the planner only has to carry the recommended number over to scale_service.
Request families split train/dev like the single-step templates (`is_dev_family`).
"""

from __future__ import annotations

import math
import random
from typing import Any

from finetune.slm.data import is_dev_family, render
from finetune.slm.styles import stylise
from finetune.slm.templates import FAMILIES
from finetune.slm.trajectories import ScriptRun
from tools.backends.sim.cluster import Simulator
from tools.backends.sim.faults import FAULT_TYPES, Fault
from tools.backends.sim.load import LoadCurve
from tools.backends.sim_backend import sim_context
from tools.envelope import ToolResult
from tools.services import current_topology

# How users name the part of the shop that hurts, per service (redis-cart is only ever reached via its caller).
AREAS: dict[str, list[str]] = {
    "frontend": ["the site", "the website", "the storefront", "the home page", "the shop", "the web frontend",
                 "every page", "the landing page", "our web app", "the front end"],
    "checkoutservice": ["checkout", "the checkout flow", "placing orders", "order placement", "the checkout page",
                        "the checkout service"],
    "cartservice": ["the cart", "add to cart", "the shopping cart", "the basket", "cart service"],
    "paymentservice": ["payments", "the payment step", "card payments", "payment processing"],
    "productcatalogservice": ["product pages", "the product catalog", "browsing products", "product listings",
                              "search results"],
    "recommendationservice": ["recommendations", "the recommendations widget", "recs", "the 'you may also like' box"],
    "currencyservice": ["currency conversion", "prices in other currencies", "the currency switcher"],
    "shippingservice": ["shipping quotes", "shipping", "delivery estimates"],
    "emailservice": ["order confirmation emails", "confirmation mail"],
    "adservice": ["ads", "the ad banner", "the ads on product pages"],
}

SITE_AREAS = AREAS["frontend"]  # how users name the entry service of any topology

# Symptom families: (text, kind) with kind "slow" (latency_p99, the default metric) or "errors" (error_rate).
# `{area}` is a phrase from AREAS; families without it name no service.
SYMPTOMS: list[tuple[str, str]] = [
    ("{area} is slow", "slow"), ("{area} is really slow today", "slow"), ("{area} got slow", "slow"),
    ("why is {area} so slow?", "slow"), ("{area} is slow, what's going on?", "slow"),
    ("users complain that {area} is slow", "slow"), ("{area} latency is through the roof", "slow"),
    ("{area} feels sluggish", "slow"), ("{area} keeps timing out", "slow"), ("p99 for {area} spiked", "slow"),
    ("{area} is throwing errors", "errors"), ("{area} is failing", "errors"), ("users see errors on {area}", "errors"),
    ("lots of 500s on {area}", "errors"), ("{area} is broken", "errors"), ("{area} is erroring out", "errors"),
    ("{area} is down for some users", "errors"), ("{area} is slow and sometimes fails", "errors"),
    ("something is wrong with {area}, please look", "slow"), ("investigate {area} and fix it", "slow"),
    ("alert: {area} SLO burn rate high", "slow"), ("we're getting paged for {area} errors", "errors"),
    ("customers can't use {area}", "errors"), ("what's wrong with {area}?", "slow"),
    ("{area} is degraded, can you sort it out", "slow"), ("{area} errors are spiking, fix it", "errors"),
    ("figure out why {area} is slow and mitigate", "slow"), ("{area} response times doubled", "slow"),
    ("complaints about {area} failing", "errors"), ("{area} went red on the dashboard", "slow"),
    ("everything is slow", "slow"), ("users are seeing errors", "errors"), ("something is broken in prod", "errors"),
    ("we have an incident, pages are slow", "slow"), ("requests are failing all over the place", "errors"),
    ("the latency alert is firing", "slow"), ("error rate alert fired, take a look", "errors"),
    ("{area} is crawling", "slow"), ("{area} returns 503s", "errors"), ("{area} hangs forever", "slow"),
    ("hey, {area} is super slow rn", "slow"), ("{area} keeps erroring, pls help", "errors"),
]

ACTION_WORDS = {"restart_service": "Restarted", "rollback_deployment": "Rolled back", "scale_service": "Scaled"}


def _symptom_request(rng: random.Random, split: str, symptom: str) -> tuple[str, dict[str, Any], str] | None:
    """(request, root_cause_analysis args, family) for a symptom seen on `symptom`; None if it has no area."""
    fams = [(i, t) for i, t in enumerate(SYMPTOMS) if is_dev_family("symptom", i) == (split == "dev")]
    idx, (text, kind) = rng.choice(fams)
    args: dict[str, Any] = {}
    if "{area}" in text:
        areas = AREAS.get(symptom) or (SITE_AREAS if symptom == current_topology().entry else None)
        if areas is None:
            return None
        text = text.format(area=rng.choice(areas))
        args["service"] = symptom
    if kind == "errors":
        args["metric"] = "error_rate"
    return stylise(text, rng), args, f"symptom.{idx}"


def _template_request(rng: random.Random, split: str, symptom: str) -> tuple[str, dict[str, Any], str]:
    """A root-cause request from the single-step templates that names the symptom service."""
    fams = [(i, t) for i, t in enumerate(FAMILIES["root_cause_analysis"])
            if is_dev_family("root_cause_analysis", i) == (split == "dev") and "{svc}" in t[0]]
    idx, tpl = rng.choice(fams)
    request, args = render("root_cause_analysis", tpl, rng, service=symptom)
    return request, args, f"root_cause_analysis.{idx}"


def _incident(rng: random.Random) -> tuple[Simulator, Fault]:
    topo = current_topology()
    fault = Fault(rng.choice(list(FAULT_TYPES)), rng.choice(topo.names), start=rng.randint(12, 40), duration=240,
                  intensity=round(rng.uniform(0.5, 1.0), 2))
    others = [s for s in topo.names if s != fault.service]
    faults = [fault]
    if rng.random() < 0.2:  # a mild, unrelated traffic rise elsewhere
        faults.append(Fault("traffic_spike", rng.choice(others), start=rng.randint(5, 40), duration=240,
                            intensity=0.25))
    sim = Simulator(LoadCurve.diurnal(peak_rps=rng.choice([200, 300, 400, 500]), seed=rng.randint(0, 99)),
                    faults, seed=rng.randint(0, 10_000), topology=topo)
    if rng.random() < 0.3:  # a harmless deploy of another service around the same time
        sim.schedule_deploy(rng.choice(others), max(1, fault.start + rng.randint(-8, 4)))
    sim.run_until(fault.start + rng.randint(4, 25))
    return sim, fault


def _symptom_of(rng: random.Random, service: str) -> str:
    """The faulty service, or a service upstream of it (up to the entry), where users feel it; a protected
    service (a store nobody asks about directly) is never the symptom when it has a caller."""
    topo = current_topology()
    chain = [service]
    while (up := topo.callers(chain[-1])) and len(chain) < 4:
        chain.append(rng.choice(up))
    if topo.spec(service).protected and len(chain) > 1:
        chain = chain[1:]
    return rng.choice(chain)


def _recommendation(sim: Simulator, service: str) -> ToolResult:
    """A recommend_scaling result: ceil(replicas x CPU / 60%), at least one more, within the service's bounds."""
    metrics = sim_context(sim).metrics
    now = int(metrics.series(service, "replicas", 120)[-1].value)
    cpu = metrics.series(service, "cpu", 120)[-1].value
    want = min(current_topology().spec(service).max_replicas, max(now + 1, math.ceil(now * cpu / 60.0)))
    return ToolResult.ok({"service": service, "current_replicas": now, "recommended_replicas": want})


def _governed(rng: random.Random) -> ToolResult | None:
    """Usually None (the write runs); sometimes the denial the agent would see instead."""
    roll = rng.random()
    if roll < 0.06:
        return ToolResult(status="denied", error="denied by the approver")
    if roll < 0.1:
        return ToolResult(status="denied", error="change freeze: writes need a second approver")
    return None


def investigate(rng: random.Random, split: str) -> list[dict[str, Any]]:
    """One scripted incident; its planner examples (empty when the request cannot be phrased)."""
    sim, fault = _incident(rng)
    symptom = _symptom_of(rng, fault.service)
    found = _symptom_request(rng, split, symptom) if rng.random() < 0.75 else _template_request(rng, split, symptom)
    if found is None:
        return []
    request, args, family = found
    run = ScriptRun(request, sim, family)
    rca = run.step("root_cause_analysis", args)
    if rca.status != "ok":
        run.respond(f"I found no root cause: {rca.error}." if rca.error else "I found no root cause.")
        return run.out
    top = rca.data["ranking"][0]
    svc, sig = str(top["service"]), top.get("signature") or {}
    kind, action = str(sig.get("kind", "unclear")), str(sig.get("action", "none"))
    if rng.random() < 0.5:
        run.step("search_logs", {"service": svc, "level": "error" if kind in ("crash", "error_spike") else "warn"})
    headline = f"Root cause: {svc} ({kind.replace('_', ' ')})."
    if action == "none":
        why = ("its own latency rose with CPU, errors and traffic steady; no restart, rollback or scaling fixes "
               "added delay, so I changed nothing" if kind == "latency" else
               "no write clearly fixes this, so I changed nothing")
        run.respond(f"{headline} {why[0].upper()}{why[1:]}.")
        return run.out
    write_args: dict[str, Any] = {"service": svc}
    if action == "scale_service":
        rec = run.step("recommend_scaling", {"service": svc},
                       _recommendation(sim, svc) if rng.random() > 0.05 else
                       ToolResult.fail("no scaling policy loaded: train one with `keel finetune policy`"))
        if rec.status != "ok":
            run.respond(f"{headline} The scaling policy gave no recommendation: {rec.error}.")
            return run.out
        now, want = int(rec.data["current_replicas"]), int(rec.data["recommended_replicas"])
        if want <= now:
            run.respond(f"{headline} The scaling policy recommends keeping {now} replicas, so I did not scale.")
            return run.out
        write_args["replicas"] = want
    result = run.step(action, write_args, _governed(rng))
    if result.status == "ok":
        done = f"{ACTION_WORDS[action]} {svc}" + (f" to {write_args['replicas']} replicas" if "replicas" in write_args
                                                  else "")
        run.respond(f"{headline} {done}.")
    elif result.status == "denied":
        run.respond(f"{headline} {action} on {svc} was denied: {result.error}.")
    else:
        run.respond(f"{headline} {action} on {svc} failed: {result.error}.")
    return run.out


def investigation_examples(rng: random.Random, n_scripts: int, split: str,
                           progress: bool = False) -> list[dict[str, Any]]:
    from tqdm import tqdm

    out: list[dict[str, Any]] = []
    for _ in tqdm(range(n_scripts), desc=f"investigations ({split})", disable=not progress, leave=False):
        out.extend(investigate(rng, split))
    return out
