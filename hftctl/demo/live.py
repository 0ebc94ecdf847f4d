"""What the demo shows while it runs: the exchange's book, the bot's quotes, position, PnL and
message rates, refreshed about twice a second.

The numbers come from the places that are authoritative for them: book, orders, position and
balance from the sim (it is the exchange), messages published to bots from the connector's ring
header, messages recorded from the collector's status file (or its file growing on disk).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from hftctl.demo.stack import ORDER_PREFIX, Stack, http_json
from hftctl.health.ring_view import view_broadcast
from hftctl.status import read_statuses

RATE_WINDOW_S = 5.0


@dataclass
class Snapshot:
    t: float
    bids: list[tuple[float, float]] = field(default_factory=list)
    asks: list[tuple[float, float]] = field(default_factory=list)
    quotes: list[tuple[str, float, float, float]] = field(default_factory=list)   # side, px, qty, filled
    position: float = 0.0
    entry: float = 0.0
    balance: float | None = None
    counters: dict = field(default_factory=dict)
    ring_messages: int = 0
    readers: int = 0
    recorded: int | None = None
    recorded_bytes: int = 0
    error: str = ""

    @property
    def mid(self) -> float | None:
        if self.bids and self.asks:
            return (self.bids[0][0] + self.asks[0][0]) / 2
        return None


class Monitor:
    """Takes snapshots of the running stack and turns them into a display and a final tally."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.first: Snapshot | None = None
        self.window: deque[Snapshot] = deque()
        self.last: Snapshot | None = None
        self.rates: dict[str, float] = {}

    def snapshot(self) -> Snapshot:
        st = self.stack
        snap = Snapshot(time.monotonic())
        try:
            state = http_json(f"{st.sim_info['control_url']}/state?symbol={st.symbol}&depth=5", timeout=2)
            book = state["book"]
            snap.bids = [(float(p), float(q)) for p, q in book["bids"]]
            snap.asks = [(float(p), float(q)) for p, q in book["asks"]]
            acct = state["accounts"][0]
            snap.balance = float(acct["balances"].get("USDT", 0.0))
            for pos in acct["positions"]:
                if pos["symbol"] == st.symbol:
                    snap.position, snap.entry = float(pos["qty"]), float(pos["entry_price"] or 0.0)
            snap.quotes = sorted(((o["side"], float(o["price"]), float(o["qty"]), float(o["filled"]))
                                  for o in acct["open_orders"]
                                  if o["client_order_id"].startswith(ORDER_PREFIX + "-")),
                                 key=lambda q: -q[1])
            snap.counters = state["counters"]
        except (OSError, ValueError, KeyError, IndexError, TypeError) as e:
            snap.error = f"sim state unavailable: {e}"
        view = view_broadcast(st.opts.name)
        if view is not None:
            snap.ring_messages = view.messages
            snap.readers = sum(r.alive for r in view.readers)
        coll = st.collector
        if coll is not None:
            for rec in read_statuses("collector"):
                if rec.pid == coll.pid and isinstance(rec.data.get("messages"), int):
                    snap.recorded = rec.data["messages"]
        snap.recorded_bytes = sum(p.stat().st_size for p in st.data.glob("*") if p.is_file()) \
            if st.data.exists() else 0
        self._advance(snap)
        return snap

    def _advance(self, snap: Snapshot) -> None:
        """Rates over a sliding window of RATE_WINDOW_S: status files are rewritten about once a
        second, so shorter windows would alias to 0 or double."""
        if self.first is None:
            self.first = snap
        self.window.append(snap)
        while len(self.window) > 2 and snap.t - self.window[1].t >= RATE_WINDOW_S:
            self.window.popleft()
        old = self.window[0]
        dt = snap.t - old.t
        if dt >= 0.9:
            def rate(get):
                a, b = get(old), get(snap)
                return None if a is None or b is None else (b - a) / dt
            rates = {
                "depth updates/s (exchange)": rate(lambda x: x.counters.get("depth_updates", 0)),
                "trades/s (exchange)": rate(lambda x: x.counters.get("trades", 0)),
                "messages/s to bots (ring)": rate(lambda x: x.ring_messages),
                "messages/s recorded": rate(lambda x: x.recorded),
            }
            if rates["messages/s recorded"] is None:
                del rates["messages/s recorded"]
                rates["KiB/s recorded (compressed)"] = rate(lambda x: x.recorded_bytes / 1024)
            self.rates = {k: v for k, v in rates.items() if v is not None}
        self.last = snap

    def pnl(self, snap: Snapshot | None = None) -> float | None:
        """Wallet change (realised PnL and fees) plus the open position marked at the mid."""
        snap = snap or self.last
        if snap is None or self.first is None or snap.balance is None or self.first.balance is None:
            return None
        mid = snap.mid
        unreal = snap.position * (mid - snap.entry) if mid is not None and snap.position else 0.0
        return snap.balance - self.first.balance + unreal

    def fills(self) -> int:
        if self.last is None or self.first is None:
            return 0
        return self.last.counters.get("fills", 0) - self.first.counters.get("fills", 0)

    def line(self, remaining: float) -> str:
        s = self.last
        if s is None:
            return "waiting for the first snapshot"
        mid = f"{s.mid:.2f}" if s.mid is not None else "-"
        pnl = self.pnl()
        rates = ", ".join(f"{v:.0f} {k}" for k, v in self.rates.items())
        return (f"[{remaining:4.0f}s left] {self.stack.symbol} mid {mid} | quotes {len(s.quotes)} | "
                f"position {s.position:g} | PnL {'-' if pnl is None else f'{pnl:+.4f}'} USDT | "
                f"fills {self.fills()} | {rates}")

    def render(self, remaining: float):
        s = self.last
        st = self.stack
        head = (f"hftctl demo: {st.symbol} on the local sim "
                f"({'replay of ' + st.opts.replay.name if st.opts.replay else 'synthetic market'}), "
                f"connector [bold]{st.opts.name}[/], {remaining:.0f}s left - Ctrl-C stops early")
        procs = Table.grid(padding=(0, 2))
        procs.add_row(*[f"{c.label} pid {c.pid} " + ("[green]running[/]" if c.alive() else "[red]exited[/]")
                        for c in st.children])
        if s is None:
            return Panel(Group(head, procs), title="hftctl demo")
        book = Table(title="order book (sim)", box=None, pad_edge=False)
        book.add_column("bid qty", justify="right")
        book.add_column("bid", justify="right", style="green")
        book.add_column("ask", justify="right", style="red")
        book.add_column("ask qty", justify="right")
        for i in range(max(len(s.bids), len(s.asks))):
            b = s.bids[i] if i < len(s.bids) else None
            a = s.asks[i] if i < len(s.asks) else None
            book.add_row(f"{b[1]:g}" if b else "", f"{b[0]:.2f}" if b else "",
                         f"{a[0]:.2f}" if a else "", f"{a[1]:g}" if a else "")
        quotes = Table(title="mm quotes (open orders)", box=None, pad_edge=False)
        for col in ("side", "price", "qty", "filled"):
            quotes.add_column(col, justify="right")
        for side, px, qty, filled in s.quotes:
            quotes.add_row(f"[{'green' if side == 'BUY' else 'red'}]{side}[/]", f"{px:.2f}", f"{qty:g}", f"{filled:g}")
        if not s.quotes:
            quotes.add_row("-", "", "", "")
        acct = Table(title="account", box=None, pad_edge=False)
        acct.add_column("")
        acct.add_column("", justify="right")
        pnl = self.pnl()
        acct.add_row("position", f"{s.position:g}")
        acct.add_row("entry", f"{s.entry:.2f}" if s.position else "-")
        acct.add_row("PnL (USDT)", "-" if pnl is None else f"{pnl:+.4f}")
        acct.add_row("fills", str(self.fills()))
        acct.add_row("orders sent", str(s.counters.get("orders_received", 0) - (self.first.counters.get("orders_received", 0) if self.first else 0)))
        rates = Table(title="message rates", box=None, pad_edge=False)
        rates.add_column("")
        rates.add_column("", justify="right")
        for k, v in self.rates.items():
            rates.add_row(k, f"{v:.1f}")
        rates.add_row("ring readers", str(s.readers))
        grid = Table.grid(padding=(0, 4))
        grid.add_row(book, quotes, acct, rates)
        parts = [head, procs, grid]
        if s.error:
            parts.append(f"[yellow]{s.error}[/]")
        return Panel(Group(*parts), title="hftctl demo")
