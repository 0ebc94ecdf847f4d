"""The sim's Binance COIN-M wire encoding: engine events -> COIN-M's schemas (the pair added),
and exchangeInfo in COIN-M's shape (contract sizes, coin margin)."""

from __future__ import annotations

from hftctl.exchanges.binance.coinm import schemas as w
from hftctl.exchanges.binance.coinm.sim_instruments import CONTRACT_SIZE, pair
# trades, aggregate trades and listen-key expiry are USD-M's messages (the streams use them by name)
from hftctl.exchanges.binance.futures.sim_messages import (  # noqa: F401
    agg_trade, force_order, listen_key_expired, mark_price, price_and_lot_filters, trade)
from hftctl.sim.engine import SimEngine
from hftctl.sim.events import BookTicker, DepthUpdate


def depth_update(ev: DepthUpdate, first_id: int | None = None) -> w.DepthUpdate:
    return w.DepthUpdate(E=ev.event_ms, T=ev.trans_ms, s=ev.symbol, ps=pair(ev.symbol),
                         U=ev.first_id if first_id is None else first_id, u=ev.last_id, pu=ev.prev_id,
                         b=ev.bids, a=ev.asks)


def book_ticker(ev: BookTicker) -> w.BookTicker:
    return w.BookTicker(u=ev.update_id, s=ev.symbol, ps=pair(ev.symbol), b=ev.bid, B=ev.bid_qty, a=ev.ask,
                        A=ev.ask_qty, T=ev.trans_ms, E=ev.event_ms)


def exchange_info(engine: SimEngine, limits, now_ms: int) -> dict:
    """GET /dapi/v1/exchangeInfo, with the fields the official SDK's model lists."""
    symbols = [{
        "filters": price_and_lot_filters(spec),
        "orderTypes": ["LIMIT", "MARKET"], "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
        "liquidationFee": "0.010000", "marketTakeBound": "0.05",
        "symbol": spec.symbol, "pair": pair(spec.symbol), "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000, "onboardDate": 1597042800000, "contractStatus": "TRADING",
        "contractSize": CONTRACT_SIZE.get(spec.symbol, 100), "quoteAsset": spec.quote, "baseAsset": spec.base,
        "marginAsset": spec.base, "pricePrecision": spec.price_decimals, "quantityPrecision": spec.qty_decimals,
        "baseAssetPrecision": 8, "quotePrecision": 8, "equalQtyPrecision": 4, "triggerProtect": "0.0500",
        "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000", "underlyingType": "COIN",
        "underlyingSubType": []} for spec in engine.specs.values()]
    rate_limits = [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": limits.weight_per_min},
        {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": limits.orders_per_min},
    ]
    return {"exchangeFilters": [], "rateLimits": rate_limits, "serverTime": now_ms, "symbols": symbols,
            "timezone": "UTC"}
