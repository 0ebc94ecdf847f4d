"""Fuzz: every exchange message decoder (hftctl/exchanges/*/messages.py, and the order websockets'
answers: Binance's WebSocket API frames, Bybit's /v5/trade replies) on malformed, truncated and
wrong-typed JSON of every message type. Each must return a value the IPC schema can carry (or
None), or raise MalformedMessage; anything else would escape into a stream's read loop.

Inputs follow each message's own schema with near-misses (a field missing or of another type,
nasty numbers, unknown fields, truncation, a byte replaced), so the decoders' own checks are
reached, not only the JSON parser's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hftctl.exchanges.binance.common import ws_api
from hftctl.exchanges.binance.common.rate_limit import RateLimiter
from hftctl.exchanges.binance.common.rest import ALL_5XX_UNKNOWN
from hftctl.exchanges.binance.common.schemas import DepthSnapshot, Envelope, WsApiFrame, decoder
from hftctl.exchanges.binance.futures import messages as fm
from hftctl.exchanges.binance.futures import schemas as fw
from hftctl.exchanges.binance.spot import messages as sm
from hftctl.exchanges.binance.spot import schemas as sw
from hftctl.exchanges.bybit import messages as bm
from hftctl.exchanges.bybit import schemas as bw
from hftctl.exchanges.bybit.config import BybitConfig
from hftctl.exchanges.bybit.rest import BybitRest, refusal
from hftctl.exchanges.bybit.trade_ws import BybitTradeSocket
from hftctl.exchanges.wire import MalformedMessage
from hftctl.ipc import schema as ipc
from hftctl.secrets import Secret
from tests.fuzz import examples, json_bytes, near_misses, single_field_sweep
from tests.test_exchange_schemas import (BYBIT_BOOK, BYBIT_ORDER, BYBIT_POSITION, BYBIT_TRADE_REPLIES,
                                         SPOT_ACCOUNT_POSITION, SPOT_EXECUTION_REPORT, USDM_ACCOUNT_UPDATE,
                                         USDM_ORDER_UPDATE)

TS = 1_700_000_000_000_000_000


def _finite(v: Any) -> bool:
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, (list, tuple)):
        return all(_finite(x) for x in v)
    return True


def _carry(out: Any) -> None:
    """What a decoder returns goes onto the IPC ring and into books: it must encode, with
    finite numbers only (and internal events, e.g. depth, must hold finite levels)."""
    items = out if isinstance(out, (list, tuple)) else [out]
    for m in items:
        if isinstance(m, (list, tuple)):
            _carry(m)
        elif isinstance(m, ipc.Message):
            ipc.encode(m)
            for f in dataclasses.fields(m):
                assert _finite(getattr(m, f.name)), (type(m).__name__, f.name, getattr(m, f.name))
        elif dataclasses.is_dataclass(m):
            for f in dataclasses.fields(m):
                assert _finite(getattr(m, f.name)), (type(m).__name__, f.name)


def _struct(kind: type, convert: Callable[[Any], Any]) -> Callable[[bytes], Any]:
    """REST bodies and private rows: the client decodes them with the schema (its errors are
    MalformedMessage there), then converts; the conversion must hold for anything that decodes."""
    dec = decoder(kind)

    def run(raw: bytes) -> Any:
        try:
            body = dec.decode(raw)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
        return convert(body)
    return run


def _binance_user(mod, order_kind: type, order_fn, account_kind: type, account_fn):
    def run(raw: bytes) -> Any:
        ev = mod.user_event(raw)
        if isinstance(ev, order_kind):
            return order_fn(ev, TS)
        if isinstance(ev, account_kind):
            return account_fn(ev)
        return None
    return run


def _bybit_rows(row: type, convert: Callable[[Any], Any]) -> Callable[[bytes], Any]:
    """Private topics and REST lists: rows converted as the client does (strict=False)."""
    def run(raw: bytes) -> Any:
        try:
            rows = msgspec.convert(msgspec.json.decode(raw), list[row], strict=False)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
        return [convert(r) for r in rows]
    return run


RETRY_AFTER_CAP_S = 60.0


def _ws_api(body: type, convert: Callable[[Any], Any]) -> Callable[[bytes], Any]:
    """A Binance WebSocket API frame as the real receiver takes it (common/ws_api.py): decoded
    (an undecodable one is skipped), dispatched (its rateLimits into the limiter), then a success's
    result as the order body the client converts, an error's data and Retry-After as a 429 reads
    them (finite, within the cap)."""
    api = ws_api.BinanceWsApi("fuzz", "ws://127.0.0.1:9/ws-fapi/v1", Secret("k"), Secret("s"),
                              now_ms=lambda: TS // 1_000_000, recv_window_ms=5000, timeout_s=1.0,
                              limiter=RateLimiter(2400, 300, 1200), outcomes=ALL_5XX_UNKNOWN,
                              order_methods=frozenset({"order.place"}), clock_rejected=_never,
                              on_state=lambda state: None, min_s=0.1, max_s=1.0,
                              retry_after_cap_s=RETRY_AFTER_CAP_S)

    def run(raw: bytes) -> Any:
        frame = api._frame(raw)
        if frame is None:
            return None
        api._dispatch(frame, TS)
        if frame.status == 200:
            return convert(api.decode(frame.result, body, "order.place"))
        wait = api._retry_after_s(frame.error)
        assert math.isfinite(wait) and 0 < wait <= RETRY_AFTER_CAP_S, wait
        ws_api._data(frame.error)
        return frame.error
    return run


async def _never(sent_at: float, what: str) -> None:
    raise AssertionError("no request is waiting")


BYBIT_CFG = BybitConfig(public_url="ws://127.0.0.1:9/v5/public/linear", private_url="ws://127.0.0.1:9/v5/private",
                        trade_url="ws://127.0.0.1:9/v5/trade", rest_url="http://127.0.0.1:9", category="linear",
                        order_prefix="fz", api_key=Secret("k"), secret=Secret("s"))


def _bybit_trade_reply(raw: bytes) -> Any:
    """An answer on Bybit's order websocket as the client takes it (bybit/trade_ws.py): decoded
    (an undecodable one is skipped), routed to the request waiting for its reqId, and read as
    that request reads it (rate-limit header, refusal)."""
    async def go() -> Any:
        sock = BybitTradeSocket(BYBIT_CFG, BybitRest(BYBIT_CFG, "/v5/market/time"), _no_url, lambda state: None)
        waiting = sock._pending["test-005"] = asyncio.get_running_loop().create_future()
        sock._on_message(raw, TS)
        if not waiting.done():
            return None
        reply = waiting.result()
        sock.rest.track("/v5/order/create", reply.header)
        if reply.retCode != 0:
            refusal(reply.retCode, reply.retMsg)
        return reply
    return asyncio.run(go())


async def _no_url() -> str:
    raise AssertionError("never connects")


def _env(stream: str, data: dict) -> dict:
    return {"stream": stream, "data": data}


# Valid messages (the official docs' examples, or recorded frames' layout) to near-miss from.
FUT_DEPTH = _env("btcusdt@depth@0ms", {"e": "depthUpdate", "E": 1723075200123, "T": 1723075200120, "s": "BTCUSDT",
                                       "U": 100, "u": 105, "pu": 99, "b": [["56000.1", "0.5"]], "a": [["56000.2", "0"]]})
FUT_TRADE = _env("btcusdt@trade", {"e": "trade", "E": 1723075200123, "T": 1723075200120, "s": "BTCUSDT",
                                   "t": 1, "p": "56000.1", "q": "0.010", "X": "MARKET", "m": True})
FUT_TICKER = _env("btcusdt@bookTicker", {"e": "bookTicker", "u": 400900217, "E": 1568014460893, "T": 1568014460891,
                                         "s": "BNBUSDT", "b": "25.35190000", "B": "31.21000000",
                                         "a": "25.36520000", "A": "40.66000000"})
FUT_ORDER = {"clientOrderId": "testOrder", "cumQty": "0", "cumQuote": "0", "executedQty": "0", "orderId": 22542179,
             "avgPrice": "0.00000", "origQty": "10", "price": "0", "reduceOnly": False, "side": "BUY",
             "positionSide": "SHORT", "status": "NEW", "stopPrice": "9300", "closePosition": False,
             "symbol": "BTCUSDT", "timeInForce": "GTD", "type": "TRAILING_STOP_MARKET",
             "origType": "TRAILING_STOP_MARKET", "updateTime": 1566818724722, "workingType": "CONTRACT_PRICE",
             "priceProtect": False, "priceMatch": "NONE", "selfTradePreventionMode": "NONE", "goodTillDate": 0}
SNAPSHOT = {"lastUpdateId": 1027024, "E": 1589436922972, "T": 1589436922959,
            "bids": [["4.00000000", "431.00000000"]], "asks": [["4.00000200", "12.00000000"]]}
POSITION_RISK = {"symbol": "BTCUSDT", "positionSide": "BOTH", "positionAmt": "1.000", "entryPrice": "0.00000",
                 "breakEvenPrice": "0.0", "markPrice": "6679.50671178", "updateTime": 1625474304765}
BALANCE_ROW = {"accountAlias": "SgsR", "asset": "USDT", "balance": "122607.35137903",
               "crossWalletBalance": "23.72469206", "availableBalance": "23.72469206", "updateTime": 1617939110373}
SPOT_DEPTH = _env("btcusdt@depth@100ms", {"e": "depthUpdate", "E": 1672515782136, "s": "BNBBTC", "U": 157, "u": 160,
                                          "b": [["0.0024", "10"]], "a": [["0.0026", "100"]]})
SPOT_TRADE = _env("btcusdt@trade", {"e": "trade", "E": 1672515782136, "s": "BNBBTC", "t": 12345, "p": "0.001",
                                    "q": "100", "T": 1672515782136, "m": True, "M": True})
SPOT_TICKER = _env("btcusdt@bookTicker", {"u": 400900217, "s": "BNBUSDT", "b": "25.35190000", "B": "31.21000000",
                                          "a": "25.36520000", "A": "40.66000000"})
SPOT_ORDER = {"symbol": "BTCUSDT", "orderId": 28, "orderListId": -1, "clientOrderId": "6gCrw2kRUAF9CvJDGP16IP",
              "transactTime": 1507725176595, "price": "0.00000000", "origQty": "10.00000000",
              "executedQty": "10.00000000", "cummulativeQuoteQty": "10.00000000", "status": "FILLED",
              "timeInForce": "GTC", "type": "MARKET", "side": "SELL", "workingTime": 1507725176595,
              "selfTradePreventionMode": "NONE"}
SPOT_ACCOUNT = {"makerCommission": 15, "canTrade": True, "updateTime": 123456789, "accountType": "SPOT",
                "balances": [{"asset": "BTC", "free": "4723846.89208129", "locked": "0.00000000"}],
                "permissions": ["SPOT"], "uid": 354937868}
BYBIT_TRADE = {"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": 1672304486868,
               "data": [{"T": 1672304486865, "s": "BTCUSDT", "S": "Buy", "v": "0.001", "p": "16578.50",
                         "L": "PlusTick", "i": "20f43950-d8dd-5b31-9112-a178eb6023af", "BT": False}]}
SPOT_AMEND = {"transactTime": 1741924229819, "executionId": 60,
              "amendedOrder": {"symbol": "BTCUSDT", "orderId": 23, "orderListId": -1,
                               "origClientOrderId": "sp-abcd12-1-1-7", "clientOrderId": "sp-abcd12-1-1-7",
                               "price": "6.00000000", "qty": "5.00000000", "executedQty": "0.00000000",
                               "preventedQty": "0.00000000", "quoteOrderQty": "0.00000000",
                               "cumulativeQuoteQty": "0.00000000", "status": "NEW", "timeInForce": "GTC",
                               "type": "LIMIT", "side": "SELL", "workingTime": 1741924204920,
                               "selfTradePreventionMode": "NONE"}}
WS_API_ORDER = {"id": 7, "status": 200, "result": FUT_ORDER,
                "rateLimits": [{"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300,
                                "count": 1},
                               {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                                "limit": 2400, "count": 1}]}
WS_API_BANNED = {"id": 8, "status": 429,
                 "error": {"code": -1003, "msg": "Too much request weight used; current limit is 6000 request "
                           "weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling "
                           "the API.", "data": {"serverTime": 1659126829876, "retryAfter": 1659126889876}},
                 "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                                 "limit": 6000, "count": 6010}]}
SPOT_STREAM_TERMINATED = {"e": "eventStreamTerminated", "E": 1728973001334}
BYBIT_WALLET = {"accountType": "UNIFIED", "totalEquity": "3.31216591",
                "coin": [{"coin": "USDT", "walletBalance": "100", "totalOrderIM": "1", "totalPositionIM": "2",
                          "equity": "100", "usdValue": "100", "availableToWithdraw": ""}]}

FUT_USER = _binance_user(fm, fw.OrderTradeUpdate, fm.order_trade_update, fw.AccountUpdate, fm.account_update)
SPOT_USER = _binance_user(sm, sw.ExecutionReport, sm.execution_report, sw.OutboundAccountPosition,
                          sm.account_position)

# (name, message type the bytes are shaped like, a valid example, decoder under test)
CASES: list[tuple[str, Any, Any, Callable[[bytes], Any]]] = [
    ("futures depthUpdate", Envelope[fw.DepthUpdate], FUT_DEPTH, fm.depth_update),
    ("futures trade", Envelope[fw.Trade], FUT_TRADE, lambda r: fm.trade(r, TS)),
    ("futures bookTicker", Envelope[fw.BookTicker], FUT_TICKER, lambda r: fm.book_ticker(r, TS)),
    ("futures ORDER_TRADE_UPDATE", fw.OrderTradeUpdate, USDM_ORDER_UPDATE,
     FUT_USER),
    ("futures ACCOUNT_UPDATE", fw.AccountUpdate, USDM_ACCOUNT_UPDATE,
     FUT_USER),
    ("futures user event, enveloped", Envelope[fw.UserEvent], _env("x", USDM_ORDER_UPDATE),
     FUT_USER),
    ("futures order body", fw.OrderBody, FUT_ORDER, _struct(fw.OrderBody, lambda b: fm.order_body(b, TS))),
    ("futures depth snapshot", DepthSnapshot, SNAPSHOT, _struct(DepthSnapshot, fm.depth_snapshot)),
    ("futures positionRisk", fw.PositionRisk, POSITION_RISK,
     _struct(fw.PositionRisk, lambda b: fm.position_risk(b, TS))),
    ("futures balance", fw.BalanceRow, BALANCE_ROW, _struct(fw.BalanceRow, fm.balance)),
    ("spot depthUpdate", Envelope[sw.DepthUpdate], SPOT_DEPTH, sm.depth_update),
    ("spot trade", Envelope[sw.Trade], SPOT_TRADE, lambda r: sm.trade(r, TS)),
    ("spot bookTicker", Envelope[sw.BookTicker], SPOT_TICKER, lambda r: sm.book_ticker(r, TS)),
    ("spot executionReport", sw.ExecutionReport, SPOT_EXECUTION_REPORT,
     SPOT_USER),
    ("spot outboundAccountPosition", sw.OutboundAccountPosition, SPOT_ACCOUNT_POSITION,
     SPOT_USER),
    ("spot order body", sw.OrderBody, SPOT_ORDER, _struct(sw.OrderBody, lambda b: sm.order_body(b, TS))),
    ("spot depth snapshot", DepthSnapshot, {k: SNAPSHOT[k] for k in ("lastUpdateId", "bids", "asks")},
     _struct(DepthSnapshot, sm.depth_snapshot)),
    ("spot account", sw.Account, SPOT_ACCOUNT, _struct(sw.Account, sm.account_balances)),
    ("bybit orderbook", bw.BookMessage, BYBIT_BOOK, bm.book),
    ("bybit publicTrade", bw.TradeMessage, BYBIT_TRADE, lambda r: bm.trades(r, TS)),
    ("bybit order row", list[bw.OrderRow], [{**BYBIT_ORDER, "category": "linear", "symbol": "BTCUSDT"}],
     _bybit_rows(bw.OrderRow, lambda o: bm.order(o, TS))),
    ("bybit position row", list[bw.PositionRow], [BYBIT_POSITION],
     _bybit_rows(bw.PositionRow, lambda p: bm.position(p, TS))),
    ("bybit wallet", list[bw.Wallet], [BYBIT_WALLET], _bybit_rows(bw.Wallet, bm.wallet)),
    # websocket order entry and spot's user data on the WebSocket API
    ("binance WebSocket API order answer", WsApiFrame, WS_API_ORDER,
     _ws_api(fw.OrderBody, lambda b: fm.order_body(b, TS))),
    ("binance WebSocket API refusal", WsApiFrame, WS_API_BANNED, _ws_api(fw.OrderBody, lambda b: fm.order_body(b, TS))),
    ("spot amend keepPriority answer", sw.AmendResult, SPOT_AMEND,
     _struct(sw.AmendResult, lambda b: sm.amended_order(b, TS))),
    ("spot eventStreamTerminated", sw.EventStreamTerminated, SPOT_STREAM_TERMINATED, sm.user_event),
    ("bybit order websocket answer", bw.TradeReply, {**BYBIT_TRADE_REPLIES[0], "retCode": 110001,
                                                     "retMsg": "order not exists or too late to cancel"},
     _bybit_trade_reply),
]


def test_examples_are_valid():
    """The near-miss seeds decode as they are (else the fuzz would only test rejection)."""
    for name, _, sample, fn in CASES:
        out = fn(msgspec.json.encode(sample))
        assert out is not None, name
        _carry(out)


@pytest.mark.parametrize("name,kind,sample,fn", CASES, ids=[c[0] for c in CASES])
def test_every_field_of_every_message_with_every_bad_value(name, kind, sample, fn):
    """Deterministic: one field at a time, each nasty value (or deleted)."""
    failures = []
    for path, value, raw in single_field_sweep(sample):
        try:
            _carry(fn(raw))
        except MalformedMessage:
            pass
        except Exception as e:
            failures.append(f"{'.'.join(map(str, path))} = {value!r}: {e.__class__.__name__}: {e}")
    assert not failures, f"{len(failures)} escapes, e.g.\n" + "\n".join(failures[:12])


@pytest.mark.parametrize("name,kind,sample,fn", CASES, ids=[c[0] for c in CASES])
def test_decoders_raise_only_malformed_message(name, kind, sample, fn):
    @examples(80)
    @given(st.one_of(near_misses(sample), json_bytes(kind), st.binary(max_size=64)))
    def check(raw: bytes) -> None:
        try:
            out = fn(raw)
        except MalformedMessage:
            return
        _carry(out)

    check()
