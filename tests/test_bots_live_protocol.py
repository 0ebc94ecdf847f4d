"""LiveBot's side of the connector protocol over the real shared-memory rings.

A thread plays the connector with a real ``ConnectorEndpoint`` and scripted answers, so every
event path (snapshot, diff, clear, trade, order updates, fills, position, request errors,
shutdown's CancelAll) is exercised deterministically; the end-to-end run against the real
connector and sim is in test_bots_live.py.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

import pytest

from hftctl.bot.live import LiveBot
from hftctl.bot.types import BUY, SELL, Instrument
from hftctl.ipc import schema as s
from hftctl.ipc.endpoint import BotEndpoint, ConnectorEndpoint
from hftctl.ipc.segments import unlink_channel_sems, unlink_shm
from hftctl.strategies.grid_mm import GridConfig, GridMarketMaker

INST = Instrument("btcusdt", 0.1, 0.001)


class FakeConnector(threading.Thread):
    """Answers order requests like an exchange that accepts everything, records all requests."""

    def __init__(self, ep: ConnectorEndpoint) -> None:
        super().__init__(daemon=True)
        self.ep = ep
        self.requests: list[s.Message] = []
        self.reject_next = False
        self.stop_flag = threading.Event()
        self.orders: dict[int, s.SubmitOrder] = {}

    def update(self, bot_id: int, o: s.SubmitOrder, status: str, leaves: float, req_id: int | None,
               exec_qty: float = 0.0, cum: float = 0.0) -> None:
        self.ep.publish(s.OrderUpdate(o.symbol, o.order_id, f"c{o.order_id}", f"x{o.order_id}", o.side,
                                      o.px, o.qty, leaves, exec_qty, o.px if exec_qty else 0.0, cum,
                                      status, o.order_type, o.time_in_force, time.time_ns(),
                                      time.time_ns(), None, req_id), dest=bot_id)

    def run(self) -> None:
        while not self.stop_flag.is_set():
            self.ep.heartbeat()
            r = self.ep.recv(0.02)
            if not isinstance(r, tuple):
                continue
            bot_id, msg = r
            self.requests.append(msg)
            if isinstance(msg, s.SubmitOrder):
                if self.reject_next:
                    self.reject_next = False
                    self.ep.publish(s.Error(-4164, "notional too small", msg.req_id, msg.symbol), dest=bot_id)
                    continue
                self.orders[msg.order_id] = msg
                self.update(bot_id, msg, "new", msg.qty, msg.req_id)
            elif isinstance(msg, s.ModifyOrder):
                o = self.orders[msg.order_id]
                o.px, o.qty = msg.px, msg.qty
                self.update(bot_id, o, "new", msg.qty, msg.req_id)
            elif isinstance(msg, s.CancelOrder):
                self.update(bot_id, self.orders.pop(msg.order_id), "canceled", 0.0, msg.req_id)
            elif isinstance(msg, s.CancelAll):
                for o in list(self.orders.values()):
                    self.update(bot_id, o, "canceled", 0.0, msg.req_id)
                self.orders.clear()

    def fill(self, bot_id: int, order_id: int) -> None:
        o = self.orders.pop(order_id)
        self.update(bot_id, o, "filled", 0.0, None, exec_qty=o.qty, cum=o.qty)


@pytest.fixture
def connector():
    name = f"tp{os.getpid()}-{uuid.uuid4().hex[:6]}"
    ep = ConnectorEndpoint.create(name, capacity=1 << 20, request_capacity=1 << 18)
    fake = FakeConnector(ep)
    fake.start()
    try:
        yield name, fake
    finally:
        fake.stop_flag.set()
        fake.join(5)
        ep.close()
        for channel in ("bc", "rq"):
            unlink_shm(f"/hftctl.{name}.{channel}")
            unlink_channel_sems(name, channel)


def until(bot: LiveBot, cond, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        bot.elapse(10_000_000)


def test_live_bot_protocol(connector):
    name, fake = connector
    bot = LiveBot(BotEndpoint.attach(name, bot_name="t"), [INST], name="t")
    bid = bot.bot_id
    until(bot, lambda: any(isinstance(m, s.SnapshotRequest) for m in fake.requests))
    kinds = [type(m).__name__ for m in fake.requests]
    assert kinds[:3] == ["Hello", "RegisterInstrument", "SnapshotRequest"]
    reg = fake.requests[1]
    assert (reg.symbol, reg.tick_size, reg.lot_size) == ("BTCUSDT", 0.1, 0.001)

    # market data
    ts = time.time_ns()
    fake.ep.publish(s.DepthSnapshot("BTCUSDT", ts, ts, [(100.0, 1.0), (99.9, 2.0)], [(100.1, 1.5)]))
    fake.ep.publish(s.DepthDiff("BTCUSDT", ts, ts, [(100.0, 0.0)], [(100.2, 3.0)]))
    fake.ep.publish(s.Trade("BTCUSDT", ts, ts, SELL, 99.9, 0.5))
    fake.ep.publish(s.Trade("ETHUSDT", ts, ts, SELL, 2000.0, 0.5))      # not registered: ignored
    until(bot, lambda: len(bot.last_trades()) == 1)
    assert bot.depth().best_bid == 99.9 and bot.depth().best_ask == 100.1
    assert bot.last_trades()[0].px == 99.9

    # order life cycle and fills
    o = bot.submit_buy_order(0, 11, 99.8, 0.002, wait=True)
    assert o.status == "new" and o.req is None and o.cancellable
    sub = [m for m in fake.requests if isinstance(m, s.SubmitOrder)][0]
    assert (sub.bot_id, sub.order_id, sub.side, sub.px, sub.qty, sub.time_in_force) == (bid, 11, BUY, 99.8, 0.002, "gtx")
    fake.fill(bid, 11)
    until(bot, lambda: o.status == "filled")
    assert bot.position() == pytest.approx(0.002)
    assert bot.account().balance == pytest.approx(-99.8 * 0.002)
    fake.ep.publish(s.Position("BTCUSDT", 0.005, 100.0, time.time_ns()))     # exchange's truth wins
    until(bot, lambda: bot.position() == pytest.approx(0.005))

    # a rejected request
    fake.reject_next = True
    r = bot.submit_sell_order(0, 12, 101.0, 0.001, wait=True)
    assert r.status == "rejected" and "notional" in (r.reason or "")

    # modify, then cancel
    c = bot.submit_sell_order(0, 13, 101.0, 0.001, wait=True)
    assert bot.modify(0, 13, 101.5, 0.003, wait=True)
    mod = [m for m in fake.requests if isinstance(m, s.ModifyOrder)][0]
    assert (mod.order_id, mod.px, mod.qty) == (13, 101.5, 0.003)
    assert c.px == 101.5 and c.leaves_qty == 0.003 and c.req is None
    assert bot.cancel(0, 13, wait=True) and c.status == "canceled"

    # book sync lost
    fake.ep.publish(s.DepthClear("BTCUSDT", "gap"))
    until(bot, lambda: not bot.depth().ready)

    # shutdown cancels what is left through CancelAll and waits for it
    left = bot.submit_buy_order(0, 14, 99.0, 0.001, wait=True)
    assert bot.close() == 0
    assert left.status == "canceled"
    assert any(isinstance(m, s.CancelAll) and m.bot_id == bid for m in fake.requests)
    until_t = time.monotonic() + 3
    while not any(isinstance(m, s.Bye) for m in fake.requests) and time.monotonic() < until_t:
        time.sleep(0.02)
    assert any(isinstance(m, s.Bye) for m in fake.requests)


def test_dry_run_bot_sends_no_order_requests(connector):
    name, fake = connector
    bot = LiveBot(BotEndpoint.attach(name, bot_name="d"), [INST], name="d", dry_run=True)
    ts = time.time_ns()
    until(bot, lambda: any(isinstance(m, s.SnapshotRequest) for m in fake.requests))
    fake.ep.publish(s.DepthSnapshot("BTCUSDT", ts, ts, [(100.0, 1.0)], [(100.1, 1.0)]))
    until(bot, lambda: bot.depth().ready)
    o = bot.submit_buy_order(0, 1, 100.0, 0.001, wait=True)
    assert o.status == "new"                                   # accepted by the virtual exchange
    fake.ep.publish(s.Trade("BTCUSDT", ts, ts, SELL, 99.9, 1.0))   # trades through our bid
    until(bot, lambda: o.status == "filled")
    assert bot.position() == pytest.approx(0.001)
    bot.submit_sell_order(0, 2, 100.5, 0.001, wait=True)
    bot.close()
    time.sleep(0.1)
    kinds = {type(m).__name__ for m in fake.requests}
    assert kinds <= {"Hello", "RegisterInstrument", "SnapshotRequest", "BotHeartbeat", "Bye"}, kinds


def test_no_market_data_for_a_symbol_stops_the_bot_with_a_clear_error(connector):
    name, fake = connector
    bot = LiveBot(BotEndpoint.attach(name, bot_name="u"), [Instrument("foousdt", 0.1, 0.001)],
                  name="u", dry_run=True, first_data_timeout_s=0.3)
    deadline = time.monotonic() + 5
    while bot.elapse(50_000_000):
        assert time.monotonic() < deadline
    assert bot.error is not None and "no market data for FOOUSDT" in bot.error
    bot.close()


def test_grid_bot_stops_quoting_while_the_connector_is_blind_to_fills(connector):
    """ConnectorStatus with the user stream down: no new quotes until it is back."""
    name, fake = connector
    bot = LiveBot(BotEndpoint.attach(name, bot_name="g"), [INST], name="g")
    said: list[str] = []
    mm = GridMarketMaker(bot, GridConfig(grid_num=2, order_qty=0.001), out=said.append)
    ts = time.time_ns()
    fake.ep.publish(s.ConnectorStatus("x", ts, {"market": "connected", "user": "disconnected"}, {}))
    fake.ep.publish(s.DepthSnapshot("BTCUSDT", ts, ts, [(100.0, 1.0)], [(100.1, 1.0)]))
    until(bot, lambda: bot.depth().ready and not bot.trading_ok())
    for _ in range(20):
        mm.step()
        bot.elapse(10_000_000)
    assert not [m for m in fake.requests if isinstance(m, s.SubmitOrder)]
    assert any("cannot see fills" in line for line in said)
    fake.ep.publish(s.ConnectorStatus("x", time.time_ns(), {"market": "connected", "user": "connected"}, {}))
    until(bot, bot.trading_ok)
    mm.step()
    until(bot, lambda: len([m for m in fake.requests if isinstance(m, s.SubmitOrder)]) == 4)
    assert any("sees fills again" in line for line in said)
    bot.close()
