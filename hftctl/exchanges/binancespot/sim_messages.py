"""The sim's Binance spot wire encoding (REST bodies, market streams, executionReport,
outboundAccountPosition), field letters as in Binance's spot API docs."""

from __future__ import annotations

from hftctl.sim.accounts import Account
from hftctl.sim.engine import SimEngine
from hftctl.sim.events import AccountEvent, BookTicker, OrderEvent, Trade
from hftctl.sim.instruments import SymbolSpec
from hftctl.sim.orders import Order

SIDE = {1: "BUY", -1: "SELL"}


def _f(x: float) -> str:
    return f"{x:.8f}"


def wire_type(order: Order) -> str:
    return "LIMIT_MAKER" if order.type == "LIMIT" and order.tif == "GTX" else order.type


def wire_tif(order: Order) -> str:
    return "GTC" if order.tif == "GTX" else order.tif


def trade(ev: Trade) -> dict:
    return {"e": "trade", "E": ev.event_ms, "s": ev.symbol, "t": ev.trade_id, "p": ev.price, "q": ev.qty,
            "T": ev.trade_ms, "m": ev.buyer_is_maker, "M": True}


def agg_trade(ev: Trade) -> dict:
    return {"e": "aggTrade", "E": ev.event_ms, "s": ev.symbol, "a": ev.trade_id, "p": ev.price, "q": ev.qty,
            "f": ev.trade_id, "l": ev.trade_id, "T": ev.trade_ms, "m": ev.buyer_is_maker, "M": True}


def book_ticker(ev: BookTicker) -> dict:
    return {"u": ev.update_id, "s": ev.symbol, "b": ev.bid, "B": ev.bid_qty, "a": ev.ask, "A": ev.ask_qty}


def order_body(order: Order, spec: SymbolSpec, kind: str = "query", now_ms: int = 0) -> dict:
    """kind: "query" (GET order/openOrders), "new" (POST, FULL response), "cancel" (DELETE)."""
    body = {"symbol": order.symbol, "orderId": order.order_id, "orderListId": -1,
            "clientOrderId": order.client_id,
            "price": spec.price_str(order.price_ticks) if order.type == "LIMIT" else _f(0),
            "origQty": spec.qty_str(order.qty_lots), "executedQty": spec.qty_str(order.filled_lots),
            "cummulativeQuoteQty": _f(order.cum_quote), "status": order.status,
            "timeInForce": wire_tif(order), "type": wire_type(order), "side": SIDE[order.side],
            "selfTradePreventionMode": "NONE"}
    if kind == "new":
        body["transactTime"] = order.create_ms
        body["workingTime"] = order.create_ms if order.type == "LIMIT" else -1
        body["origQuoteOrderQty"] = _f(0)
        body["fills"] = [{"price": spec.price_str(f[0]), "qty": spec.qty_str(f[1]), "commission": _f(f[2]),
                          "commissionAsset": f[3], "tradeId": f[4]} for f in order.fills or ()]
    elif kind == "cancel":
        body["origClientOrderId"] = order.client_id
        body["transactTime"] = now_ms
    else:
        body.update({"stopPrice": _f(0), "icebergQty": _f(0), "time": order.create_ms,
                     "updateTime": order.update_ms, "isWorking": order.type == "LIMIT",
                     "workingTime": order.create_ms, "origQuoteOrderQty": _f(0)})
    return body


def my_trades(orders: list[Order], spec: SymbolSpec) -> list[dict]:
    rows = [{"symbol": o.symbol, "id": f[4], "orderId": o.order_id, "orderListId": -1,
             "price": spec.price_str(f[0]), "qty": spec.qty_str(f[1]),
             "quoteQty": _f(f[0] * spec.tick * f[1] * spec.step), "commission": _f(f[2]),
             "commissionAsset": f[3], "time": f[6], "isBuyer": o.side > 0, "isMaker": f[5], "isBestMatch": True}
            for o in orders for f in o.fills or ()]
    return sorted(rows, key=lambda r: r["id"])


def execution_report(ev: OrderEvent, spec: SymbolSpec) -> dict:
    o = ev.order
    traded = ev.exec_type == "TRADE"
    return {"e": "executionReport", "E": ev.event_ms, "s": o.symbol, "c": o.client_id, "S": SIDE[o.side],
            "o": wire_type(o), "f": wire_tif(o), "q": spec.qty_str(o.qty_lots),
            "p": spec.price_str(o.price_ticks) if o.type == "LIMIT" else _f(0), "P": _f(0), "F": _f(0),
            "g": -1, "C": o.client_id if ev.exec_type == "CANCELED" else "", "x": ev.exec_type,
            "X": o.status, "r": "NONE", "i": o.order_id, "l": spec.qty_str(ev.last_lots),
            "z": spec.qty_str(o.filled_lots),
            "L": spec.price_str(ev.last_ticks) if traded else _f(0), "n": _f(ev.commission),
            "N": ev.commission_asset or None, "T": ev.event_ms, "t": ev.trade_id if traded else -1,
            "I": ev.event_ms, "w": o.is_open and o.type == "LIMIT", "m": ev.is_maker, "M": False,
            "O": o.create_ms, "Z": _f(o.cum_quote),
            "Y": _f(ev.last_ticks * spec.tick * ev.last_lots * spec.step) if traded else _f(0),
            "Q": _f(0), "W": o.create_ms, "V": "NONE"}


def outbound_account_position(ev: AccountEvent) -> dict:
    acct = ev.account
    return {"e": "outboundAccountPosition", "E": ev.event_ms, "u": ev.event_ms,
            "B": [{"a": a, "f": _f(acct.balances.get(a, 0.0)), "l": _f(acct.locked.get(a, 0.0))}
                  for a in ev.assets]}


def account(acct: Account, now_ms: int) -> dict:
    assets = sorted(set(acct.balances) | set(acct.locked))
    maker, taker = round(acct.maker_fee * 10_000), round(acct.taker_fee * 10_000)
    return {"makerCommission": maker, "takerCommission": taker, "buyerCommission": 0, "sellerCommission": 0,
            "commissionRates": {"maker": _f(acct.maker_fee), "taker": _f(acct.taker_fee),
                                "buyer": _f(0), "seller": _f(0)},
            "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
            "requireSelfTradePrevention": False, "preventSor": False, "updateTime": now_ms,
            "accountType": "SPOT",
            "balances": [{"asset": a, "free": _f(acct.balances.get(a, 0.0)), "locked": _f(acct.locked.get(a, 0.0))}
                         for a in assets],
            "permissions": ["SPOT"], "uid": abs(hash(acct.api_key)) % 10**9}


def exchange_info(engine: SimEngine, limits, now_ms: int) -> dict:
    symbols = []
    for spec in engine.specs.values():
        symbols.append({
            "symbol": spec.symbol, "status": "TRADING", "baseAsset": spec.base, "baseAssetPrecision": 8,
            "quoteAsset": spec.quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"], "icebergAllowed": False, "ocoAllowed": False,
            "otoAllowed": False, "quoteOrderQtyMarketAllowed": False, "allowTrailingStop": False,
            "cancelReplaceAllowed": False, "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": _f(spec.min_price), "maxPrice": _f(spec.max_price),
                 "tickSize": _f(spec.tick)},
                {"filterType": "LOT_SIZE", "minQty": _f(spec.min_qty), "maxQty": _f(spec.max_qty),
                 "stepSize": _f(spec.step)},
                {"filterType": "NOTIONAL", "minNotional": _f(spec.min_notional), "applyMinToMarket": True,
                 "maxNotional": _f(9_000_000), "applyMaxToMarket": False, "avgPriceMins": 5},
            ],
            "permissions": [], "permissionSets": [["SPOT"]], "defaultSelfTradePreventionMode": "NONE",
            "allowedSelfTradePreventionModes": ["NONE"]})
    return {"timezone": "UTC", "serverTime": now_ms,
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                 "limit": limits.weight_per_min},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": limits.orders_per_10s},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": limits.orders_per_day}],
            "exchangeFilters": [], "symbols": symbols}
