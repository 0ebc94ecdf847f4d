"""`hftctl health`: is everything alive? Exit 0 healthy, 1 degraded, 2 down; with --prometheus
exit 0 once the metrics are printed (the verdict is the hftctl_health_status gauge), so a cron's
``hftctl health --prometheus > f.tmp && mv f.tmp f.prom`` always refreshes the file."""

from __future__ import annotations

from typing import Optional

import typer

from hftctl.errors import HftctlError
from hftctl.log import setup_logging


def command(
    connector: Optional[str] = typer.Option(None, "--connector", help="Only this connector (NAME)."),
    json_out: bool = typer.Option(False, "--json", help="One JSON document instead of tables (for monitoring)."),
    prometheus: bool = typer.Option(False, "--prometheus", help="Prometheus text exposition (node_exporter's textfile collector, a cron)."),
    clean: bool = typer.Option(False, "--clean", help="First remove hftctl's shared memory and status files left by dead processes."),
    log_level: Optional[str] = typer.Option(None, "--log-level", help="debug, info, warning, error."),
) -> None:
    setup_logging(log_level, "health")
    from hftctl.health import check
    from hftctl.health.render import render, to_json
    from hftctl.ipc.segments import check_name

    if json_out and prometheus:
        raise HftctlError("--json and --prometheus are two formats of the same report: pick one")
    if connector is not None:
        check_name(connector)
    report = check(connector, clean)
    if prometheus:
        from hftctl.health.prometheus import render_prometheus
        typer.echo(render_prometheus(report), nl=False)
        raise typer.Exit(0)
    if json_out:
        typer.echo(to_json(report))
    else:
        render(report)
    raise typer.Exit(report.exit_code)
