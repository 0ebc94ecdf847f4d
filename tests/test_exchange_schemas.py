"""The typed wire schemas against real frames and the official docs' examples.

One definition per message decodes in the connector and encodes in the sim; these tests pin that
definition to what the exchanges really send:
- every market-data frame of the real recordings decodes, and re-encodes with the same keys in
  the same order (the sim's output then reads like the exchange's, field for field);
- the official docs' examples of user-data events decode into the expected order states;
- the sim's encoding of an engine event carries every key of the docs' example, in its order.
"""

from __future__ import annotations

import gzip
import itertools

import msgspec
import orjson
import pytest

from hftctl.exchanges.binance.coinm import schemas as cs
from hftctl.exchanges.binance.common.schemas import DepthSnapshot, Envelope, decoder
from hftctl.exchanges.binance.futures import messages as futures_wire
from hftctl.exchanges.binance.futures import schemas as fs
from hftctl.exchanges.binance.futures import sim_messages as futures_sim
from hftctl.exchanges.binance.futures.sim_instruments import SPECS as FUTURES_SPECS
from hftctl.exchanges.binance.spot import messages as spot_wire
from hftctl.exchanges.binance.spot import schemas as ss
from hftctl.exchanges.binance.spot import sim_messages as spot_sim
from hftctl.exchanges.binance.spot.sim_instruments import SPECS as SPOT_SPECS
from hftctl.exchanges.bybit import messages as bybit_wire
from hftctl.exchanges.bybit import schemas as bs
from hftctl.exchanges.bybit import sim_messages as bybit_sim
from hftctl.exchanges.bybit.sim_instruments import SPECS as BYBIT_SPECS
from hftctl.sim.accounting import SpotAccounting
from hftctl.sim.accounts import Account
from hftctl.sim.engine import SimEngine
from hftctl.sim.events import OrderEvent
from hftctl.sim.faults import Faults

FUTURES = {"depth": fs.DepthUpdate, "trade": fs.Trade, "bookTicker": fs.BookTicker, "snapshot": DepthSnapshot}
SPOT = {"depth": ss.DepthUpdate, "trade": ss.Trade, "bookTicker": ss.BookTicker, "snapshot": DepthSnapshot}
COINM = {"depth": cs.DepthUpdate, "trade": fs.Trade, "bookTicker": cs.BookTicker, "snapshot": cs.DepthSnapshot}


def _same(decoded, original) -> bool:
    """A decoded value equals the wire value (decimal strings became floats)."""
    if isinstance(original, dict):
        return isinstance(decoded, dict) and decoded.keys() == original.keys() and all(
            _same(decoded[k], v) for k, v in original.items())
    if isinstance(original, list):
        return len(decoded) == len(original) and all(_same(a, b) for a, b in zip(decoded, original))
    if isinstance(original, str) and isinstance(decoded, float):
        return decoded == float(original)
    return decoded == original


@pytest.mark.parametrize("rel, kinds", [("usdm/btcusdt_20240808.gz", FUTURES), ("spot/btcusdt_20240808.gz", SPOT),
                                        ("cm/btcusd_perp_20240808.gz", COINM)])
def test_real_frames_decode_and_reencode_field_for_field(shared_data, rel, kinds):
    kinds = dict(kinds)
    snapshot = kinds.pop("snapshot")
    decoders = {k: decoder(Envelope[t]) for k, t in kinds.items()}
    seen = dict.fromkeys(kinds, 0)
    with gzip.open(shared_data / "recordings" / rel) as f:
        for line in itertools.islice(f, 30_000):
            raw = line.split(b" ", 1)[1].strip()
            original = orjson.loads(raw)
            if "lastUpdateId" in original:
                snap = orjson.loads(msgspec.json.encode(decoder(snapshot).decode(raw)))
                assert _same(snap, original) and list(snap) == list(original)
                continue
            kind = original["stream"].split("@")[1]
            data = decoders[kind].decode(raw).data
            assert _same(orjson.loads(msgspec.json.encode(data)), original["data"]), raw[:200]
            assert list(orjson.loads(msgspec.json.encode(data))) == list(original["data"])    # key order
            seen[kind] += 1
    assert all(n > 100 for n in seen.values()), seen


# The official examples (field order and values as published).
# USD-M user-data-streams "Event: Order Update" / "Event: Balance and Position Update".
USDM_ORDER_UPDATE = {
    "e": "ORDER_TRADE_UPDATE", "E": 1568879465651, "T": 1568879465650, "o": {
        "s": "BTCUSDT", "c": "TEST", "S": "SELL", "o": "TRAILING_STOP_MARKET", "f": "GTC", "q": "0.001",
        "p": "0", "ap": "0", "sp": "7103.04", "x": "NEW", "X": "NEW", "i": 8886774, "l": "0", "z": "0",
        "L": "0", "N": "USDT", "n": "0", "T": 1568879465650, "t": 0, "b": "0", "a": "9.91", "m": False,
        "R": False, "wt": "CONTRACT_PRICE", "ot": "TRAILING_STOP_MARKET", "ps": "LONG", "cp": False,
        "AP": "7476.89", "cr": "5.0", "pP": False, "si": 0, "ss": 0, "rp": "0", "V": "EXPIRE_TAKER",
        "pm": "OPPONENT", "gtd": 0}}
USDM_ACCOUNT_UPDATE = {
    "e": "ACCOUNT_UPDATE", "E": 1564745798939, "T": 1564745798938, "a": {
        "m": "ORDER", "B": [{"a": "USDT", "wb": "122624.12345678", "cw": "100.12345678", "bc": "50.12345678"}],
        "P": [{"s": "BTCUSDT", "pa": "0", "ep": "0.00000", "bep": "0", "cr": "200", "up": "0",
               "mt": "isolated", "iw": "0.00000000", "ps": "BOTH"}]}}
# binance-spot-api-docs user-data-stream.md "Order Update" / "Account Update".
SPOT_EXECUTION_REPORT = {
    "e": "executionReport", "E": 1499405658658, "s": "ETHBTC", "c": "mUvoqJxFIILMdfAW5iGSOW", "S": "BUY",
    "o": "LIMIT", "f": "GTC", "q": "1.00000000", "p": "0.10264410", "P": "0.00000000", "F": "0.00000000",
    "g": -1, "C": "", "x": "NEW", "X": "NEW", "r": "NONE", "i": 4293153, "l": "0.00000000",
    "z": "0.00000000", "L": "0.00000000", "n": "0", "N": None, "T": 1499405658657, "t": -1, "v": 3,
    "I": 8641984, "w": True, "m": False, "M": False, "O": 1499405658657, "Z": "0.00000000",
    "Y": "0.00000000", "Q": "0.00000000", "W": 1499405658657, "V": "NONE"}
SPOT_ACCOUNT_POSITION = {"e": "outboundAccountPosition", "E": 1564034571105, "u": 1564034571073,
                         "B": [{"a": "ETH", "f": "10000.000000", "l": "0.000000"}]}
# bybit-exchange/docs docs/v5/websocket/private/order.mdx and position.mdx (example rows).
BYBIT_ORDER = {
    "symbol": "ETH-30DEC22-1400-C", "orderId": "5cf98598-39a7-459e-97bf-76ca765ee020", "side": "Sell",
    "orderType": "Market", "cancelType": "UNKNOWN", "price": "72.5", "qty": "1", "orderIv": "",
    "timeInForce": "IOC", "orderStatus": "Filled", "orderLinkId": "", "lastPriceOnCreated": "",
    "reduceOnly": False, "leavesQty": "", "leavesValue": "", "cumExecQty": "1", "cumExecValue": "75",
    "avgPrice": "75", "blockTradeId": "", "positionIdx": 0, "cumExecFee": "0.358635", "closedPnl": "0",
    "createdTime": "1672364262444", "updatedTime": "1672364262457", "rejectReason": "EC_NoError",
    "stopOrderType": "", "tpslMode": "", "triggerPrice": "", "takeProfit": "", "stopLoss": "",
    "tpTriggerBy": "", "slTriggerBy": "", "tpLimitPrice": "", "slLimitPrice": "", "triggerDirection": 0,
    "triggerBy": "", "closeOnTrigger": False, "category": "option", "placeType": "price", "smpType": "None",
    "smpGroup": 0, "smpOrderId": "", "feeCurrency": "", "cumFeeDetail": {"MNT": "0.00242968"},
    "rpiTakerAccess": False, "rpiMatchedQty": "0"}
BYBIT_POSITION = {
    "positionIdx": 2, "tradeMode": 0, "riskId": 1, "riskLimitValue": "2000000", "symbol": "BTCUSDT",
    "side": "", "size": "0", "entryPrice": "0", "leverage": "10", "breakEvenPrice": "93556.73034991",
    "positionValue": "0", "positionBalance": "0", "markPrice": "28184.5", "positionIM": "0",
    "positionMM": "0", "takeProfit": "0", "stopLoss": "0", "trailingStop": "0", "unrealisedPnl": "0",
    "curRealisedPnl": "1.26", "cumRealisedPnl": "-25.06579337", "sessionAvgPrice": "0",
    "createdTime": "1694402496913", "updatedTime": "1697682317038", "tpslMode": "Full", "liqPrice": "0",
    "bustPrice": "", "category": "linear", "positionStatus": "Normal", "adlRankIndicator": 0,
    "autoAddMargin": 0, "leverageSysUpdatedTime": "", "mmrSysUpdatedTime": "", "seq": 8327597863,
    "isReduceOnly": False}
# docs/v5/websocket/public/orderbook.mdx response example.
BYBIT_BOOK = {"topic": "orderbook.50.BTCUSDT", "type": "snapshot", "ts": 1672304484978,
              "data": {"s": "BTCUSDT", "b": [["16493.50", "0.006"], ["16493.00", "0.100"]],
                       "a": [["16611.00", "0.029"], ["16612.00", "0.213"]], "u": 18521288, "seq": 7961638724},
              "cts": 1672304484976}


def test_docs_examples_decode_to_order_states():
    ev = futures_wire.user_event(orjson.dumps(USDM_ORDER_UPDATE))
    u = futures_wire.order_trade_update(ev, 7)
    assert (u.client_order_id, u.side, u.status, u.qty, u.exch_order_id) == ("TEST", -1, "new", 0.001, "8886774")
    positions, balances = futures_wire.account_update(futures_wire.user_event(orjson.dumps(USDM_ACCOUNT_UPDATE)))
    assert positions[0].qty == 0 and balances[0].wallet == 122624.12345678 and balances[0].available == 100.12345678

    er = spot_wire.execution_report(spot_wire.user_event(orjson.dumps(SPOT_EXECUTION_REPORT)), 7)
    assert (er.client_order_id, er.side, er.status, er.px, er.leaves_qty) == ("mUvoqJxFIILMdfAW5iGSOW", 1, "new",
                                                                              0.1026441, 1.0)
    (bal,) = spot_wire.account_position(spot_wire.user_event(orjson.dumps(SPOT_ACCOUNT_POSITION)))
    assert (bal.asset, bal.wallet, bal.available) == ("ETH", 10000.0, 10000.0)

    row = msgspec.convert(BYBIT_ORDER, bs.OrderRow, strict=False)
    o = bybit_wire.order(row, 7)
    assert (o.status, o.cum_qty, o.leaves_qty, o.exec_px, o.exch_ts) == ("filled", 1.0, 0.0, 75.0, 1672364262457 * 10**6)
    p = bybit_wire.position(msgspec.convert(BYBIT_POSITION, bs.PositionRow, strict=False), 1)
    assert (p.symbol, p.qty) == ("BTCUSDT", 0.0)
    b = bybit_wire.book(orjson.dumps(BYBIT_BOOK))
    assert b.is_snapshot and b.update_id == 18521288 and b.bids[0] == (16493.5, 0.006)
    assert b.exch_ts == 1672304484976 * 10**6       # cts: the matching engine's time


def _engine(specs, accounting=None) -> tuple[SimEngine, Account]:
    acct = Account("a", "k", "s", {"USDT": 1e6, "BTC": 10.0})
    eng = SimEngine(dict(specs), [acct], Faults(), accounting)
    events: list = []
    eng.user_listeners.append(events.append)
    eng.events = events
    spec = specs["BTCUSDT"]
    eng.books["BTCUSDT"].replace({spec.ticks("60000"): spec.lots("5")}, {spec.ticks("60001"): spec.lots("5")})
    return eng, acct


def _keys_in_order(sim: dict, doc: dict, optional: set[str] = frozenset(), ordered: bool = True) -> None:
    """The sim's message has every key of the docs' example (but ``optional`` ones the example
    shows only in some cases), in the example's order where the exchange keeps one."""
    missing = [k for k in doc if k not in sim and k not in optional]
    assert not missing, f"keys of the docs' example the sim does not send: {missing}"
    if ordered:
        common = [k for k in doc if k in sim]
        assert [k for k in sim if k in doc] == common, "key order differs from the docs' example"


def test_sim_user_events_carry_the_docs_fields_in_order():
    eng, acct = _engine(FUTURES_SPECS)
    order = eng.place(acct, "BTCUSDT", 1, "limit", "gtc", FUTURES_SPECS["BTCUSDT"].ticks("59000"), 100)
    ev = next(e for e in eng.events if isinstance(e, OrderEvent))
    sim = orjson.loads(msgspec.json.encode(futures_sim.order_trade_update(ev, FUTURES_SPECS["BTCUSDT"])))
    _keys_in_order(sim, USDM_ORDER_UPDATE)
    # AP/cr: trailing stops only; the sim has none
    _keys_in_order(sim["o"], USDM_ORDER_UPDATE["o"], optional={"AP", "cr"})
    assert futures_wire.order_trade_update(futures_wire.user_event(orjson.dumps(sim)), 1).client_order_id == order.client_id

    eng, acct = _engine(SPOT_SPECS, SpotAccounting())
    eng.place(acct, "BTCUSDT", 1, "limit", "gtc", SPOT_SPECS["BTCUSDT"].ticks("59000"), 100)
    ev = next(e for e in eng.events if isinstance(e, OrderEvent))
    sim = orjson.loads(msgspec.json.encode(spot_sim.execution_report(ev, SPOT_SPECS["BTCUSDT"])))
    _keys_in_order(sim, SPOT_EXECUTION_REPORT, optional={"v"})      # v: only after self-trade prevention

    eng, acct = _engine(BYBIT_SPECS)
    order = eng.place(acct, "BTCUSDT", 1, "limit", "gtc", BYBIT_SPECS["BTCUSDT"].ticks("59000"), 100)
    sim = orjson.loads(msgspec.json.encode(bybit_sim.order_row(order, BYBIT_SPECS["BTCUSDT"])))
    # Bybit's examples list a row's keys in different orders on different pages: only the set is checked.
    _keys_in_order(sim, BYBIT_ORDER, ordered=False)
    pos = orjson.loads(msgspec.json.encode(bybit_sim.position(eng, acct, acct.position("BTCUSDT"))))
    _keys_in_order(pos, BYBIT_POSITION, ordered=False)


# Official examples of the opt-in streams: USD-M "Liquidation Order Streams" and "Mark Price
# Stream" response examples; Bybit websocket/public/all-liquidation.mdx and ticker.mdx (linear).
USDM_FORCE_ORDER = {"e": "forceOrder", "E": 1568014460893, "o": {
    "s": "BTCUSDT", "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "0.014", "p": "9910", "ap": "9910", "X": "FILLED",
    "l": "0.014", "z": "0.014", "T": 1568014460893}}
USDM_MARK_PRICE = {"e": "markPriceUpdate", "E": 1562305380000, "s": "BTCUSDT", "p": "11794.15000000",
                   "i": "11784.62659091", "P": "11784.25641265", "r": "0.00038167", "T": 1562306400000}
BYBIT_ALL_LIQUIDATION = {"topic": "allLiquidation.ROSEUSDT", "type": "snapshot", "ts": 1739502303204, "data": [
    {"T": 1739502302929, "s": "ROSEUSDT", "S": "Sell", "v": "20000", "p": "0.04499"}]}
BYBIT_TICKER = {"topic": "tickers.BTCUSDT", "type": "snapshot", "data": {
    "symbol": "BTCUSDT", "tickDirection": "MinusTick", "price24hPcnt": "-0.158315", "lastPrice": "66666.60",
    "markPrice": "66666.60", "indexPrice": "115418.19", "nextFundingTime": "1760342400000", "fundingRate": "-0.005",
    "bid1Price": "66666.60", "bid1Size": "23789.165", "ask1Price": "66666.70", "ask1Size": "23775.469"},
    "cs": 9532239429, "ts": 1760325052630}


@pytest.mark.parametrize("schema, example", [(fs.ForceOrder, USDM_FORCE_ORDER), (fs.MarkPriceUpdate, USDM_MARK_PRICE),
                                             (bs.LiquidationMessage, BYBIT_ALL_LIQUIDATION),
                                             (bs.TickerMessage, BYBIT_TICKER)])
def test_opt_in_stream_examples_decode_and_reencode_in_order(schema, example):
    raw = orjson.dumps(example)
    again = orjson.loads(msgspec.json.encode(decoder(schema).decode(raw)))
    assert _same(again, example) and list(again) == list(example)


def test_sim_liquidation_and_mark_carry_the_docs_fields_in_order():
    from hftctl.sim.events import Liquidation, MarkPrice
    liq = orjson.loads(msgspec.json.encode(futures_sim.force_order(
        Liquidation("BTCUSDT", True, "9910.0", "0.014", 5, 4), 6)))
    assert list(liq) == list(USDM_FORCE_ORDER) and list(liq["o"]) == list(USDM_FORCE_ORDER["o"])
    assert liq["o"]["S"] == "SELL" and liq["o"]["T"] == 4 and liq["E"] == 6
    mark = orjson.loads(msgspec.json.encode(futures_sim.mark_price(MarkPrice("BTCUSDT", 1.5, 1.25, 0.0001, 9, 1), 7)))
    assert list(mark) == list(USDM_MARK_PRICE) and mark["p"] == "1.50000000" and mark["r"] == "0.00010000"


def test_malformed_frames_are_refused_cleanly():
    with pytest.raises(futures_wire.MalformedMessage):
        futures_wire.trade(b'{"stream":"btcusdt@trade","data":{"e":"trade","p":"x"}}', 1)
    with pytest.raises(spot_wire.MalformedMessage):
        spot_wire.book_ticker(b'{"stream":"btcusdt@bookTicker","data":[]}', 1)
    with pytest.raises(bybit_wire.MalformedMessage):
        bybit_wire.trades(b'{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1,"data":[{"S":"Up"}]}', 1)
    assert futures_wire.user_event(b'{"e":"ACCOUNT_CONFIG_UPDATE","E":1}') is None


# docs/v5/websocket/trade/guideline.mdx response examples (order op, auth, pong) and
# docs/v5/account/dcp-info.mdx's result.
BYBIT_TRADE_REPLIES = [
    {"reqId": "test-005", "retCode": 0, "retMsg": "OK", "op": "order.create",
     "data": {"orderId": "a4c1718e-fe53-4659-a118-1f6ecce04ad9", "orderLinkId": ""}, "retExtInfo": {},
     "header": {"X-Bapi-Limit": "10", "X-Bapi-Limit-Status": "9", "X-Bapi-Limit-Reset-Timestamp": "1711001595208",
                "Traceid": "38b7977b430f9bd228f4b19724794dfd", "Timenow": "1711001595209"},
     "connId": "cnt5leec0hvan15eukcg-2v"},
    {"retCode": 0, "retMsg": "OK", "op": "auth", "connId": "cnt5leec0hvan15eukcg-2t"},
    {"retCode": 0, "retMsg": "OK", "op": "pong", "data": ["1711002002529"], "connId": "cnt5leec0hvan15eukcg-2v"},
]
BYBIT_DCP_INFO = {"dcpInfos": [{"product": "SPOT", "dcpStatus": "ON", "timeWindow": "10"},
                               {"product": "DERIVATIVES", "dcpStatus": "ON", "timeWindow": "10"}]}


def test_bybit_trade_replies_and_dcp_info_round_trip_the_docs_examples():
    """One struct for every trade-websocket answer: decoded and encoded again it is the docs'
    example, key for key and in order (the sim encodes its answers with it)."""
    for example in BYBIT_TRADE_REPLIES:
        reply = msgspec.json.decode(orjson.dumps(example), type=bs.TradeReply)
        assert orjson.loads(msgspec.json.encode(reply)) == example
        assert list(orjson.loads(msgspec.json.encode(reply))) == list(example)
    info = msgspec.convert(BYBIT_DCP_INFO, bs.DcpInfos)
    assert [(d.product, d.dcpStatus, d.timeWindow) for d in info.dcpInfos][1] == ("DERIVATIVES", "ON", "10")
    assert msgspec.convert({}, bs.DcpInfos).dcpInfos == []       # an account without DCP: empty
