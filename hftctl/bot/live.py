"""Live and dry-run back-ends: the bot API over a running connector's shared-memory channels.

Live: requests go to the connector, which places real (testnet) orders; the bot's order states
and position come from the connector's OrderUpdate / Position events.

Dry run: the same market data, but orders never leave the process. They go to a
``VirtualExchange`` (hftctl/bot/matching.py) matched against the live book and trades on the
wall clock, so a strategy can be watched on real data with zero risk. The only requests a
dry-run bot ever sends are Hello, RegisterInstrument, SnapshotRequest, BotHeartbeat and Bye.

Safety: ``close()`` of a live bot sends CancelAll and waits (bounded) for every order to reach
a final state; the connector also cancels a bot's orders when it sees the bot die.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Protocol

import posix_ipc

from hftctl.bot.api import MAX_TRADES, Bot
from hftctl.bot.matching import ExecutionModel, VirtualExchange
from hftctl.bot.types import Instrument, Order, TradeTick
from hftctl.errors import HftctlError
from hftctl.gc_tuning import freeze_startup_heap
from hftctl.ipc import schema as s
from hftctl.status import StatusFile

log = logging.getLogger(__name__)

HEARTBEAT_NS = 1_000_000_000
DRY_RUN_MODEL = ExecutionModel(entry_latency_ns=1_000_000, response_latency_ns=1_000_000)


class Transport(Protocol):
    """What the bot needs from the IPC layer (hftctl.ipc's bot endpoint provides it)."""

    bot_id: int

    def send(self, msg: s.Message) -> object: ...

    def recv(self, timeout: float | None = 0.0) -> object | None: ...

    def close(self) -> None: ...


class ConnectorGone(HftctlError):
    """The connector died or closed its channel while the bot was running."""


class LiveBot(Bot):
    """Bot API on live market data from connector NAME; ``dry_run`` keeps orders virtual."""

    def __init__(self, transport: Transport, instruments: Sequence[Instrument], *, name: str = "bot",
                 dry_run: bool = False, model: ExecutionModel = DRY_RUN_MODEL,
                 first_data_timeout_s: float = 30.0) -> None:
        super().__init__(instruments)
        self.transport = transport
        self.dry_run = dry_run
        self.name = name
        self.bot_id = transport.bot_id
        self.error: str | None = None
        self._by_symbol = {inst.symbol.upper(): k for k, inst in enumerate(self.instruments)}
        self._req_id = 0
        self._req_orders: dict[int, tuple[int, int]] = {}     # req_id -> (instrument, order_id)
        self._next_heartbeat = 0
        self._ex = [VirtualExchange(self._books[k], self._orders[k], self._accounts[k], model)
                    for k in range(len(self.instruments))] if dry_run else []
        self.current_timestamp = time.time_ns()
        self._status = StatusFile("bot", name)     # read by `hftctl health` (docs/health.md)
        # A symbol the exchange does not know never gets a book; stop with a clear error
        # instead of waiting forever (only before the first snapshot: later resyncs may be slow).
        self._no_data_deadline = self.current_timestamp + int(first_data_timeout_s * 1e9)
        self._streams: dict[str, str] = {}      # the connector's last ConnectorStatus
        self._has_data = [False] * len(self.instruments)
        # The endpoint already said Hello when it attached.
        for inst in self.instruments:
            self._send(s.RegisterInstrument(self.bot_id, inst.symbol.upper(), inst.tick_size, inst.lot_size))
            self._send(s.SnapshotRequest(self.bot_id, inst.symbol.upper()))
        freeze_startup_heap()     # the strategy's market loop starts now

    # --- clock --------------------------------------------------------------------------------

    def elapse(self, duration_ns: int) -> bool:
        deadline = time.time_ns() + duration_ns
        while True:
            if self.error is not None:
                return False
            now = time.time_ns()
            if now >= deadline:
                self._tick(now)
                return True
            self._poll_once(min(deadline, self._next_wake(now)) - now)

    def wait_next(self, timeout_ns: int) -> bool:
        if self.error is not None:
            return False
        deadline = time.time_ns() + timeout_ns
        while True:
            now = time.time_ns()
            if now >= deadline:
                self._tick(now)
                return self.error is None
            if self._poll_once(min(deadline, self._next_wake(now)) - now):
                return self.error is None

    def _next_wake(self, now: int) -> int:
        wake = self._next_heartbeat
        for ex in self._ex:
            wake = min(wake, ex.next_ts)
        return max(wake, now + 100_000)

    def _poll_once(self, timeout_ns: int) -> bool:
        """Wait for one message (or the timeout), apply it; True if something happened."""
        # A signal (SIGINT/SIGTERM) ends the wait early with None; the caller checks its stop flag.
        msg = self.transport.recv(max(timeout_ns, 0) / 1e9)
        now = time.time_ns()
        self.current_timestamp = now
        happened = False
        if msg is not None:
            happened = self._handle(msg)
        if self._tick(now):
            happened = True
        return happened

    def _tick(self, now: int) -> bool:
        self.current_timestamp = now
        if self._no_data_deadline and now >= self._no_data_deadline:
            self._no_data_deadline = 0
            missing = [self.instruments[k].symbol.upper() for k, ok in enumerate(self._has_data) if not ok]
            if missing:
                self.error = (f"no market data for {', '.join(missing)} from connector "
                              f"{getattr(self.transport, 'name', '?')!r} (unknown symbol, or the "
                              f"connector cannot subscribe to it; see the connector's log)")
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + HEARTBEAT_NS
            self._send(s.BotHeartbeat(self.bot_id, now))
            self._status.update({"connector": getattr(self.transport, "name", ""), "bot_id": self.bot_id,
                                 "symbol": self.instruments[0].symbol, "dry_run": self.dry_run,
                                 "position": self._accounts[0].position, "open_orders": self.open_orders()})
        delivered = False
        for ex in self._ex:
            delivered |= ex.process_until(now)
        return delivered

    # --- events -------------------------------------------------------------------------------

    def _handle(self, msg: object) -> bool:
        kind = type(msg).__name__
        if kind == "Overrun":
            log.warning("fell behind the connector (%s); resynchronising books", msg)
            for k, inst in enumerate(self.instruments):
                self._books[k].clear()
                self._send(s.SnapshotRequest(self.bot_id, inst.symbol.upper()))
            return False
        elif kind == "WriterGone":
            self.error = f"connector gone: {getattr(msg, 'reason', msg)}"
            log.error("%s", self.error)
            return True
        symbol = getattr(msg, "symbol", None)
        k = self._by_symbol.get(symbol.upper()) if isinstance(symbol, str) else None
        if isinstance(msg, s.DepthDiff):
            if k is None:
                return False
            self._books[k].apply_diff(msg.bids, msg.asks)
            if self.dry_run:
                self._ex[k].on_depth(self.current_timestamp)
            return True
        if isinstance(msg, s.DepthSnapshot):
            if k is None:
                return False
            self._has_data[k] = True
            self._books[k].apply_snapshot(msg.bids, msg.asks)
            if self.dry_run:
                self._ex[k].on_depth(self.current_timestamp)
            return True
        if isinstance(msg, s.DepthClear):
            if k is not None:
                log.warning("%s: connector lost book sync (%s)", msg.symbol, msg.reason)
                self._books[k].clear()
            return k is not None
        if isinstance(msg, s.Trade):
            if k is None:
                return False
            trades = self._trades[k]
            if len(trades) < MAX_TRADES:
                trades.append(TradeTick(msg.local_ts, msg.exch_ts, msg.side, msg.px, msg.qty))
            if self.dry_run:
                self._ex[k].on_trade(self.current_timestamp, self._books[k].to_tick(msg.px))
            return True
        if self.dry_run:
            return False            # own-order events are never ours in a dry run
        if isinstance(msg, s.OrderUpdate) and k is not None:
            return self._on_order_update(k, msg)
        if isinstance(msg, s.Position) and k is not None:
            self._accounts[k].position = msg.qty
            return True
        if isinstance(msg, s.Error):
            return self._on_error(msg)
        if isinstance(msg, s.ConnectorStatus):
            was = self.trading_ok()
            self._streams = msg.streams
            return self.trading_ok() != was       # strategies pause quoting while blind
        return False

    def trading_ok(self) -> bool:
        return self._streams.get("user", "connected") == "connected"

    def _on_order_update(self, k: int, u: s.OrderUpdate) -> bool:
        o = self._orders[k].get(u.order_id)
        if o is None:
            return False
        if u.req_id is not None:
            self._req_orders.pop(u.req_id, None)
        o.req = None
        o.status, o.px, o.leaves_qty, o.exch_ts = u.status, u.px, u.leaves_qty, u.exch_ts
        o.exec_qty, o.exec_px, o.reason = u.exec_qty, u.exec_px, u.reason
        if u.exec_qty > 0 and u.cum_qty > o.cum_qty:
            self._accounts[k].fill(o.side, u.exec_px, u.exec_qty, 0.0)
        o.cum_qty = max(o.cum_qty, u.cum_qty)
        return True

    def _on_error(self, e: s.Error) -> bool:
        if e.req_id is None:
            log.warning("connector error %s: %s%s", e.code, e.message, f" ({e.symbol})" if e.symbol else "")
            return False
        ref = self._req_orders.pop(e.req_id, None)
        if ref is None:
            return False
        k, oid = ref
        o = self._orders[k].get(oid)
        if o is not None and o.req is None:
            # e.g. a cancel that crossed the fill: the order already reached its final state
            log.debug("%s order %s: late request error: %s", self.instruments[k].symbol, oid, e.message)
        elif o is not None:
            log.warning("%s order %s: %s request failed: %s", self.instruments[k].symbol, oid, o.req, e.message)
            if o.req == "new":
                o.status = "rejected"
            o.req, o.reason = None, e.message
        return True

    # --- requests -------------------------------------------------------------------------------

    def _send(self, msg: s.Message) -> None:
        if isinstance(msg, (s.SubmitOrder, s.CancelOrder, s.ModifyOrder, s.CancelAll)) and self.dry_run:
            raise AssertionError("dry-run bot tried to send an order request")  # never reachable
        try:
            try:
                self.transport.send(msg)
            except posix_ipc.SignalError:       # a Ctrl-C landed during a wait: send again
                self.transport.send(msg)
        except HftctlError as exc:
            self.error = f"cannot reach connector: {exc}"
            raise ConnectorGone(self.error) from None

    def _new_req(self, k: int, order_id: int) -> int:
        self._req_id += 1
        self._req_orders[self._req_id] = (k, order_id)
        return self._req_id

    def _send_new(self, i: int, order: Order) -> None:
        if self.dry_run:
            self._ex[i].request(time.time_ns(), "new", order.order_id, order.px, order.qty)
            return
        sym = self.instruments[i].symbol.upper()
        self._send(s.SubmitOrder(self.bot_id, self._new_req(i, order.order_id), sym, order.order_id,
                                 order.side, order.px, order.qty, order.order_type, order.time_in_force))

    def _send_cancel(self, i: int, order: Order) -> None:
        if self.dry_run:
            self._ex[i].request(time.time_ns(), "cancel", order.order_id)
            return
        sym = self.instruments[i].symbol.upper()
        self._send(s.CancelOrder(self.bot_id, self._new_req(i, order.order_id), sym, order.order_id))

    def _send_modify(self, i: int, order: Order, px: float, qty: float) -> None:
        if self.dry_run:
            self._ex[i].request(time.time_ns(), "modify", order.order_id, px, qty)
            return
        sym = self.instruments[i].symbol.upper()
        self._send(s.ModifyOrder(self.bot_id, self._new_req(i, order.order_id), sym, order.order_id, px, qty))

    # --- shutdown -------------------------------------------------------------------------------

    def close(self, timeout_ns: int = 5_000_000_000) -> int:
        """Cancel everything (live: CancelAll at the connector), wait for it, say Bye.

        Returns the number of orders not confirmed final (0 when clean).
        """
        left = 0
        try:
            if self.error is None:
                if not self.dry_run:
                    self._req_id += 1
                    self._send(s.CancelAll(self.bot_id, self._req_id, None))
                    for orders in self._orders:
                        for o in orders.values():
                            if o.active and o.req is None:
                                o.req = "cancel"
                else:
                    self.cancel_all()
                deadline = time.time_ns() + timeout_ns
                while self.open_orders() and time.time_ns() < deadline and self.error is None:
                    self._poll_once(min(100_000_000, deadline - time.time_ns()))
                left = self.open_orders()
                if left:
                    log.warning("%d order(s) not confirmed cancelled at shutdown", left)
        except ConnectorGone:
            pass
        finally:
            self._status.close()
            self.transport.close()          # says Bye if the connector is still there
        return left
