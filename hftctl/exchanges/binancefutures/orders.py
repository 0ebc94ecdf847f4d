"""Schema order requests -> Binance USD-M order parameters.

Binance rejects prices and quantities that are not exact multiples of the symbol's tick and
step (``-1111 Precision is over the maximum``), and a float such as 0.1 * 3 prints with 17
digits, so every number is rounded to the instrument's step and printed with its decimals.
"""

from __future__ import annotations

from decimal import Decimal

from hftctl.exchanges.base import Instrument, OrderRequest

SIDE = {1: "BUY", -1: "SELL"}
TYPE = {"limit": "LIMIT", "market": "MARKET"}
TIF = {"gtc": "GTC", "gtx": "GTX", "ioc": "IOC", "fok": "FOK"}


def fmt_step(value: float, step: float) -> str:
    """``value`` rounded to the nearest multiple of ``step``, printed with step's decimals."""
    if step <= 0:
        return format(Decimal(repr(value)).normalize(), "f")
    d_step = Decimal(repr(step)).normalize()
    n = (Decimal(repr(value)) / d_step).to_integral_value()
    return format((n * d_step).quantize(d_step), "f")


def new_order_params(req: OrderRequest) -> dict[str, str]:
    inst = req.instrument
    p = {
        "symbol": inst.symbol,
        "side": SIDE[req.side],
        "type": TYPE[req.order_type],
        "quantity": fmt_step(req.qty, inst.lot_size),
        "newClientOrderId": req.client_order_id,
        "newOrderRespType": "RESULT",
    }
    if req.order_type == "limit":
        p["price"] = fmt_step(req.px, inst.tick_size)
        p["timeInForce"] = TIF[req.time_in_force]
    return p


def modify_params(inst: Instrument, client_order_id: str, side: int, px: float, qty: float) -> dict[str, str]:
    return {
        "symbol": inst.symbol,
        "origClientOrderId": client_order_id,
        "side": SIDE[side],
        "quantity": fmt_step(qty, inst.lot_size),
        "price": fmt_step(px, inst.tick_size),
    }


def by_client_id(inst: Instrument, client_order_id: str) -> dict[str, str]:
    return {"symbol": inst.symbol, "origClientOrderId": client_order_id}
