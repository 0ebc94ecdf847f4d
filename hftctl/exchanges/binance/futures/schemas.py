"""Binance USD-M futures wire messages (conventions: ``hftctl.exchanges.binance.common.schemas``).

Sources (checked 2026-12-01; see docs/protocols.md): USD-M "Diff. Book Depth Streams",
"Aggregate Trade Streams", "Individual Symbol Book Ticker Streams", "Mark Price Stream",
user data "Event: Order Update" / "Event: Balance and Position Update", REST "New Order",
"Query Order", "Position Information V2", "Futures Account Balance V2". ``trade`` is the raw
trade stream hftbacktest's collector records (fstream serves it; the current docs list only
aggTrade).
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

from hftctl.exchanges.binance.common.schemas import Dec, Level

# --- market streams --------------------------------------------------------------------------


class DepthUpdate(msgspec.Struct, tag_field="e", tag="depthUpdate"):
    """``<symbol>@depth[@100ms|@0ms]`` and partial books ``<symbol>@depth<N>``."""

    E: int              # event time, ms
    T: int              # transaction time, ms
    s: str              # symbol
    U: int              # first update id in event
    u: int              # final update id in event
    pu: int             # final update id in the previous event of this stream
    b: list[Level]      # bids to update: [price, qty], qty "0" removes the level
    a: list[Level]      # asks to update


class Trade(msgspec.Struct, tag_field="e", tag="trade"):
    """``<symbol>@trade``."""

    E: int              # event time, ms
    T: int              # trade time, ms
    s: str              # symbol
    t: int              # trade id
    p: Dec              # price
    q: Dec              # quantity
    X: str              # "MARKET", or INSURANCE_FUND / ADL / NA for non-market executions
    m: bool             # is the buyer the market maker? (true: the seller took liquidity)


class AggTrade(msgspec.Struct, tag_field="e", tag="aggTrade"):
    """``<symbol>@aggTrade``."""

    E: int              # event time, ms
    s: str              # symbol
    a: int              # aggregate trade id
    p: Dec              # price
    q: Dec              # quantity
    f: int              # first trade id
    l: int              # last trade id  # noqa: E741 (Binance's letter)
    T: int              # trade time, ms
    m: bool             # is the buyer the market maker?


class BookTicker(msgspec.Struct, tag_field="e", tag="bookTicker"):
    """``<symbol>@bookTicker``."""

    u: int              # order book update id
    s: str              # symbol
    b: Dec              # best bid price
    B: Dec              # best bid qty
    a: Dec              # best ask price
    A: Dec              # best ask qty
    T: int              # transaction time, ms
    E: int              # event time, ms


class MarkPriceUpdate(msgspec.Struct, tag_field="e", tag="markPriceUpdate"):
    """``<symbol>@markPrice[@1s]``."""

    E: int              # event time, ms
    s: str              # symbol
    p: Dec              # mark price
    i: Dec              # index price
    P: Dec              # estimated settle price
    r: Dec              # funding rate
    T: int              # next funding time, ms


class LiquidationOrder(msgspec.Struct):
    """The ``o`` object of forceOrder."""

    s: str              # symbol
    S: str              # side of the liquidation order: SELL closes a long
    o: str              # order type (LIMIT)
    f: str              # time in force (IOC)
    q: Dec              # original quantity
    p: Dec              # price
    ap: Dec             # average price
    X: str              # order status
    l: Dec              # last filled quantity  # noqa: E741
    z: Dec              # accumulated filled quantity
    T: int              # trade time, ms


class ForceOrder(msgspec.Struct, tag_field="e", tag="forceOrder"):
    """``<symbol>@forceOrder`` ("Liquidation Order Streams": the latest liquidation per symbol
    within each 1000 ms; nothing in a window without one)."""

    E: int              # event time, ms
    o: LiquidationOrder


# --- user data stream ------------------------------------------------------------------------


class OrderFields(msgspec.Struct):
    """The ``o`` object of ORDER_TRADE_UPDATE."""

    s: str              # symbol
    c: str              # client order id
    S: str              # side: BUY | SELL
    o: str              # order type: LIMIT | MARKET | ...
    f: str              # time in force: GTC | IOC | FOK | GTX | GTD
    q: Dec              # original quantity
    p: Dec              # original price
    ap: Dec             # average price
    sp: Dec             # stop price
    x: str              # execution type: NEW | CANCELED | CALCULATED | EXPIRED | TRADE | AMENDMENT
    X: str              # order status: NEW | PARTIALLY_FILLED | FILLED | CANCELED | EXPIRED | EXPIRED_IN_MATCH
    i: int              # order id
    l: Dec              # last filled quantity  # noqa: E741
    z: Dec              # accumulated filled quantity
    L: Dec              # last filled price
    N: str | UnsetType = UNSET   # commission asset (not pushed without commission)
    n: Dec | UnsetType = UNSET   # commission (not pushed without commission)
    T: int = 0          # order trade time, ms
    t: int = 0          # trade id
    b: Dec = 0.0        # bids notional
    a: Dec = 0.0        # ask notional
    m: bool = False     # is this trade the maker side?
    R: bool = False     # reduce only
    wt: str = "CONTRACT_PRICE"   # stop price working type
    ot: str = ""        # original order type
    ps: str = "BOTH"    # position side
    cp: bool = False    # close-all (conditional)
    pP: bool = False    # price protection
    si: int = 0         # ignore
    ss: int = 0         # ignore
    rp: Dec = 0.0       # realized profit of the trade
    V: str = "NONE"     # self-trade prevention mode
    pm: str = "NONE"    # price match mode
    gtd: int = 0        # GTD auto-cancel time
    er: int | str = 0   # expiry reason: 1 STP, 2 IOC not fully filled, 3 IOC cut by STP (docs' type unclear)


class OrderTradeUpdate(msgspec.Struct, tag_field="e", tag="ORDER_TRADE_UPDATE"):
    E: int              # event time, ms
    T: int              # transaction time, ms
    o: OrderFields


class BalanceFields(msgspec.Struct):
    a: str              # asset
    wb: Dec             # wallet balance
    cw: Dec             # cross wallet balance
    bc: Dec = 0.0       # balance change except PnL and commission


class PositionFields(msgspec.Struct):
    s: str              # symbol
    pa: Dec             # position amount (signed)
    ep: Dec             # entry price
    bep: Dec = 0.0      # breakeven price
    cr: Dec = 0.0       # (pre-fee) accumulated realized
    up: Dec = 0.0       # unrealized PnL
    mt: str = "cross"   # margin type
    iw: Dec = 0.0       # isolated wallet
    ps: str = "BOTH"    # position side


class AccountFields(msgspec.Struct):
    m: str              # event reason: ORDER | FUNDING_FEE | DEPOSIT | ...
    B: list[BalanceFields] = []
    P: list[PositionFields] = []


class AccountUpdate(msgspec.Struct, tag_field="e", tag="ACCOUNT_UPDATE"):
    E: int              # event time, ms
    T: int              # transaction time, ms
    a: AccountFields


class ListenKeyExpired(msgspec.Struct, tag_field="e", tag="listenKeyExpired"):
    E: int | str        # event time, ms (a string in older docs' example)
    listenKey: str


UserEvent = OrderTradeUpdate | AccountUpdate | ListenKeyExpired

# --- REST bodies -----------------------------------------------------------------------------


class OrderBody(msgspec.Struct, kw_only=True):
    """New / modify / cancel / query order and openOrders rows (``newOrderRespType`` RESULT)."""

    orderId: int
    symbol: str
    status: str
    clientOrderId: str
    price: Dec
    avgPrice: Dec
    origQty: Dec
    executedQty: Dec
    cumQty: Dec = 0.0
    cumQuote: Dec = 0.0
    timeInForce: str
    type: str
    reduceOnly: bool = False
    closePosition: bool = False
    side: str
    positionSide: str = "BOTH"
    stopPrice: Dec = 0.0
    workingType: str = "CONTRACT_PRICE"
    priceProtect: bool = False
    origType: str = ""
    priceMatch: str = "NONE"
    selfTradePreventionMode: str = "NONE"
    goodTillDate: int = 0
    time: int | UnsetType = UNSET      # creation time (queries only)
    updateTime: int = 0


class PositionRisk(msgspec.Struct, kw_only=True):
    """``GET /fapi/v2/positionRisk`` row (v3 drops flat symbols and a few fields)."""

    symbol: str
    positionSide: str = "BOTH"
    positionAmt: Dec
    entryPrice: Dec
    breakEvenPrice: Dec = 0.0
    markPrice: Dec = 0.0
    unRealizedProfit: Dec = 0.0
    liquidationPrice: Dec = 0.0
    leverage: str | UnsetType = UNSET
    maxNotionalValue: str | UnsetType = UNSET
    marginType: str | UnsetType = UNSET
    isolatedMargin: Dec = 0.0
    isAutoAddMargin: str | UnsetType = UNSET
    notional: Dec = 0.0
    isolatedWallet: Dec = 0.0
    marginAsset: str | UnsetType = UNSET
    initialMargin: Dec = 0.0
    positionInitialMargin: Dec = 0.0
    openOrderInitialMargin: Dec = 0.0
    bidNotional: Dec = 0.0
    askNotional: Dec = 0.0
    adl: int = 0
    updateTime: int = 0


class BalanceRow(msgspec.Struct, kw_only=True):
    """``GET /fapi/v2/balance`` row."""

    accountAlias: str = ""
    asset: str
    balance: Dec                       # wallet balance
    crossWalletBalance: Dec = 0.0
    crossUnPnl: Dec = 0.0
    availableBalance: Dec = 0.0
    maxWithdrawAmount: Dec = 0.0
    marginAvailable: bool = True
    updateTime: int = 0


class CountdownCancelAll(msgspec.Struct):
    """``POST /fapi/v1/countdownCancelAll`` ("Auto-Cancel All Open Orders"): the countdown now in
    force for the symbol, in milliseconds as a string ("0": off)."""

    symbol: str
    countdownTime: str
