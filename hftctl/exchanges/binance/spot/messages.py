"""Binance spot wire messages -> hftctl schema messages, through the typed schemas.

What differs from USD-M futures: diff events have no ``pu`` (continuity is ``U == previous u +
1``), the book ticker has no timestamps, order updates come as ``executionReport`` (a cancel's
original client id is in ``C``), REST order bodies have no ``avgPrice`` (``cummulativeQuoteQty /
executedQty`` is the average), and the account has balances but no positions.
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET

from hftctl.exchanges.binance.common.depth_sync import DepthSnapshotBody, DepthUpdate as DepthEvent
from hftctl.exchanges.binance.common.schemas import DepthSnapshot, Envelope, decode_user_event, decoder
from hftctl.exchanges.binance.futures.messages import SIDES, STATUS, TIFS, TYPES, _leaves
from hftctl.exchanges.binance.spot import schemas as w
from hftctl.exchanges.wire import MalformedMessage, ms_ns
from hftctl.ipc.schema import BUY, SELL, Balance, BestBidOffer, OrderUpdate, Trade

_TYPES = {**TYPES, "LIMIT_MAKER": "limit"}
_DEPTH = decoder(Envelope[w.DepthUpdate])
_TRADE = decoder(Envelope[w.Trade])
_TICKER = decoder(Envelope[w.BookTicker])
_USER = decoder(w.UserEvent)
_USER_ENVELOPE = decoder(Envelope[w.UserEvent])
USER_EVENT_KINDS = frozenset(t.__struct_config__.tag for t in (w.ExecutionReport, w.OutboundAccountPosition,
                                                                 w.BalanceUpdate, w.EventStreamTerminated,
                                                                 w.ServerShutdown))
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError)


def depth_update(raw: bytes) -> tuple[str, DepthEvent]:
    try:
        d = _DEPTH.decode(raw).data
    except _DECODE_ERRORS as e:
        raise MalformedMessage(f"depthUpdate: {e}") from None
    # No pu on spot: the previous event must end right before this one starts.
    return d.s, DepthEvent(d.U, d.u, d.U - 1, ms_ns(d.E), d.b, d.a)


def depth_snapshot(body: DepthSnapshot) -> DepthSnapshotBody:
    return DepthSnapshotBody(body.lastUpdateId, 0, body.bids, body.asks)


def trade(raw: bytes, local_ts: int) -> Trade:
    try:
        d = _TRADE.decode(raw).data
    except _DECODE_ERRORS as e:
        raise MalformedMessage(f"trade: {e}") from None
    return Trade(d.s, ms_ns(d.T), local_ts, SELL if d.m else BUY, d.p, d.q)


def book_ticker(raw: bytes, local_ts: int) -> BestBidOffer:
    """Spot's bookTicker carries no event time: the receive time stands in for it."""
    try:
        d = _TICKER.decode(raw).data
    except _DECODE_ERRORS as e:
        raise MalformedMessage(f"bookTicker: {e}") from None
    return BestBidOffer(d.s, local_ts, local_ts, d.b, d.B, d.a, d.A)


def user_event(raw: bytes) -> w.UserEvent | None:
    """The ``event`` object of a WebSocket API event frame; None for a kind hftctl does not know."""
    return decode_user_event(raw, _USER, _USER_ENVELOPE, USER_EVENT_KINDS)


def _tif(type_: str, tif: str) -> str:
    return "gtx" if type_ == "LIMIT_MAKER" else TIFS.get(tif, "gtc")


def _reason(m: w.ExecutionReport) -> str | None:
    if m.X == "EXPIRED_IN_MATCH":      # x = TRADE_PREVENTION: the exchange expired it (faqs/stp_faq.md)
        return f"self-trade prevention ({m.V}, counter order {m.U})" if m.U is not UNSET else "self-trade prevention"
    return m.r if m.r and m.r != "NONE" else None


def execution_report(m: w.ExecutionReport, local_ts: int) -> OrderUpdate:
    try:
        return OrderUpdate(
            symbol=m.s, order_id=0, client_order_id=m.C or m.c,
            exch_order_id=str(m.i), side=SIDES[m.S], px=m.p, qty=m.q,
            leaves_qty=_leaves(m.X, m.q, m.z), exec_qty=m.l,
            exec_px=m.L, cum_qty=m.z, status=STATUS[m.X],
            order_type=_TYPES.get(m.o, "limit"), time_in_force=_tif(m.o, m.f),
            exch_ts=ms_ns(m.T or m.E), local_ts=local_ts,
            reason=_reason(m),
        )
    except KeyError as e:
        raise MalformedMessage(f"executionReport: unknown value {e}") from None


def order_body(o: w.OrderBody, local_ts: int) -> OrderUpdate:
    """REST order bodies; ``exec_px`` is the average fill price (quote / base executed)."""
    cum = o.executedQty
    try:
        return OrderUpdate(
            symbol=o.symbol, order_id=0, client_order_id=o.origClientOrderId or o.clientOrderId,
            exch_order_id=str(o.orderId), side=SIDES[o.side], px=o.price, qty=o.origQty,
            leaves_qty=_leaves(o.status, o.origQty, cum), exec_qty=0.0,
            exec_px=o.cummulativeQuoteQty / cum if cum > 0 else 0.0, cum_qty=cum,
            status=STATUS[o.status], order_type=_TYPES.get(o.type, "limit"),
            time_in_force=_tif(o.type, o.timeInForce),
            exch_ts=ms_ns(o.updateTime or o.transactTime or o.time or 0), local_ts=local_ts,
        )
    except KeyError as e:
        raise MalformedMessage(f"order: unknown value {e}") from None


def amended_order(r: w.AmendResult, local_ts: int) -> OrderUpdate:
    """An amend keep-priority answer's order; ``exec_px`` is the average fill price."""
    o = r.amendedOrder
    cum = o.executedQty
    try:
        return OrderUpdate(
            symbol=o.symbol, order_id=0, client_order_id=o.clientOrderId, exch_order_id=str(o.orderId),
            side=SIDES[o.side], px=o.price, qty=o.qty, leaves_qty=_leaves(o.status, o.qty, cum), exec_qty=0.0,
            exec_px=o.cumulativeQuoteQty / cum if cum > 0 else 0.0, cum_qty=cum, status=STATUS[o.status],
            order_type=_TYPES.get(o.type, "limit"), time_in_force=_tif(o.type, o.timeInForce),
            exch_ts=ms_ns(r.transactTime), local_ts=local_ts)
    except KeyError as e:
        raise MalformedMessage(f"amendedOrder: unknown value {e}") from None


def account_position(m: w.OutboundAccountPosition) -> list[Balance]:
    """``outboundAccountPosition``: free + locked per asset."""
    return [Balance(b.a, b.f + b.l, b.f) for b in m.B]


def account_balances(body: w.Account) -> list[Balance]:
    """REST /api/v3/account."""
    return [Balance(b.asset, b.free + b.locked, b.free) for b in body.balances]
