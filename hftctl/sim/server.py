"""Assembling and running the sim: engine + market source + one exchange's protocol adapter +
control endpoints on one aiohttp server, and the ready file that tells callers where it listens."""

from __future__ import annotations

import asyncio
import errno
import importlib
import ipaddress
import json
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from hftctl.errors import HftctlError
from hftctl.sim.config import load_config
from hftctl.sim.control import Control
from hftctl.sim.engine import SimEngine
from hftctl.sim.faults import Faults
from hftctl.sim.market import ReplayMarket, SyntheticMarket
from hftctl.sim.recording import scan
from hftctl.sim.wshub import WsHub

log = logging.getLogger(__name__)

# exchange -> module implementing the protocol adapter
# (SPECS, DEFAULT_SYMBOLS, DEFAULT_BALANCES, accounting(), install())
ADAPTERS = {
    "binancefutures": "hftctl.exchanges.binancefutures.sim_server",
    "binancespot": "hftctl.exchanges.binancespot.sim_server",
    "bybit": "hftctl.exchanges.bybit.sim_server",
}
PLANNED: set[str] = set()


@dataclass
class SimOptions:
    exchange: str = "binancefutures"
    host: str = "127.0.0.1"
    port: int = 17001
    replay: list[Path] = field(default_factory=list)
    speed: float = 1.0
    loop: bool = False
    seed: int = 1
    config: Path | None = None
    ready_file: Path | None = None
    faults: dict = field(default_factory=dict)
    ws_ping_interval_s: float = 180.0
    rate_limits: bool | None = None          # None: as the config says
    symbols: list[str] | None = None


def _adapter(exchange: str):
    if exchange in PLANNED:
        raise HftctlError(f"hftctl sim: exchange {exchange!r} is not simulated yet "
                          "(only binancefutures; see docs/sim.md, 'Not yet')")
    module = ADAPTERS.get(exchange)
    if module is None:
        raise HftctlError(f"unknown exchange {exchange!r} (expected one of binancefutures, binancespot, bybit)")
    return importlib.import_module(module)


def is_loopback(host: str) -> bool:
    """Only literal loopback addresses and "localhost" count; a name could resolve to anything."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_options(options: SimOptions) -> None:
    """Values the socket layer would only reject with a traceback, or accept and misbehave on."""
    if not 0 <= options.port <= 65535:
        raise HftctlError(f"--port must be between 0 (any free port) and 65535, got {options.port}")
    if not options.ws_ping_interval_s > 0:
        raise HftctlError(f"--ws-ping-interval must be > 0 seconds, got {options.ws_ping_interval_s}")
    if options.ready_file and not Path(options.ready_file).parent.is_dir():
        # checked before listening; any later failure to write it is reported by write_ready_file
        raise HftctlError(f"--ready-file {options.ready_file}: folder {Path(options.ready_file).parent} "
                          "does not exist")


class Sim:
    """Everything one sim process runs; built synchronously so bad input fails before listening."""

    def __init__(self, options: SimOptions) -> None:
        _check_options(options)
        self.options = options
        self.adapter = _adapter(options.exchange)
        if not is_loopback(options.host):
            # printed, not logged: --log-level error must not hide it
            print(f"WARNING: hftctl sim listens on {options.host}, not on loopback: anyone who can reach "
                  "this machine can trade on its accounts (the default keys are public) and read "
                  "its /_sim endpoints, which need no authentication. Use --host 127.0.0.1 unless "
                  "that is what you want.", file=sys.stderr, flush=True)
        self.config = load_config(options.config, self.adapter.DEFAULT_BALANCES,
                                  getattr(self.adapter, "DEFAULT_RATE_LIMITS", None))
        if options.rate_limits is not None:
            self.config.rate_limits.enabled = options.rate_limits
        self.faults = Faults()
        try:
            self.faults.update(options.faults)
        except HftctlError as exc:
            raise HftctlError(f"bad fault option: {exc}") from None
        infos = [scan(Path(p)) for p in options.replay]
        if infos:
            symbols = [i.symbol for i in infos]
            if len(set(symbols)) != len(symbols):
                raise HftctlError("two replay files carry the same symbol")
        else:
            symbols = options.symbols or self.config.symbols or list(self.adapter.DEFAULT_SYMBOLS)
        unknown = [s for s in symbols if s not in self.adapter.SPECS]
        if unknown:
            raise HftctlError(f"symbol {unknown[0]} is not listed by the {options.exchange} sim "
                              f"(known: {', '.join(self.adapter.SPECS)})")
        specs = {s: self.adapter.SPECS[s] for s in symbols}
        self.engine = SimEngine(specs, self.config.accounts, self.faults, self.adapter.accounting())
        self.hub = WsHub(self.faults)
        self.replays = [ReplayMarket(self.engine, i.path, options.speed, options.loop, i) for i in infos]
        self.synthetic = None
        if not infos:
            self.synthetic = SyntheticMarket(self.engine, symbols, options.seed, self.config.synthetic)
            self.synthetic.seed_books()
        self.app = web.Application(client_max_size=1 << 20)
        self.background = self.adapter.install(self.app, self.engine, self.hub, self.config,
                                               options.ws_ping_interval_s)
        Control(self).routes(self.app)
        self._tasks: list[asyncio.Task] = []

    def extra_counters(self) -> dict:
        rest = self.app.get("rest_stats")
        return {"rest_requests": rest.requests if rest else 0,
                "ws_connections": len(self.hub.clients), "ws_dropped": self.hub.dropped}

    async def _expire_listen_keys(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for key in self.engine.expire_listen_keys(time.monotonic()):
                log.info("listenKey %s... expired", key[:8])

    async def start(self) -> web.AppRunner:
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.options.host, self.options.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            for coro in self.background:
                coro.close()         # never started: close quietly
            reason = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
            raise HftctlError(f"cannot listen on {self.options.host}:{self.options.port}: {reason}") from None
        loop = asyncio.get_running_loop()
        coros = list(self.background) + [self.hub.run_dropper(), self._expire_listen_keys()]
        coros += [r.run() for r in self.replays]
        if self.synthetic:
            coros.append(self.synthetic.run())
        self._tasks = [loop.create_task(c) for c in coros]
        return runner

    def bound_port(self, runner: web.AppRunner) -> int:
        for site in runner.sites:
            server = getattr(site, "_server", None)
            if server and server.sockets:
                return server.sockets[0].getsockname()[1]
        return self.options.port

    def ready_info(self, port: int) -> dict:
        host = self.options.host
        base = f"http://{host}:{port}"
        info = {"pid": os.getpid(), "exchange": self.options.exchange, "host": host, "port": port,
                "rest_url": base, "ws_url": f"ws://{host}:{port}/ws", "control_url": f"{base}/_sim"}
        # an exchange whose websockets live elsewhere (Bybit: /v5/public/linear, /v5/private, ...)
        info.update({k: v.format(host=host, port=port) for k, v in getattr(self.adapter, "READY_URLS", {}).items()})
        return info

    async def stop(self, runner: web.AppRunner) -> None:
        for t in self._tasks:
            t.cancel()
        await self.hub.close_all()
        await runner.cleanup()


def write_ready_file(path: Path, info: dict) -> None:
    """Atomic: readers never see half a file."""
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        tmp.write_text(json.dumps(info))
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise HftctlError(f"cannot write --ready-file {path}: {exc.strerror or exc}") from None


async def serve(options: SimOptions) -> None:
    sim = Sim(options)
    runner = await sim.start()
    port = sim.bound_port(runner)
    info = sim.ready_info(port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if options.ready_file:
            write_ready_file(Path(options.ready_file), info)
        source = (f"replay of {', '.join(str(p) for p in options.replay)} at {options.speed}x"
                  if options.replay else f"synthetic market (seed {options.seed})")
        log.info("sim %s listening on %s (%s; symbols %s)", options.exchange, info["rest_url"], source,
                 ", ".join(sim.engine.specs))
        await stop.wait()
    finally:
        log.info("sim stopping")
        await sim.stop(runner)
        if options.ready_file:
            try:
                Path(options.ready_file).unlink()
            except OSError:
                pass


def run(options: SimOptions) -> None:
    asyncio.run(serve(options))
