"""Binance USD-M futures wire messages -> hftctl schema messages.

Field letters are Binance's (see the USD-M "Diff. Book Depth Streams", "Trade Streams",
"Individual Symbol Book Ticker Streams" and user-data "Event: Order Update" /
"Event: Balance and Position Update" docs). Anything that does not fit raises
:class:`MalformedMessage`; the stream logs and skips it instead of crashing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hftctl.exchanges.wire import MalformedMessage
from hftctl.exchanges.wire import parse_levels as _levels
from hftctl.ipc.schema import BUY, SELL, Balance, BestBidOffer, OrderUpdate, Position, Trade

_MS = 1_000_000


# Binance -> schema enumerations.
STATUS = {"NEW": "new", "PARTIALLY_FILLED": "partially_filled", "FILLED": "filled",
          "CANCELED": "canceled", "EXPIRED": "expired", "EXPIRED_IN_MATCH": "expired",
          "REJECTED": "rejected"}
TYPES = {"LIMIT": "limit", "MARKET": "market"}
TIFS = {"GTC": "gtc", "GTX": "gtx", "IOC": "ioc", "FOK": "fok", "GTD": "gtc"}
SIDES = {"BUY": BUY, "SELL": SELL}


@dataclass(slots=True)
class DepthUpdate:
    """``depthUpdate``: U first update id, u final update id, pu previous event's u."""

    symbol: str
    first_id: int      # U
    final_id: int      # u
    prev_final_id: int  # pu
    exch_ts: int       # E, ns
    bids: list[tuple[float, float]]
    asks: list[tuple[float, float]]


def depth_update(d: dict[str, Any]) -> DepthUpdate:
    try:
        return DepthUpdate(d["s"], int(d["U"]), int(d["u"]), int(d["pu"]), int(d["E"]) * _MS,
                           _levels(d["b"]), _levels(d["a"]))
    except (KeyError, TypeError, ValueError) as e:
        raise MalformedMessage(f"depthUpdate: {e.__class__.__name__}: {e}") from None


@dataclass(slots=True)
class DepthSnapshotBody:
    """REST /fapi/v1/depth body."""

    last_update_id: int
    exch_ts: int
    bids: list[tuple[float, float]]
    asks: list[tuple[float, float]]


def depth_snapshot(d: Any) -> DepthSnapshotBody:
    try:
        return DepthSnapshotBody(int(d["lastUpdateId"]), int(d.get("E") or d.get("T") or 0) * _MS,
                                 _levels(d["bids"]), _levels(d["asks"]))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise MalformedMessage(f"depth snapshot: {e.__class__.__name__}: {e}") from None


def trade(d: dict[str, Any], local_ts: int) -> Trade:
    try:
        # m: buyer is the maker, so the aggressor sold.
        return Trade(d["s"], int(d["T"]) * _MS, local_ts, SELL if d["m"] else BUY,
                     float(d["p"]), float(d["q"]))
    except (KeyError, TypeError, ValueError) as e:
        raise MalformedMessage(f"trade: {e.__class__.__name__}: {e}") from None


def book_ticker(d: dict[str, Any], local_ts: int) -> BestBidOffer:
    try:
        ts = int(d.get("T") or d.get("E") or 0) * _MS
        return BestBidOffer(d["s"], ts, local_ts, float(d["b"]), float(d["B"]), float(d["a"]),
                            float(d["A"]))
    except (KeyError, TypeError, ValueError) as e:
        raise MalformedMessage(f"bookTicker: {e.__class__.__name__}: {e}") from None


def order_trade_update(msg: dict[str, Any], local_ts: int) -> OrderUpdate:
    """``ORDER_TRADE_UPDATE``; ``exec_qty``/``exec_px`` are this event's fill (l, L)."""
    try:
        o = msg["o"]
        qty, cum = float(o["q"]), float(o["z"])
        return OrderUpdate(
            symbol=o["s"], order_id=0, client_order_id=o["c"], exch_order_id=str(o["i"]),
            side=SIDES[o["S"]], px=float(o["p"]), qty=qty, leaves_qty=_leaves(o["X"], qty, cum),
            exec_qty=float(o.get("l", 0)), exec_px=float(o.get("L", 0)), cum_qty=cum,
            status=STATUS[o["X"]], order_type=TYPES.get(o["o"], "limit"),
            time_in_force=TIFS.get(o["f"], "gtc"), exch_ts=int(msg.get("T") or msg["E"]) * _MS,
            local_ts=local_ts, reason=_reason(o),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise MalformedMessage(f"ORDER_TRADE_UPDATE: {e.__class__.__name__}: {e}") from None


def order_body(o: dict[str, Any], local_ts: int) -> OrderUpdate:
    """REST order response/query body (POST/PUT/DELETE/GET /fapi/v1/order, openOrders)."""
    try:
        qty, cum = float(o["origQty"]), float(o["executedQty"])
        status = STATUS[o["status"]]
        return OrderUpdate(
            symbol=o["symbol"], order_id=0, client_order_id=o["clientOrderId"],
            exch_order_id=str(o["orderId"]), side=SIDES[o["side"]], px=float(o["price"]), qty=qty,
            leaves_qty=_leaves(o["status"], qty, cum), exec_qty=0.0,
            exec_px=float(o.get("avgPrice") or 0.0), cum_qty=cum, status=status,
            order_type=TYPES.get(o["type"], "limit"), time_in_force=TIFS.get(o.get("timeInForce", "GTC"), "gtc"),
            exch_ts=int(o.get("updateTime") or o.get("time") or 0) * _MS, local_ts=local_ts,
        )
    except (KeyError, TypeError, ValueError) as e:
        raise MalformedMessage(f"order: {e.__class__.__name__}: {e}") from None


def account_update(msg: dict[str, Any]) -> tuple[list[Position], list[Balance]]:
    try:
        a = msg["a"]
        ts = int(msg.get("T") or msg["E"]) * _MS
        positions = [Position(p["s"], float(p["pa"]), float(p["ep"]), ts)
                     for p in a.get("P", []) if p.get("ps", "BOTH") == "BOTH"]
        balances = [Balance(b["a"], float(b["wb"]), float(b["cw"])) for b in a.get("B", [])]
        return positions, balances
    except (KeyError, TypeError, ValueError) as e:
        raise MalformedMessage(f"ACCOUNT_UPDATE: {e.__class__.__name__}: {e}") from None


def position_risk(p: dict[str, Any], ts: int) -> Position:
    try:
        return Position(p["symbol"], float(p["positionAmt"]), float(p["entryPrice"]), ts)
    except (KeyError, TypeError, ValueError) as e:
        raise MalformedMessage(f"positionRisk: {e.__class__.__name__}: {e}") from None


def balance(b: dict[str, Any]) -> Balance:
    try:
        return Balance(b["asset"], float(b["balance"]),
                       float(b.get("availableBalance", b.get("crossWalletBalance", 0))))
    except (KeyError, TypeError, ValueError) as e:
        raise MalformedMessage(f"balance: {e.__class__.__name__}: {e}") from None


def _leaves(status: str, qty: float, cum: float) -> float:
    return max(0.0, qty - cum) if status in ("NEW", "PARTIALLY_FILLED") else 0.0


def _reason(o: dict[str, Any]) -> str | None:
    # Binance has no reject text on the stream; expiry type says why (e.g. GTX would take).
    if o.get("X") in ("EXPIRED", "EXPIRED_IN_MATCH", "REJECTED"):
        return f"{o.get('X')} ({o.get('f', '')} {o.get('x', '')})".strip()
    return None
