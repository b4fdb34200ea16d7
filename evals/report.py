"""`keel eval all`: run (or read) every eval's latest JSON and write `evals/REPORT.md` with tables and plots.

Each eval writes the documented format `{"eval", "dataset", "config", "results": {METHOD: {METRIC: number}}}`
to `RESULTS_DIR/<name>.json`; benchmarks write `{"bench", "figures"}` to `RESULTS_DIR/bench-<name>.json`.
The report says for every eval whether it was run by this invocation (command and duration) or read from
an earlier run (file and its modification time), so no figure appears without its provenance.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

EVALS_DIR = Path(__file__).resolve().parent
RESULTS_DIR = EVALS_DIR / "results"
REPORT_PATH = EVALS_DIR / "REPORT.md"
ORDER = ("planner", "rca", "scaling", "e2e")


@dataclass
class Entry:
    """One eval's figures and where they came from."""

    name: str
    path: Path
    source: str  # "ran" | "read" | "missing" | "failed"
    when: str = ""
    command: str = ""
    seconds: float | None = None
    data: dict[str, Any] | None = None
    error: str = ""
    plots: list[Path] = field(default_factory=list)


def _stamp(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(timespec="seconds")


def _plots(name: str, results_dir: Path) -> list[Path]:
    """`NAME.png` and plots named after it (`NAME-*.png`, `NAME_*.png`), not those of a variant."""
    return sorted(p for p in results_dir.glob(f"{name}*.png")
                  if p.stem == name or not (results_dir / f"{p.stem}.json").exists())


SIDECARS = (".scenarios.json", ".variants.json")  # per-scenario / per-variant rows written beside an eval's JSON


def variants(name: str, results_dir: Path) -> list[str]:
    """Other runs of the same eval kept next to it: `NAME-VARIANT.json` (the per-row sidecar files excluded)."""
    return sorted(p.stem for p in results_dir.glob(f"{name}-*.json") if not p.name.endswith(SIDECARS))


def _load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or "results" not in data:
        raise ValueError(f"{path}: not an eval result (needs eval, dataset, config, results)")
    return data


def run_eval(name: str, results_dir: Path, extra: Sequence[str] = ()) -> Entry:
    """`keel eval NAME --json RESULTS_DIR/NAME.json` in a subprocess."""
    path = results_dir / f"{name}.json"
    cmd = [sys.executable, "-m", "cli.main", "eval", name, "--json", str(path), *extra]
    shown = " ".join(["keel", "eval", name, "--json", str(path), *extra])
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    secs = time.perf_counter() - t0
    if proc.returncode != 0 or not path.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return Entry(name, path, "failed", command=shown, seconds=secs,
                     error=f"exit {proc.returncode}: " + " | ".join(tail))
    try:
        data = _load(path)
    except ValueError as e:
        return Entry(name, path, "failed", command=shown, seconds=secs, error=str(e))
    return Entry(name, path, "ran", _stamp(path), shown, secs, data, plots=_plots(name, results_dir))


def read_eval(name: str, results_dir: Path) -> Entry:
    path = results_dir / f"{name}.json"
    if not path.exists():
        return Entry(name, path, "missing", error=f"no {path.name} in {results_dir}")
    try:
        return Entry(name, path, "read", _stamp(path), data=_load(path), plots=_plots(name, results_dir))
    except (ValueError, json.JSONDecodeError) as e:
        return Entry(name, path, "failed", error=str(e))


def read_benches(results_dir: Path) -> list[tuple[Path, str, dict[str, Any]]]:
    out = []
    for p in sorted(results_dir.glob("bench-*.json")):
        try:
            data = json.loads(p.read_text())
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and "figures" in data:
            out.append((p, _stamp(p), data))
    return out


# ---------------------------------------------------------------- rendering (pure)


def _num(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int | float):
        return f"{v:.0f}" if float(v).is_integer() else f"{v:.3g}" if abs(v) < 100 else f"{v:.1f}"
    return str(v)


WIDE = 8  # more methods than this: one row per method instead of one column


def results_table(results: dict[str, dict[str, Any]]) -> list[str]:
    metrics: list[str] = []
    for r in results.values():
        metrics += [k for k in r if k not in metrics]
    methods = list(results)
    if len(methods) > WIDE:
        lines = ["| method | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
        for m in methods:
            lines.append(f"| {m} | " + " | ".join(_num(results[m].get(k)) for k in metrics) + " |")
        return lines
    lines = ["| metric | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    for k in metrics:
        lines.append(f"| {k} | " + " | ".join(_num(results[m].get(k)) for m in methods) + " |")
    return lines


def _config_lines(config: dict[str, Any]) -> list[str]:
    out = []
    for k, v in config.items():
        text = json.dumps(v, default=str) if isinstance(v, dict | list) else str(v)
        out.append(f"- `{k}`: {text[:400]}")
    return out


def render(entries: Sequence[Entry], benches: Sequence[tuple[Path, str, dict[str, Any]]], generated: str,
           report_dir: Path) -> str:
    """The Markdown report: one section per eval, then benchmarks. Paths are relative to the report."""

    def rel(p: Path) -> str:
        try:
            return str(p.resolve().relative_to(report_dir.resolve()))
        except ValueError:
            return str(p)

    lines = ["# keel evaluation report", "", f"Generated {generated} by `keel eval all`. Every figure below was "
             "produced by the run named in its section; nothing is typed in by hand.", ""]
    lines += ["| eval | figures from | when (UTC) |", "|---|---|---|"]
    for e in entries:
        src = {"ran": f"run now: `{e.command}` ({e.seconds:.0f} s)" if e.seconds is not None else "run now",
               "read": f"earlier run: `{rel(e.path)}`", "missing": "no results yet",
               "failed": "failed: " + e.error[:200]}[e.source]
        lines.append(f"| {e.name} | {src} | {e.when or '-'} |")
    lines.append("")
    for e in entries:
        lines += [f"## {e.name}", ""]
        if e.data is None:
            lines += [f"No figures: {e.error or e.source}.", ""]
            continue
        lines += [f"Dataset: `{e.data.get('dataset')}`. Source: `{rel(e.path)}` ({e.when}).", ""]
        lines += results_table(e.data.get("results") or {})
        lines.append("")
        cfg = e.data.get("config") or {}
        if cfg:
            lines += ["<details><summary>config</summary>", "", *_config_lines(cfg), "", "</details>", ""]
        for p in e.plots:
            lines += [f"![{e.name}]({rel(p)})", ""]
    if benches:
        lines += ["## benchmarks", "", "| bench | figure | value | file (UTC time) |", "|---|---|---|---|"]
        for p, when, data in benches:
            for k, v in (data.get("figures") or {}).items():
                lines.append(f"| {data.get('bench')} | {k} | {_num(v)} | `{rel(p)}` ({when}) |")
        lines.append("")
    return "\n".join(lines)


def build(names: Sequence[str], to_run: set[str], results_dir: Path = RESULTS_DIR,
          report_path: Path = REPORT_PATH, progress: Any = None) -> tuple[Path, list[Entry]]:
    """Run the evals in `to_run`, read the others, write the report."""
    results_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for n in sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n)):
        if progress is not None:
            progress(n, "running" if n in to_run else "reading")
        entries.append(run_eval(n, results_dir) if n in to_run else read_eval(n, results_dir))
        entries += [read_eval(v, results_dir) for v in variants(n, results_dir) if v not in names]
    text = render(entries, read_benches(results_dir), datetime.now(UTC).isoformat(timespec="seconds"),
                  report_path.parent)
    report_path.write_text(text + "\n")
    return report_path, entries
