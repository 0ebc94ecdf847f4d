"""Binance USD-M futures wire messages -> hftctl schema messages, through the typed schemas.

Anything that does not fit its schema raises :class:`MalformedMessage`; the stream logs and
skips it instead of crashing.
"""

from __future__ import annotations

import msgspec

from hftctl.exchanges.binance.common.depth_sync import DepthSnapshotBody, DepthUpdate as DepthEvent
from hftctl.exchanges.binance.common.schemas import DepthSnapshot, Envelope, decode_user_event, decoder
from hftctl.exchanges.binance.futures import schemas as w
from hftctl.exchanges.wire import MalformedMessage, ms_ns
from hftctl.ipc.schema import BUY, SELL, Balance, BestBidOffer, OrderUpdate, Position, Trade


# Binance -> schema enumerations.
STATUS = {"NEW": "new", "PARTIALLY_FILLED": "partially_filled", "FILLED": "filled",
          "CANCELED": "canceled", "EXPIRED": "expired", "EXPIRED_IN_MATCH": "expired",
          "REJECTED": "rejected"}
TYPES = {"LIMIT": "limit", "MARKET": "market"}
TIFS = {"GTC": "gtc", "GTX": "gtx", "IOC": "ioc", "FOK": "fok", "GTD": "gtc"}
SIDES = {"BUY": BUY, "SELL": SELL}

_DEPTH = decoder(Envelope[w.DepthUpdate])
_TRADE = decoder(Envelope[w.Trade])
_TICKER = decoder(Envelope[w.BookTicker])
_USER = decoder(w.UserEvent)
_USER_ENVELOPE = decoder(Envelope[w.UserEvent])
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError)


def _malformed(what: str, e: Exception) -> MalformedMessage:
    return MalformedMessage(f"{what}: {e}")


def depth_update(raw: bytes) -> tuple[str, DepthEvent]:
    """A depth stream frame -> (symbol, event)."""
    try:
        d = _DEPTH.decode(raw).data
    except _DECODE_ERRORS as e:
        raise _malformed("depthUpdate", e) from None
    return d.s, DepthEvent(d.U, d.u, d.pu, ms_ns(d.E), d.b, d.a)


def depth_snapshot(body: DepthSnapshot) -> DepthSnapshotBody:
    return DepthSnapshotBody(body.lastUpdateId, ms_ns(body.E or body.T or 0), body.bids, body.asks)


def trade(raw: bytes, local_ts: int) -> Trade:
    try:
        d = _TRADE.decode(raw).data
    except _DECODE_ERRORS as e:
        raise _malformed("trade", e) from None
    # m: buyer is the maker, so the aggressor sold.
    return Trade(d.s, ms_ns(d.T), local_ts, SELL if d.m else BUY, d.p, d.q)


def book_ticker(raw: bytes, local_ts: int) -> BestBidOffer:
    try:
        d = _TICKER.decode(raw).data
    except _DECODE_ERRORS as e:
        raise _malformed("bookTicker", e) from None
    return BestBidOffer(d.s, ms_ns(d.T or d.E), local_ts, d.b, d.B, d.a, d.A)


def user_event(raw: bytes) -> w.OrderTradeUpdate | w.AccountUpdate | w.ListenKeyExpired | None:
    """One user-data frame; None for event kinds the connector does not use (TRADE_LITE...)."""
    return decode_user_event(raw, _USER, _USER_ENVELOPE, USER_EVENT_KINDS)


USER_EVENT_KINDS = frozenset(t.__struct_config__.tag for t in (w.OrderTradeUpdate, w.AccountUpdate,
                                                                 w.ListenKeyExpired))


def order_trade_update(ev: w.OrderTradeUpdate, local_ts: int) -> OrderUpdate:
    """``ORDER_TRADE_UPDATE``; ``exec_qty``/``exec_px`` are this event's fill (l, L)."""
    o = ev.o
    try:
        return OrderUpdate(
            symbol=o.s, order_id=0, client_order_id=o.c, exch_order_id=str(o.i),
            side=SIDES[o.S], px=o.p, qty=o.q, leaves_qty=_leaves(o.X, o.q, o.z),
            exec_qty=o.l, exec_px=o.L, cum_qty=o.z,
            status=STATUS[o.X], order_type=TYPES.get(o.o, "limit"),
            time_in_force=TIFS.get(o.f, "gtc"), exch_ts=ms_ns(ev.T or ev.E),
            local_ts=local_ts, reason=_reason(o.X, o.f, o.x),
        )
    except KeyError as e:
        raise MalformedMessage(f"ORDER_TRADE_UPDATE: unknown value {e}") from None


def order_body(o: w.OrderBody, local_ts: int) -> OrderUpdate:
    """REST order response/query body (POST/PUT/DELETE/GET /fapi/v1/order, openOrders)."""
    try:
        return OrderUpdate(
            symbol=o.symbol, order_id=0, client_order_id=o.clientOrderId,
            exch_order_id=str(o.orderId), side=SIDES[o.side], px=o.price, qty=o.origQty,
            leaves_qty=_leaves(o.status, o.origQty, o.executedQty), exec_qty=0.0,
            exec_px=o.avgPrice, cum_qty=o.executedQty, status=STATUS[o.status],
            order_type=TYPES.get(o.type, "limit"), time_in_force=TIFS.get(o.timeInForce, "gtc"),
            exch_ts=ms_ns(o.updateTime or (o.time or 0)), local_ts=local_ts,
        )
    except KeyError as e:
        raise MalformedMessage(f"order: unknown value {e}") from None


def account_update(ev: w.AccountUpdate) -> tuple[list[Position], list[Balance]]:
    ts = ms_ns(ev.T or ev.E)
    positions = [Position(p.s, p.pa, p.ep, ts) for p in ev.a.P if p.ps == "BOTH"]
    balances = [Balance(b.a, b.wb, b.cw) for b in ev.a.B]
    return positions, balances


def position_risk(p: w.PositionRisk, ts: int) -> Position:
    return Position(p.symbol, p.positionAmt, p.entryPrice, ts)


def balance(b: w.BalanceRow) -> Balance:
    return Balance(b.asset, b.balance, b.availableBalance or b.crossWalletBalance)


def _leaves(status: str, qty: float, cum: float) -> float:
    return max(0.0, qty - cum) if status in ("NEW", "PARTIALLY_FILLED") else 0.0


def _reason(status: str, tif: str, exec_type: str) -> str | None:
    # Binance has no reject text on the stream; expiry type says why (e.g. GTX would take).
    if status == "EXPIRED_IN_MATCH":
        return f"self-trade prevention ({status}, {tif} {exec_type})"
    if status in ("EXPIRED", "REJECTED"):
        return f"{status} ({tif} {exec_type})".strip()
    return None
