"""Bybit v5 (linear) wire messages -> hftctl schema messages.

Field names are Bybit's (v5 "Orderbook", "Trade" public topics; "Order", "Position", "Wallet"
private topics; "Get Open & Closed Orders" REST). Bad input raises :class:`MalformedMessage`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hftctl.exchanges.wire import MalformedMessage
from hftctl.exchanges.wire import parse_levels as _levels
from hftctl.ipc.schema import BUY, SELL, Balance, OrderUpdate, Position, Trade

__all__ = ["MalformedMessage", "BookMessage", "book", "trades", "order", "position", "wallet"]

_MS = 1_000_000
SIDES = {"Buy": BUY, "Sell": SELL}
STATUS = {"New": "new", "Created": "new", "Untriggered": "new", "PartiallyFilled": "partially_filled",
          "Filled": "filled", "Cancelled": "canceled", "PartiallyFilledCanceled": "canceled",
          "Deactivated": "canceled", "Triggered": "new", "Rejected": "rejected"}
TIFS = {"GTC": "gtc", "IOC": "ioc", "FOK": "fok", "PostOnly": "gtx"}


@dataclass(slots=True)
class BookMessage:
    """``orderbook.{depth}.{symbol}``: a snapshot (replace) or a delta; ``u`` counts updates."""

    symbol: str
    is_snapshot: bool
    update_id: int
    seq: int
    exch_ts: int
    bids: list[tuple[float, float]]
    asks: list[tuple[float, float]]


def book(m: dict[str, Any]) -> BookMessage:
    try:
        d = m["data"]
        return BookMessage(d["s"], m["type"] == "snapshot", int(d["u"]), int(d.get("seq", 0)),
                           int(m.get("cts") or m["ts"]) * _MS, _levels(d["b"]), _levels(d["a"]))
    except (KeyError, TypeError, ValueError) as e:
        raise MalformedMessage(f"orderbook: {e.__class__.__name__}: {e}") from None


def trades(m: dict[str, Any], local_ts: int) -> list[Trade]:
    try:
        return [Trade(t["s"], int(t["T"]) * _MS, local_ts, SIDES[t["S"]], float(t["p"]), float(t["v"]))
                for t in m["data"]]
    except (KeyError, TypeError, ValueError) as e:
        raise MalformedMessage(f"publicTrade: {e.__class__.__name__}: {e}") from None


def order(o: dict[str, Any], local_ts: int) -> OrderUpdate:
    """Order topic rows and REST order rows; ``exec_px`` is the average fill price."""
    try:
        status = STATUS[o["orderStatus"]]
        reason = o.get("rejectReason")
        cum = float(o.get("cumExecQty") or 0.0)
        return OrderUpdate(
            symbol=o["symbol"], order_id=0, client_order_id=o.get("orderLinkId", ""),
            exch_order_id=str(o["orderId"]), side=SIDES[o["side"]], px=float(o.get("price") or 0.0),
            qty=float(o["qty"]), leaves_qty=float(o.get("leavesQty") or 0.0), exec_qty=0.0,
            exec_px=float(o.get("avgPrice") or 0.0), cum_qty=cum, status=status,
            order_type="market" if o.get("orderType") == "Market" else "limit",
            time_in_force=TIFS.get(o.get("timeInForce", "GTC"), "gtc"),
            exch_ts=int(o.get("updatedTime") or 0) * _MS, local_ts=local_ts,
            reason=reason if reason and reason != "EC_NoError" else None,
        )
    except (KeyError, TypeError, ValueError) as e:
        raise MalformedMessage(f"order: {e.__class__.__name__}: {e}") from None


def position(p: dict[str, Any], ts: int) -> Position:
    try:
        size = float(p.get("size") or 0.0)
        sign = -1.0 if p.get("side") == "Sell" else 1.0
        return Position(p["symbol"], sign * size, float(p.get("avgPrice") or p.get("entryPrice") or 0.0), ts)
    except (KeyError, TypeError, ValueError) as e:
        raise MalformedMessage(f"position: {e.__class__.__name__}: {e}") from None


def wallet(w: dict[str, Any]) -> list[Balance]:
    try:
        return [Balance(c["coin"], float(c["walletBalance"]), float(c.get("availableToWithdraw") or 0.0))
                for c in w["coin"]]
    except (KeyError, TypeError, ValueError) as e:
        raise MalformedMessage(f"wallet: {e.__class__.__name__}: {e}") from None
