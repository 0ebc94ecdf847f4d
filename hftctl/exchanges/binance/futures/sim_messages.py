"""The sim's Binance USD-M futures wire encoding: engine events and state -> the typed schemas.

The messages are ``hftctl.exchanges.binance.futures.schemas`` structs, the same the connector
decodes; numbers are rendered as the fixed-decimal strings Binance sends. The engine speaks the
IPC vocabulary (``new``, ``limit``, ``gtx``...); the maps below turn it into Binance's enums.
"""

from __future__ import annotations

from hftctl.exchanges.binance.futures import schemas as w
from hftctl.sim.accounts import Account, Position
from hftctl.sim.engine import SimEngine
from hftctl.sim.events import AccountEvent, BookTicker, DepthUpdate, Liquidation, MarkPrice, OrderEvent, Trade
from hftctl.sim.instruments import SymbolSpec
from hftctl.sim.orders import Order

SIDE = {1: "BUY", -1: "SELL"}
STATUS_OUT = {"new": "NEW", "partially_filled": "PARTIALLY_FILLED", "filled": "FILLED",
              "canceled": "CANCELED", "expired": "EXPIRED", "rejected": "REJECTED"}
TYPE_OUT = {"limit": "LIMIT", "market": "MARKET"}
TYPE_IN = {v: k for k, v in TYPE_OUT.items()}
TIF_OUT = {"gtc": "GTC", "ioc": "IOC", "fok": "FOK", "gtx": "GTX"}
TIF_IN = {v: k for k, v in TIF_OUT.items()}
EXEC_OUT = {"new": "NEW", "trade": "TRADE", "canceled": "CANCELED", "expired": "EXPIRED",
            "amended": "AMENDMENT"}
# selfTradePreventionMode (REST New Order; NONE as the WS API and modify use it)
STP_OUT = {"none": "NONE", "expire_taker": "EXPIRE_TAKER", "expire_maker": "EXPIRE_MAKER",
           "expire_both": "EXPIRE_BOTH"}
STP_IN = {v: k for k, v in STP_OUT.items()}
REASON_OUT = {"order": "ORDER"}


def _f(x: float, decimals: int = 8) -> str:
    return f"{x:.{decimals}f}"


def depth_update(ev: DepthUpdate, first_id: int | None = None) -> w.DepthUpdate:
    return w.DepthUpdate(E=ev.event_ms, T=ev.trans_ms, s=ev.symbol,
                         U=ev.first_id if first_id is None else first_id, u=ev.last_id, pu=ev.prev_id,
                         b=ev.bids, a=ev.asks)


def trade(ev: Trade) -> w.Trade:
    return w.Trade(E=ev.event_ms, T=ev.trade_ms, s=ev.symbol, t=ev.trade_id, p=ev.price, q=ev.qty,
                   X="MARKET", m=ev.buyer_is_maker)


def agg_trade(ev: Trade) -> w.AggTrade:
    return w.AggTrade(E=ev.event_ms, s=ev.symbol, a=ev.trade_id, p=ev.price, q=ev.qty, f=ev.trade_id,
                      l=ev.trade_id, T=ev.trade_ms, m=ev.buyer_is_maker)


def book_ticker(ev: BookTicker) -> w.BookTicker:
    return w.BookTicker(u=ev.update_id, s=ev.symbol, b=ev.bid, B=ev.bid_qty, a=ev.ask, A=ev.ask_qty,
                        T=ev.trans_ms, E=ev.event_ms)


def mark_price(ev: MarkPrice, event_ms: int) -> w.MarkPriceUpdate:
    """The latest mark as pushed at ``event_ms``; the estimated settle price follows the mark."""
    return w.MarkPriceUpdate(E=event_ms, s=ev.symbol, p=_f(ev.mark), i=_f(ev.index), P=_f(ev.mark),
                             r=_f(ev.funding_rate), T=ev.next_funding_ms)


def force_order(ev: Liquidation, event_ms: int) -> w.ForceOrder:
    """A liquidation as the exchange shows it: an IOC limit order, filled at its price."""
    return w.ForceOrder(E=event_ms, o=w.LiquidationOrder(
        s=ev.symbol, S="SELL" if ev.long else "BUY", o="LIMIT", f="IOC", q=ev.qty, p=ev.price, ap=ev.price,
        X="FILLED", l=ev.qty, z=ev.qty, T=ev.trade_ms))


def _avg(order: Order, spec: SymbolSpec) -> str:
    if order.filled_lots == 0:
        return "0.00"
    return _f(order.cum_quote / (order.filled_lots * spec.step), spec.price_decimals + 3)


def _price(order: Order, spec: SymbolSpec) -> str:
    return spec.price_str(order.price_ticks) if order.type == "limit" else "0"


def status(order: Order) -> str:
    """An order's status; one self-trade prevention expired is EXPIRED_IN_MATCH (STP FAQ)."""
    if order.status == "expired" and order.reason == "stp":
        return "EXPIRED_IN_MATCH"
    return STATUS_OUT[order.status]


def expiry_reason(order: Order) -> str:
    """``er``: 1 expired by STP, 2 IOC not fully filled, 3 IOC not fully filled because of STP."""
    if order.status != "expired":
        return "0"
    if order.reason == "stp":
        return "3" if order.tif == "ioc" else "1"
    return "2" if order.tif == "ioc" else "0"


def order_body(order: Order, spec: SymbolSpec, with_time: bool = False, ack: bool = False) -> w.OrderBody:
    """REST order body (new/cancel/modify/query/openOrders). ``ack``: newOrderRespType=ACK, the
    order as accepted, before it matched (RESULT: as it stands after matching)."""
    filled = 0 if ack else order.filled_lots
    return w.OrderBody(
        orderId=order.order_id, symbol=order.symbol, status="NEW" if ack else status(order),
        clientOrderId=order.client_id, price=_price(order, spec),
        avgPrice="0.00" if ack else _avg(order, spec), origQty=spec.qty_str(order.qty_lots),
        executedQty=spec.qty_str(filled), cumQty=spec.qty_str(filled),
        cumQuote=_f(0.0 if ack else order.cum_quote, 5), timeInForce=TIF_OUT[order.tif],
        type=TYPE_OUT[order.type], reduceOnly=order.reduce_only, closePosition=False,
        side=SIDE[order.side], positionSide="BOTH", stopPrice="0", workingType="CONTRACT_PRICE",
        priceProtect=False, origType=TYPE_OUT[order.type], priceMatch="NONE",
        selfTradePreventionMode=STP_OUT[order.stp], goodTillDate=0,
        **({"time": order.create_ms} if with_time else {}),
        updateTime=order.create_ms if ack else order.update_ms)


def user_trades(orders: list[Order], spec: SymbolSpec) -> list[dict]:
    rows = [{"buyer": o.side > 0, "commission": _f(f.fee), "commissionAsset": f.fee_asset, "id": f.trade_id,
             "maker": f.is_maker, "orderId": o.order_id, "price": spec.price_str(f.ticks),
             "qty": spec.qty_str(f.lots), "quoteQty": _f(f.ticks * spec.tick * f.lots * spec.step, 5),
             "realizedPnl": _f(f.realized_pnl), "side": SIDE[o.side], "positionSide": "BOTH",
             "symbol": o.symbol, "time": f.time_ms}
            for o in orders for f in o.fills]
    return sorted(rows, key=lambda r: r["id"])


def _open_notional(account: Account, symbol: str, spec: SymbolSpec) -> tuple[float, float]:
    bid = ask = 0.0
    for o in account.orders.values():
        if o.symbol == symbol and o.type == "limit":
            n = o.remaining * spec.step * o.price_ticks * spec.tick
            if o.side > 0:
                bid += n
            else:
                ask += n
    return bid, ask


def order_trade_update(ev: OrderEvent, spec: SymbolSpec) -> w.OrderTradeUpdate:
    o = ev.order
    bid, ask = _open_notional(o.account, o.symbol, spec)
    return w.OrderTradeUpdate(E=ev.event_ms, T=ev.event_ms, o=w.OrderFields(
        s=o.symbol, c=o.client_id, S=SIDE[o.side], o=TYPE_OUT[o.type], f=TIF_OUT[o.tif],
        q=spec.qty_str(o.qty_lots), p=_price(o, spec), ap=_avg(o, spec), sp="0",
        x=EXEC_OUT[ev.exec_type], X=status(o), i=o.order_id,
        l=spec.qty_str(ev.last_lots), z=spec.qty_str(o.filled_lots),
        L=spec.price_str(ev.last_ticks) if ev.last_lots else "0",
        N=spec.quote, n=_f(ev.commission), T=ev.event_ms, t=ev.trade_id,
        b=_f(bid, 5), a=_f(ask, 5), m=ev.is_maker, R=o.reduce_only,
        wt="CONTRACT_PRICE", ot=TYPE_OUT[o.type], ps="BOTH", cp=False, pP=False, si=0, ss=0,
        rp=_f(ev.realized_pnl), V=STP_OUT[o.stp], pm="NONE", gtd=0, er=expiry_reason(o)))


def position_fields(engine: SimEngine, account: Account, pos: Position) -> w.PositionFields:
    spec = engine.specs[pos.symbol]
    up = engine.margin.unrealized(account, pos.symbol) if pos.lots else 0.0
    return w.PositionFields(s=pos.symbol, pa=spec.qty_str(pos.lots), ep=_f(pos.entry_price, 7),
                            bep=_f(pos.entry_price, 7), cr=_f(pos.realized_pnl), up=_f(up),
                            mt="cross", iw="0", ps="BOTH")


def account_update(engine: SimEngine, ev: AccountEvent) -> w.AccountUpdate:
    acct = ev.account
    balances = [w.BalanceFields(a=asset, wb=_f(acct.balances.get(asset, 0.0)),
                                cw=_f(acct.balances.get(asset, 0.0)), bc=_f(ev.balance_changes.get(asset, 0.0)))
                for asset in ev.assets]
    positions = [position_fields(engine, acct, p) for p in ev.positions]
    return w.AccountUpdate(E=ev.event_ms, T=ev.event_ms,
                           a=w.AccountFields(m=REASON_OUT.get(ev.reason, ev.reason.upper()), B=balances,
                                             P=positions))


def listen_key_expired(key: str, event_ms: int) -> w.ListenKeyExpired:
    return w.ListenKeyExpired(E=event_ms, listenKey=key)


def position_risk(engine: SimEngine, account: Account, symbol: str) -> w.PositionRisk:
    spec = engine.specs[symbol]
    pos = account.positions.get(symbol) or Position(symbol)
    mark = engine.margin.mark_price(symbol)
    up = (mark - pos.entry_price) * pos.lots * spec.step if pos.lots and mark else 0.0
    notional = pos.lots * spec.step * mark
    bid, ask = _open_notional(account, symbol, spec)
    return w.PositionRisk(
        symbol=symbol, positionSide="BOTH", positionAmt=spec.qty_str(pos.lots),
        entryPrice=_f(pos.entry_price, 7), breakEvenPrice=_f(pos.entry_price, 7),
        markPrice=_f(mark), unRealizedProfit=_f(up), liquidationPrice="0",
        leverage=str(account.leverage), maxNotionalValue="20000000", marginType="cross",
        isolatedMargin="0.00000000", isAutoAddMargin="false", notional=_f(notional),
        isolatedWallet="0", marginAsset=spec.quote,
        initialMargin=_f(abs(notional) / account.leverage + (bid + ask) / account.leverage),
        positionInitialMargin=_f(abs(notional) / account.leverage),
        openOrderInitialMargin=_f((bid + ask) / account.leverage),
        bidNotional=_f(bid), askNotional=_f(ask), adl=0, updateTime=pos.update_ms)


def balances(engine: SimEngine, account: Account, now_ms: int) -> list[w.BalanceRow]:
    out = []
    for asset, wallet in account.balances.items():
        upnl = engine.margin.unrealized(account)
        avail = engine.margin.available_balance(account, asset)
        out.append(w.BalanceRow(accountAlias="SimAcct", asset=asset, balance=_f(wallet),
                                crossWalletBalance=_f(wallet), crossUnPnl=_f(upnl),
                                availableBalance=_f(avail), maxWithdrawAmount=_f(max(0.0, avail)),
                                marginAvailable=True, updateTime=now_ms))
    return out


def account(engine: SimEngine, acct: Account, now_ms: int) -> dict:
    m = engine.margin
    upnl = m.unrealized(acct)
    pos_margin = m.position_margin(acct)
    ord_margin = m.order_margin(acct)
    wallet = sum(acct.balances.values())
    avail = wallet + upnl - pos_margin - ord_margin
    assets = []
    for asset, bal in acct.balances.items():
        assets.append({"asset": asset, "walletBalance": _f(bal), "unrealizedProfit": _f(upnl),
                       "marginBalance": _f(bal + upnl), "maintMargin": _f(pos_margin * 0.1),
                       "initialMargin": _f(pos_margin + ord_margin),
                       "positionInitialMargin": _f(pos_margin), "openOrderInitialMargin": _f(ord_margin),
                       "crossWalletBalance": _f(bal), "crossUnPnl": _f(upnl),
                       "availableBalance": _f(avail), "maxWithdrawAmount": _f(max(0.0, avail)),
                       "marginAvailable": True, "updateTime": now_ms})
    positions = []
    for symbol in engine.specs:
        p = position_risk(engine, acct, symbol)
        positions.append({"symbol": p.symbol, "initialMargin": p.initialMargin,
                          "positionInitialMargin": p.positionInitialMargin,
                          "openOrderInitialMargin": p.openOrderInitialMargin,
                          "unRealizedProfit": p.unRealizedProfit, "leverage": p.leverage,
                          "entryPrice": p.entryPrice, "bidNotional": p.bidNotional,
                          "askNotional": p.askNotional, "positionSide": p.positionSide,
                          "positionAmt": p.positionAmt, "updateTime": p.updateTime,
                          "notional": p.notional, "isolated": False, "maintMargin": "0",
                          "maxNotional": "20000000", "unrealizedProfit": p.unRealizedProfit})
    return {"feeTier": 0, "canTrade": True, "canDeposit": True, "canWithdraw": True,
            "updateTime": 0, "multiAssetsMargin": False, "tradeGroupId": -1,
            "totalInitialMargin": _f(pos_margin + ord_margin), "totalMaintMargin": _f(pos_margin * 0.1),
            "totalWalletBalance": _f(wallet), "totalUnrealizedProfit": _f(upnl),
            "totalMarginBalance": _f(wallet + upnl), "totalPositionInitialMargin": _f(pos_margin),
            "totalOpenOrderInitialMargin": _f(ord_margin), "totalCrossWalletBalance": _f(wallet),
            "totalCrossUnPnl": _f(upnl), "availableBalance": _f(avail),
            "maxWithdrawAmount": _f(max(0.0, avail)), "assets": assets, "positions": positions}


def exchange_info(engine: SimEngine, limits, now_ms: int) -> dict:
    symbols = []
    for spec in engine.specs.values():
        symbols.append({
            "symbol": spec.symbol, "pair": spec.symbol, "contractType": "PERPETUAL",
            "deliveryDate": 4133404800000, "onboardDate": 1569398400000, "status": "TRADING",
            "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
            "baseAsset": spec.base, "quoteAsset": spec.quote, "marginAsset": spec.quote,
            "pricePrecision": spec.price_decimals, "quantityPrecision": spec.qty_decimals,
            "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
            "underlyingSubType": [], "settlePlan": 0, "triggerProtect": "0.0500",
            "filters": [*price_and_lot_filters(spec), {"filterType": "MIN_NOTIONAL", "notional": _g(spec.min_notional)}],
            "orderTypes": ["LIMIT", "MARKET"], "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
            "liquidationFee": "0.012500", "marketTakeBound": "0.05"})
    rate_limits = [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": limits.weight_per_min},
        {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": limits.orders_per_min},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": limits.orders_per_10s},
    ]
    quotes = sorted({s.quote for s in engine.specs.values()})
    return {"timezone": "UTC", "serverTime": now_ms, "futuresType": "U_MARGINED",
            "rateLimits": rate_limits, "exchangeFilters": [],
            "assets": [{"asset": q, "marginAvailable": True, "autoAssetExchange": "-10000"} for q in quotes],
            "symbols": symbols}


def price_and_lot_filters(spec: SymbolSpec) -> list[dict]:
    """exchangeInfo's PRICE_FILTER, LOT_SIZE and MARKET_LOT_SIZE of a symbol (USD-M and COIN-M)."""
    return [
        {"filterType": "PRICE_FILTER", "minPrice": _g(spec.min_price), "maxPrice": _g(spec.max_price),
         "tickSize": f"{spec.tick:.{spec.price_decimals}f}"},
        {"filterType": "LOT_SIZE", "stepSize": _g(spec.step), "maxQty": _g(spec.max_qty), "minQty": _g(spec.min_qty)},
        {"filterType": "MARKET_LOT_SIZE", "stepSize": _g(spec.step), "maxQty": _g(spec.max_qty),
         "minQty": _g(spec.min_qty)},
    ]


def _g(x: float) -> str:
    text = f"{x:.8f}".rstrip("0")
    return text[:-1] if text.endswith(".") else text
