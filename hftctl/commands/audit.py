"""`hftctl audit`: a data-quality report for recordings (gzip/zstd/plain, any exchange, told from
the content). Exit 0 all thresholds met, 1 a threshold crossed, 2 an input could not be audited."""

from __future__ import annotations

import json
from typing import Optional

import typer

from hftctl import exchanges
from hftctl.log import setup_logging


def command(
    files: list[str] = typer.Argument(..., metavar="FILE...", help="Recordings (or folders of them)."),
    json_out: bool = typer.Option(False, "--json", help="One JSON document on stdout instead of tables."),
    plot: Optional[str] = typer.Option(None, "--plot", metavar="OUT.png",
                                       help="Also draw messages per second and feed latency, gaps marked (needs matplotlib)."),
    silence: float = typer.Option(5.0, "--silence", metavar="S", help="A pause longer than S seconds without any line is a silent period."),
    trade_tolerance: float = typer.Option(10.0, "--trade-tolerance-bps",
                                          help="A trade is outside the book when its price is this many bps beyond the best bid/ask "
                                               "both before it and after the next depth message."),
    max_gaps: int = typer.Option(0, "--max-gaps", help="Fail above this many holes (sequence breaks + gap marks that explain none)."),
    max_silence: float = typer.Option(60.0, "--max-silence", metavar="S", help="Fail if the longest pause between two lines exceeds S seconds."),
    max_crossed: int = typer.Option(0, "--max-crossed", help="Fail above this many depth messages after which the in-sync book is crossed or locked."),
    max_outside: float = typer.Option(0.1, "--max-trades-outside", metavar="PCT", help="Fail above this % of checked trades outside the book."),
    max_bad_lines: int = typer.Option(0, "--max-bad-lines", help="Fail above this many lines that are not the exchange's messages."),
    max_drift: Optional[float] = typer.Option(None, "--max-drift", metavar="MS_PER_H", help="Fail if the clock drift exceeds this (default: not checked)."),
    max_latency: Optional[float] = typer.Option(None, "--max-latency-p99", metavar="MS",
                                                help="Fail if the p99 feed latency exceeds this (default: not checked; "
                                                     "it includes the recorder's clock offset)."),
    exchange: Optional[str] = typer.Option(None, "--exchange", "-e", help=f"{', '.join(exchanges.NAMES)} (default: detected from the content)."),
    progress: Optional[bool] = typer.Option(None, "--progress/--no-progress", help="Progress bar (default: on a terminal)."),
    log_level: Optional[str] = typer.Option(None, "--log-level", help="debug, info, warning, error."),
) -> None:
    from hftctl.audit.report import Thresholds
    from hftctl.audit.run import audit_files
    from hftctl.audit.scan import AuditOptions, BadInput

    from hftctl.errors import HftctlError

    setup_logging(log_level or "warning", "audit")
    if exchange is not None:
        try:
            exchanges.get(exchange)
        except HftctlError as exc:
            raise BadInput(str(exc)) from None
    if silence <= 0 or trade_tolerance < 0:
        raise BadInput("--silence must be > 0 and --trade-tolerance-bps >= 0")
    options = AuditOptions(silence_s=silence, trade_tolerance_bps=trade_tolerance, exchange=exchange)
    thresholds = Thresholds(max_gaps=max_gaps, max_silence_s=max_silence, max_crossed=max_crossed,
                            max_trades_outside_pct=max_outside, max_drift_ms_per_hour=max_drift,
                            max_latency_p99_ms=max_latency, max_bad_lines=max_bad_lines)
    run = audit_files(files, options, thresholds, progress)
    if json_out:
        typer.echo(json.dumps(run.as_dict(thresholds, options), indent=1))
    else:
        from hftctl.audit.render import render
        render(run, thresholds)
    for _, error in run.errors:
        typer.echo(f"error: {error}", err=True)
    if plot:
        from hftctl.audit.plot import plot as draw
        draw(run.scans, plot)
    raise typer.Exit(run.exit_code)
