"""`keel serve`: the HTTP API and web chat over the embedded simulator running an incident scenario."""

from __future__ import annotations

import secrets
from pathlib import Path

import typer

from cli.common import TOPOLOGY_HELP, console, fail

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8080


def generated_tokens() -> tuple[str, dict[str, str]]:
    """Fresh tokens when KEEL_TOKENS is unset: an approver and an operator (a high-risk action needs a
    second person to approve it, so one token alone cannot carry a restart through)."""
    made = {"approver": secrets.token_urlsafe(18), "operator": secrets.token_urlsafe(18)}
    return ",".join(f"{t}={r}" for r, t in made.items()), made


def serve(
    host: str = typer.Option(DEFAULT_HOST, help="address to listen on"),
    port: int = typer.Option(DEFAULT_PORT, min=1, max=65535, help="port to listen on"),
    scenario: Path | None = typer.Option(None, help="scenario file (default: the shipped checkout incident)"),
    tick: float | None = typer.Option(None, min=0.01, help="real seconds per simulated minute (KEEL_SIM_TICK_S)"),
    planner: str | None = typer.Option(None, help="planner backend (KEEL_PLANNER)"),
    topology: str | None = typer.Option(None, "--topology", help=TOPOLOGY_HELP),
) -> None:
    """Serve the OpenAI-compatible API, approvals, audit, incidents and the web chat page."""
    import uvicorn

    from agent.composition import build_service
    from agent.http.app import create_app
    from agent.observe.logs import configure_logging
    from config.settings import get_settings

    overrides: dict[str, object] = {}
    if tick is not None:
        overrides["sim_tick_s"] = tick
    if planner is not None:
        overrides["planner"] = planner
    if topology is not None:
        overrides["topology"] = topology
    settings = get_settings(**overrides)
    configure_logging(settings.log_format, settings.log_level)
    made: dict[str, str] = {}
    if not settings.tokens.get_secret_value().strip():
        spec, made = generated_tokens()
        settings = settings.model_copy(update={"tokens": spec})
    try:
        service = build_service(settings, scenario)
    except (ValueError, FileNotFoundError) as e:
        fail(str(e))
    warm = getattr(service.planner, "warm", None)
    if callable(warm):  # the model's buffers exist before the first user request (and are not growth later)
        console.print(f"planner warmed up in {warm():.1f} s")
    info = service.live.info
    url = f"http://{host}:{port}/"
    console.print(f"[bold]keel[/] serving on [link={url}]{url}[/link]  (planner {service.planner.name}, "
                  f"autonomy {settings.autonomy})")
    console.print(f"scenario {info.get('scenario')} on {info.get('topology')} from minute "
                  f"{info.get('start_minute')}, one simulated minute "
                  f"every {info.get('tick_s')} s")
    if made:
        for role, token in made.items():
            console.print(f"{role} token: [bold]{token}[/]")
        console.print("[dim](set KEEL_TOKENS=token=role,... to choose your own)[/]")
    try:
        uvicorn.run(create_app(settings, service), host=host, port=port, log_level="warning")
    finally:
        service.close()
