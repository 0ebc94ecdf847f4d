"""Bybit v5 (linear) wire messages -> hftctl schema messages, through the typed schemas.

Bad input raises :class:`MalformedMessage`; the streams log and skip it.
"""

from __future__ import annotations

import math

import msgspec

from hftctl.exchanges.bybit import schemas as w
from hftctl.exchanges.bybit.depth_sync import BookUpdate
from hftctl.exchanges.wire import MalformedMessage, ms_ns
from hftctl.ipc.schema import BUY, SELL, Balance, OrderUpdate, Position, Trade

__all__ = ["MalformedMessage", "book", "trades", "order", "position", "wallet", "num", "decoder"]

SIDES = {"Buy": BUY, "Sell": SELL}
STATUS = {"New": "new", "Created": "new", "Untriggered": "new", "PartiallyFilled": "partially_filled",
          "Filled": "filled", "Cancelled": "canceled", "PartiallyFilledCanceled": "canceled",
          "Deactivated": "canceled", "Triggered": "new", "Rejected": "rejected"}
TIFS = {"GTC": "gtc", "IOC": "ioc", "FOK": "fok", "PostOnly": "gtx"}
_ERRORS = (msgspec.DecodeError, msgspec.ValidationError)


def decoder(kind: type) -> msgspec.json.Decoder:
    """Decimal strings of market data become floats while parsing (``strict=False``)."""
    return msgspec.json.Decoder(kind, strict=False)


_BOOK = decoder(w.BookMessage)
_TRADES = decoder(w.TradeMessage)


def num(text: str) -> float:
    """A private row's number: Bybit sends "" where there is none."""
    try:
        v = float(text) if text else 0.0
    except ValueError:
        raise MalformedMessage(f"not a number: {text!r}") from None
    if not math.isfinite(v):
        raise MalformedMessage(f"not a finite number: {text!r}")
    return v


def book(raw: bytes) -> BookUpdate:
    try:
        m = _BOOK.decode(raw)
    except _ERRORS as e:
        raise MalformedMessage(f"orderbook: {e}") from None
    d = m.data
    return BookUpdate(d.s, m.type == "snapshot", d.u, d.seq, ms_ns(m.cts or m.ts), d.b, d.a)


def trades(raw: bytes, local_ts: int) -> list[Trade]:
    try:
        m = _TRADES.decode(raw)
        return [Trade(t.s, ms_ns(t.T), local_ts, SIDES[t.S], t.p, t.v) for t in m.data]
    except _ERRORS as e:
        raise MalformedMessage(f"publicTrade: {e}") from None
    except KeyError as e:
        raise MalformedMessage(f"publicTrade: unknown side {e}") from None


def order(o: w.OrderRow, local_ts: int) -> OrderUpdate:
    """Order topic rows and REST order rows; ``exec_px`` is the average fill price."""
    try:
        return OrderUpdate(
            symbol=o.symbol, order_id=0, client_order_id=o.orderLinkId,
            exch_order_id=o.orderId, side=SIDES[o.side], px=num(o.price),
            qty=num(o.qty), leaves_qty=num(o.leavesQty), exec_qty=0.0,
            exec_px=num(o.avgPrice), cum_qty=num(o.cumExecQty), status=STATUS[o.orderStatus],
            order_type="market" if o.orderType == "Market" else "limit",
            time_in_force=TIFS.get(o.timeInForce, "gtc"),
            exch_ts=ms_ns(int(num(o.updatedTime))), local_ts=local_ts,
            reason=_reason(o),
        )
    except KeyError as e:
        raise MalformedMessage(f"order: unknown value {e}") from None


def _reason(o: w.OrderRow) -> str | None:
    """Why an order ended other than by its owner: the cancel type Bybit names (CancelBySmp,
    CancelByDCP, ...; enum.mdx) or else the reject reason; None for the ordinary cases."""
    if o.cancelType not in ("", "UNKNOWN", "CancelByUser"):
        return o.cancelType
    return o.rejectReason if o.rejectReason not in ("", "EC_NoError") else None


def position(p: w.PositionRow, ts: int) -> Position:
    sign = -1.0 if p.side == "Sell" else 1.0
    return Position(p.symbol, sign * num(p.size), num(p.avgPrice) or num(p.entryPrice), ts)


def wallet(row: w.Wallet) -> list[Balance]:
    """Per coin: wallet balance, and what is free for derivatives. ``availableToWithdraw`` is
    always "" on unified accounts since 2025-01-09; wallet-balance.mdx gives two replacements:
    isolated margin, walletBalance - totalPositionIM - totalOrderIM - locked - bonus; cross and
    portfolio margin, the account's totalAvailableBalance (USD) converted at the coin's price
    (usdValue / equity). The margin mode is another request away, so the smaller is reported."""
    out = []
    for c in row.coin:
        free = num(c.walletBalance) - num(c.totalPositionIM) - num(c.totalOrderIM) - num(c.locked) - num(c.bonus)
        equity, usd = num(c.equity), num(c.usdValue)
        if row.totalAvailableBalance and equity > 0 and usd > 0:
            free = min(free, num(row.totalAvailableBalance) * equity / usd)
        out.append(Balance(c.coin, num(c.walletBalance), max(0.0, free)))
    return out
