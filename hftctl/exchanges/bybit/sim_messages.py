"""The sim's Bybit v5 (linear) wire encoding: engine events and state -> the typed schemas.

The messages are ``hftctl.exchanges.bybit.schemas`` structs, the same the connector decodes.
Order ids are UUID strings on Bybit; the engine's integer ids map to and from them one-to-one.
The engine speaks the IPC vocabulary; the maps below turn it into Bybit's enums.
"""

from __future__ import annotations

import uuid

from hftctl.exchanges.bybit import schemas as w
from hftctl.exchanges.bybit.sim_smp import smp_order_id, smp_type
from hftctl.sim.accounts import Account, Position
from hftctl.sim.engine import SimEngine
from hftctl.sim.events import OrderEvent, Trade
from hftctl.sim.instruments import SymbolSpec
from hftctl.sim.orders import Order

SIDE = {1: "Buy", -1: "Sell"}
TYPE = {"limit": "Limit", "market": "Market"}
TIF = {"gtc": "GTC", "ioc": "IOC", "fok": "FOK", "gtx": "PostOnly"}
TIF_IN = {v: k for k, v in TIF.items()}


def order_uuid(order_id: int) -> str:
    return str(uuid.UUID(int=order_id))


def order_int(text: str) -> int | None:
    try:
        return uuid.UUID(text).int
    except (ValueError, AttributeError, TypeError):
        return None


def _f(x: float, d: int = 8) -> str:
    return f"{x:.{d}f}"


def status(order: Order) -> str:
    s = order.status
    if s == "new":
        return "New"
    if s == "partially_filled":
        return "PartiallyFilled"
    if s == "filled":
        return "Filled"
    if s in ("canceled", "expired"):
        return "Cancelled"      # also after fills: PartiallyFilledCanceled is spot's (enum.mdx)
    return "Rejected"


def _reject_reason(order: Order) -> str:
    # An SMP cancel's rejectReason is not documented: EC_BySelfMatch is the enum's name for it.
    return {"post_only": "EC_PostOnlyWillTakeLiquidity", "stp": "EC_BySelfMatch"}.get(order.reason, "EC_NoError")


def _cancel_type(order: Order) -> str:
    if order.status == "canceled":
        return "CancelByDCP" if order.reason == "dcp" else "CancelByUser"
    if order.status == "expired":
        if order.reason == "stp":
            return "CancelBySmp"
        return "CancelByReduceOnly" if order.reduce_only and order.reason else "UNKNOWN"
    return "UNKNOWN"


def order_row(order: Order, spec: SymbolSpec) -> w.OrderRow:
    other = smp_order_id(order)
    avg = order.cum_quote / (order.filled_lots * spec.step) if order.filled_lots else 0.0
    leaves = order.remaining if order.is_open else 0
    return w.OrderRow(
        category="linear", symbol=order.symbol, orderId=order_uuid(order.order_id),
        orderLinkId=order.client_id, blockTradeId="", side=SIDE[order.side], isLeverage="",
        positionIdx=0, orderStatus=status(order), cancelType=_cancel_type(order),
        rejectReason=_reject_reason(order),
        price=spec.price_str(order.price_ticks) if order.type == "limit" else "0",
        qty=spec.qty_str(order.qty_lots),
        avgPrice=_f(avg, spec.price_decimals) if order.filled_lots else "",
        leavesQty=spec.qty_str(leaves),
        leavesValue=_f(leaves * spec.step * order.price_ticks * spec.tick, 4),
        cumExecQty=spec.qty_str(order.filled_lots), cumExecValue=_f(order.cum_quote, 4),
        cumExecFee=_f(order.fee_total), cumFeeDetail={spec.quote: _f(order.fee_total)} if order.fills else {},
        closedPnl=_f(sum(f.realized_pnl for f in order.fills), 4), timeInForce=TIF[order.tif] if order.type == "limit" else "IOC",
        orderType=TYPE[order.type], stopOrderType="", orderIv="", triggerPrice="0.00",
        takeProfit="0.00", stopLoss="0.00", tpTriggerBy="", slTriggerBy="", triggerDirection=0,
        triggerBy="", lastPriceOnCreated="", reduceOnly=order.reduce_only, closeOnTrigger=False,
        smpType=smp_type(order), smpGroup=0,
        smpOrderId=order_uuid(other) if other is not None else "", tpslMode="", tpLimitPrice="",
        slLimitPrice="", placeType="", createType="CreateByUser", feeCurrency="",
        createdTime=str(order.create_ms), updatedTime=str(order.update_ms))


def execution(ev: OrderEvent, spec: SymbolSpec, engine: SimEngine, seq: int) -> w.ExecutionRow:
    o = ev.order
    price = ev.last_ticks * spec.tick
    qty = ev.last_lots * spec.step
    acct = o.account
    return w.ExecutionRow(
        category="linear", symbol=o.symbol, isLeverage="", orderId=order_uuid(o.order_id),
        orderLinkId=o.client_id, side=SIDE[o.side],
        orderPrice=spec.price_str(o.price_ticks) if o.type == "limit" else "0",
        orderQty=spec.qty_str(o.qty_lots), leavesQty=spec.qty_str(o.remaining if o.is_open else 0),
        createType="CreateByUser", orderType=TYPE[o.type], stopOrderType="",
        execFee=_f(ev.commission), execId=str(uuid.UUID(int=(1 << 64) + ev.trade_id)),
        execPrice=spec.price_str(ev.last_ticks), execQty=spec.qty_str(ev.last_lots),
        execType="Trade", execValue=_f(price * qty, 4), execTime=str(ev.event_ms),
        isMaker=ev.is_maker, feeRate=_f(acct.maker_fee if ev.is_maker else acct.taker_fee, 4),
        tradeIv="", markIv="", markPrice=_f(engine.margin.mark_price(o.symbol), spec.price_decimals),
        indexPrice="", underlyingPrice="", blockTradeId="", closedSize="0", execPnl=_f(ev.realized_pnl, 4),
        feeCurrency=ev.commission_asset or spec.quote, seq=seq)


def position(engine: SimEngine, acct: Account, pos: Position, seq: int = 0) -> w.PositionRow:
    spec = engine.specs[pos.symbol]
    mark = engine.margin.mark_price(pos.symbol)
    size = abs(pos.lots) * spec.step
    upnl = (mark - pos.entry_price) * pos.lots * spec.step if pos.lots and mark else 0.0
    value = size * pos.entry_price
    return w.PositionRow(
        category="linear", positionIdx=0, tradeMode=0, riskId=1, riskLimitValue="2000000",
        symbol=pos.symbol, side="" if pos.lots == 0 else ("Buy" if pos.lots > 0 else "Sell"),
        size=spec.qty_str(abs(pos.lots)), avgPrice=_f(pos.entry_price, spec.price_decimals),
        entryPrice=_f(pos.entry_price, spec.price_decimals), sessionAvgPrice="",
        leverage=str(acct.leverage), breakEvenPrice=_f(pos.entry_price, spec.price_decimals),   # fees not in it
        positionValue=_f(value, 4), positionBalance=_f(value / acct.leverage, 4),
        markPrice=_f(mark, spec.price_decimals), positionIM=_f(value / acct.leverage, 4),
        positionMM=_f(value * 0.005, 4), positionIMByMp=_f(value / acct.leverage, 4),
        positionMMByMp=_f(value * 0.005, 4), takeProfit="0.00", stopLoss="0.00", trailingStop="0.00",
        unrealisedPnl=_f(upnl, 4), curRealisedPnl=_f(pos.realized_pnl, 4),
        cumRealisedPnl=_f(pos.realized_pnl, 4), createdTime=str(pos.update_ms),
        updatedTime=str(pos.update_ms), tpslMode="Full", liqPrice="", bustPrice="",
        positionStatus="Normal", adlRankIndicator=0, autoAddMargin=0, seq=seq,
        isReduceOnly=False, leverageSysUpdatedTime="", mmrSysUpdatedTime="")


def wallet(engine: SimEngine, acct: Account) -> w.Wallet:
    m = engine.margin
    upnl = m.unrealized(acct)
    pos_im = m.position_margin(acct)
    ord_im = m.order_margin(acct)
    coins = []
    for coin, bal in acct.balances.items():
        coins.append(w.WalletCoin(
            coin=coin, equity=_f(bal + upnl), usdValue=_f(bal + upnl), walletBalance=_f(bal), free="",
            locked="0", spotHedgingQty="0", borrowAmount="0",
            availableToWithdraw="",            # deprecated for unified accounts (2025-01-09): always ""
            accruedInterest="0", totalOrderIM=_f(ord_im), totalPositionIM=_f(pos_im),
            totalPositionMM=_f(pos_im * 0.1), unrealisedPnl=_f(upnl),
            cumRealisedPnl=_f(sum(p.realized_pnl for p in acct.positions.values())),
            bonus="0", marginCollateral=True, collateralSwitch=True))
    total = sum(acct.balances.values())
    return w.Wallet(accountType="UNIFIED", accountIMRate="0", accountIMRateByMp="0", accountMMRate="0",
                    accountMMRateByMp="0", accountLTV="0",
                    totalEquity=_f(total + upnl), totalWalletBalance=_f(total),
                    totalMarginBalance=_f(total + upnl),
                    totalAvailableBalance=_f(total + upnl - pos_im - ord_im), totalPerpUPL=_f(upnl),
                    totalInitialMargin=_f(pos_im + ord_im), totalInitialMarginByMp=_f(pos_im + ord_im),
                    totalMaintenanceMargin=_f(pos_im * 0.1), totalMaintenanceMarginByMp=_f(pos_im * 0.1),
                    coin=coins)


def public_trade(ev: Trade) -> w.TradeRow:
    return w.TradeRow(T=ev.trade_ms, s=ev.symbol, S="Sell" if ev.buyer_is_maker else "Buy", v=ev.qty,
                      p=ev.price, L="ZeroPlusTick", i=str(uuid.UUID(int=(2 << 64) + ev.trade_id)), BT=False,
                      RPI=False, seq=ev.trade_id)


def instruments(engine: SimEngine) -> list[dict]:
    out = []
    for n, spec in enumerate(engine.specs.values(), 1):
        out.append({
            "symbol": spec.symbol, "symbolId": n, "contractType": "LinearPerpetual", "status": "Trading",
            "baseCoin": spec.base, "quoteCoin": spec.quote, "settleCoin": spec.quote,
            "launchTime": "1585526400000", "deliveryTime": "0", "deliveryFeeRate": "",
            "priceScale": str(spec.price_decimals),
            "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
            "priceFilter": {"minPrice": spec.price_str(round(spec.min_price / spec.tick)),
                            "maxPrice": spec.price_str(round(spec.max_price / spec.tick)),
                            "tickSize": spec.price_str(1)},
            "lotSizeFilter": {"maxOrderQty": spec.qty_str(round(spec.max_qty / spec.step)),
                              "minOrderQty": spec.qty_str(round(spec.min_qty / spec.step)),
                              "qtyStep": spec.qty_str(1),
                              "postOnlyMaxOrderQty": spec.qty_str(round(spec.max_qty / spec.step)),
                              "maxMktOrderQty": spec.qty_str(round(spec.max_qty / spec.step)),
                              "minNotionalValue": f"{spec.min_notional:g}"},
            "unifiedMarginTrade": True, "fundingInterval": 480, "copyTrading": "both",
            "upperFundingRate": "0.00375", "lowerFundingRate": "-0.00375", "isPreListing": False,
            "preListingInfo": None, "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
            "symbolType": ""})
    return out
