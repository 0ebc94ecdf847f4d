"""The message schema: every message round-trips, malformed bytes raise SchemaError only."""

from __future__ import annotations

import random

import msgpack
import pytest

from hftctl.errors import HftctlError
from hftctl.ipc import schema as s

SAMPLES: list[s.Message] = [
    s.DepthDiff("BTCUSDT", 1_700_000_000_000_000_000, 1_700_000_000_000_100_000,
                [(50000.1, 1.5), (49999.0, 0.0)], [(50001.0, 2.25)]),
    s.DepthSnapshot("ETHUSDT", 1, 2, [(3000.0 - i * 0.01, 1.0 + i) for i in range(1000)],
                    [(3000.01 + i * 0.01, 2.0) for i in range(1000)]),
    s.DepthClear("BTCUSDT", "sequence gap"),
    s.Trade("BTCUSDT", 10, 11, s.SELL, 50000.5, 0.001),
    s.BestBidOffer("BTCUSDT", 10, 11, 50000.0, 1.0, 50000.1, 2.0),
    s.OrderUpdate("BTCUSDT", 42, "hftctl-3-42", "998877", s.BUY, 50000.0, 0.01, 0.004, 0.006,
                  50000.0, 0.006, "partially_filled", "limit", "gtx", 100, 101, None, 7),
    s.OrderUpdate("BTCUSDT", 43, "c", "", s.SELL, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, "rejected",
                  "market", "ioc", 1, 2, "would immediately match", None),
    s.Position("BTCUSDT", -0.5, 50010.0, 123),
    s.Balance("USDT", 10000.0, 9500.5),
    s.Error(-2011, "unknown order", 9, "BTCUSDT"),
    s.Error(1, "stream disconnected"),
    s.Heartbeat(1_700_000_000_000_000_000, 4242),
    s.RawMessage("somewhere", "BTCUSDT", "btcusdt@trade", 5, b'{"e":"trade","p":"1.0"}\x00\xff'),
    s.ConnectorStatus("somewhere", 5, {"depth": "open", "user": "reconnecting"},
                      {"BTCUSDT": "synced", "ETHUSDT": "resyncing"}),
    s.ConnectorStatus("somewhere", 6, {}, {}, "countdownCancelAll", "armed", 1_700_000_000_000_000_000),
    s.Hello(3, 999, "mm-btc"),
    s.Bye(3),
    s.BotHeartbeat(3, 12345),
    s.RegisterInstrument(3, "BTCUSDT", 0.1, 0.001),
    s.SubmitOrder(3, 1, "BTCUSDT", 42, s.BUY, 50000.0, 0.01, "limit", "gtx"),
    s.CancelOrder(3, 2, "BTCUSDT", 42),
    s.ModifyOrder(3, 3, "BTCUSDT", 42, 50000.1, 0.02),
    s.CancelAll(3, 4, None),
    s.CancelAll(3, 5, "BTCUSDT"),
    s.SnapshotRequest(3, "BTCUSDT"),
    s.SubscribeRaw(7, None),
]


def test_every_message_type_has_a_sample():
    assert {type(m) for m in SAMPLES} == set(s.EVENTS) | set(s.REQUESTS)
    assert len(s.message_types()) == len(s.EVENTS) + len(s.REQUESTS)


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip(msg):
    data = s.encode(msg)
    assert isinstance(data, bytes)
    back = s.decode(data)
    assert back == msg and type(back) is type(msg)
    assert s.decode(memoryview(data)) == msg


def test_encoding_is_compact():
    assert len(s.encode(s.Trade("BTCUSDT", 1_700_000_000_000_000_000, 1_700_000_000_000_000_000,
                                1, 50000.5, 0.001))) < 50


def test_optional_trailing_fields_may_be_omitted_on_the_wire():
    assert s.decode(msgpack.packb([s.Error.TAG, 5, "x"])) == s.Error(5, "x", None, None)


@pytest.mark.parametrize("data,why", [
    (b"", "undecodable"),
    (b"\xc1", "undecodable"),
    (msgpack.packb([4, "BTCUSDT", 1, 2, 1, 1.0]) + b"\x00", "undecodable"),
    (msgpack.packb({"a": 1}), "not a tagged"),
    (msgpack.packb([]), "not a tagged"),
    (msgpack.packb([999, 1]), "unknown message tag 999"),
    (msgpack.packb([s.Trade.TAG, "BTCUSDT", 1, 2, 1, 1.0]), "expected 6 fields, got 5"),
    (msgpack.packb([s.Trade.TAG, "BTCUSDT", "1", 2, 1, 1.0, 1.0]), "Trade.exch_ts"),
    (msgpack.packb([s.Trade.TAG, "BTCUSDT", 1, 2, 0, 1.0, 1.0]), "Trade.side"),
    (msgpack.packb([s.Trade.TAG, "BTCUSDT", 1, 2, 1, "1.0", 1.0]), "Trade.px"),
    (msgpack.packb([s.DepthDiff.TAG, "X", 1, 2, [[1.0]], []]), "DepthDiff.bids"),
    (msgpack.packb([s.DepthDiff.TAG, "X", 1, 2, [[1.0, None]], []]), "DepthDiff.bids"),
    (msgpack.packb([s.DepthDiff.TAG, "X", 1, 2, {"a": 1}, []]), "DepthDiff.bids"),
    (msgpack.packb([s.SubmitOrder.TAG, 1, 1, "X", 1, 1, 1.0, 1.0, "stop", "gtc"]), "order_type"),
    (msgpack.packb([s.RawMessage.TAG, "e", "s", "t", 1, "not bytes"]), "RawMessage.raw"),
    (b"\x97\x04\xa3\xff\xfe\xfd\x01\x02\x01\x01\x01", "undecodable"),  # invalid UTF-8 symbol
])
def test_malformed_input_raises_schema_error(data, why):
    with pytest.raises(s.SchemaError, match=why) as info:
        s.decode(data)
    assert isinstance(info.value, HftctlError)


def test_random_garbage_never_escapes_as_another_exception():
    rng = random.Random(1234)
    valid = [s.encode(m) for m in SAMPLES]
    for i in range(3000):
        if i % 2:
            base = bytearray(rng.choice(valid))
            for _ in range(rng.randint(1, 4)):
                base[rng.randrange(len(base))] = rng.randrange(256)
            data = bytes(base[: rng.randint(0, len(base))])
        else:
            data = rng.randbytes(rng.randint(0, 64))
        try:
            msg = s.decode(data)
        except s.SchemaError:
            continue
        assert isinstance(msg, s.Message)  # a mutation that still decodes must be well-typed


def test_encode_rejects_non_messages():
    with pytest.raises(s.SchemaError):
        s.encode(object())  # type: ignore[arg-type]
