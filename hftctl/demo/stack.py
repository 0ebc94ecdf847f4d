"""The demo's stack: sim, connector, collector (--ipc) and the grid market maker, started in
dependency order with real readiness checks and stopped in reverse order.

Every component is started through its documented command line, so the demo exercises exactly
what a user would run by hand.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import signal
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from hftctl import exchanges
from hftctl.demo.procs import Child, wait_until
from hftctl.errors import HftctlError
from hftctl.health.ring_view import view_broadcast
from hftctl.ipc.segments import clean_stale, list_segments

log = logging.getLogger(__name__)

SIM_API_KEY = "hftctl-sim-key"          # the sim's default account (see docs/sim.md)
SIM_SECRET = "hftctl-sim-secret"
ORDER_PREFIX = "demo"


@dataclass
class DemoOptions:
    seconds: float = 60.0
    out: Path = Path("hftctl-demo")
    replay: Path | None = None
    speed: float = 1.0
    symbol: str | None = None
    name: str = field(default_factory=lambda: f"demo{os.getpid()}")
    live: bool | None = None            # rich live display (default: on a terminal)
    exchange: str = exchanges.DEFAULT   # whose protocol the sim speaks


@dataclass
class Market:
    symbol: str
    tick: float
    lot: float
    min_notional: float
    mid: float


def http_json(url: str, timeout: float = 5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())


def symbol_for(opts: DemoOptions) -> str:
    if opts.symbol:
        return opts.symbol.upper()
    if opts.replay is not None:
        m = re.match(r"^([a-z0-9]+)_", opts.replay.name.lower())
        if m:
            return m.group(1).upper()
        raise HftctlError(f"cannot tell the symbol from {opts.replay.name}; pass --symbol")
    return "BTCUSDT"


class Stack:
    """Owns the four children; ``stop()`` is safe to call at any point, any number of times."""

    def __init__(self, opts: DemoOptions, run_dir: Path) -> None:
        self.opts = opts
        self.dir = run_dir
        self.logs = run_dir / "logs"
        self.data = run_dir / "data"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.symbol = symbol_for(opts)
        self.sim: Child | None = None
        self.connector: Child | None = None
        self.collector: Child | None = None
        self.bot: Child | None = None
        self.sim_info: dict = {}
        self.market: Market | None = None
        self.stopped = False
        self.leftovers_removed: list[str] = []

    @property
    def children(self) -> list[Child]:
        return [c for c in (self.sim, self.connector, self.collector, self.bot) if c is not None]

    # --- start --------------------------------------------------------------------------------

    def start(self, progress=lambda msg: None) -> None:
        progress("starting the exchange simulator")
        self._start_sim()
        self.market = self._market()
        progress(f"starting connector {self.opts.name}")
        self._start_connector()
        progress("starting the collector (--ipc)")
        self.collector = Child("collector", ["collect", "--ipc", self.opts.name, self.symbol.lower(),
                                             "--out", str(self.data), "--no-progress", "--rotate", "never"],
                               self.logs / "collector.log")
        self._wait_readers(1, "the collector to attach to the connector")
        progress("starting the market maker (hftctl mm)")
        self.bot = Child("mm", self._mm_args(), self.logs / "mm.log")
        self._wait_readers(2, "the market maker to attach to the connector")

    def _start_sim(self) -> None:
        ready = self.dir / "sim.ready.json"
        args = ["sim", "--exchange", self.opts.exchange, "--port", "0", "--ready-file", str(ready)]
        if self.opts.replay is not None:
            args += ["--replay", str(self.opts.replay), "--speed", str(self.opts.speed), "--loop"]
        else:
            args += ["--symbol", self.symbol]
        self.sim = Child("sim", args, self.logs / "sim.log")
        wait_until(lambda: ready.exists() and ready.stat().st_size > 0, 30, "the sim to listen", [self.sim])
        self.sim_info = json.loads(ready.read_text())

    def _market(self) -> Market:
        """Tick, lot and minimum notional of the symbol in the sim, and a first mid."""
        instruments = http_json(f"{self.sim_info['control_url']}/state")["instruments"]
        spec = instruments.get(self.symbol)
        if spec is None:
            raise HftctlError(f"the sim has no symbol {self.symbol} (it has {', '.join(instruments)})")
        tick, lot, notional = spec["tick_size"], spec["lot_size"], spec["min_notional"]

        def mid():
            try:
                book = http_json(f"{self.sim_info['control_url']}/state?symbol={self.symbol}&depth=1")["book"]
                if book["bids"] and book["asks"]:
                    return (float(book["bids"][0][0]) + float(book["asks"][0][0])) / 2
            except (OSError, ValueError, KeyError):
                pass
            return None
        m = wait_until(mid, 30, f"a {self.symbol} book in the sim", [self.sim], interval=0.2)
        return Market(self.symbol, tick, lot, notional, m)

    def _start_connector(self) -> None:
        cfg = self.dir / "connector.toml"
        urls = "".join(f'{k} = "{v}"\n' for k, v in self.sim_info["connector_config"].items())
        cfg.write_text(f'# generated by hftctl demo for the local sim (its default test account)\n{urls}'
                       f'order_prefix = "{ORDER_PREFIX}"\napi_key = "{SIM_API_KEY}"\nsecret = "{SIM_SECRET}"\n')
        self.connector = Child("connector", ["connector", self.opts.name, self.opts.exchange, str(cfg)],
                               self.logs / "connector.log")
        wait_until(lambda: "Listening for bot connections" in self.connector.log_text(), 40,
                   "the connector to connect", [self.sim, self.connector], interval=0.1)

    def _wait_readers(self, n: int, what: str) -> None:
        def attached():
            view = view_broadcast(self.opts.name)
            return view is not None and sum(r.alive for r in view.readers) >= n
        wait_until(attached, 30, what, self.children, interval=0.1)

    def _mm_args(self) -> list[str]:
        """Quotes at the touch and one tick apart behind it, a size just above the minimum
        notional: enough fills to watch in a minute on either market."""
        m = self.market
        assert m is not None
        qty = max(m.lot, math.ceil(m.min_notional * 1.2 / m.mid / m.lot) * m.lot) if m.min_notional else m.lot * 10
        qty = float(f"{qty:.10g}")
        half = m.tick / m.mid
        return ["mm", "--connector", self.opts.name, "--symbol", m.symbol.lower(),
                "--tick-size", f"{m.tick:g}", "--lot-size", f"{m.lot:g}",
                "--half-spread", "0", "--grid-interval", f"{half:.3g}", "--grid-num", "3",
                "--order-qty", f"{qty:g}", "--max-position", f"{10 * qty:g}"]

    # --- stop ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """Bot (cancels its orders), collector (final flush), connector (cancel-all, removes its
        shared memory), sim; each SIGINT/SIGTERM first, SIGKILL after a timeout. Then make sure
        nothing of the connector is left in /dev/shm."""
        if self.stopped:
            return
        self.stopped = True
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)   # a second Ctrl-C must not cut this short
        try:
            if self.bot is not None:
                self.bot.stop(signal.SIGINT, 15)
            if self.collector is not None:
                self.collector.stop(signal.SIGINT, 15)
            if self.connector is not None:
                self.connector.stop(signal.SIGINT, 30)
            if self.sim is not None:
                self.sim.stop(signal.SIGTERM, 10)
            # Only a killed connector can leave segments; they are stale now (owner dead).
            if any(s.connector == self.opts.name for s in list_segments([self.opts.name])):
                self.leftovers_removed = clean_stale([self.opts.name])
        finally:
            signal.signal(signal.SIGINT, old)

    def leftover_segments(self) -> list[str]:
        return [s.file for s in list_segments([self.opts.name])]
