"""Schema order requests -> Binance order parameters (USD-M; spot adjusts post-only).

Every price and quantity is rounded to the instrument's tick/lot and printed with its decimals
(:func:`hftctl.exchanges.wire.fmt_step`), as Binance rejects anything else (-1111).
"""

from __future__ import annotations

from hftctl.exchanges.base import Instrument, OrderRequest
from hftctl.exchanges.wire import fmt_step

SIDE = {1: "BUY", -1: "SELL"}
TYPE = {"limit": "LIMIT", "market": "MARKET"}
TIF = {"gtc": "GTC", "gtx": "GTX", "ioc": "IOC", "fok": "FOK"}


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
