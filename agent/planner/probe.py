"""One planner call in a child process, for `keel doctor`: a native crash there becomes a report, not a crash.

`python -m agent.planner.probe` loads the configured planner, plans one request and prints one JSON object
(parameters, timings, llama.cpp build). `probe_planner()` runs it in a child and reads the result or, when
the child dies (a segfault in llama.cpp, an abort), says how it died.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

REQUEST = "why is checkout slow?"


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    detail: str
    facts: dict[str, Any] = field(default_factory=dict)


def compiled_features(system_info: str) -> str:
    """The features llama.cpp's system info string marks `= 1` ("CPU : AVX2 = 1 | REPACK = 1 |" -> "AVX2 REPACK")."""
    names = [part.split("=")[0].strip().split(":")[-1].strip() for part in system_info.split("|")
             if part.strip().endswith("= 1")]
    return " ".join(names) or system_info or "unknown"


def _child() -> dict[str, Any]:
    from agent.planner import load_planner
    from agent.settings import get_settings
    from finetune.slm.llama_runtime import build_info, params_of

    settings = get_settings()
    t0 = time.perf_counter()
    planner = load_planner(settings.planner, adapter=settings.planner_adapter)
    load_s = time.perf_counter() - t0
    call = planner.plan(REQUEST)
    out: dict[str, Any] = {"planner": settings.planner, "name": planner.name, "load_s": round(load_s, 2),
                           "plan_ms": round(call.latency_ms, 1), "tool": call.tool, "ok": call.ok, "raw": call.raw}
    llm = getattr(planner, "llm", None)
    if llm is not None:
        out["params"] = params_of(llm).to_dict()
        out.update(build_info())
    return out


def probe_planner(timeout_s: float = 300.0, command: list[str] | None = None) -> ProbeResult:
    """Run the probe in a child process (same interpreter and settings; `command` replaces it) and interpret
    how it ended."""
    try:
        proc = subprocess.run(command or [sys.executable, "-m", "agent.planner.probe"], capture_output=True,
                              text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return ProbeResult(False, f"no answer from the planner within {timeout_s:.0f} s")
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        return ProbeResult(False, f"the planner process crashed ({name}) inside llama.cpp", {"signal": name})
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return ProbeResult(False, f"the planner did not load or plan: {last}")
    facts = json.loads(proc.stdout.strip().splitlines()[-1])
    if not facts.get("ok"):
        return ProbeResult(False, f"the planner answered but its call did not validate: {facts.get('raw')!r}", facts)
    params = facts.get("params")
    detail = (f"{facts['name']} planned {facts['tool']} for {REQUEST!r} in {facts['plan_ms']:.0f} ms "
              f"(load {facts['load_s']:.1f} s)")
    if params:
        detail += (f"; n_threads={params['n_threads']} n_ctx={params['n_ctx']} "
                   f"extra_bufts={'on' if params['extra_bufts'] else 'off'}; "
                   f"llama-cpp-python {facts['llama_cpp_python']}; llama.cpp built with: "
                   f"{compiled_features(facts.get('system_info', ''))}")
    return ProbeResult(True, detail, facts)


if __name__ == "__main__":
    print(json.dumps(_child()))
