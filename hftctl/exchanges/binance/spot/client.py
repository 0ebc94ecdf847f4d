"""Binance spot behind :class:`hftctl.exchanges.base.ExchangeClient`, on the shared Binance base.

What differs from USD-M futures: /api/v3 paths, the depth bridge rule (``U <= lastUpdateId+1``),
post-only as ``LIMIT_MAKER``, no positions, user data over the WebSocket API (``ws_api.py``)
since the listenKey retirement, which also carries the orders unless ``order_transport =
"rest"``, and amend. On both transports a new order answered with 5XX, -1006 or -1007 raises
OutcomeUnknown; the connector finds it. Market stream control messages are paced under spot's 5
incoming messages per second.

Amend (ModifyOrder): spot has two requests, and the bot sees one order either way.
- Same price, smaller quantity: ``order.amend.keepPriority`` (``PUT
  /api/v3/order/amend/keepPriority``): the order keeps its place in the queue, its id and (we
  send it back as ``newClientOrderId``) its client id; the exchange reports ``x=REPLACED``.
  At most ``MAX_NUM_ORDER_AMENDS`` (10) per order: past that (-2038) it is a cancel-replace.
- Anything else: ``order.cancelReplace`` (``STOP_ON_FAILURE``), a new exchange order at the back
  of the queue under the same client order id, its quantity what the bot still wants filled;
  ``order_lives.py`` carries the cancelled order's fills into it. The cancel is restricted to
  ``ONLY_NEW`` while nothing has filled, so a fill racing the amend fails it instead of
  overfilling; for a partly filled order (``ONLY_PARTIALLY_FILLED``) a fill that raced it is
  taken off the new order at once (keep-priority amend, or cancel). Cancel done, new order
  refused (409 -2021): the bot's order is cancelled, with the refusal as its reason.
- A quantity at or below what has filled: the order is cancelled (USD-M's rule for its amend).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import Any

import msgspec

from hftctl.exchanges.base import Instrument, OrderRequest
from hftctl.exchanges.binance.common import orders
from hftctl.exchanges.binance.common.client import BinanceClient
from hftctl.exchanges.binance.common.config import BinanceConfig
from hftctl.exchanges.binance.spot import messages as spot_wire
from hftctl.exchanges.binance.spot import schemas
from hftctl.exchanges.binance.spot.config import load_config
from hftctl.exchanges.binance.spot.order_lives import OrderLives
from hftctl.exchanges.binance.spot.venues import PATHS, STREAMS
from hftctl.exchanges.binance.spot.ws_api import SpotWsApi
from hftctl.exchanges.errors import ExchangeRejected, OrderNotFound, OutcomeUnknown
from hftctl.exchanges.wire import MalformedMessage, fmt_step
from hftctl.ipc.schema import FINAL_STATUSES, Balance, OrderUpdate, Position

__all__ = ["BinanceSpotClient", "load_config", "create_client"]

log = logging.getLogger(__name__)

AMEND_LIMIT = "Filter failure: MAX_NUM_ORDER_AMENDS"      # filters.md: too many amends, -2038


def create_client(cfg: BinanceConfig) -> "BinanceSpotClient":
    return BinanceSpotClient(cfg)


class BinanceSpotClient(BinanceClient):
    name = "binancespot"
    wire = spot_wire
    paths = PATHS
    streams = STREAMS
    order_body = schemas.OrderBody
    depth_first_offset = 1
    # web-socket-streams.md § WebSocket Limits: 5 incoming messages per second, pings and pongs
    # included; MessagePacer keeps two of them for our ping and the pong to the server's.
    messages_per_s = 5
    order_rest = {**BinanceClient.order_rest, "cancel_replace": ("POST", "cancel_replace"),
                  "amend": ("PUT", "amend")}
    order_ws = {"place": "order.place", "cancel": "order.cancel", "query": "order.status",
                "open_orders": "openOrders.status", "cancel_all": "openOrders.cancelAll",
                "cancel_replace": "order.cancelReplace", "amend": "order.amend.keepPriority"}
    counted_actions = frozenset({"place", "cancel_replace"})     # amend: "Unfilled Order Count: 0"
    # STOP_ON_FAILURE: a failed cancel places nothing (ALLOW_FAILURE could leave two orders)
    replace_mode = "STOP_ON_FAILURE"

    def __init__(self, cfg: BinanceConfig) -> None:
        super().__init__(cfg)
        self.lives = OrderLives()
        self._amending: dict[str, asyncio.Lock] = {}
        if cfg.order_transport == "ws":
            self.order_api = self.user_api

    # --- user data: the WebSocket API ------------------------------------------------------------

    def _init_user_stream(self, cfg: BinanceConfig) -> None:
        self.user_api = SpotWsApi(
            cfg.ws_api_url, cfg.api_key, cfg.secret, now_ms=self.rest.now_ms, recv_window_ms=cfg.recv_window_ms,
            timeout_s=cfg.request_timeout_s, limiter=self.rest.limiter, clock_rejected=self.rest._clock_rejected,
            order_methods=self.counted_methods(), on_event=self._user_event,
            on_resubscribed=lambda: self.sink.user_stream_reconnected(),
            on_state=lambda s: self.sink.stream_state("user", s), min_s=cfg.reconnect_min_s,
            max_s=cfg.reconnect_max_s, retry_after_cap_s=cfg.retry_after_cap_s)

    async def connect_user(self, timeout_s: float = 30.0) -> None:
        await self.user_api.start(timeout_s)

    async def _close_user(self) -> None:
        await self.user_api.close()

    def _user_stats(self) -> dict[str, Any]:
        api = self.user_api
        return {"user_connects": api.ws.connects, "user_resubscribes": api.resubscribes,
                "server_shutdowns": api.shutdowns}

    def _user_event(self, ev: Any, local_ts: int) -> None:
        if type(ev) is schemas.ExecutionReport:
            upd = self.lives.view(spot_wire.execution_report(ev, local_ts), avg=False)
            if upd is not None:
                self.sink.order(upd)
        elif type(ev) is schemas.OutboundAccountPosition:
            for b in spot_wire.account_position(ev):
                self.sink.balance(b)
        # balanceUpdate (deposits, transfers) is followed by outboundAccountPosition's totals

    # --- orders -------------------------------------------------------------------------------

    def _body(self, body: schemas.OrderBody, cid: str | None = None) -> OrderUpdate:
        """A REST-shaped order body as the bot's order (``cid``: the client id to file it under,
        for bodies of an exchange order that has been renamed since)."""
        upd = spot_wire.order_body(body, time.time_ns())
        return replace(upd, client_order_id=cid) if cid else upd

    def _emit(self, updates: list[OrderUpdate]) -> None:
        for u in updates:
            self.sink.order(u)

    async def submit(self, req: OrderRequest) -> OrderUpdate | None:
        # An OutcomeUnknown goes to the connector, which finds the order (connector/outcomes.py).
        body = await self.order_call("place", self.new_order_params(req), changes=True, safe=False,
                                     into=self.order_body)
        return self.lives.view(self._body(body), avg=True)

    def new_order_params(self, req: OrderRequest) -> dict[str, str]:
        p = orders.new_order_params(req)
        if req.order_type == "limit" and req.time_in_force == "gtx":
            p["type"] = "LIMIT_MAKER"        # spot's post-only; it takes no timeInForce
            del p["timeInForce"]
        return p

    async def cancel(self, instrument: Instrument, client_order_id: str) -> OrderUpdate | None:
        body = await self.order_call("cancel", orders.by_client_id(instrument, client_order_id), changes=True,
                                     safe=True, into=self.order_body)
        return self.lives.view(self._body(body), avg=True)

    async def cancel_all(self, instrument: Instrument) -> None:
        await self.order_call("cancel_all", {"symbol": instrument.symbol}, changes=True, safe=True,
                              into=list[self.order_body])

    async def query_order(self, instrument: Instrument, client_order_id: str) -> OrderUpdate:
        await self._amended(client_order_id)
        return await self._current(instrument, client_order_id)

    async def _amended(self, cid: str) -> None:
        """Wait until an amend of ``cid`` in flight has its answer (or has given up waiting)."""
        lock = self._amending.get(cid)
        if lock is not None and lock.locked():
            async with lock:
                pass

    async def _current(self, instrument: Instrument, cid: str) -> OrderUpdate:
        life = self.lives.get(cid)
        if life is not None and life.replacing:           # its answer was lost: settle it now
            return await self._settle(instrument, cid)
        upd = self.lives.view(self._body(await self._query(instrument, cid)), avg=True)
        if upd is not None:
            return upd
        life = self.lives.get(cid)                        # the answer is about a replaced order
        if life is None or life.last is None:
            raise OrderNotFound(-2013, f"order {cid}: no current state")
        return life.last

    async def _query(self, instrument: Instrument, cid: str | None = None, order_id: str = "") -> schemas.OrderBody:
        params = {"symbol": instrument.symbol, "orderId": order_id} if order_id else orders.by_client_id(
            instrument, cid or "")
        return await self.order_call("query", params, changes=False, safe=True, into=self.order_body)

    async def open_orders(self, symbol: str | None = None) -> list[OrderUpdate]:
        # A replace whose answer was lost is settled first: its new order is in this list.
        for cid in self.lives.replacing():
            await self._amended(cid)
            life = self.lives.get(cid)
            last = life.last if life is not None and life.replacing else None
            if last is not None and (symbol is None or last.symbol == symbol):
                await self._settle(Instrument(last.symbol, 0.0, 0.0), cid)
        body = await self.order_call("open_orders", {"symbol": symbol} if symbol else {}, changes=False,
                                     safe=True, into=list[self.order_body])
        return [u for u in (self.lives.view(self._body(o), avg=True) for o in body) if u is not None]

    # --- amend ------------------------------------------------------------------------------------

    async def modify(self, instrument: Instrument, client_order_id: str, side: int,
                     px: float, qty: float) -> OrderUpdate | None:
        # One amend of an order at a time: a second cancel-replace would target the exchange
        # order the first is replacing.
        lock = self._amending.setdefault(client_order_id, asyncio.Lock())
        try:
            async with lock:
                return await self._modify(instrument, client_order_id, side, px, qty)
        finally:
            if not lock.locked():
                self._amending.pop(client_order_id, None)

    async def _modify(self, instrument: Instrument, client_order_id: str, side: int,
                      px: float, qty: float) -> OrderUpdate | None:
        life = self.lives.get(client_order_id)
        if life is None or life.last is None or life.replacing:
            await self._current(instrument, client_order_id)
            life = self.lives.get(client_order_id)
            if life is None or life.last is None:
                raise OrderNotFound(-2013, f"order {client_order_id} is not open")
        last = life.last
        same_px = fmt_step(px, instrument.tick_size) == fmt_step(last.px, instrument.tick_size)
        if qty <= life.base_qty or (not same_px and qty <= last.cum_qty):
            return await self.cancel(instrument, client_order_id)
        if same_px and qty <= last.qty:
            try:
                return await self._amend(instrument, client_order_id, qty)
            except ExchangeRejected as e:
                if e.reason != AMEND_LIMIT:
                    raise
                log.info("%s: amended %s times already; replacing it instead", client_order_id, e.reason)
        return await self._replace(instrument, client_order_id, side, px, qty)

    async def _amend(self, instrument: Instrument, cid: str, qty: float) -> OrderUpdate | None:
        """Reduce the order's quantity in place to ``qty`` (the bot's total)."""
        life = self.lives.lives[cid]
        params = {"symbol": instrument.symbol, "orderId": life.current, "newClientOrderId": cid,
                  "newQty": fmt_step(qty - life.base_qty, instrument.lot_size)}
        result = await self.order_call("amend", params, changes=True, safe=True, into=schemas.AmendResult)
        return self.lives.view(spot_wire.amended_order(result, time.time_ns()), avg=True)

    async def _replace(self, instrument: Instrument, cid: str, side: int, px: float,
                       qty: float) -> OrderUpdate | None:
        life = self.lives.lives[cid]
        last = life.last
        assert last is not None
        known = last.cum_qty - life.base_qty          # what the exchange order has filled, as we know it
        req = OrderRequest(instrument, cid, side, px, qty - last.cum_qty, "limit", last.time_in_force)
        params = {**self.new_order_params(req), "cancelReplaceMode": self.replace_mode,
                  "cancelOrderId": life.current,
                  "cancelRestrictions": "ONLY_PARTIALLY_FILLED" if known > 0 else "ONLY_NEW"}
        self.lives.begin(cid)
        try:
            result = await self.order_call("cancel_replace", params, changes=True, safe=False,
                                           into=schemas.CancelReplaceResult)
        except ExchangeRejected as e:
            return await self._replace_failed(instrument, cid, e)
        except (OutcomeUnknown, MalformedMessage, asyncio.CancelledError):
            raise               # it may have happened: settled by the next query (the connector asks at once)
        except BaseException:
            self._emit(self.lives.not_replaced(cid))      # it never reached the exchange
            raise
        old, new = self._step(result.cancelResponse, cid), self._step(result.newOrderResponse)
        self._emit(self.lives.replaced(cid, old, new.exch_order_id))
        upd = self.lives.view(new, avg=True)
        if old.cum_qty > known + 1e-12 and upd is not None and upd.status not in FINAL_STATUSES:
            # a fill landed between what we knew and the cancel: the new order is that much too big
            log.warning("%s: %g more filled while it was being replaced; reducing the new order", cid,
                        old.cum_qty - known)
            self.sink.order(upd)
            if qty > life.base_qty:
                return await self._amend(instrument, cid, qty)
            return await self.cancel(instrument, cid)
        return upd

    async def _replace_failed(self, instrument: Instrument, cid: str, e: ExchangeRejected) -> OrderUpdate | None:
        """-2021 / -2022: which step failed is in ``e.data`` (cancelResult, newOrderResult)."""
        try:
            data = msgspec.convert(e.data, schemas.CancelReplaceResult) if e.data else None
        except msgspec.ValidationError:
            data = None
        if data is None:                                  # refused as a whole (429, filters): nothing done
            self._emit(self.lives.not_replaced(cid))
            raise e
        refused = data.newOrderResponse or {}
        if data.cancelResult == "SUCCESS":
            # cancelled, new order refused: the bot's order has ended, the refusal says why
            self._emit(self.lives.not_replaced(cid, keep_held=False))
            upd = self.lives.view(self._step(data.cancelResponse, cid), avg=True)
            why = f"amend failed, order cancelled: new order refused: {refused.get('code')} {refused.get('msg')}"
            return replace(upd, reason=why) if upd is not None else None
        if data.newOrderResult == "SUCCESS":
            # the cancel failed (the order had ended) yet a new order went in under the client id
            # (ALLOW_FAILURE does that): nobody's order, so it goes; the old one says how it ended
            old_id = self.lives.lives[cid].current
            self._emit(self.lives.not_replaced(cid, keep_held=False))
            stray = self._step(refused)
            log.error("%s: cancel-replace placed order %s although the cancel failed; cancelling it", cid,
                      stray.exch_order_id)
            await self.order_call("cancel", {"symbol": instrument.symbol, "orderId": stray.exch_order_id},
                                  changes=True, safe=True, into=self.order_body)
            ended = self.lives.view(self._body(await self._query(instrument, order_id=old_id), cid), avg=True)
            self._emit([ended] if ended is not None else [])
        else:
            self._emit(self.lives.not_replaced(cid))
        cancel = data.cancelResponse or {}
        raise ExchangeRejected(e.code, f"{e.reason} (cancel: {cancel.get('code')} {cancel.get('msg')})", e.data)

    def _step(self, response: dict | None, cid: str | None = None) -> OrderUpdate:
        """One successful step of a cancel-replace (its order body) as an update."""
        try:
            return self._body(msgspec.convert(response, self.order_body, strict=False), cid)
        except msgspec.ValidationError as e:
            raise MalformedMessage(f"cancelReplace: {e}") from None

    async def _settle(self, instrument: Instrument, cid: str) -> OrderUpdate:
        """A cancel-replace whose answer never came: did it cancel the old exchange order, and
        does a new one carry the client id now? Asked by order id (the cancelled order was renamed)."""
        life = self.lives.lives[cid]
        old = self._body(await self._query(instrument, order_id=life.replacing), cid)
        if old.status not in FINAL_STATUSES:
            self._emit(self.lives.not_replaced(cid))
            upd = self.lives.view(old, avg=True)
            assert upd is not None
            return upd
        try:
            cur = self._body(await self._query(instrument, cid))
        except OrderNotFound:
            cur = None
        if cur is not None and cur.exch_order_id != old.exch_order_id:
            self._emit(self.lives.replaced(cid, old, cur.exch_order_id))
            upd = self.lives.view(cur, avg=True)
        else:
            self._emit(self.lives.not_replaced(cid, keep_held=False))
            upd = self.lives.view(old, avg=True)
        assert upd is not None
        return upd

    async def positions(self) -> list[Position]:
        return []     # spot has balances only

    async def balances(self) -> list[Balance]:
        body = await self.rest.signed("GET", self.paths["account"], {}, safe=True, into=schemas.Account)
        return spot_wire.account_balances(body)
