"""The ``hftctl`` command: one typer app, one module per subcommand in ``hftctl/commands``.

Every user-facing error (``HftctlError``) becomes one line on stderr and a non-zero exit, so
scripts can rely on exit codes and users never see a traceback for bad input.

Command modules import their machinery (aiohttp, numpy, the TUI's textual) inside the command,
so ``hftctl health --json`` or ``hftctl convert`` in a script loop does not pay for all of them.
"""

from __future__ import annotations

import sys

import typer

from hftctl import exchanges
from hftctl.commands import audit, collect, connector, convert, demo, health, mm, obi_mm, sim
from hftctl.errors import HftctlError

app = typer.Typer(
    name="hftctl",
    help="Market-making bots on exchange testnets: connector, collector, converter, bots, simulator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.command("connector", help="Bridge one exchange account and local bots over shared memory.")(connector.command)
app.command("collect", help="Record market data to compressed files, directly or from a connector. "
                             "Records the real market (mainnet) unless --venue says otherwise: "
                             f"hftctl collect {exchanges.DEFAULT} btcusdt.")(collect.command)
app.command("convert", help="Convert recordings to hftbacktest's .npz event format.")(convert.command)
app.command("audit", help="Data-quality report for recordings (gaps, silences, latency, crossed books); exit 0 pass, 1 a threshold crossed, 2 bad input.")(audit.command)
app.command("mm", help="Grid market maker driven through a connector.")(mm.command)
app.command("obi-mm", help="Order-book-imbalance market maker driven through a connector.")(obi_mm.command)
app.command("health", help="Is everything alive: connectors, shared memory, streams, bots.")(health.command)
app.command("demo", help="The whole stack offline for a bounded time: sim, connector, collector, mm.")(demo.command)
app.command("sim", help="Local exchange simulator speaking the real REST and websocket protocols.")(sim.command)


@app.command("tui", help="Open a terminal UI to browse every command and its options, and run one.")
def tui() -> None:
    import click
    from trogon import Trogon

    Trogon(typer.main.get_group(app), app_name="hftctl", click_context=click.get_current_context()).run()


def main() -> None:
    try:
        app()
    except HftctlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
