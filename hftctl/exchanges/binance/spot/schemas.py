"""Binance spot wire messages (conventions: ``hftctl.exchanges.binance.common.schemas``).

Sources (binance/binance-spot-api-docs, checked 2026-12-01; see docs/protocols.md):
web-socket-streams.md "Trade Streams", "Diff. Depth Stream", "Individual Symbol Book Ticker
Streams"; user-data-stream.md "Order Update", "Account Update"; rest-api.md "New order",
"Query order", "Account information". Spot's depth diffs have no ``pu`` and no transaction time,
its bookTicker has no event type and no times at all.
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

from hftctl.exchanges.binance.common.schemas import Dec, Level

# --- market streams --------------------------------------------------------------------------


class DepthUpdate(msgspec.Struct, tag_field="e", tag="depthUpdate"):
    """``<symbol>@depth[@100ms]``."""

    E: int              # event time, ms
    s: str              # symbol
    U: int              # first update id in event
    u: int              # final update id in event
    b: list[Level]      # bids to update
    a: list[Level]      # asks to update


class PartialDepth(msgspec.Struct):
    """``<symbol>@depth<5|10|20>[@100ms]``: the top of the book, no symbol, no time."""

    lastUpdateId: int
    bids: list[Level]
    asks: list[Level]


class Trade(msgspec.Struct, tag_field="e", tag="trade"):
    """``<symbol>@trade``."""

    E: int              # event time, ms
    s: str              # symbol
    t: int              # trade id
    p: Dec              # price
    q: Dec              # quantity
    T: int              # trade time, ms
    m: bool             # is the buyer the market maker?
    M: bool = True      # ignore


class AggTrade(msgspec.Struct, tag_field="e", tag="aggTrade"):
    """``<symbol>@aggTrade``."""

    E: int              # event time, ms
    s: str              # symbol
    a: int              # aggregate trade id
    p: Dec              # price
    q: Dec              # quantity
    f: int              # first trade id
    l: int              # last trade id  # noqa: E741
    T: int              # trade time, ms
    m: bool             # is the buyer the market maker?
    M: bool = True      # ignore


class BookTicker(msgspec.Struct):
    """``<symbol>@bookTicker``: no event type, no event or transaction time."""

    u: int              # order book update id
    s: str              # symbol
    b: Dec              # best bid price
    B: Dec              # best bid qty
    a: Dec              # best ask price
    A: Dec              # best ask qty


# --- user data -------------------------------------------------------------------------------


class ExecutionReport(msgspec.Struct, tag_field="e", tag="executionReport", kw_only=True):
    """Order update (user-data-stream.md § Order Update)."""

    E: int              # event time, ms
    s: str              # symbol
    c: str              # client order id
    S: str              # side
    o: str              # order type: LIMIT | LIMIT_MAKER | MARKET | ...
    f: str              # time in force
    q: Dec              # order quantity
    p: Dec              # order price
    P: Dec = 0.0        # stop price
    F: Dec = 0.0        # iceberg quantity
    g: int = -1         # order list id
    C: str = ""         # original client order id ("" unless this is a cancel)
    x: str              # execution type: NEW | CANCELED | REPLACED | REJECTED | TRADE | EXPIRED | TRADE_PREVENTION
    X: str              # order status: NEW | PARTIALLY_FILLED | FILLED | CANCELED | REJECTED | EXPIRED | EXPIRED_IN_MATCH
    r: str = "NONE"     # reject reason
    i: int              # order id
    l: Dec              # last executed quantity  # noqa: E741
    z: Dec              # cumulative filled quantity
    L: Dec              # last executed price
    n: Dec = 0.0        # commission amount
    N: str | None = None     # commission asset (null when none)
    T: int              # transaction time, ms
    t: int = -1         # trade id (-1 if not a trade)
    I: int = 0          # execution id  # noqa: E741
    w: bool = False     # is the order on the book?
    m: bool = False     # is this trade the maker side?
    M: bool = False     # ignore
    O: int = 0          # order creation time  # noqa: E741
    Z: Dec = 0.0        # cumulative quote asset transacted quantity
    Y: Dec = 0.0        # last quote asset transacted quantity
    Q: Dec = 0.0        # quote order quantity
    W: int | UnsetType = UNSET    # working time (only if the order went on the book)
    V: str = "NONE"     # self-trade prevention mode


class BalanceFields(msgspec.Struct):
    a: str              # asset
    f: Dec              # free
    l: Dec              # locked  # noqa: E741


class OutboundAccountPosition(msgspec.Struct, tag_field="e", tag="outboundAccountPosition"):
    E: int              # event time, ms
    u: int              # time of the last account update, ms
    B: list[BalanceFields]


class ListenKeyExpired(msgspec.Struct, tag_field="e", tag="listenKeyExpired"):
    E: int | str        # event time, ms
    listenKey: str


UserEvent = ExecutionReport | OutboundAccountPosition | ListenKeyExpired

# --- REST bodies -----------------------------------------------------------------------------


class FillRow(msgspec.Struct):
    price: Dec
    qty: Dec
    commission: Dec
    commissionAsset: str
    tradeId: int


class OrderBody(msgspec.Struct, kw_only=True):
    """Order responses (new: ``transactTime``/``workingTime``/``fills``; cancel:
    ``origClientOrderId``/``transactTime``; query and openOrders: ``time``/``updateTime``...)."""

    symbol: str
    origClientOrderId: str | UnsetType = UNSET   # cancel responses: the order's client id
    orderId: int
    orderListId: int = -1
    clientOrderId: str                           # cancel responses: the cancel request's own id
    transactTime: int | UnsetType = UNSET
    price: Dec
    origQty: Dec
    executedQty: Dec
    cummulativeQuoteQty: Dec = 0.0               # sic: Binance's spelling
    status: str
    timeInForce: str
    type: str
    side: str
    stopPrice: Dec | UnsetType = UNSET
    icebergQty: Dec | UnsetType = UNSET
    time: int | UnsetType = UNSET
    updateTime: int | UnsetType = UNSET
    isWorking: bool | UnsetType = UNSET
    workingTime: int | UnsetType = UNSET
    origQuoteOrderQty: Dec | UnsetType = UNSET
    selfTradePreventionMode: str = "NONE"
    fills: list[FillRow] | UnsetType = UNSET


class AccountBalance(msgspec.Struct):
    asset: str
    free: Dec
    locked: Dec


class Account(msgspec.Struct, kw_only=True):
    """``GET /api/v3/account``: only what the connector reads is required."""

    makerCommission: int = 0
    takerCommission: int = 0
    buyerCommission: int = 0
    sellerCommission: int = 0
    commissionRates: dict = {}
    canTrade: bool = True
    canWithdraw: bool = True
    canDeposit: bool = True
    brokered: bool = False
    requireSelfTradePrevention: bool = False
    preventSor: bool = False
    updateTime: int = 0
    accountType: str = "SPOT"
    balances: list[AccountBalance]
    permissions: list[str] = []
    uid: int = 0
