"""Binance futures book sync on the real USD-M recording: bridging, continuity, gap recovery."""

from __future__ import annotations

import gzip

import orjson
import pytest

from hftctl.book import OrderBook
from hftctl.exchanges.binance.common.depth_sync import DepthSnapshotBody, DepthSync, DepthUpdate
from hftctl.exchanges.binance.common.schemas import DepthSnapshot as SnapshotSchema
from hftctl.exchanges.binance.common.schemas import decoder
from hftctl.exchanges.binance.futures import messages as wire
from hftctl.exchanges.binance.spot import messages as spot_wire
from hftctl.exchanges.wire import MalformedMessage
from hftctl.ipc.schema import DepthClear, DepthDiff, DepthSnapshot

_SNAPSHOT = decoder(SnapshotSchema)


class Event(dict):
    """A recorded depth event's data, with its raw frame for the wire decoders."""

    raw: bytes


def _event(raw: bytes, data: dict) -> Event:
    e = Event(data)
    e.raw = raw
    return e


def _update(module, ev: Event) -> DepthUpdate:
    return module.depth_update(ev.raw)[1]


def _snapshot(module, body: dict) -> DepthSnapshotBody:
    return module.depth_snapshot(_SNAPSHOT.decode(orjson.dumps(body)))


def _load(shared_data, limit=30_000, path="recordings/usdm/btcusdt_20240808.gz"):
    """(snapshot body, [depth events]) from the recording, in receive order."""
    snap, events = None, []
    with gzip.open(shared_data / path) as f:
        for line in f:
            _, raw = line.split(b" ", 1)
            d = orjson.loads(raw)
            if "lastUpdateId" in d:
                snap = (d, len(events))
            elif "@depth@" in d["stream"]:
                events.append(_event(raw.strip(), d["data"]))
                if len(events) >= limit:
                    break
    assert snap is not None
    return snap, events


def _apply(book: OrderBook, msgs) -> None:
    for m in msgs:
        if isinstance(m, DepthSnapshot):
            book.apply_snapshot(m.bids, m.asks)
        elif isinstance(m, DepthDiff):
            book.apply_diff(m.bids, m.asks)
        elif isinstance(m, DepthClear):
            book.clear()


def test_real_recording_syncs_without_gaps(shared_data):
    (snap_body, at), events = _load(shared_data)
    sync = DepthSync("BTCUSDT")
    out = []
    for i, ev in enumerate(events):
        if i == at:
            out += sync.on_snapshot(_snapshot(wire, snap_body), 0)
        out += sync.on_update(_update(wire, ev), 0)
    assert sync.synced and sync.gaps == 0
    kinds = [type(m) for m in out]
    assert kinds[0] is DepthSnapshot and kinds.count(DepthSnapshot) == 1
    assert DepthClear not in kinds
    # Every event from the bridging one on is applied exactly once, in order.
    lid = snap_body["lastUpdateId"]
    applied = [e for e in events if e["u"] >= lid]
    assert kinds.count(DepthDiff) == len(applied)
    first = applied[0]
    assert first["U"] <= lid <= first["u"]


def test_gap_clears_and_resyncs_to_the_reference_book(shared_data):
    (snap_body, at), events = _load(shared_data, 8000)
    ref = OrderBook(0.1)
    ref_sync = DepthSync("BTCUSDT")
    sync = DepthSync("BTCUSDT")
    mine = OrderBook(0.1)
    drop_at = at + 2000
    resnap_at = drop_at + 50
    ref_msgs_at_resnap = None
    for i, ev in enumerate(events):
        if i == at:
            _apply(ref, ref_sync.on_snapshot(_snapshot(wire, snap_body), 0))
            _apply(mine, sync.on_snapshot(_snapshot(wire, snap_body), 0))
        upd = _update(wire, ev)
        _apply(ref, ref_sync.on_update(upd, 0))
        if i == resnap_at - 2:
            # A REST snapshot taken now: the reference book as of this event's u.
            ref_msgs_at_resnap = DepthSnapshotBody(upd.final_id, 0, ref.bid_levels(), ref.ask_levels())
        if i == drop_at:
            continue                       # the lost message
        out = sync.on_update(upd, 0)
        if i == drop_at + 1:
            assert [type(m) for m in out] == [DepthClear] and not sync.synced and sync.needs_snapshot
        _apply(mine, out)
        if i == resnap_at:
            assert ref_msgs_at_resnap is not None
            out = sync.on_snapshot(ref_msgs_at_resnap, 0)
            assert isinstance(out[0], DepthSnapshot) and sync.synced
            _apply(mine, out)
    assert sync.gaps == 1 and ref_sync.gaps == 0
    assert mine.bids == ref.bids and mine.asks == ref.asks


def test_stale_snapshot_is_refetched_and_early_snapshot_waits():
    sync = DepthSync("X")
    ev = lambda U, u, pu: DepthUpdate(U, u, pu, 0, [(1.0, 1.0)], [(2.0, 1.0)])
    sync.on_update(ev(100, 110, 99), 0)
    # Snapshot older than anything buffered: events 90..99 are lost, fetch again.
    assert sync.on_snapshot(DepthSnapshotBody(90, 0, [], []), 0) == []
    assert sync.needs_snapshot and not sync.synced
    # Snapshot newer than the buffer: wait for the bridging event, then sync.
    assert sync.on_snapshot(DepthSnapshotBody(115, 0, [(1.0, 3.0)], []), 0) == []
    assert not sync.needs_snapshot
    out = sync.on_update(ev(111, 120, 110), 0)
    assert [type(m) for m in out] == [DepthSnapshot, DepthDiff] and sync.synced
    # Duplicate after reconnect is ignored; a real gap is not.
    assert sync.on_update(ev(111, 120, 110), 0) == []
    assert [type(m) for m in sync.on_update(ev(130, 140, 125), 0)] == [DepthClear]


@pytest.mark.parametrize("bad", [{"e": "depthUpdate"}, {"U": "x", "u": 1, "pu": 0, "E": 1, "s": "X", "b": [], "a": []}])
def test_malformed_depth_event_is_a_clear_error(bad):
    with pytest.raises(MalformedMessage):
        wire.depth_update(orjson.dumps({"stream": "x@depth", "data": bad}))


def test_quiet_snapshot_is_accepted_and_checked_by_the_next_event():
    ev = lambda U, u, pu: DepthUpdate(U, u, pu, 0, [(1.0, 1.0)], [])
    sync = DepthSync("X")
    assert sync.on_snapshot(DepthSnapshotBody(100, 0, [(1.0, 2.0)], []), 0) == []
    assert sync.waiting_for_bridge
    assert [type(m) for m in sync.accept_quiet_snapshot()] == [DepthSnapshot] and sync.synced
    assert sync.on_update(ev(90, 99, 89), 0) == []                          # older: ignored
    assert [type(m) for m in sync.on_update(ev(100, 105, 100), 0)] == [DepthDiff]
    assert [type(m) for m in sync.on_update(ev(106, 107, 105), 0)] == [DepthDiff]
    # A first event that starts after the snapshot means updates were missed.
    sync = DepthSync("X")
    sync.on_snapshot(DepthSnapshotBody(100, 0, [], []), 0)
    sync.accept_quiet_snapshot()
    assert [type(m) for m in sync.on_update(ev(120, 125, 118), 0)] == [DepthClear]


def test_real_spot_recording_syncs_with_the_spot_rule(shared_data):
    """Spot: drop u <= lastUpdateId, bridge with U <= lastUpdateId + 1 <= u, then U == prev u + 1."""
    (snap_body, at), events = _load(shared_data, path="recordings/spot/btcusdt_20240808.gz")
    sync = DepthSync("BTCUSDT", first_offset=1)
    out = []
    for i, ev in enumerate(events):
        if i == at:
            out += sync.on_snapshot(_snapshot(spot_wire, snap_body), 0)
        out += sync.on_update(_update(spot_wire, ev), 0)
    assert sync.synced and sync.gaps == 0
    lid = snap_body["lastUpdateId"]
    applied = [e for e in events if e["u"] > lid]
    assert applied[0]["U"] <= lid + 1 <= applied[0]["u"]
    assert [type(m) for m in out].count(DepthDiff) == len(applied)


def test_bybit_book_sync_snapshot_delta_gap_and_resubscribe():
    from hftctl.exchanges.bybit import messages as bybit_wire
    from hftctl.exchanges.bybit.depth_sync import BybitBookSync

    def msg(kind, u, bids=(("100.0", "1"),), asks=(("101.0", "2"),)):
        return bybit_wire.book(orjson.dumps({"topic": "orderbook.50.X", "type": kind, "ts": 1,
                                             "data": {"s": "X", "b": list(bids), "a": list(asks), "u": u,
                                                      "seq": u}}))

    sync = BybitBookSync("X")
    assert sync.on_message(msg("delta", 5), 0) == []                         # before any snapshot
    assert [type(m) for m in sync.on_message(msg("snapshot", 10), 0)] == [DepthSnapshot]
    assert [type(m) for m in sync.on_message(msg("delta", 11), 0)] == [DepthDiff]
    assert sync.on_message(msg("delta", 11), 0) == []                        # duplicate
    assert [type(m) for m in sync.on_message(msg("delta", 13), 0)] == [DepthClear]
    assert sync.needs_resubscribe and not sync.synced and sync.gaps == 1
    assert sync.on_message(msg("delta", 14), 0) == []                        # ignored until a snapshot
    assert [type(m) for m in sync.on_message(msg("snapshot", 1), 0)] == [DepthSnapshot]   # u=1: restart
    assert not sync.needs_resubscribe and sync.synced
    assert [type(m) for m in sync.on_message(msg("delta", 2), 0)] == [DepthDiff]
    # u=1 is "a snapshot due to the restart of the service": it overwrites, whatever its type
    assert [type(m) for m in sync.on_message(msg("delta", 1), 0)] == [DepthSnapshot]
    # level 1 re-pushes an unchanged book every 3 s with the same u: nothing new
    assert [type(m) for m in sync.on_message(msg("snapshot", 7), 0)] == [DepthSnapshot]
    assert sync.on_message(msg("snapshot", 7), 0) == []
    assert [type(m) for m in sync.on_message(msg("snapshot", 8), 0)] == [DepthSnapshot]
    assert sync.gaps == 1
    with pytest.raises(bybit_wire.MalformedMessage):
        bybit_wire.book(orjson.dumps({"type": "delta", "data": {"s": "X"}}))
