"""The connector process: one exchange account, any number of bots, one asyncio loop.

Everything that changes order state runs on the loop thread, so the order table needs no
locks; bot requests arrive from the bridge's reader thread via ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from hftctl.connector import validate
from hftctl.connector.books import BookCache
from hftctl.connector.dead_man import DeadManSwitch
from hftctl.connector.guardian import Start
from hftctl.connector.bots import BotRegistry, BotSession
from hftctl.connector.claim import DEAD, OTHER, OWN, Ownership
from hftctl.connector.outcomes import resolve_order
from hftctl.connector.own_orders import cancel_each, cancel_quietly, list_own, owner
from hftctl.connector.routing import OrderRecord, OrderTable, make_client_id
from hftctl.connector.settings import ConnectorSettings
from hftctl.connector.validate import BadRequest
from hftctl.errors import HftctlError
from hftctl.exchanges.base import ExchangeClient, Instrument, OrderRequest
from hftctl.exchanges.errors import (ExchangeError, ExchangeRejected, NotSupported, OrderNotFound,
                                     OutcomeUnknown)
from hftctl.gc_tuning import freeze_startup_heap
from hftctl.ipc import schema as s
from hftctl.status import StatusFile

log = logging.getLogger("hftctl.connector")

# Error codes the connector itself uses in schema.Error (exchange codes are passed through).
E_BAD_REQUEST = 1
E_UNKNOWN_ORDER = 2
E_NOT_REGISTERED = 3
E_EXCHANGE = 4
E_STOPPING = 5
E_INTERNAL = 6


class Connector:
    """Routes bot requests to the exchange and exchange events to the bots that own them."""

    def __init__(self, name: str, exchange: ExchangeClient, bridge: Any, order_prefix: str,
                 settings: ConnectorSettings, tag: str, guardian: Start | None = None) -> None:
        self.name = name
        self.exchange = exchange
        self.bridge = bridge
        self.settings = settings
        self.prefix = order_prefix
        self.tag = tag                      # this instance's part of every client order id
        self.ownership = Ownership(order_prefix, tag)
        self._left_alone: set[str] = set()  # other connectors' open orders we have logged
        self.bots = BotRegistry()
        self.orders = OrderTable(order_prefix)
        self.books = BookCache()
        self.instruments: dict[str, Instrument] = {}
        self.positions: dict[str, s.Position] = {}
        self.balances: dict[str, s.Balance] = {}
        self.streams: dict[str, str] = {}
        self._raw_snapshot_at: dict[str, float] = {}
        self.last_msg: dict[str, float] = {}      # stream -> unix time of its last message (hftctl health)
        self.status = StatusFile("connector", name)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task] = set()
        self._reconcile_lock = asyncio.Lock()
        self._reconcile_queued = False
        self._stopping = asyncio.Event()
        self.dead_man = DeadManSwitch(exchange, settings, self._traded_symbols, guardian)
        # What `hftctl health` (and --prometheus) reports; see docs/health.md.
        self.counters = {"requests": 0, "order_updates": 0, "reconciled_updates": 0,
                         "bots_timed_out": 0, "reconciles": 0, "unknown_outcomes": 0,
                         "requests_refused": 0, "orders_submitted": 0, "orders_rejected": 0,
                         "cancels_sent": 0, "modifies_sent": 0, "market_disconnects": 0,
                         "user_disconnects": 0}
        self.feed_lag_ms = 0.0      # local receive time - exchange time of the last market event

    # --- lifecycle ----------------------------------------------------------------------------

    async def run(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.exchange.connect_market(self)
        log.info("Connected to market data stream")
        await self.exchange.connect_user()
        log.info("Connected to user data stream")
        await self._startup_reconcile()
        await self.dead_man.start()
        freeze_startup_heap()       # start-up is over: later GC passes skip what it built
        self.bridge.start(self.loop, self.on_request, self.on_refused)
        log.info("Listening for bot connections...")
        self._spawn(self._watchdog())
        self._spawn(self._periodic_reconcile())
        await self._stopping.wait()

    def stop(self) -> None:
        # From here on no new order reaches the exchange: shutdown's cancel-all must be final.
        self._stopping.set()

    async def stopped(self) -> None:
        """Returns once a stop was requested (signal handler)."""
        await self._stopping.wait()

    async def shutdown(self) -> None:
        """Cancel open orders as ``cancel_on_stop`` says, then close the exchange side."""
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        mode = self.settings.cancel_on_stop
        try:
            if mode == "none":
                log.warning("leaving %d open order(s) at the exchange (cancel_on_stop = \"none\")",
                            len(self.orders.open_orders()))
                await self.dead_man.stop(orders_left=True, all_cancelled=False)
            else:
                # The switch keeps being refreshed while the orders are cancelled.
                ok = await (self._cancel_everything() if mode == "all" else self._cancel_own())
                await self.dead_man.stop(orders_left=False, all_cancelled=ok)
        finally:
            await self.exchange.close()

    async def _cancel_everything(self) -> bool:
        """Every open order of the account on the symbols we traded, bots' or not; True if every
        cancel-all went through."""
        ok = True
        for sym in sorted(self._traded_symbols() | set(self.instruments)):
            inst = self.instruments.get(sym) or Instrument(sym, 0.0, 0.0)
            try:
                await asyncio.wait_for(self.exchange.cancel_all(inst), 10)
                log.info("cancelled all open orders on %s", sym)
            except Exception as e:
                ok = False
                log.error("cancel-all on %s failed at shutdown: %s", sym, e)
        return ok

    async def _cancel_own(self) -> bool:
        """This instance's open orders as the exchange lists them, plus those of earlier runs of
        this connector (connector/claim.py), plus those we track; every other order stays. True
        if every one of them is known to be gone."""
        cids = {r.client_order_id: r.instrument for r in self.orders.open_orders()}
        ok = True
        try:
            listed = await asyncio.wait_for(list_own(self.exchange, self.ownership), 5)
        except Exception as e:
            ok = False
            log.error("open orders unavailable at shutdown (%s); cancelling the %d tracked ones",
                      _why(e, self.exchange), len(cids))
            listed = []
        for u in listed:
            cids.setdefault(u.client_order_id, self.instruments.get(u.symbol) or Instrument(u.symbol, 0.0, 0.0))
        if not cids:
            return ok
        failed = await cancel_each(self.exchange, cids, timeout_s=10)
        if failed:
            log.error("%d of this connector's %d open order(s) may be left open: cancels failed or did "
                      "not finish in 10 s (%s)", len(failed), len(cids), _why(None, self.exchange))
        else:
            log.info("cancelled %d open order(s) of this connector", len(cids))
        return ok and not failed

    def _traded_symbols(self) -> set[str]:
        """What the bots trade: the symbols they registered, and any with an open order of ours."""
        return ({sym for b in self.bots.bots.values() for sym in b.instruments}
                | {r.instrument.symbol for r in self.orders.open_orders()})

    def _spawn(self, coro: Any) -> asyncio.Task:
        assert self.loop is not None
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("connector task failed: %r", task.exception(), exc_info=task.exception())

    # --- ExchangeSink -------------------------------------------------------------------------

    def market(self, msg: s.Message) -> None:
        self.last_msg["market"] = time.time()
        exch_ts = getattr(msg, "exch_ts", 0)
        if exch_ts:
            self.feed_lag_ms = (msg.local_ts - exch_ts) / 1e6
        self.books.apply(msg)
        self.bridge.publish(msg, 0)

    def raw(self, symbol: str, stream: str, local_ts: int, raw: bytes) -> None:
        dests = self.bots.raw_subscribers(symbol)
        if dests:
            msg = s.RawMessage(self.exchange.name, symbol, stream, local_ts, raw)
            for d in dests:
                self.bridge.publish(msg, d)

    def order(self, update: s.OrderUpdate, from_rest_avg: bool = False) -> None:
        if not from_rest_avg:
            self.last_msg["user"] = time.time()
        self._apply(update, from_rest_avg)

    def _apply(self, update: s.OrderUpdate, from_rest_avg: bool, answer: int | None = None) -> bool:
        """Fold an update in and tell the owner; True if it was told something."""
        res = self.orders.apply(update, from_rest_avg, answer)
        if res is None:
            rec = self.orders.by_cid.get(update.client_order_id)
            if rec is None:
                self._foreign_order(update)
            elif (not rec.is_open and update.status not in s.FINAL_STATUSES and update.exch_order_id
                  and update.exch_order_id != rec.exch_order_id):
                # A live exchange order under the client id of an order that has ended (a
                # cancel-replace the exchange carried out after we had settled it): nobody's.
                log.warning("order %s has ended, yet exchange order %s carries its id: cancelling it",
                            rec.client_order_id, update.exch_order_id)
                self._spawn(self._cancel_quietly(rec.instrument, rec.client_order_id))
            return False
        rec, out = res
        self.counters["order_updates"] += 1
        self._send_to_owner(rec, out)
        if rec.revived and rec.is_open:
            # Its owner was told it was rejected and may have acted on that: take it off the
            # book. The bot sees the truth: the order live, then cancelled (or filled first).
            rec.revived = False
            log.warning("order %s, reported rejected after an unknown outcome, is live at the exchange: "
                        "cancelling it", rec.client_order_id)
            self._spawn(self._cancel_quietly(rec.instrument, rec.client_order_id))
        return True

    def _answer(self, rec: OrderRecord, req_id: int, what: str) -> None:
        """The order as it stands, as the answer to a request that changed nothing visible
        (a modify to the same values; a response after the stream already told the bot)."""
        self._send_to_owner(rec, self.orders.local_update(rec, rec.status, what, time.time_ns(), req_id))

    def position(self, pos: s.Position) -> None:
        old = self.positions.get(pos.symbol)
        self.positions[pos.symbol] = pos
        if old is None or old.qty != pos.qty or old.entry_px != pos.entry_px:
            self.bridge.publish(pos, 0)

    def balance(self, bal: s.Balance) -> None:
        old = self.balances.get(bal.asset)
        self.balances[bal.asset] = bal
        if old != bal:
            self.bridge.publish(bal, 0)

    def stream_state(self, stream: str, state: str) -> None:
        """A stream went up or down: the bots hear it now, not at the next heartbeat (while the
        user stream is down the connector is blind to fills, and a bot may stop quoting)."""
        self.streams[stream] = state
        if state != "connected" and f"{stream}_disconnects" in self.counters:
            self.counters[f"{stream}_disconnects"] += 1
        log.info("%s stream %s", stream, state)
        self.bridge.publish(self._connector_status(time.time_ns()), 0)

    def symbol_error(self, symbol: str, code: int, message: str) -> None:
        """The exchange refuses the symbol: tell the bots that registered it or asked for its raw
        messages by name (a collector), forget it (they may ask again)."""
        for bot in list(self.bots.bots.values()):
            if symbol in bot.instruments or symbol in bot.raw_symbols:
                bot.instruments.pop(symbol, None)
                bot.raw_symbols.discard(symbol)
                self._error(bot.bot_id, code, message, symbol=symbol)
        self.instruments.pop(symbol, None)

    def user_stream_reconnected(self) -> None:
        # One pass that has not started yet covers every reconnect before it: under a REST
        # back-off, a stream dropping every few seconds queued a pass per drop, and they all
        # ran back to back (and spent the request budget) once the back-off ended.
        if not self._reconcile_queued:
            self._reconcile_queued = True
            self._spawn(self.reconcile("user stream reconnected"))

    def _send_to_owner(self, rec: OrderRecord, msg: s.OrderUpdate) -> None:
        if msg.status == "rejected":
            self.counters["orders_rejected"] += 1
        bot = self.bots.bots.get(rec.bot_id)
        if bot is None or bot.gen != rec.gen:
            return      # the owner is gone; its orders are being cancelled
        self.bridge.publish(msg, rec.bot_id)

    def _owner(self, cid: str) -> str:
        return owner(self.ownership, cid)

    def _orphan(self, update: s.OrderUpdate) -> bool:
        """An open order we do not track that is provably ours (this instance's, or a dead earlier
        run's): an orphan to cancel. Another connector's order is logged once and left alone."""
        if update.status in s.FINAL_STATUSES:
            return False
        who = self._owner(update.client_order_id)
        if who == OTHER and update.client_order_id not in self._left_alone:
            if len(self._left_alone) < 10_000:
                self._left_alone.add(update.client_order_id)
            log.warning("open order %s has prefix '%s' but another connector's tag (not %s): "
                        "left alone", update.client_order_id, self.prefix, self.tag)
        return who in (OWN, DEAD)

    def _foreign_order(self, update: s.OrderUpdate) -> None:
        """An order we do not track: an orphan of ours (cancel it) or someone else's."""
        if self._orphan(update):
            inst = self.instruments.get(update.symbol) or Instrument(update.symbol, 0.0, 0.0)
            log.warning("cancelling orphan order %s (not owned by any live bot)", update.client_order_id)
            self._spawn(self._cancel_quietly(inst, update.client_order_id))

    async def _cancel_quietly(self, inst: Instrument, cid: str) -> None:
        await cancel_quietly(self.exchange, inst, cid)

    # --- bot requests -------------------------------------------------------------------------

    def on_request(self, msg: s.Message) -> None:
        """Called on the loop thread for every decoded request: each is answered, once."""
        self.counters["requests"] += 1
        try:
            self._dispatch(msg)
        except BadRequest as e:
            self.counters["requests_refused"] += 1
            self._error(msg.bot_id, E_BAD_REQUEST, str(e), getattr(msg, "req_id", None),
                        _symbol_of(msg))
        except Exception as e:   # a bug: the bot is still answered, the connector stays up
            self._internal_error(msg, e)

    def on_refused(self, sender: int, kind: str, req_id: int | None, reason: str) -> None:
        """A request the bridge could not pass on (malformed, not a request, another bot's id)."""
        self.counters["requests_refused"] += 1
        log.warning("bot %d: %s refused: %s", sender, kind, reason)
        self._error(sender, E_BAD_REQUEST, f"{kind} refused: {reason}", req_id)

    def _internal_error(self, msg: s.Message, e: BaseException) -> None:
        log.error("%s from bot %d failed: %s: %s", type(msg).__name__, getattr(msg, "bot_id", 0),
                  e.__class__.__name__, e)
        log.debug("traceback", exc_info=e)
        self._error(getattr(msg, "bot_id", 0), E_INTERNAL, f"internal error: {e.__class__.__name__}: {e}",
                    getattr(msg, "req_id", None), _symbol_of(msg))

    def _request(self, msg: s.Message, coro: Awaitable[None]) -> None:
        """Run a request's handler; an exception it did not expect still answers the bot."""
        async def run() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except BadRequest as e:
                self.counters["requests_refused"] += 1
                self._error(msg.bot_id, E_BAD_REQUEST, str(e), getattr(msg, "req_id", None), _symbol_of(msg))
            except Exception as e:
                self._internal_error(msg, e)
        self._spawn(run())

    def _dispatch(self, msg: s.Message) -> None:
        bot_id = msg.bot_id
        t = type(msg)
        if t is s.Hello:
            name = validate.hello(msg.pid, msg.name)
            session, old = self.bots.hello(msg.bot_id, msg.pid, name)
            if old is not None:
                self._spawn(self._retire(old, "slot reused"))
            log.info("bot %d connected (%s, pid %d)", msg.bot_id, name, msg.pid)
            self._send_account(msg.bot_id)
            return
        if t is s.Bye:
            old = self.bots.remove(bot_id)
            if old is not None:
                log.info("bot %d said goodbye", bot_id)
                self._spawn(self._retire(old, "bot left"))
            return
        bot = self.bots.get_or_create(bot_id)
        if self.bots.touch(bot_id) is not None:
            log.info("bot %d (%s) speaks again after its silence; its subscriptions still stand",
                     bot_id, bot.name)
        if t is s.BotHeartbeat:
            return
        if self._stopping.is_set() and t in (s.SubmitOrder, s.ModifyOrder):
            self._error(bot_id, E_STOPPING, "connector is shutting down", getattr(msg, "req_id", None))
            return
        if t is s.RegisterInstrument:
            self._request(msg, self._register(bot, msg))
        elif t is s.SubmitOrder:
            self._request(msg, self._submit(bot, msg))
        elif t is s.CancelOrder:
            self._request(msg, self._cancel(bot, msg))
        elif t is s.ModifyOrder:
            self._request(msg, self._modify(bot, msg))
        elif t is s.CancelAll:
            self._request(msg, self._cancel_all(bot, msg))
        elif t is s.SnapshotRequest:
            sym = validate.symbol(msg.symbol)
            self._send_snapshot(bot_id, sym)
            if (None in bot.raw_symbols or sym in bot.raw_symbols) and self._raw_snapshot_due(sym):
                self._spawn(self.exchange.raw_snapshot(sym))
        elif t is s.SubscribeRaw:
            sym = validate.symbol(msg.symbol) if msg.symbol else None
            bot.raw_symbols.add(sym)
            if sym is not None and sym not in self.instruments:
                self._spawn(self._ensure_symbol(Instrument(sym, 0.0, 0.0)))
        else:
            self._error(bot_id, E_BAD_REQUEST, f"unexpected message {t.__name__}")

    def _raw_snapshot_due(self, symbol: str) -> bool:
        """At most one raw re-snapshot per symbol per second (a 1000-level one weighs 20)."""
        now = time.monotonic()
        if now - self._raw_snapshot_at.get(symbol, 0.0) < 1.0:
            return False
        self._raw_snapshot_at[symbol] = now
        return True

    def _error(self, bot_id: int, code: int, text: str, req_id: int | None = None,
               symbol: str | None = None) -> None:
        self.bridge.publish(s.Error(code, text, req_id, symbol), bot_id)

    def _send_account(self, bot_id: int) -> None:
        for pos in self.positions.values():
            self.bridge.publish(pos, bot_id)
        for bal in self.balances.values():
            self.bridge.publish(bal, bot_id)

    def _send_snapshot(self, bot_id: int, symbol: str) -> None:
        snap = self.books.snapshot(symbol.upper())
        if snap is not None:
            self.bridge.publish(snap, bot_id)
        # else: the book is syncing; the bot gets the broadcast snapshot when it is ready

    async def _ensure_symbol(self, inst: Instrument) -> None:
        known = self.instruments.get(inst.symbol)
        if known is None or (not known.tick_size and inst.tick_size):
            self.instruments[inst.symbol] = inst
        self.books.ensure(inst.symbol, inst.tick_size or None)
        await self.exchange.subscribe(inst)

    async def _register(self, bot: BotSession, msg: s.RegisterInstrument) -> None:
        sym = validate.symbol(msg.symbol)
        validate.steps(msg.tick_size, msg.lot_size)
        inst = Instrument(sym, msg.tick_size, msg.lot_size)
        bot.instruments[sym] = inst
        await self._ensure_symbol(inst)
        await self.dead_man.cover(sym)
        self._send_snapshot(bot.bot_id, sym)
        pos = self.positions.get(sym)
        if pos is not None:
            self.bridge.publish(pos, bot.bot_id)

    def _instrument(self, bot: BotSession, symbol: str, req_id: int) -> Instrument | None:
        inst = bot.instruments.get(symbol.upper())
        if inst is None:
            self._error(bot.bot_id, E_NOT_REGISTERED, f"{symbol}: register the instrument first",
                        req_id, symbol)
        return inst

    async def _submit(self, bot: BotSession, msg: s.SubmitOrder) -> None:
        inst = self._instrument(bot, msg.symbol, msg.req_id)
        if inst is None:
            return
        validate.order_id(msg.order_id)
        validate.order(inst, msg.px, msg.qty, msg.order_type)
        existing = self.orders.get(bot.bot_id, msg.order_id)
        if existing is not None and existing.gen == bot.gen and existing.is_open:
            self._error(bot.bot_id, E_BAD_REQUEST, f"order_id {msg.order_id} is still open",
                        msg.req_id, inst.symbol)
            return
        if existing is not None and existing.gen == bot.gen and time.monotonic() < existing.reuse_after:
            # Same id, same client order id: a late event of the earlier order would be taken
            # for this one. The earlier one's outcome was unknown; wait until it surely is not live.
            self._error(bot.bot_id, E_BAD_REQUEST, f"order_id {msg.order_id}: an earlier order with this id "
                        f"had an unknown outcome; reuse it in {existing.reuse_after - time.monotonic():.0f}s",
                        msg.req_id, inst.symbol)
            return
        try:
            cid = make_client_id(self.prefix, self.tag, bot.bot_id, bot.gen, msg.order_id)
        except HftctlError as e:
            raise BadRequest(str(e)) from None
        rec = OrderRecord(bot.bot_id, bot.gen, msg.order_id, cid, inst, msg.side, msg.px, msg.qty,
                          msg.order_type, msg.time_in_force, pending_req_id=msg.req_id)
        self.orders.add(rec)
        req = OrderRequest(inst, cid, msg.side, msg.px, msg.qty, msg.order_type, msg.time_in_force)
        self.counters["orders_submitted"] += 1
        try:
            resp = await self.exchange.submit(req)
        except OutcomeUnknown as e:
            await self._resolve_submit(rec, msg.req_id, e)
            return
        except asyncio.CancelledError:
            raise
        except Exception as e:
            if not isinstance(e, ExchangeError):
                # A client failure we did not foresee: the order may have been sent. Find it.
                log.error("submit %s: %s: %s", cid, e.__class__.__name__, e)
                await self._resolve_submit(rec, msg.req_id, e)
                return
            self._send_to_owner(rec, self.orders.local_update(
                rec, "rejected", _reason(e), time.time_ns(), msg.req_id))
            return
        rec.submitted = True
        if resp is not None:
            self.order(resp, from_rest_avg=True)
            if rec.pending_req_id == msg.req_id:     # e.g. a cancel's response got there first
                rec.pending_req_id = None
                self._answer(rec, msg.req_id, "submitted")

    async def _resolve_submit(self, rec: OrderRecord, req_id: int, why: Exception) -> None:
        """The exchange may or may not have the order: find out before the bot is told anything
        final (connector/outcomes.py). A stream event for it settles the question too."""
        rec.outcome_unknown = True
        self.counters["unknown_outcomes"] += 1
        log.warning("submit %s: outcome unknown (%s); finding the order", rec.client_order_id, why)
        window = self.settings.unknown_outcome_window_s
        result = await resolve_order(lambda: self.exchange.query_order(rec.instrument, rec.client_order_id),
                                     lambda: rec.status != "pending", window, rec.client_order_id)
        if result.update is not None:
            rec.submitted = True
            self.order(result.update, from_rest_avg=True)
        elif result.absent and rec.status == "pending":
            # Never placed, as far as the exchange can tell. The record stays revivable (and its
            # id unused for a while): should the order still show up, it is cancelled.
            rec.reuse_after = time.monotonic() + 6 * window
            self._send_to_owner(rec, self.orders.local_update(
                rec, "rejected", f"outcome unknown ({why}); not at the exchange after {window:.0f}s",
                time.time_ns(), req_id))

    async def _cancel(self, bot: BotSession, msg: s.CancelOrder) -> None:
        rec = self.orders.get(bot.bot_id, msg.order_id)
        if rec is None or rec.gen != bot.gen:
            self._error(bot.bot_id, E_UNKNOWN_ORDER, f"unknown order_id {msg.order_id}", msg.req_id,
                        msg.symbol)
            return
        if not rec.is_open:
            self._error(bot.bot_id, E_UNKNOWN_ORDER,
                        f"order_id {msg.order_id} is already {rec.status}", msg.req_id, msg.symbol)
            return
        self.counters["cancels_sent"] += 1
        await self._change(bot, rec, msg.req_id, "cancel",
                           self.exchange.cancel(rec.instrument, rec.client_order_id),
                           lambda r: not r.is_open)

    async def _modify(self, bot: BotSession, msg: s.ModifyOrder) -> None:
        rec = self.orders.get(bot.bot_id, msg.order_id)
        if rec is None or rec.gen != bot.gen or not rec.is_open:
            self._error(bot.bot_id, E_UNKNOWN_ORDER, f"no open order_id {msg.order_id}", msg.req_id,
                        msg.symbol)
            return
        validate.order(rec.instrument, msg.px, msg.qty, rec.order_type)
        self.counters["modifies_sent"] += 1
        await self._change(bot, rec, msg.req_id, "modify",
                           self.exchange.modify(rec.instrument, rec.client_order_id, rec.side,
                                                msg.px, msg.qty),
                           lambda r: not r.is_open or (_same(r.px, msg.px) and _same(r.qty, msg.qty)))

    async def _change(self, bot: BotSession, rec: OrderRecord, req_id: int, what: str,
                      request: Awaitable[s.OrderUpdate | None], done: Callable[[OrderRecord], bool]) -> None:
        """Send a cancel/modify of an open order and answer it: the order's state after the
        exchange's response, or an Error. (Requests on one order may overlap: a cancel right
        after a submit; each gets its own answer.) ``done``: whether the order's state shows the
        change, for a request whose outcome is unknown."""
        try:
            resp = await request
        except NotSupported as e:
            self._error(bot.bot_id, E_EXCHANGE, f"{what} failed: {e}", req_id, rec.instrument.symbol)
            return
        except asyncio.CancelledError:
            raise
        except OutcomeUnknown as e:
            # It may have happened: the order's state at the exchange says. The answer is that
            # state if it shows the change (or the order ended), else an Error.
            self.counters["unknown_outcomes"] += 1
            log.warning("%s %s: outcome unknown (%s); asking the exchange", what, rec.client_order_id, e)
            await self._refresh(rec)
            if done(rec):
                self._answer(rec, req_id, f"{what} done (its outcome was unknown)")
            else:
                self._error(bot.bot_id, E_EXCHANGE,
                            f"{what} failed: outcome unknown ({e}); no change seen at the exchange",
                            req_id, rec.instrument.symbol)
            return
        except Exception as e:
            # Typically "unknown order": it filled or expired meanwhile. Learn its real state.
            # (Anything else, too: the bot gets its one answer, then the order's real state.)
            reason = _reason(e) if isinstance(e, ExchangeError) else f"{e.__class__.__name__}: {e}"
            self._error(bot.bot_id, E_EXCHANGE, f"{what} failed: {reason}", req_id,
                        rec.instrument.symbol)
            await self._refresh(rec)
            return
        if resp is None or not self._apply(resp, True, answer=req_id):
            self._answer(rec, req_id, f"{what} accepted")

    async def _cancel_all(self, bot: BotSession, msg: s.CancelAll) -> None:
        sym = msg.symbol.upper() if msg.symbol else None
        recs = [r for r in self.orders.open_orders(bot.bot_id, sym) if r.gen == bot.gen]
        await asyncio.gather(*(self._cancel(bot, s.CancelOrder(bot.bot_id, msg.req_id,
                                                               r.instrument.symbol, r.order_id))
                               for r in recs))

    async def _refresh(self, rec: OrderRecord) -> None:
        try:
            upd = await self.exchange.query_order(rec.instrument, rec.client_order_id)
        except OrderNotFound:
            if rec.status == "pending":
                self._send_to_owner(rec, self.orders.local_update(
                    rec, "rejected", "order not found at the exchange", time.time_ns(), None))
            return
        except Exception as e:
            log.warning("query %s failed: %s", rec.client_order_id, e)
            return
        self.order(upd, from_rest_avg=True)

    # --- bot liveness -------------------------------------------------------------------------

    async def _watchdog(self) -> None:
        timeout = self.settings.bot_heartbeat_timeout_s
        next_status = 0.0
        while True:
            await asyncio.sleep(0.25)     # the channels need a heartbeat at least every 0.5 s
            self.bridge.heartbeat()
            for bot_id in self.bridge.reap():
                bot = self.bots.remove(bot_id)
                if bot is not None:
                    log.warning("bot %d (%s) detached from the channel", bot_id, bot.name)
                    await self._retire(bot, "bot process gone")
            if timeout > 0:
                for bot in self.bots.silent(timeout):
                    if not bot.alive():
                        self.bots.remove(bot.bot_id)
                        log.warning("bot %d (%s): process gone", bot.bot_id, bot.name)
                        await self._retire(bot, "bot process gone")
                        continue
                    # Alive but silent (stalled, stopped, swapping): its orders go, its session
                    # stays, so a collector or bot that resumes keeps its subscriptions and
                    # instruments and learns of the cancels from the order updates.
                    bot.timed_out = True
                    self.counters["bots_timed_out"] += 1
                    log.warning("bot %d (%s) silent for more than %.1fs", bot.bot_id, bot.name, timeout)
                    if self.settings.cancel_on_bot_timeout:
                        await self._cancel_orders(bot, "heartbeat timeout")
            if time.monotonic() >= next_status:
                next_status = time.monotonic() + self.settings.heartbeat_interval_s
                self._publish_status()
                self.orders.prune(time.monotonic())

    def _publish_status(self) -> None:
        now = time.time_ns()
        self.bridge.publish(s.Heartbeat(now, os.getpid()), 0)
        self.bridge.publish(self._connector_status(now), 0)
        self.status.update(self._status_fields())

    def _connector_status(self, now: int) -> s.ConnectorStatus:
        dm = self.dead_man
        return s.ConnectorStatus(self.exchange.name, now, dict(self.streams), self.exchange.book_states(),
                                 dm.mechanism, dm.state, int((dm.last_refresh or 0) * 1e9))

    def _status_fields(self) -> dict:
        """What `hftctl health` shows about this connector (docs/health.md)."""
        return {"exchange": self.exchange.name, "books": self.exchange.book_states(),
                "streams": {k: {"state": v, "last_msg": self.last_msg.get(k)} for k, v in self.streams.items()},
                "bots": {b.bot_id: {"name": b.name, "pid": b.pid, "silent": b.timed_out,
                                    "open_orders": sum(r.gen == b.gen for r in self.orders.open_orders(b.bot_id)),
                                    "positions": {k: p.qty for k, p in self.positions.items() if k in b.instruments}}
                         for b in self.bots.bots.values()},
                "dead_man": self.dead_man.status(),
                "stats": self.exchange.stats() | self.counters | {"feed_lag_ms": round(self.feed_lag_ms, 3)}}

    async def _retire(self, bot: BotSession, why: str) -> None:
        """A bot that is gone: cancel its orders and forget them."""
        await self._cancel_orders(bot, why)
        self.orders.forget_bot(bot.bot_id)

    async def _cancel_orders(self, bot: BotSession, why: str) -> None:
        recs = [r for r in self.orders.open_orders(bot.bot_id) if r.gen == bot.gen]
        if recs:
            log.warning("cancelling %d open order(s) of bot %d (%s)", len(recs), bot.bot_id, why)
        await asyncio.gather(*(self._cancel_quietly(r.instrument, r.client_order_id) for r in recs))

    # --- reconciliation -----------------------------------------------------------------------

    async def _startup_reconcile(self) -> None:
        """Account state for bots, and orphans of earlier runs of this connector cancelled before
        any bot is served (a new order must never share an id with a live orphan)."""
        try:
            for bal in await self.exchange.balances():
                self.balance(bal)
            for pos in await self.exchange.positions():
                self.position(pos)
            orphans = [u for u in await self.exchange.open_orders() if self._orphan(u)]
        except ExchangeError as e:
            raise HftctlError(f"cannot read the account: {e}") from None
        if orphans:
            log.warning("cancelling %d orphan order(s) of earlier runs of this connector", len(orphans))
            await asyncio.wait_for(asyncio.gather(*(self._cancel_quietly(
                self.instruments.get(u.symbol) or Instrument(u.symbol, 0.0, 0.0), u.client_order_id)
                for u in orphans)), 30)

    async def _periodic_reconcile(self) -> None:
        interval = self.settings.reconcile_interval_s
        if interval <= 0:
            return
        while True:
            await asyncio.sleep(interval)
            await self.reconcile("periodic")

    async def reconcile(self, why: str) -> None:
        """Bring orders, positions and balances in line with REST; synthesises missed updates."""
        async with self._reconcile_lock:
            self._reconcile_queued = False      # a reconnect from now on needs another pass
            self.counters["reconciles"] += 1
            log.info("reconciling orders and positions by REST (%s)", why)
            try:
                open_now = {u.client_order_id: u for u in await self.exchange.open_orders()}
            except Exception as e:
                log.warning("reconcile: open orders unavailable: %s", e)
                return
            before = self.counters["order_updates"]
            for upd in open_now.values():
                self.order(upd, from_rest_avg=True)
            for rec in self.orders.open_orders():
                if rec.client_order_id not in open_now and (rec.status != "pending" or rec.submitted):
                    # Not open any more: filled, cancelled or expired while we were away.
                    await self._refresh(rec)
            self.counters["reconciled_updates"] += self.counters["order_updates"] - before
            try:
                for pos in await self.exchange.positions():
                    self.position(pos)
                for bal in await self.exchange.balances():
                    self.balance(bal)
            except Exception as e:
                log.warning("reconcile: account unavailable: %s", e)


def _why(e: BaseException | None, exchange: ExchangeClient) -> str:
    """A timeout's likely cause, for an operator: the REST back-off, if one is on."""
    text = str(e) if e is not None and str(e) else (e.__class__.__name__ if e is not None else "timeout")
    backoff = exchange.stats().get("rest_backoff_s") or 0
    return f"{text}; REST backing off for {backoff:.0f} s more" if backoff else text


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def _symbol_of(msg: s.Message) -> str | None:
    sym = getattr(msg, "symbol", None)
    return sym[:48] if isinstance(sym, str) else None


def _reason(e: ExchangeError) -> str:
    """The exchange's own code and text for a refusal, else the error's message."""
    return f"{e.code} {e.reason}" if isinstance(e, ExchangeRejected) else str(e)
