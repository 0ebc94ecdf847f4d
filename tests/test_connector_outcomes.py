"""Orders whose submit outcome is unknown: how the connector decides what the bot is told.

The end-to-end runs against the sim's unknown-outcome faults are in the exchange test files;
these pin the decision rules themselves.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from hftctl.connector.outcomes import resolve_order
from hftctl.connector.routing import OrderRecord, OrderTable
from hftctl.exchanges.errors import OrderNotFound, Unavailable
from hftctl.instrument import Instrument
from hftctl.ipc.schema import OrderUpdate

INST = Instrument("BTCUSDT", 0.1, 0.001)


def _update(status: str = "new", cum: float = 0.0) -> OrderUpdate:
    return OrderUpdate("BTCUSDT", 0, "p-1-1-7", "99", 1, 100.0, 1.0, 1.0 - cum, 0.0, 0.0, cum, status,
                       "limit", "gtc", 0, 0)


def _answers(*answers):
    """A query that gives these answers in turn (an exception is raised), then repeats the last."""
    calls = []

    async def query():
        a = answers[min(len(calls), len(answers) - 1)]
        calls.append(time.monotonic())
        if isinstance(a, Exception):
            raise a
        return a
    return query, calls


async def test_found_after_some_not_found_answers():
    query, calls = _answers(OrderNotFound(-2013, "no"), OrderNotFound(-2013, "no"), _update())
    r = await resolve_order(query, lambda: False, 30.0, "x")
    assert r.update is not None and not r.absent and len(calls) == 3


async def test_absent_only_after_two_not_found_and_the_window():
    query, calls = _answers(OrderNotFound(-2013, "no"))
    t0 = time.monotonic()
    r = await resolve_order(query, lambda: False, 0.5, "x")
    assert r.absent and r.update is None
    assert len(calls) >= 2 and calls[-1] - t0 >= 0.5


async def test_an_exchange_that_cannot_answer_is_never_taken_for_not_found():
    query, calls = _answers(Unavailable("down"))
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(resolve_order(query, lambda: False, 0.2, "x"), 3.0)
    assert len(calls) >= 4           # it kept asking


async def test_the_user_stream_settles_it_first():
    query, calls = _answers(OrderNotFound(-2013, "no"))
    done = {"v": False}
    asyncio.get_running_loop().call_later(0.2, lambda: done.update(v=True))
    r = await resolve_order(query, lambda: done["v"], 30.0, "x")
    assert r.settled and r.update is None and not r.absent


def test_an_order_reported_rejected_that_shows_up_live_is_marked_revived():
    table = OrderTable("p")
    rec = OrderRecord(1, 1, 7, "p-1-1-7", INST, 1, 100.0, 1.0, "limit", "gtc")
    table.add(rec)
    rec.outcome_unknown = True
    table.local_update(rec, "rejected", "outcome unknown", 0, None)
    rec_, out = table.apply(_update("new"))
    assert rec_ is rec and rec.revived and out.status == "new"
    # A plain rejection is final: a late event does not reopen it.
    rec2 = OrderRecord(1, 1, 8, "p-1-1-8", INST, 1, 100.0, 1.0, "limit", "gtc")
    table.add(rec2)
    table.local_update(rec2, "rejected", "-2019 Margin is insufficient.", 0, None)
    assert table.apply(OrderUpdate("BTCUSDT", 0, "p-1-1-8", "98", 1, 100.0, 1.0, 1.0, 0.0, 0.0, 0.0, "new",
                                   "limit", "gtc", 0, 0)) is None
