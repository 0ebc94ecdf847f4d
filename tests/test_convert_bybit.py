"""Bybit v5 public messages (hand-written after Bybit's v5 docs) to event rows."""

from __future__ import annotations

import contextlib
import gzip
import io
import json

import numpy as np
import pytest

from hftctl.convert import ConvertOptions, finalize, read_file
from hftctl.convert import events as E
from hftctl import exchanges
from tests.conftest import import_hftbacktest

T0 = 1672304484978            # ms, from Bybit's orderbook docs example
CLOCK_BEHIND = 900_000_000    # recorder clock 0.9 s behind the exchange: needs correction


def book(depth: int, kind: str, ts: int, bids, asks, u: int) -> dict:
    return {"topic": f"orderbook.{depth}.BTCUSDT", "type": kind, "ts": ts,
            "data": {"s": "BTCUSDT", "b": bids, "a": asks, "u": u, "seq": 7961638724 + u},
            "cts": ts - 2}


def trades(ts: int, items) -> dict:
    return {"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": ts,
            "data": [{"T": t, "s": "BTCUSDT", "S": side, "v": v, "p": p, "L": "PlusTick",
                      "i": f"20f43950-d8dd-5b31-9112-a178eb6023a{k}", "BT": False}
                     for k, (t, side, p, v) in enumerate(items)]}


def messages() -> list[dict]:
    return [
        {"success": True, "ret_msg": "", "conn_id": "abc", "op": "subscribe"},
        book(50, "snapshot", T0, [["16493.50", "0.006"], ["16493.00", "0.100"]],
             [["16611.00", "0.029"], ["16612.00", "0.213"]], 18521288),
        book(1, "snapshot", T0 + 1, [["16493.50", "0.006"]], [["16611.00", "0.029"]], 9),
        trades(T0 + 5, [(T0 + 3, "Buy", "16578.50", "0.001"), (T0 + 4, "Sell", "16578.00", "0.25")]),
        book(50, "delta", T0 + 20, [["16493.50", "0"], ["16492.00", "1.5"]], [], 18521289),
        book(1, "snapshot", T0 + 21, [["16493.00", "0.100"]], [["16611.00", "0.029"]], 10),
        book(50, "delta", T0 + 40, [], [["16611.00", "0.030"]], 18521290),
        trades(T0 + 45, [(T0 + 44, "Sell", "16492.00", "0.5")]),
        book(50, "snapshot", T0 + 60, [["16492.00", "1.0"]], [["16611.00", "0.030"], ["16615.50", "2"]],
             18521300),
    ]


def write(path, msgs, gz=True):
    lines = []
    for k, m in enumerate(msgs):
        ts = m.get("ts", T0) * 1_000_000 - CLOCK_BEHIND + 3_000_000 + k * 1000
        lines.append(f"{ts} {json.dumps(m, separators=(',', ':'))}\n".encode())
    data = b"".join(lines)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def rows(path, **kw):
    opts = ConvertOptions(**kw)
    r = read_file(str(path), opts)
    assert r.problems.skipped == 0, r.problems.problems
    return r.exchange, r.data, finalize(r.data.copy(), opts)


def test_detected_and_rows_by_hand(tmp_path):
    path = write(tmp_path / "bybit.gz", messages())
    assert exchanges.detect(gzip.decompress(path.read_bytes())) == "bybit"
    exchange, raw, final = rows(path)
    assert exchange == "bybit"
    kind = raw["ev"] & 0xFF
    # Deepest book (50) only: orderbook.1 rows would double-count the top level.
    expected = [
        (E.DEPTH_CLEAR_EVENT | E.BUY_EVENT, T0, 16493.00, 0.0),
        (E.DEPTH_SNAPSHOT_EVENT | E.BUY_EVENT, T0, 16493.50, 0.006),
        (E.DEPTH_SNAPSHOT_EVENT | E.BUY_EVENT, T0, 16493.00, 0.100),
        (E.DEPTH_CLEAR_EVENT | E.SELL_EVENT, T0, 16612.00, 0.0),
        (E.DEPTH_SNAPSHOT_EVENT | E.SELL_EVENT, T0, 16611.00, 0.029),
        (E.DEPTH_SNAPSHOT_EVENT | E.SELL_EVENT, T0, 16612.00, 0.213),
        (E.TRADE_EVENT | E.BUY_EVENT, T0 + 3, 16578.50, 0.001),
        (E.TRADE_EVENT | E.SELL_EVENT, T0 + 4, 16578.00, 0.25),
        (E.DEPTH_EVENT | E.BUY_EVENT, T0 + 20, 16493.50, 0.0),
        (E.DEPTH_EVENT | E.BUY_EVENT, T0 + 20, 16492.00, 1.5),
        (E.DEPTH_EVENT | E.SELL_EVENT, T0 + 40, 16611.00, 0.030),
        (E.TRADE_EVENT | E.SELL_EVENT, T0 + 44, 16492.00, 0.5),
        (E.DEPTH_CLEAR_EVENT | E.BUY_EVENT, T0 + 60, 16492.00, 0.0),
        (E.DEPTH_SNAPSHOT_EVENT | E.BUY_EVENT, T0 + 60, 16492.00, 1.0),
        (E.DEPTH_CLEAR_EVENT | E.SELL_EVENT, T0 + 60, 16615.50, 0.0),
        (E.DEPTH_SNAPSHOT_EVENT | E.SELL_EVENT, T0 + 60, 16611.00, 0.030),
        (E.DEPTH_SNAPSHOT_EVENT | E.SELL_EVENT, T0 + 60, 16615.50, 2.0),
    ]
    got = [(int(r["ev"]), int(r["exch_ts"]) // 1_000_000, float(r["px"]), float(r["qty"])) for r in raw]
    assert got == expected
    assert set(kind.tolist()) <= {E.DEPTH_EVENT, E.DEPTH_CLEAR_EVENT, E.DEPTH_SNAPSHOT_EVENT, E.TRADE_EVENT}
    # Clock behind: the correction makes every feed latency >= 0.
    assert np.all(final["local_ts"] >= final["exch_ts"])
    assert np.all(final["ev"] & (E.EXCH_EVENT | E.LOCAL_EVENT))


def test_depth_override(tmp_path):
    path = write(tmp_path / "bybit.txt", messages(), gz=False)
    _, raw, _ = rows(path, depth=1)
    depth_rows = raw[(raw["ev"] & 0xFF) != E.TRADE_EVENT]
    assert len(depth_rows) == 2 * (1 + 1 + 1 + 1)             # two level-1 snapshots
    opts = ConvertOptions(depth=200)
    r = read_file(str(path), opts)
    assert "orderbook.200" in str(r.problems.problems[0]) and r.problems.skipped == 1


def test_unknown_topic_reported(tmp_path):
    msgs = messages() + [{"topic": "mystery.BTCUSDT", "ts": T0, "data": {}}]
    r = read_file(str(write(tmp_path / "b.gz", msgs)), ConvertOptions())
    assert r.problems.skipped == 1 and ":10:" in str(r.problems.problems[0])


@pytest.mark.parametrize("depth", [1, 50])
def test_equals_hftbacktest_bybit(tmp_path, depth):
    bybit = import_hftbacktest("hftbacktest.data.utils.bybit")
    path = write(tmp_path / "bybit.gz", messages())
    with contextlib.redirect_stdout(io.StringIO()):
        ref = bybit.convert_depth(str(path), single_depth_level=depth)
    _, _, final = rows(path, depth=depth)
    assert np.array_equal(final, ref)


def test_symbol_seen(tmp_path):
    r = read_file(str(write(tmp_path / "b.gz", messages())), ConvertOptions())
    assert r.symbols == {"btcusdt"}


def test_collector_gap_marks_are_not_errors(tmp_path):
    """hftctl collect writes gap marks where it lost data (the collector protocol's gap_marker): known, skipped."""

    msgs = messages()
    msgs.insert(5, json.loads(exchanges.get("bybit").collector().gap_marker("BTCUSDT", "reconnect", T0 + 21)))
    r = read_file(str(write(tmp_path / "g.gz", msgs)), ConvertOptions())
    assert r.problems.skipped == 0 and len(r.data) == 17 + 1
    # The mark becomes one whole-book clear right before the next orderbook.50 snapshot (T0 + 60).
    final = finalize(r.data, ConvertOptions())
    at = int(np.flatnonzero((final["ev"] & 0xFF) == E.DEPTH_CLEAR_EVENT)[-3])
    assert final["ev"][at] & (E.BUY_EVENT | E.SELL_EVENT) == 0
    assert final["exch_ts"][at] == (T0 + 60) * 1_000_000 == final["exch_ts"][at + 1]
    assert final["ev"][at + 1] & 0xFF == E.DEPTH_CLEAR_EVENT


def todays_messages() -> list[dict]:
    """A recording of today's topics: orderbook.1 (snapshots only), .50 and .1000."""
    out = []
    for m in messages():
        if m.get("topic", "").startswith("orderbook.50."):
            deep = json.loads(json.dumps(m).replace("orderbook.50.", "orderbook.1000."))
            out.append(deep)
            if m["type"] == "snapshot":      # a shallower copy of the same book, as Bybit pushes it
                out.append({**m, "data": {**m["data"], "b": m["data"]["b"][:1], "a": m["data"]["a"][:1]}})
        else:
            out.append(m)
    return out


@pytest.mark.parametrize("depth", [None, 1000, 50, 1])
def test_todays_depths_equal_hftbacktest_bybit(tmp_path, depth):
    """The deepest recorded book is converted by default: today that is orderbook.1000."""
    bybit = import_hftbacktest("hftbacktest.data.utils.bybit")
    path = write(tmp_path / "bybit.gz", todays_messages())
    with contextlib.redirect_stdout(io.StringIO()):
        ref = bybit.convert_depth(str(path), single_depth_level=depth or 1000)
    _, _, final = rows(path, depth=depth)
    assert np.array_equal(final, ref)
    if depth is None:                         # the same rows as the 50-level recording above
        _, _, before = rows(write(tmp_path / "old.gz", messages()))
        assert np.array_equal(final[["ev", "px", "qty"]], before[["ev", "px", "qty"]])
