"""Connector and bot endpoints: schema messages both ways between real processes."""

from __future__ import annotations

import os
import signal
import time

import msgpack

from hftctl.ipc import BotEndpoint, ConnectorEndpoint, Overrun, RequestWriter, WriterGone
from hftctl.ipc import schema as s
from tests.ipc_helpers import CTX, chan, procs, start  # noqa: F401


def bot_proc(name, results):
    bot = BotEndpoint.attach(name, "test-bot", timeout=10)
    try:
        bot.send(s.RegisterInstrument(bot.bot_id, "BTCUSDT", 0.1, 0.001))
        bot.send(s.SubmitOrder(bot.bot_id, 1, "BTCUSDT", 42, s.BUY, 50000.0, 0.01, "limit", "gtx"))
        got = []
        while len(got) < 3:
            m = bot.recv(timeout=10)
            assert m is not None and not isinstance(m, (Overrun, WriterGone)), m
            got.append(m)
        results.put((bot.bot_id, got, bot.bad_messages))
    finally:
        bot.close()


def test_bot_and_connector_exchange_typed_messages(chan, procs):
    results = CTX.Queue()
    conn = ConnectorEndpoint.create(chan, capacity=1 << 16, request_capacity=1 << 16)
    try:
        bots = [start(procs, bot_proc, chan, results) for _ in range(2)]
        seen: dict[int, list] = {}
        while sum(len(v) for v in seen.values()) < 6:
            r = conn.recv(timeout=10)
            assert r is not None and not isinstance(r, Overrun), r
            sender, msg = r
            assert msg.bot_id == sender
            seen.setdefault(sender, []).append(msg)
            if isinstance(msg, s.SubmitOrder):
                # answer only the requester, then market data to everyone
                conn.publish(s.OrderUpdate(msg.symbol, msg.order_id, f"c-{sender}", "e1", msg.side, msg.px,
                                           msg.qty, msg.qty, 0.0, 0.0, 0.0, "new", msg.order_type,
                                           msg.time_in_force, 1, 2, None, msg.req_id), dest=sender)
        conn.events.publish(b"\xc1 not msgpack")      # malformed event: skipped, counted
        conn.publish(s.Trade("BTCUSDT", 1, 2, s.SELL, 50000.0, 0.5))
        conn.publish(s.DepthClear("BTCUSDT", "test"))
        for sender, msgs in seen.items():
            assert [type(m) for m in msgs] == [s.Hello, s.RegisterInstrument, s.SubmitOrder]
            assert msgs[0].name == "test-bot"
        outcomes = {}
        for _ in bots:
            bot_id, got, bad = results.get(timeout=15)
            outcomes[bot_id] = got
            assert bad == 1
            assert isinstance(got[0], s.OrderUpdate) and got[0].client_order_id == f"c-{bot_id}"
            assert got[0].req_id == 1
            assert isinstance(got[1], s.Trade) and isinstance(got[2], s.DepthClear)
        assert sorted(outcomes) == sorted(seen)
        byes = [conn.recv(timeout=5) for _ in bots]
        assert sorted(b[0] for b in byes) == sorted(seen) and all(isinstance(b[1], s.Bye) for b in byes)
        for p in bots:
            p.join(5)
        assert sorted(conn.gone_bots()) == sorted(seen)
    finally:
        conn.close()


def test_malformed_requests_are_counted_and_skipped(chan):
    conn = ConnectorEndpoint.create(chan, capacity=1 << 16, request_capacity=1 << 16)
    raw = RequestWriter.attach(chan, sender=7)
    try:
        raw.send(msgpack.packb([999, 1]))
        raw.send(b"")
        raw.send(s.encode(s.CancelAll(7, 3)))
        assert conn.recv(timeout=1) == (7, s.CancelAll(7, 3, None))
        assert conn.bad_messages == 2
        assert conn.recv(timeout=0.05) is None
    finally:
        raw.close()
        conn.close()


def connector_proc(name, ready, tag):
    conn = ConnectorEndpoint.create(name, capacity=1 << 16, request_capacity=1 << 16)
    ready.put(tag)
    while True:
        r = conn.recv(timeout=0.05)
        if r is not None and isinstance(r[1], s.Hello):
            conn.publish(s.Error(0, tag, None, None), dest=r[0])
        conn.heartbeat()


def test_bot_survives_connector_restart(chan, procs):
    ready = CTX.Queue()
    first = start(procs, connector_proc, chan, ready, "first")
    ready.get(timeout=10)
    bot = BotEndpoint.attach(chan, "restart-bot", timeout=5)
    try:
        assert bot.recv(timeout=5) == s.Error(0, "first")
        os.kill(first.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while (m := bot.recv(timeout=1.0)) is None and time.monotonic() < deadline:
            pass
        # found by the reader's check of the released owner lock, not by a stale heartbeat
        assert m == WriterGone(f"writer pid {first.pid} died"), m
        # A fresh queue: the SIGKILLed process may have died holding the old one's write lock.
        ready = CTX.Queue()
        start(procs, connector_proc, chan, ready, "second")
        ready.get(timeout=10)
        assert bot.reattach(timeout=5)
        assert bot.recv(timeout=5) == s.Error(0, "second")   # its Hello reached the new connector
    finally:
        bot.close()
