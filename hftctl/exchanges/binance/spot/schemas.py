"""Binance spot wire messages (conventions: ``hftctl.exchanges.binance.common.schemas``).

Sources (binance/binance-spot-api-docs, checked 2026-12-01; see docs/protocols.md):
web-socket-streams.md "Trade Streams", "Diff. Depth Stream", "Individual Symbol Book Ticker
Streams"; user-data-stream.md "Order Update", "Account Update"; rest-api.md "New order",
"Query order", "Account information"; web-socket-api.md "Event format", "Connection events",
"Cancel and replace order". Spot's depth diffs have no ``pu`` and no transaction time, its
bookTicker has no event type and no times at all. User data arrives only over the WebSocket API
(the listenKey streams were retired on 2026-02-20, testnet 2026-02-04), each event wrapped in
``{"subscriptionId", "event"}``.
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
    # only for orders that expired due to self-trade prevention (x = TRADE_PREVENTION):
    v: int | UnsetType = UNSET    # prevented match id
    A: Dec | UnsetType = UNSET    # prevented quantity (cumulative)
    B: Dec | UnsetType = UNSET    # last prevented quantity
    u: int | UnsetType = UNSET    # trade group id
    U: int | UnsetType = UNSET    # counter order id
    Cs: str | UnsetType = UNSET   # counter symbol
    pl: Dec | UnsetType = UNSET   # prevented execution quantity
    pL: Dec | UnsetType = UNSET   # prevented execution price
    pY: Dec | UnsetType = UNSET   # prevented execution quote quantity
    eR: str | UnsetType = UNSET   # expiry reason (only once the order expired)


class BalanceFields(msgspec.Struct):
    a: str              # asset
    f: Dec              # free
    l: Dec              # locked  # noqa: E741


class OutboundAccountPosition(msgspec.Struct, tag_field="e", tag="outboundAccountPosition"):
    E: int              # event time, ms
    u: int              # time of the last account update, ms
    B: list[BalanceFields]


class BalanceUpdate(msgspec.Struct, tag_field="e", tag="balanceUpdate"):
    """Deposits, withdrawals and transfers between accounts (not trading)."""

    E: int              # event time, ms
    a: str              # asset
    d: Dec              # balance delta
    T: int              # clear time, ms


class EventStreamTerminated(msgspec.Struct, tag_field="e", tag="eventStreamTerminated"):
    """The subscription named by the frame's ``subscriptionId`` has ended."""

    E: int              # event time, ms


class ServerShutdown(msgspec.Struct, tag_field="e", tag="serverShutdown"):
    """The server will close this connection soon: open a new one (no ``subscriptionId``)."""

    E: int              # event time, ms


UserEvent = ExecutionReport | OutboundAccountPosition | BalanceUpdate | EventStreamTerminated | ServerShutdown

# --- WebSocket API results (frames: common/schemas.py) -----------------------------------------


class Subscription(msgspec.Struct):
    """``userDataStream.subscribe.signature`` result, ``session.subscriptions`` item."""

    subscriptionId: int

# --- REST bodies -----------------------------------------------------------------------------


class FillRow(msgspec.Struct):
    price: Dec
    qty: Dec
    commission: Dec
    commissionAsset: str
    tradeId: int


class OrderAck(msgspec.Struct, kw_only=True):
    """``newOrderRespType=ACK``: the order was accepted, nothing about its state."""

    symbol: str
    orderId: int
    orderListId: int = -1
    clientOrderId: str
    transactTime: int


class PreventedMatch(msgspec.Struct, kw_only=True):
    """A placement response's record of one match that self-trade prevention stopped."""

    preventedMatchId: int
    makerOrderId: int
    price: Dec
    takerPreventedQuantity: Dec | UnsetType = UNSET   # EXPIRE_TAKER / EXPIRE_BOTH
    makerPreventedQuantity: Dec | UnsetType = UNSET   # EXPIRE_MAKER / EXPIRE_BOTH


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
    preventedMatchId: int | UnsetType = UNSET       # only if the order expired due to STP
    preventedQuantity: Dec | UnsetType = UNSET
    fills: list[FillRow] | UnsetType = UNSET        # FULL placement responses
    preventedMatches: list[PreventedMatch] | UnsetType = UNSET   # placement, if STP prevented a match


class CancelReplaceResult(msgspec.Struct, kw_only=True):
    """``order.cancelReplace`` / ``POST /api/v3/order/cancelReplace``: the result when both steps
    succeeded, and the ``data`` of its -2021 / -2022 errors. Each step's response is an order
    (``OrderBody``) when it succeeded, ``{code, msg}`` when it failed, null when not attempted."""

    cancelResult: str                    # SUCCESS | FAILURE
    newOrderResult: str                  # SUCCESS | FAILURE | NOT_ATTEMPTED
    cancelResponse: dict | None = None
    newOrderResponse: dict | None = None


class AmendedOrder(msgspec.Struct, kw_only=True):
    """``amendedOrder`` of an amend keep-priority answer: note ``qty`` (not ``origQty``) and
    ``cumulativeQuoteQty`` with one m (web-socket-api.md § Order Amend Keep Priority)."""

    symbol: str
    orderId: int
    orderListId: int = -1
    origClientOrderId: str
    clientOrderId: str
    price: Dec
    qty: Dec
    executedQty: Dec
    preventedQty: Dec = 0.0
    quoteOrderQty: Dec = 0.0
    cumulativeQuoteQty: Dec = 0.0
    status: str
    timeInForce: str
    type: str
    side: str
    workingTime: int | UnsetType = UNSET
    selfTradePreventionMode: str = "NONE"


class AmendResult(msgspec.Struct, kw_only=True):
    transactTime: int
    executionId: int
    amendedOrder: AmendedOrder


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
