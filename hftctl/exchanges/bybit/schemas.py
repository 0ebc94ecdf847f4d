"""Bybit v5 (linear) wire messages as typed structs with Bybit's field names.

One definition per message: the connector decodes with it, the sim encodes with it (round trips
against the official docs' examples in ``tests/test_exchange_schemas.py``). Sources, in the
``bybit-exchange/docs`` repository (checked 2026-12-01, see docs/protocols.md):
docs/v5/websocket/public/{orderbook,trade,ticker,all-liquidation}.mdx, docs/v5/websocket/private/{order,execution,
position,wallet}.mdx, docs/v5/order/open-order.mdx, docs/v5/position/position.mdx,
docs/v5/account/wallet-balance.mdx.

Conventions: prices and sizes of market data are strings on the wire (``Dec``; decoded to float
with ``strict=False``); numbers in private and REST rows are strings that may be empty
(``NumStr``, kept as strings); a field Bybit may leave out is optional; unknown fields are ignored.
"""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

from hftctl.exchanges.wire import Finite

Dec = Finite                  # decimal string on the wire, finite float once decoded (market data)
NumStr = str                  # a number as a string that may also be "" (private rows): kept as
                              # sent and read with ``messages.num`` (times: ms as a string)
Level = tuple[Dec, Dec]       # [price, size]

# --- public topics ---------------------------------------------------------------------------


class BookData(msgspec.Struct):
    s: str              # symbol
    b: list[Level]      # bids, best first; size "0" deletes the level (deltas)
    a: list[Level]      # asks, best first
    u: int              # update id; 1 means "service restarted: a fresh snapshot"
    seq: int = 0        # cross sequence, comparable across depths


class BookMessage(msgspec.Struct):
    """``orderbook.{depth}.{symbol}``: ``snapshot`` (replace the book) or ``delta``."""

    topic: str
    type: str           # snapshot | delta
    ts: int             # when the system generated the data, ms
    data: BookData
    cts: int = 0        # matching engine time of the change, ms (comparable with trades' T)


class TopBookMessage(msgspec.Struct):
    """``orderbook.1.{symbol}`` (linear): snapshots only, with ``ts`` before ``type`` (the docs'
    key-order note); decoded as a :class:`BookMessage`, whose fields are the same."""

    topic: str
    ts: int
    type: str           # always "snapshot"
    data: BookData
    cts: int = 0


class TradeRow(msgspec.Struct):
    T: int              # fill time, ms
    s: str              # symbol
    S: str              # taker side: Buy | Sell
    v: Dec              # size
    p: Dec              # price
    L: str = ""         # tick direction (PlusTick, ZeroPlusTick, MinusTick, ZeroMinusTick)
    i: str = ""         # trade id
    BT: bool = False    # block trade
    RPI: bool = False   # retail price improvement trade (2025-02-18)
    seq: int | UnsetType = UNSET   # cross sequence


class TradeMessage(msgspec.Struct):
    """``publicTrade.{symbol}``: up to 1024 trades per message, oldest first."""

    topic: str
    type: str           # always "snapshot"
    ts: int             # ms
    data: list[TradeRow]


class TickerMessage(msgspec.Struct):
    """``tickers.{symbol}`` (linear): a ``snapshot`` with every field, then ``delta``s with the
    fields that changed ("If a response param is not found in the message, then its value has
    not changed"); values are strings (lastPrice, markPrice, indexPrice, fundingRate,
    nextFundingTime, bid1Price, bid1Size, ask1Price, ask1Size, ...)."""

    topic: str
    type: str                 # snapshot | delta
    data: dict[str, str]      # "symbol" always; the rest as they changed
    cs: int                   # cross sequence
    ts: int                   # ms


class LiquidationRow(msgspec.Struct):
    T: int              # updated timestamp, ms
    s: str              # symbol
    S: str              # position side: Buy means a long position was liquidated
    v: Dec              # executed size
    p: Dec              # bankruptcy price


class LiquidationMessage(msgspec.Struct):
    """``allLiquidation.{symbol}``: every liquidation of the last 500 ms, ``snapshot`` only."""

    topic: str
    type: str           # always "snapshot"
    ts: int             # ms
    data: list[LiquidationRow]


class Ack(msgspec.Struct, kw_only=True):
    """Answer to subscribe / unsubscribe / auth / ping on the public and private sockets."""

    success: bool | UnsetType = UNSET
    ret_msg: str = ""
    conn_id: str = ""
    req_id: str | UnsetType = UNSET
    op: str = ""
    args: list | UnsetType = UNSET     # private pong: [server time ms as a string]


# --- private rows (topics order / execution / position / wallet, and their REST twins) --------


class OrderRow(msgspec.Struct, kw_only=True):
    """Topic ``order`` and ``GET /v5/order/realtime`` rows."""

    category: str = "linear"
    symbol: str
    orderId: str
    orderLinkId: str = ""
    parentOrderLinkId: str = ""     # attached TP/SL (2026-01-07)
    blockTradeId: str = ""
    side: str                       # Buy | Sell
    isLeverage: str = ""
    positionIdx: int = 0
    orderStatus: str                # New | PartiallyFilled | Filled | Cancelled | Rejected | ...
    cancelType: str = "UNKNOWN"
    rejectReason: str = "EC_NoError"
    price: NumStr = "0"
    qty: NumStr
    avgPrice: NumStr = ""              # "" until something filled
    leavesQty: NumStr = "0"
    leavesValue: NumStr = "0"
    cumExecQty: NumStr = "0"
    cumExecValue: NumStr = "0"
    cumExecFee: NumStr = "0"        # linear: deprecated for cumFeeDetail (2025-09-18)
    cumFeeDetail: dict[str, str] = msgspec.field(default_factory=dict)    # fee coin -> cumulative fee
    closedPnl: NumStr = "0"
    timeInForce: str = "GTC"        # GTC | IOC | FOK | PostOnly
    orderType: str = "Limit"        # Limit | Market
    stopOrderType: str = ""
    orderIv: str = ""
    marketUnit: str = ""
    slippageToleranceType: str = "UNKNOWN"
    slippageTolerance: NumStr = "0"
    triggerPrice: NumStr = "0"
    takeProfit: NumStr = "0"
    stopLoss: NumStr = "0"
    tpTriggerBy: str = ""
    slTriggerBy: str = ""
    triggerDirection: int = 0
    triggerBy: str = ""
    lastPriceOnCreated: str = ""
    reduceOnly: bool = False
    closeOnTrigger: bool = False
    smpType: str = "None"
    smpGroup: int = 0
    smpOrderId: str = ""
    tpslMode: str = ""
    tpLimitPrice: str = ""
    slLimitPrice: str = ""
    placeType: str = ""
    createType: str = "CreateByUser"
    feeCurrency: str = ""
    createdTime: NumStr = "0"
    updatedTime: NumStr = "0"
    extraFees: str = ""             # order history: site-specific taxes (2025-05-28)
    rpiTakerAccess: bool = False    # (2026-05-26)
    rpiMatchedQty: NumStr = "0"


class ExecutionRow(msgspec.Struct, kw_only=True):
    """Topic ``execution``: one fill (or funding, settlement...) of an order."""

    category: str = "linear"
    symbol: str
    isLeverage: str = ""
    orderId: str
    orderLinkId: str = ""
    side: str
    orderPrice: NumStr = "0"
    orderQty: NumStr = "0"
    leavesQty: NumStr = "0"
    createType: str = "CreateByUser"
    orderType: str = "Limit"
    stopOrderType: str = ""
    execFee: NumStr = "0"
    execId: str
    execPrice: NumStr
    execQty: NumStr
    execType: str = "Trade"
    execValue: NumStr = "0"
    execTime: NumStr
    isMaker: bool = False
    feeRate: NumStr = "0"
    tradeIv: str = ""
    markIv: str = ""
    markPrice: NumStr = "0"
    indexPrice: str = ""
    underlyingPrice: str = ""
    blockTradeId: str = ""
    closedSize: NumStr = "0"
    execPnl: NumStr = "0"
    marketUnit: str = ""
    extraFees: list = msgspec.field(default_factory=list)
    feeCurrency: str = ""           # (2025-09-18)
    seq: int = 0


class PositionRow(msgspec.Struct, kw_only=True):
    """Topic ``position`` and ``GET /v5/position/list`` rows; ``side`` is "" when flat."""

    category: str = "linear"
    positionIdx: int = 0
    tradeMode: int = 0
    riskId: int = 0
    riskLimitValue: str = ""
    symbol: str
    side: str = ""
    size: NumStr = "0"
    avgPrice: NumStr = "0"             # REST
    entryPrice: NumStr = "0"           # stream
    sessionAvgPrice: str = ""
    leverage: str = ""
    breakEvenPrice: NumStr = ""        # (2026-01-13)
    positionValue: NumStr = "0"
    positionBalance: NumStr = "0"
    markPrice: NumStr = "0"
    positionIM: NumStr = "0"
    positionMM: NumStr = "0"
    positionIMByMp: NumStr = "0"       # (2025-07-03)
    positionMMByMp: NumStr = "0"
    takeProfit: NumStr = "0"
    stopLoss: NumStr = "0"
    trailingStop: NumStr = "0"
    unrealisedPnl: NumStr = "0"
    curRealisedPnl: NumStr = "0"
    cumRealisedPnl: NumStr = "0"
    createdTime: NumStr = "0"
    updatedTime: NumStr = "0"
    tpslMode: str = "Full"
    liqPrice: str = ""
    bustPrice: str = ""
    positionStatus: str = "Normal"
    adlRankIndicator: int = 0
    autoAddMargin: int = 0
    seq: int = 0
    isReduceOnly: bool = False
    leverageSysUpdatedTime: str = ""
    mmrSysUpdatedTime: str = ""
    openTime: int = 0                  # (2026-04-21)


class WalletCoin(msgspec.Struct, kw_only=True):
    coin: str
    equity: NumStr = "0"
    usdValue: NumStr = "0"
    walletBalance: NumStr
    free: str = ""
    locked: NumStr = "0"
    spotHedgingQty: NumStr = "0"
    borrowAmount: NumStr = "0"
    availableToWithdraw: str = ""   # deprecated for unified accounts: always "" (2025-01-09)
    availableToBorrow: str = ""     # deprecated: always "" (2023-08-11)
    spotBorrow: NumStr = "0"        # (2025-09-16)
    accruedInterest: NumStr = "0"
    totalOrderIM: NumStr = "0"
    totalPositionIM: NumStr = "0"
    totalPositionMM: NumStr = "0"
    unrealisedPnl: NumStr = "0"
    cumRealisedPnl: NumStr = "0"
    bonus: NumStr = "0"
    marginCollateral: bool = True
    collateralSwitch: bool = True


class Wallet(msgspec.Struct, kw_only=True):
    """Topic ``wallet`` and ``GET /v5/account/wallet-balance`` rows (one per account type)."""

    accountType: str = "UNIFIED"
    accountIMRate: NumStr = "0"
    accountIMRateByMp: NumStr = "0"
    accountMMRate: NumStr = "0"
    accountMMRateByMp: NumStr = "0"
    accountLTV: NumStr = "0"
    totalEquity: NumStr = "0"
    totalWalletBalance: NumStr = "0"
    totalMarginBalance: NumStr = "0"
    totalAvailableBalance: NumStr = "0"    # USD value available for new orders, account-wide
    totalPerpUPL: NumStr = "0"
    totalInitialMargin: NumStr = "0"
    totalInitialMarginByMp: NumStr = "0"
    totalMaintenanceMargin: NumStr = "0"
    totalMaintenanceMarginByMp: NumStr = "0"
    coin: list[WalletCoin]


class PrivateMessage(msgspec.Struct):
    """Envelope of every private topic message."""

    id: str
    topic: str          # order | execution | position | wallet
    creationTime: int   # ms
    data: list


class RestEnvelope(msgspec.Struct, kw_only=True):
    """Every REST answer: ``retCode`` 0 is success, anything else an error (often with HTTP 200)."""

    retCode: int
    retMsg: str = ""
    result: object = {}
    retExtInfo: object = {}
    time: int = 0


class ListResult(msgspec.Struct, kw_only=True):
    """``result`` of the paged list endpoints (order/realtime, position/list, ...)."""

    category: str = "linear"
    rows: list = msgspec.field(name="list")   # the page's rows ("list" on the wire)
    nextPageCursor: str = ""


# --- trade websocket (/v5/trade) and disconnection protection --------------------------------


class TradeReply(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Every answer on the trade websocket (websocket/trade/guideline.mdx): auth, order ops and
    pong. ``reqId`` comes back only when the request had one; ``header`` carries the account's
    rate-limit budget for the op type (X-Bapi-Limit, -Status, -Reset-Timestamp), Traceid, Timenow;
    a pong's ``data`` is ``[server time ms]``."""

    reqId: str | UnsetType = UNSET
    retCode: int
    retMsg: str = ""
    op: str = ""
    data: object = UNSET
    retExtInfo: object = UNSET
    header: dict[str, str] = {}
    connId: str = ""


class DcpInfo(msgspec.Struct, kw_only=True):
    """One product of GET /v5/account/query-dcp-info (account/dcp-info.mdx)."""

    product: str        # SPOT | DERIVATIVES | OPTIONS
    dcpStatus: str      # ON
    timeWindow: str     # seconds, as a string


class DcpInfos(msgspec.Struct, kw_only=True):
    dcpInfos: list[DcpInfo] = []      # empty for an account DCP is not configured for
