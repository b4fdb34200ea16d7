"""`keel services`: the inventory the configured backends give, with the source of each fact."""

from __future__ import annotations

import typer
from rich.table import Table

from cli.common import TOPOLOGY_HELP, chosen_topology, console, err_console, fail, print_json


def services(
    as_json: bool = typer.Option(False, "--json", help="print the inventory as JSON (as GET /api/services does)"),
    topology: str | None = typer.Option(None, "--topology", help=TOPOLOGY_HELP),
) -> None:
    """List the services keel knows: names, aliases, replica bounds, protection, and where each fact came from.

    Sources: the simulator's topology (when a role runs on it, or --topology), Prometheus label values
    (metrics_backend = prometheus), Kubernetes Deployments and StatefulSets (actions_backend = kubernetes),
    topology_file, and [services.NAME] tables in keel.toml. A source that fails is listed under problems."""
    from config.settings import get_settings
    from tools.backends.factory import discover_inventory
    from tools.services import set_topology

    topo = chosen_topology(topology)
    if topo is not None:
        set_topology(topo)
    try:
        settings = get_settings(**({"topology": topo.reference} if topo is not None else {}))
        inv = discover_inventory(settings)
    except ValueError as e:
        fail(str(e))
    if as_json:
        print_json(inv.to_dict())
    else:
        table = Table("service", "aliases", "replicas", "protected", "source")
        for s in inv.services:
            lo = "?" if s.min_replicas is None else str(s.min_replicas)
            hi = "?" if s.max_replicas is None else str(s.max_replicas)
            by: dict[str, list[str]] = {}
            for fact, where in s.sources.items():
                for w in where.split(", "):
                    by.setdefault(w, []).append(fact)
            src = "; ".join(f"{w} ({', '.join(f)})" for w, f in by.items())
            table.add_row(s.name, ", ".join(s.aliases), f"{lo}..{hi}" if s.min_replicas or s.max_replicas else "",
                          "yes" if s.protected else "", src)
        console.print(table)
        console.print(f"{len(inv)} services, {len(inv.edges)} call-graph edges")
    for p in inv.problems:
        err_console.print(f"[yellow]problem[/]: {p}")
    if not inv.services:
        raise typer.Exit(1)
