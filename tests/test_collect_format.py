"""What the collector writes is what hftbacktest's collector writes: stream URLs, routing, gap
rules, and files hftbacktest's own converter reads (multi-member gzip and gap marks included)."""

from __future__ import annotations

import gzip
import itertools
import json

import orjson

from hftctl import exchanges
from hftctl.collector.codec import GzipCodec
from hftctl.collector.protocol import DepthSeq
from hftctl.collector.sequence import DepthSequence
from hftctl.collector.writer import RecordingWriter
from hftctl.exchanges.venues import Venue
from tests.conftest import import_hftbacktest


def protocol(exchange: str):
    return exchanges.get(exchange).collector()


def venue(stream: str, rest: str = "http://h:1") -> Venue:
    return Venue("custom", rest=rest, ws={"public": stream}, real_money=False, source="test", checked="")


def _subscribed(conn) -> list[str]:
    msgs = [json.loads(m) for m in conn.messages]
    assert all(m["method"] == "SUBSCRIBE" for m in msgs)
    return [p for m in msgs for p in m["params"]]


def test_usdm_records_each_stream_from_its_route():
    usdm = protocol("binancefutures")
    default = exchanges.get("binancefutures").venues["testnet"]
    # the testnet guide's unrouted .../ws, a route URL and the root all mean the same routes
    for url in ("wss://fstream.binancefuture.com/ws", "wss://fstream.binancefuture.com/market",
                "wss://fstream.binancefuture.com"):
        (public,) = usdm.connections(usdm.with_stream_url(default, url), ["BTCUSDT", "ethusdt"])
        assert public.url == "wss://fstream.binancefuture.com/public/stream"
        assert _subscribed(public) == ["btcusdt@depth@0ms", "btcusdt@trade", "btcusdt@bookTicker",
                                       "ethusdt@depth@0ms", "ethusdt@trade", "ethusdt@bookTicker"]
        assert public.depth_symbols == ("BTCUSDT", "ETHUSDT") and public.max_messages_per_s == 10


def test_many_symbols_are_batched_and_split_at_the_stream_limit():
    usdm = protocol("binancefutures")
    default = exchanges.get("binancefutures").venues["testnet"]
    symbols = [f"S{i}USDT" for i in range(400)]          # 1200 public streams: two connections
    conns = usdm.connections(default, symbols)
    public = [c for c in conns if c.url.endswith("/public/stream")]
    assert [len(_subscribed(c)) for c in public] == [1024, 176]
    assert all(len(json.loads(m)["params"]) <= 200 for c in conns for m in c.messages)
    assert [s for c in public for s in _subscribed(c)] == [s for sym in symbols for s in
                                                           (f"{sym.lower()}@depth@0ms", f"{sym.lower()}@trade",
                                                            f"{sym.lower()}@bookTicker")]


def test_spot_keeps_one_unrouted_connection():
    (conn,) = protocol("binancespot").connections(venue("ws://127.0.0.1:9/ws/"), ["btcusdt"])
    assert conn.url == "ws://127.0.0.1:9/stream"
    assert _subscribed(conn) == ["btcusdt@depth@100ms", "btcusdt@trade", "btcusdt@bookTicker"]
    assert conn.depth_symbols == ("BTCUSDT",)


def test_binance_spot_keeps_each_connection_within_1024_streams():
    """web-socket-streams.md § WebSocket Limits: at most 1024 streams per connection."""
    symbols = [f"s{i}usdt" for i in range(400)]                 # 1200 streams
    conns = protocol("binancespot").connections(venue("ws://127.0.0.1:9/ws"), symbols)
    streams = [_subscribed(c) for c in conns]
    assert [len(s) for s in streams] == [1024, 176]
    assert [x for s in streams for x in s] == [f"{sym}@{k}" for sym in symbols
                                               for k in ("depth@100ms", "trade", "bookTicker")]


def test_bybit_subscribes_by_message_to_hftbacktests_topics():
    bybit = protocol("bybit")
    (conn,) = bybit.connections(venue("wss://stream-testnet.bybit.com/v5/public/linear"), ["btcusdt"])
    assert conn.url == "wss://stream-testnet.bybit.com/v5/public/linear"
    # orderbook.500 was switched off on 2025-09-30: the deepest linear book is 1000
    assert json.loads(conn.subscribe)["args"] == ["orderbook.1.BTCUSDT", "orderbook.50.BTCUSDT",
                                                  "orderbook.1000.BTCUSDT", "publicTrade.BTCUSDT"]
    assert not bybit.takes_rest_snapshots and protocol("binancefutures").takes_rest_snapshots
    assert bybit.read({"topic": "publicTrade.BTCUSDT", "data": []}).symbol == "BTCUSDT"
    assert bybit.subscription_error({"success": False, "ret_msg": "invalid topic"}) == "invalid topic"


def test_snapshot_urls():
    assert (protocol("binancefutures").snapshot_url(venue("ws://x", "http://h:1/"), "btcusdt")
            == "http://h:1/fapi/v1/depth?symbol=BTCUSDT&limit=1000")
    assert (protocol("binancespot").snapshot_url(venue("ws://x", "http://h:1"), "btcusdt")
            == "http://h:1/api/v3/depth?symbol=BTCUSDT&limit=1000")


def test_sequence_rules_on_real_messages(shared_data):
    """Futures: pu == previous u; spot: U == previous u + 1 — checked on the real recordings."""
    for exchange, rel in (("binancefutures", "usdm/btcusdt_20240808.gz"), ("binancespot", "spot/btcusdt_20240808.gz")):
        seq = DepthSequence(protocol(exchange))
        verdicts = []
        with gzip.open(shared_data / "recordings" / rel) as f:
            for line in itertools.islice(f, 5000):
                pm = protocol(exchange).read(orjson.loads(line.split(b" ", 1)[1]))
                if pm is not None and pm.depth is not None:
                    verdicts.append(seq.check(pm.symbol, pm.depth))
        assert verdicts[0] == DepthSequence.FIRST and len(verdicts) > 100
        assert set(verdicts[1:]) == {None}, exchange  # the real streams have no gap
        # drop one diff: the next one is a gap
        seq2 = DepthSequence(protocol(exchange))
        assert seq2.check("X", DepthSeq(1, 5, 0)) == DepthSequence.FIRST
        assert seq2.check("X", DepthSeq(9, 12, 8)) == DepthSequence.GAP


def test_malformed_depth_is_flagged_not_raised():
    futures = protocol("binancefutures")
    pm = futures.read({"stream": "x", "data": {"e": "depthUpdate", "s": "BTCUSDT", "U": "1"}})
    assert pm.symbol == "BTCUSDT" and pm.bad_depth and pm.depth is None
    assert futures.read({"result": None, "id": 1}) is None
    assert futures.read([1, 2]) is None


def test_hftbacktests_own_converter_reads_a_collector_file_with_gap_marks(tmp_path, shared_data):
    """Multi-member gzip and gap-mark lines convert exactly like the plain recording."""
    binancefutures = import_hftbacktest("hftbacktest.data.utils.binancefutures")
    with gzip.open(shared_data / "recordings/usdm/btcusdt_20240808.gz") as f:
        lines = [ln.rstrip(b"\n") for ln in itertools.islice(f, 3000)]
    plain = tmp_path / "plain.gz"
    plain.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    out = tmp_path / "rec"
    w = RecordingWriter(out, GzipCodec(), rotate_s=0)
    for i, ln in enumerate(lines):
        ts, raw = ln.split(b" ", 1)
        if i == 1500:
            w.write("btcusdt", int(ts), protocol("binancefutures").gap_marker("BTCUSDT", "reconnect", int(ts) // 10**6))
        w.write("btcusdt", int(ts), raw)
        if i % 100 == 0:
            w.flush()  # 30 members
    w.close()
    (rec,) = out.iterdir()
    ours = binancefutures.convert(str(rec), buffer_size=2_000_000)
    reference = binancefutures.convert(str(plain), buffer_size=2_000_000)
    assert len(ours) > 10_000
    assert (ours == reference).all()
