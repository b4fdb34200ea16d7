"""The composition root: builds the process's AgentService from the settings (planner, gate over the audit and
approval stores, checkpoints, the live tool context and its deps, the runbook host). The HTTP app, the CLI and
the evals call `build_service`; nothing else wires these parts together.
"""

from __future__ import annotations

from pathlib import Path

from agent.context import LiveContext, build_context
from agent.malloc_tuning import fix_mmap_threshold
from agent.planner.base import Planner
from agent.service import AgentService
from config.settings import Settings
from tools.backends.sim.scenario import Scenario


def planner_from_settings(settings: Settings) -> Planner:
    """The planner the settings name. A missing adapter file is a FileNotFoundError that says how to fix it."""
    from agent.planner import load_planner, resolve_adapter

    if settings.planner != "keyword":
        try:
            resolve_adapter(settings.planner_adapter)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"the planner adapter {settings.planner_adapter!r} was not found (looked for "
                f"{_adapter_path(settings.planner_adapter)}). Train it with `keel finetune slm`, or set "
                "KEEL_PLANNER_ADAPTER=none to run the base model with few-shot examples "
                "(planner_adapter = \"none\" in keel.toml).") from None
    return load_planner(settings.planner, adapter=settings.planner_adapter, batching=settings.planner_batching)


def _adapter_path(adapter: str | None) -> Path:
    from agent.planner import default_adapter

    return default_adapter() if adapter == "default" else Path(str(adapter))


def build_service(settings: Settings, scenario: Scenario | str | Path | None = None, *, planner: Planner | None = None,
                  context: LiveContext | None = None, live: bool = True) -> AgentService:
    """The process's service from settings: planner, gate (SQLite audit and approvals), SQLite checkpoints,
    and the tool context (`context`, else `build_context`: the embedded simulator running `scenario`)."""
    from agent.checkpoint import checkpointer_from_settings
    from governance.gate import gate_from_settings

    settings.ensure_home()
    fix_mmap_threshold(settings.malloc_mmap_threshold_kb)  # a server's busy moments leave no lasting memory step
    if planner is None:
        planner = planner_from_settings(settings)
    ctx = context or build_context(settings, scenario, live=live)
    if settings.mcp_servers:  # the operator's MCP servers: extra tools named server.tool
        from agent.mcp.client import attach

        attach(ctx.tools, settings.mcp_servers)
    holder: list[AgentService] = []
    gate = gate_from_settings(settings, notify=lambda m: holder[0].on_notify(m) if holder else None)
    saver = checkpointer_from_settings(settings)
    service = AgentService(planner, gate, ctx, saver, step_limit=settings.step_limit, queue_size=settings.queue_size)
    holder.append(service)
    from agent.runbooks.host import service_host

    service.attach_runbooks(service_host(service, settings))
    return service
