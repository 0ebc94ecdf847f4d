"""Binance spot wire messages -> hftctl schema messages (what differs from USD-M futures).

Spot diff events have no ``pu`` (continuity is ``U == previous u + 1``), the book ticker has no
timestamps, order updates come as ``executionReport`` (a cancel's original client id is in
``C``), REST order bodies have no ``avgPrice`` (``cummulativeQuoteQty / executedQty`` is the
average), and the account has balances but no positions.
"""

from __future__ import annotations

from typing import Any

from hftctl.exchanges.binancefutures.messages import (SIDES, STATUS, TIFS, TYPES, DepthUpdate,
                                                      _leaves, depth_snapshot, trade)
from hftctl.exchanges.wire import MalformedMessage
from hftctl.exchanges.wire import parse_levels as _levels
from hftctl.ipc.schema import Balance, BestBidOffer, OrderUpdate

__all__ = ["depth_update", "depth_snapshot", "trade", "book_ticker", "execution_report",
           "order_body", "account_position", "account_balances", "MalformedMessage"]

_MS = 1_000_000
_TYPES = {**TYPES, "LIMIT_MAKER": "limit"}


def depth_update(d: dict[str, Any]) -> DepthUpdate:
    try:
        first = int(d["U"])
        # No pu on spot: the previous event must end right before this one starts.
        return DepthUpdate(d["s"], first, int(d["u"]), first - 1, int(d["E"]) * _MS,
                           _levels(d["b"]), _levels(d["a"]))
    except (KeyError, TypeError, ValueError) as e:
        raise MalformedMessage(f"depthUpdate: {e.__class__.__name__}: {e}") from None


def book_ticker(d: dict[str, Any], local_ts: int) -> BestBidOffer:
    """Spot's bookTicker carries no event time: the receive time stands in for it."""
    try:
        return BestBidOffer(d["s"], local_ts, local_ts, float(d["b"]), float(d["B"]), float(d["a"]),
                            float(d["A"]))
    except (KeyError, TypeError, ValueError) as e:
        raise MalformedMessage(f"bookTicker: {e.__class__.__name__}: {e}") from None


def _tif(type_: str, tif: str) -> str:
    return "gtx" if type_ == "LIMIT_MAKER" else TIFS.get(tif, "gtc")


def execution_report(m: dict[str, Any], local_ts: int) -> OrderUpdate:
    try:
        qty, cum = float(m["q"]), float(m["z"])
        reason = m.get("r")
        return OrderUpdate(
            symbol=m["s"], order_id=0, client_order_id=m.get("C") or m["c"],
            exch_order_id=str(m["i"]), side=SIDES[m["S"]], px=float(m["p"]), qty=qty,
            leaves_qty=_leaves(m["X"], qty, cum), exec_qty=float(m.get("l", 0)),
            exec_px=float(m.get("L", 0)), cum_qty=cum, status=STATUS[m["X"]],
            order_type=_TYPES.get(m["o"], "limit"), time_in_force=_tif(m["o"], m.get("f", "GTC")),
            exch_ts=int(m.get("T") or m["E"]) * _MS, local_ts=local_ts,
            reason=reason if reason and reason != "NONE" else None,
        )
    except (KeyError, TypeError, ValueError) as e:
        raise MalformedMessage(f"executionReport: {e.__class__.__name__}: {e}") from None


def order_body(o: dict[str, Any], local_ts: int) -> OrderUpdate:
    """REST order bodies; ``exec_px`` is the average fill price (quote / base executed)."""
    try:
        qty, cum = float(o["origQty"]), float(o["executedQty"])
        quote = float(o.get("cummulativeQuoteQty") or 0.0)
        return OrderUpdate(
            symbol=o["symbol"], order_id=0,
            client_order_id=o.get("origClientOrderId") or o["clientOrderId"],
            exch_order_id=str(o["orderId"]), side=SIDES[o["side"]], px=float(o["price"]), qty=qty,
            leaves_qty=_leaves(o["status"], qty, cum), exec_qty=0.0,
            exec_px=quote / cum if cum > 0 else 0.0, cum_qty=cum, status=STATUS[o["status"]],
            order_type=_TYPES.get(o["type"], "limit"),
            time_in_force=_tif(o["type"], o.get("timeInForce", "GTC")),
            exch_ts=int(o.get("updateTime") or o.get("transactTime") or o.get("time") or 0) * _MS,
            local_ts=local_ts,
        )
    except (KeyError, TypeError, ValueError) as e:
        raise MalformedMessage(f"order: {e.__class__.__name__}: {e}") from None


def account_position(m: dict[str, Any]) -> list[Balance]:
    """``outboundAccountPosition``: free + locked per asset."""
    try:
        return [Balance(b["a"], float(b["f"]) + float(b["l"]), float(b["f"])) for b in m["B"]]
    except (KeyError, TypeError, ValueError) as e:
        raise MalformedMessage(f"outboundAccountPosition: {e.__class__.__name__}: {e}") from None


def account_balances(body: dict[str, Any]) -> list[Balance]:
    """REST /api/v3/account."""
    try:
        return [Balance(b["asset"], float(b["free"]) + float(b["locked"]), float(b["free"]))
                for b in body["balances"]]
    except (KeyError, TypeError, ValueError) as e:
        raise MalformedMessage(f"account: {e.__class__.__name__}: {e}") from None
