"""``hftctl health`` output: rich tables for people, one JSON document for monitoring."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from hftctl.health.model import DEGRADED, DOWN, HEALTHY, DeadManHealth, HealthReport

_COLOUR = {HEALTHY: "green", DEGRADED: "yellow", DOWN: "red"}


def _age(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.1f} s"


def _yes(alive: bool) -> str:
    return "[green]alive[/]" if alive else "[red]dead[/]"


def _dead_man(dm: DeadManHealth) -> str:
    if dm.state == "off":
        return "[yellow]off[/] (dead_man_window_s = 0)"
    if dm.state == "unprotected":
        return "[yellow]none[/] (no exchange mechanism, dead_man_fallback = \"none\")"
    colour = {"armed": "green", "failing": "red"}.get(dm.state, "yellow")
    what = f"guardian pid {dm.guardian_pid}" if dm.mechanism == "guardian" else dm.mechanism
    on = ", ".join(dm.symbols) or "no symbol yet"
    refreshed = "not refreshed yet" if dm.last_refresh_age is None else f"refreshed {_age(dm.last_refresh_age)} ago"
    text = f"{what} [{colour}]{dm.state}[/] on {on}, window {dm.window_s:g} s, {refreshed}"
    return text + (f": {dm.error}" if dm.error else "")


def to_json(report: HealthReport) -> str:
    return json.dumps(report.as_dict(), indent=2, default=str)


def render(report: HealthReport, console: Console | None = None) -> None:
    con = console or Console(highlight=False)
    colour = _COLOUR[report.verdict]
    con.print(f"[bold {colour}]{report.verdict.upper()}[/] - {report.summary} (exit {report.exit_code})")
    if report.cleaned:
        con.print(f"removed {len(report.cleaned)} leftover(s): {', '.join(report.cleaned)}")
    if not report.connectors and not report.collectors and not report.orphan_bots and not report.stale:
        con.print("No hftctl connector, collector or bot is running, and no leftovers in /dev/shm.")
        return
    for c in report.connectors:
        con.print()
        con.print(f"[bold]connector {c.name}[/] ({c.exchange or '?'}) pid {c.pid or '?'} {_yes(c.alive)}, "
                  f"heartbeat {_age(c.heartbeat_age)}, {c.messages} messages sent")
        if c.dead_man is not None:
            con.print(f"  dead man's switch: {_dead_man(c.dead_man)}")
        if c.streams or c.books:
            t = Table(box=None, pad_edge=False)
            for col in ("stream / book", "state", "last message"):
                t.add_column(col)
            for s in c.streams:
                ok = s.state == "connected"
                t.add_row(f"{s.name} stream", f"[{'green' if ok else 'red'}]{s.state}[/]", _age(s.last_msg_age))
            for sym, state in c.books.items():
                t.add_row(f"{sym} book", f"[{'green' if state == 'synced' else 'yellow'}]{state}[/]", "")
            con.print(t)
        if c.bots:
            t = Table(title=None, box=None, pad_edge=False)
            for col in ("id", "role", "name", "pid", "process", "ring lag", "overruns", "open orders", "positions"):
                t.add_column(col)
            for b in c.bots:
                pos = ", ".join(f"{k} {v:g}" for k, v in b.positions.items()) or "-"
                t.add_row(str(b.bot_id or "-"), b.role, b.name or "?", str(b.pid),
                          "[yellow]silent[/]" if b.alive and b.silent else _yes(b.alive),
                          "-" if b.lag is None else str(b.lag), str(b.overruns),
                          "-" if b.open_orders is None else str(b.open_orders), pos)
            con.print(t)
        else:
            con.print("  no bots connected")
    if report.orphan_bots:
        con.print()
        con.print("[bold]bots without a running connector[/]")
        for b in report.orphan_bots:
            con.print(f"  {b.name} pid {b.pid} {_yes(b.alive)}")
    if report.collectors:
        con.print()
        t = Table(title="collectors", title_justify="left", box=None, pad_edge=False)
        for col in ("name", "pid", "process", "source", "last write", "messages", "files"):
            t.add_column(col)
        for col in report.collectors:
            t.add_row(col.name, str(col.pid), _yes(col.alive), col.source, _age(col.last_write_age),
                      "-" if col.messages is None else str(col.messages), str(len(col.files)))
        con.print(t)
    if report.stale:
        con.print()
        t = Table(title="leftovers of dead processes (hftctl health --clean removes them)",
                  title_justify="left", box=None, pad_edge=False)
        for col in ("file", "kind", "owner pid", "detail"):
            t.add_column(col)
        for s in report.stale:
            t.add_row(s.file, s.kind, str(s.owner_pid or "?"), s.detail)
        con.print(t)
    if report.problems:
        con.print()
        con.print("[bold]problems[/]")
        for p in report.problems:
            con.print(f"  - {p}")
