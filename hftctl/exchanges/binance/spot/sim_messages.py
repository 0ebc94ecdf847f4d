"""The sim's Binance spot wire encoding: engine events and state -> the typed schemas (REST
bodies, market streams, executionReport, outboundAccountPosition), Binance's enums from the
engine's IPC vocabulary."""

from __future__ import annotations

from hftctl.exchanges.binance.futures.sim_messages import EXEC_OUT as FUTURES_EXEC_OUT
from hftctl.exchanges.binance.futures.sim_messages import SIDE, STATUS_OUT, TIF_OUT
from hftctl.exchanges.binance.spot import schemas as w
from hftctl.exchanges.binance.spot.sim_stp import DEFAULT_MODE, MODE_OUT, MODES

MAX_AMENDS = 10          # filters.md § MAX_NUM_ORDER_AMENDS (enabled 2025-08-28 with 10)
from hftctl.sim.accounts import Account
from hftctl.sim.engine import SimEngine
from hftctl.sim.events import AccountEvent, BookTicker, DepthUpdate, OrderEvent, Trade
from hftctl.sim.instruments import SymbolSpec
from hftctl.sim.orders import Order

# spot's post-only is its own order type, LIMIT_MAKER, with no time in force
TYPE_IN = {"LIMIT": ("limit", None), "LIMIT_MAKER": ("limit", "gtx"), "MARKET": ("market", "gtc")}
TIF_IN = {"GTC": "gtc", "IOC": "ioc", "FOK": "fok"}
# an amend keep-priority is execution type REPLACED ("The order has been amended", enums.md)
EXEC_OUT = {**FUTURES_EXEC_OUT, "amended": "REPLACED"}


def _f(x: float) -> str:
    return f"{x:.8f}"


def wire_type(order: Order) -> str:
    if order.type == "market":
        return "MARKET"
    return "LIMIT_MAKER" if order.tif == "gtx" else "LIMIT"


def wire_tif(order: Order) -> str:
    return "GTC" if order.tif == "gtx" else TIF_OUT[order.tif]


def _price(order: Order, spec: SymbolSpec) -> str:
    return spec.price_str(order.price_ticks) if order.type == "limit" else _f(0)


def wire_status(order: Order) -> str:
    """EXPIRED_IN_MATCH: "The order was expired by the exchange due to STP" (enums.md)."""
    return "EXPIRED_IN_MATCH" if order.reason == "stp" and order.status == "expired" else STATUS_OUT[order.status]


def depth_update(ev: DepthUpdate, first_id: int) -> w.DepthUpdate:
    return w.DepthUpdate(E=ev.event_ms, s=ev.symbol, U=first_id, u=ev.last_id, b=ev.bids, a=ev.asks)


def trade(ev: Trade) -> w.Trade:
    return w.Trade(E=ev.event_ms, s=ev.symbol, t=ev.trade_id, p=ev.price, q=ev.qty, T=ev.trade_ms,
                   m=ev.buyer_is_maker, M=True)


def agg_trade(ev: Trade) -> w.AggTrade:
    return w.AggTrade(E=ev.event_ms, s=ev.symbol, a=ev.trade_id, p=ev.price, q=ev.qty, f=ev.trade_id,
                      l=ev.trade_id, T=ev.trade_ms, m=ev.buyer_is_maker, M=True)


def book_ticker(ev: BookTicker) -> w.BookTicker:
    return w.BookTicker(u=ev.update_id, s=ev.symbol, b=ev.bid, B=ev.bid_qty, a=ev.ask, A=ev.ask_qty)


def _state(order: Order, spec: SymbolSpec) -> dict:
    return dict(price=_price(order, spec), origQty=spec.qty_str(order.qty_lots),
                executedQty=spec.qty_str(order.filled_lots), cummulativeQuoteQty=_f(order.cum_quote),
                status=wire_status(order), timeInForce=wire_tif(order), type=wire_type(order),
                side=SIDE[order.side], selfTradePreventionMode=MODE_OUT[order.stp])


def _prevented(order: Order, spec: SymbolSpec) -> dict:
    """Query responses of an order expired by STP: its match id and the quantity it lost."""
    m = order.stp_match
    if m is None:
        return {}
    return {"preventedMatchId": m.match_id, "preventedQuantity": spec.qty_str(m.lots_of(order))}


def placed(order: Order, spec: SymbolSpec, resp_type: str) -> w.OrderAck | w.OrderBody:
    """A placement's answer as ``newOrderRespType`` asks: ACK (ids), RESULT (+ state), FULL (+
    fills); with the matches self-trade prevention stopped (faqs/stp_faq.md § STP Examples)."""
    ids = dict(symbol=order.symbol, orderId=order.order_id, orderListId=-1, clientOrderId=order.client_id,
               transactTime=order.create_ms)
    if resp_type == "ACK":
        return w.OrderAck(**ids)
    body = w.OrderBody(**ids, **_state(order, spec), workingTime=order.create_ms if order.type == "limit" else -1,
                       origQuoteOrderQty=_f(0))
    if resp_type == "FULL":
        body.fills = [w.FillRow(spec.price_str(f.ticks), spec.qty_str(f.lots), _f(f.fee), f.fee_asset, f.trade_id)
                      for f in order.fills]
    matches = [m for m in order.prevented if m.taker is order]
    if matches:
        body.preventedMatches = [w.PreventedMatch(
            preventedMatchId=m.match_id, makerOrderId=m.maker.order_id, price=spec.price_str(m.ticks),
            takerPreventedQuantity=spec.qty_str(m.taker_lots) if m.taker_lots else w.UNSET,
            makerPreventedQuantity=spec.qty_str(m.maker_lots) if m.maker_lots else w.UNSET) for m in matches]
    if order.stp_match is not None:
        body.preventedQuantity = spec.qty_str(order.stp_match.lots_of(order))
    return body


def canceled(order: Order, spec: SymbolSpec, now_ms: int, cancel_client_id: str | None = None) -> w.OrderBody:
    """A cancel's answer: ``clientOrderId`` is the cancel request's own id (``newClientOrderId``)."""
    return w.OrderBody(symbol=order.symbol, origClientOrderId=order.client_id, orderId=order.order_id,
                       orderListId=-1, clientOrderId=cancel_client_id or order.client_id, transactTime=now_ms,
                       **_state(order, spec), origQuoteOrderQty=_f(0))


def amended(order: Order, spec: SymbolSpec, orig_client_id: str, now_ms: int, execution_id: int) -> w.AmendResult:
    """An amend keep-priority's answer (``qty``, ``cumulativeQuoteQty``: its own field names)."""
    return w.AmendResult(transactTime=now_ms, executionId=execution_id, amendedOrder=w.AmendedOrder(
        symbol=order.symbol, orderId=order.order_id, orderListId=-1, origClientOrderId=orig_client_id,
        clientOrderId=order.client_id, price=_price(order, spec), qty=spec.qty_str(order.qty_lots),
        executedQty=spec.qty_str(order.filled_lots), preventedQty=_f(0), quoteOrderQty=_f(0),
        cumulativeQuoteQty=_f(order.cum_quote), status=wire_status(order), timeInForce=wire_tif(order),
        type=wire_type(order), side=SIDE[order.side], workingTime=order.create_ms,
        selfTradePreventionMode=MODE_OUT[order.stp]))


def order_body(order: Order, spec: SymbolSpec) -> w.OrderBody:
    """An order as queries (order, openOrders, allOrders) show it."""
    return w.OrderBody(symbol=order.symbol, orderId=order.order_id, orderListId=-1, clientOrderId=order.client_id,
                       **_state(order, spec), stopPrice=_f(0), icebergQty=_f(0), time=order.create_ms,
                       updateTime=order.update_ms, isWorking=order.type == "limit", workingTime=order.create_ms,
                       origQuoteOrderQty=_f(0), **_prevented(order, spec))


def my_trades(orders: list[Order], spec: SymbolSpec) -> list[dict]:
    rows = [{"symbol": o.symbol, "id": f.trade_id, "orderId": o.order_id, "orderListId": -1,
             "price": spec.price_str(f.ticks), "qty": spec.qty_str(f.lots),
             "quoteQty": _f(f.ticks * spec.tick * f.lots * spec.step), "commission": _f(f.fee),
             "commissionAsset": f.fee_asset, "time": f.time_ms, "isBuyer": o.side > 0, "isMaker": f.is_maker,
             "isBestMatch": True}
            for o in orders for f in o.fills]
    return sorted(rows, key=lambda r: r["id"])


def execution_report(ev: OrderEvent, spec: SymbolSpec) -> w.ExecutionReport:
    """An order expired by a prevented match is x = TRADE_PREVENTION (X =
    EXPIRED_IN_MATCH, the STP fields; l, L and Y are 0 since 2023-12-04, pl/pL/pY say what would
    have traded)."""
    o = ev.order
    traded = ev.exec_type == "trade"
    er = w.ExecutionReport(
        E=ev.event_ms, s=o.symbol, c=o.client_id, S=SIDE[o.side], o=wire_type(o), f=wire_tif(o),
        q=spec.qty_str(o.qty_lots), p=_price(o, spec), P=_f(0), F=_f(0), g=-1,
        C=o.client_id if ev.exec_type == "canceled" else "", x=EXEC_OUT[ev.exec_type],
        X=wire_status(o), r="NONE", i=o.order_id, l=spec.qty_str(ev.last_lots),
        z=spec.qty_str(o.filled_lots), L=spec.price_str(ev.last_ticks) if traded else _f(0),
        n=_f(ev.commission), N=ev.commission_asset or None, T=ev.event_ms,
        t=ev.trade_id if traded else -1, I=ev.event_ms, w=o.is_open and o.type == "limit",
        m=ev.is_maker, M=False, O=o.create_ms, Z=_f(o.cum_quote),
        Y=_f(ev.last_ticks * spec.tick * ev.last_lots * spec.step) if traded else _f(0),
        Q=_f(0), W=o.create_ms, V=MODE_OUT[o.stp])
    prevented = o.stp_match if ev.exec_type == "expired" else None
    if prevented is not None:
        counter = prevented.counter(o)
        lots = spec.qty_str(prevented.lots_of(o))
        would = min(prevented.taker_left, prevented.maker_left)
        er.x = "TRADE_PREVENTION"
        er.v, er.A, er.B, er.u = prevented.match_id, lots, lots, -1      # -1: no trade group
        er.U = counter.order_id
        er.Cs = o.symbol
        er.pl, er.pL = spec.qty_str(would), spec.price_str(prevented.ticks)
        er.pY = _f(prevented.ticks * spec.tick * would * spec.step)
    return er


def outbound_account_position(ev: AccountEvent) -> w.OutboundAccountPosition:
    acct = ev.account
    return w.OutboundAccountPosition(
        E=ev.event_ms, u=ev.event_ms,
        B=[w.BalanceFields(a, _f(acct.balances.get(a, 0.0)), _f(acct.locked.get(a, 0.0))) for a in ev.assets])


def event_stream_terminated(event_ms: int) -> w.EventStreamTerminated:
    return w.EventStreamTerminated(E=event_ms)


def server_shutdown(event_ms: int) -> w.ServerShutdown:
    return w.ServerShutdown(E=event_ms)


def account(acct: Account, now_ms: int) -> w.Account:
    assets = sorted(set(acct.balances) | set(acct.locked))
    maker, taker = round(acct.maker_fee * 10_000), round(acct.taker_fee * 10_000)
    return w.Account(
        makerCommission=maker, takerCommission=taker, buyerCommission=0, sellerCommission=0,
        commissionRates={"maker": _f(acct.maker_fee), "taker": _f(acct.taker_fee), "buyer": _f(0), "seller": _f(0)},
        canTrade=True, canWithdraw=True, canDeposit=True, brokered=False, requireSelfTradePrevention=False,
        preventSor=False, updateTime=now_ms, accountType="SPOT",
        balances=[w.AccountBalance(a, _f(acct.balances.get(a, 0.0)), _f(acct.locked.get(a, 0.0))) for a in assets],
        permissions=["SPOT"], uid=abs(hash(acct.api_key)) % 10**9)


def exchange_info(engine: SimEngine, limits, now_ms: int) -> dict:
    symbols = []
    for spec in engine.specs.values():
        symbols.append({
            "symbol": spec.symbol, "status": "TRADING", "baseAsset": spec.base, "baseAssetPrecision": 8,
            "quoteAsset": spec.quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"], "icebergAllowed": False, "ocoAllowed": False,
            "otoAllowed": False, "quoteOrderQtyMarketAllowed": False, "allowTrailingStop": False,
            "cancelReplaceAllowed": True, "amendAllowed": True, "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": _f(spec.min_price), "maxPrice": _f(spec.max_price),
                 "tickSize": _f(spec.tick)},
                {"filterType": "LOT_SIZE", "minQty": _f(spec.min_qty), "maxQty": _f(spec.max_qty),
                 "stepSize": _f(spec.step)},
                {"filterType": "NOTIONAL", "minNotional": _f(spec.min_notional), "applyMinToMarket": True,
                 "maxNotional": _f(9_000_000), "applyMaxToMarket": False, "avgPriceMins": 5},
                {"filterType": "MAX_NUM_ORDER_AMENDS", "maxNumOrderAmends": MAX_AMENDS},
            ],
            "permissions": [], "permissionSets": [["SPOT"]], "defaultSelfTradePreventionMode": DEFAULT_MODE,
            "allowedSelfTradePreventionModes": list(MODES)})
    return {"timezone": "UTC", "serverTime": now_ms,
            "rateLimits": [
                {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                 "limit": limits.weight_per_min},
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": limits.orders_per_10s},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": limits.orders_per_day}],
            "exchangeFilters": [], "symbols": symbols}
