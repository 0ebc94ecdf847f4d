"""Assembling and running the sim: engine + market source + one exchange's protocol adapter +
control endpoints on one aiohttp server, and the ready file that tells callers where it listens."""

from __future__ import annotations

import asyncio
import errno
import itertools
import json
import logging
import os
import signal
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from aiohttp import web

from hftctl import exchanges
from hftctl.errors import HftctlError
from hftctl.exchanges.venues import TESTNET, is_loopback
from hftctl.sim.adapter import LIQUIDATION, MARK, ReplayFormat
from hftctl.sim.config import load_config
from hftctl.sim.control import Control
from hftctl.sim.derivatives import DerivativesFeed
from hftctl.sim.engine import SimEngine
from hftctl.sim.faults import Faults
from hftctl.sim.market import ReplayMarket, SyntheticMarket

from hftctl.sim.recording import iter_lines, scan
from hftctl.sim.wshub import WsHub

log = logging.getLogger(__name__)


@dataclass
class SimOptions:
    exchange: str | None = None              # None: the recordings' exchange, else exchanges.DEFAULT
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
    legacy_ws_paths: bool = False            # serve retired websocket paths (see SimConfig)
    venue: str = TESTNET                     # the venue whose host set the sim stands in for


def recorded_by(path: Path) -> str:
    """Which exchange recorded a replay file, from its content."""
    sample = b"".join(b"%d %s\n" % (ts, raw) for ts, raw in itertools.islice(iter_lines(path), 500))
    source = exchanges.detect(sample)
    if source is None:
        raise HftctlError(f"replay file {path}: cannot tell which exchange recorded it")
    return source


def replay_format(path: Path) -> ReplayFormat:
    """How to read a recording: its exchange is told from its content, whatever protocol the sim
    speaks (a Binance recording can drive the Bybit sim's market)."""
    source = recorded_by(path)
    fmt = exchanges.get(source).sim().replay
    if fmt is None:
        raise HftctlError(f"replay file {path}: {source} recordings cannot be replayed yet")
    return fmt


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
        if options.exchange is None:
            # replaying a recording, the sim speaks its exchange unless told otherwise
            recorded = sorted({recorded_by(Path(p)) for p in options.replay})
            options = replace(options, exchange=recorded[0] if len(recorded) == 1 else exchanges.DEFAULT)
        self.options = options
        self.adapter = exchanges.get(options.exchange).sim()
        self.venue = exchanges.venue(options.exchange, options.venue)
        if not is_loopback(options.host):
            # printed, not logged: --log-level error must not hide it
            print(f"WARNING: hftctl sim listens on {options.host}, not on loopback: anyone who can reach "
                  "this machine can trade on its accounts (the default keys are public) and read "
                  "its /_sim endpoints, which need no authentication. Use --host 127.0.0.1 unless "
                  "that is what you want.", file=sys.stderr, flush=True)
        self.config = load_config(options.config, dict(self.adapter.default_balances),
                                  dict(self.adapter.default_rate_limits))
        if options.rate_limits is not None:
            self.config.rate_limits.enabled = options.rate_limits
        self.config.legacy_ws_paths = options.legacy_ws_paths
        self.config.venue = self.venue.name
        self.faults = Faults()
        try:
            self.faults.update(options.faults)
        except HftctlError as exc:
            raise HftctlError(f"bad fault option: {exc}") from None
        formats = [replay_format(Path(p)) for p in options.replay]
        infos = [scan(Path(p), fmt) for p, fmt in zip(options.replay, formats)]
        if infos:
            symbols = [i.symbol for i in infos]
            if len(set(symbols)) != len(symbols):
                raise HftctlError("two replay files carry the same symbol")
        else:
            symbols = options.symbols or self.config.symbols or list(self.adapter.default_symbols)
        unknown = [s for s in symbols if s not in self.adapter.specs]
        if unknown:
            raise HftctlError(f"symbol {unknown[0]} is not listed by the {options.exchange} sim "
                              f"(known: {', '.join(self.adapter.specs)})")
        specs = {s: self.adapter.specs[s] for s in symbols}
        self.engine = SimEngine(specs, self.config.accounts, self.faults, self.adapter.accounting())
        self.hub = WsHub(self.faults)
        self.replays = [ReplayMarket(self.engine, fmt, i, options.speed, options.loop)
                        for fmt, i in zip(formats, infos)]
        self.synthetic = None
        if not infos:
            self.synthetic = SyntheticMarket(self.engine, symbols, options.seed, self.config.synthetic)
            self.synthetic.seed_books()
        recorded = {i.symbol: i.carries for i in infos}
        self.derivatives = DerivativesFeed(
            self.engine, [s for s in symbols if MARK not in recorded.get(s, ())],
            [s for s in symbols if LIQUIDATION not in recorded.get(s, ())], options.seed, self.config.synthetic)
        self.app = web.Application(client_max_size=1 << 20)
        self.protocol = self.adapter.install(self.app, self.engine, self.hub, self.config,
                                             options.ws_ping_interval_s)
        self.background = self.protocol.background()
        Control(self).routes(self.app)
        self._tasks: list[asyncio.Task] = []

    def extra_counters(self) -> dict:
        return {"rest_requests": self.protocol.requests, "ws_connections": len(self.hub.clients),
                "ws_dropped": self.hub.dropped, "ws_limit_drops": self.hub.limit_drops}

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
        coros = list(self.background) + [self.hub.run_dropper(), self.engine.countdowns.run(),
                                         self.derivatives.run()]
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
        """Where this sim listens: ``rest_url`` and ``ws_url`` (what a connector config names)
        plus the exchange's other websocket URLs, and the control endpoints."""
        host = self.options.host
        return {"pid": os.getpid(), "exchange": self.options.exchange, "venue": self.venue.name, "host": host,
                "port": port, **self.adapter.ready_urls(self.venue.on(host, port)),
                "control_url": f"http://{host}:{port}/_sim"}

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
    options = sim.options
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
