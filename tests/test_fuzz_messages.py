"""Fuzz: every exchange message decoder (hftctl/exchanges/*/messages.py) on malformed, truncated
and wrong-typed JSON of every message type. Each must return a value the IPC schema can carry
(or None), or raise MalformedMessage; anything else would escape into a stream's read loop.

Inputs follow each message's own schema with near-misses (a field missing or of another type,
nasty numbers, unknown fields, truncation, a byte replaced), so the decoders' own checks are
reached, not only the JSON parser's.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hftctl.exchanges.binance.common.schemas import DepthSnapshot, Envelope, decoder
from hftctl.exchanges.binance.futures import messages as fm
from hftctl.exchanges.binance.futures import schemas as fw
from hftctl.exchanges.binance.spot import messages as sm
from hftctl.exchanges.binance.spot import schemas as sw
from hftctl.exchanges.bybit import messages as bm
from hftctl.exchanges.bybit import schemas as bw
from hftctl.exchanges.wire import MalformedMessage
from hftctl.ipc import schema as ipc
from tests.fuzz import examples, json_bytes, near_misses, single_field_sweep
from tests.test_exchange_schemas import (BYBIT_BOOK, BYBIT_ORDER, BYBIT_POSITION, SPOT_ACCOUNT_POSITION,
                                         SPOT_EXECUTION_REPORT, USDM_ACCOUNT_UPDATE, USDM_ORDER_UPDATE)

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
