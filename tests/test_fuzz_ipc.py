"""Fuzz: the IPC schema and a real connector against random and hostile records.

In process: ``schema.decode`` of any bytes returns a message or raises SchemaError, never
anything else; every valid message survives encode/decode; ``schema.request_ref`` never raises.
Through a real connector (trading on the real sim): this test process attaches as a bot and
writes random request records into the real request ring; every record carrying a req_id is
answered exactly once, and the connector keeps serving and logs no traceback.
"""

from __future__ import annotations

import dataclasses
import math
import time
import typing

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hftctl.ipc import schema as s
from hftctl.ipc.endpoint import BotEndpoint
from hftctl.sim.process import start_sim
from tests.connector_procs import connector, sim_state, write_config
from tests.fuzz import NASTY_FLOATS, NASTY_TEXT, examples

TAGS = sorted(s.message_types())
REQUEST_TAGS = [c.TAG for c in s.REQUESTS]


def _field_value(name: str, hint) -> st.SearchStrategy:
    """A valid value for a schema field (the nasty ones are in ``_hostile``)."""
    if name == "side":
        return st.sampled_from([s.BUY, s.SELL])
    if name == "status":
        return st.sampled_from(s.ORDER_STATUSES)
    if name == "order_type":
        return st.sampled_from(s.ORDER_TYPES)
    if name == "time_in_force":
        return st.sampled_from(s.TIME_IN_FORCES)
    args = typing.get_args(hint)
    if args and type(None) in args:
        inner = [a for a in args if a is not type(None)][0]
        return st.one_of(st.none(), _field_value(name, inner))
    if hint is int:
        return st.integers(-(2 ** 63), 2 ** 63 - 1)
    if hint is float:
        return st.floats(allow_nan=False)
    if hint is str:
        return st.text(max_size=20)
    if hint is bytes:
        return st.binary(max_size=40)
    if hint == s.Levels:
        return st.lists(st.tuples(st.floats(allow_nan=False), st.floats(allow_nan=False)), max_size=5)
    if hint == dict[str, str]:
        return st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3)
    raise AssertionError(f"no strategy for {name}: {hint}")


def message(cls) -> st.SearchStrategy:
    hints = typing.get_type_hints(cls)
    return st.builds(cls, **{f.name: _field_value(f.name, hints[f.name]) for f in dataclasses.fields(cls)})


any_message = st.one_of(*(message(c) for c in s.message_types().values()))
# What msgpack can carry: ints from -2^63 to 2^64-1, floats (nan and inf too), str, bytes...
packable = st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 63), 2 ** 64 - 1), st.floats(),
                     NASTY_FLOATS, NASTY_TEXT, st.text(max_size=20), st.binary(max_size=16))
msgpack_values = st.recursive(
    packable,
    lambda inner: st.one_of(st.lists(inner, max_size=6), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=15)


def _hostile(bot_id: int, req_id: int) -> st.SearchStrategy[list]:
    """A request record: right tag, the sender's bot id and a req_id, then fields that are
    right, nasty, of the wrong type, missing or too many."""
    field = st.one_of(packable, st.sampled_from(["BTCUSDT", "limit", "gtc", 1, -1, 0.1, 1000.0, 0.001]))
    return st.builds(lambda tag, fields: [tag, bot_id, req_id, *fields],
                     st.sampled_from(REQUEST_TAGS), st.lists(field, max_size=9))


@examples(300)
@given(st.one_of(st.binary(max_size=80), msgpack_values.map(lambda v: msgpack.packb(v, use_bin_type=True)),
                 st.builds(lambda tag, rest: msgpack.packb([tag, *rest], use_bin_type=True),
                           st.sampled_from(TAGS + [0, 13, 999, -1]), st.lists(msgpack_values, max_size=20))))
def test_decode_returns_a_message_or_raises_schema_error(data):
    try:
        msg = s.decode(data)
    except s.SchemaError:
        pass
    else:
        assert isinstance(msg, s.Message)
        assert s.decode(s.encode(msg)) == msg or _has_nan(msg)
    kind, req_id = s.request_ref(data)
    assert isinstance(kind, str) and (req_id is None or type(req_id) is int)


def _has_nan(msg) -> bool:
    return any(isinstance(v, float) and math.isnan(v) for v in dataclasses.astuple(msg))


@examples(200)
@given(any_message)
def test_every_valid_message_round_trips(msg):
    assert s.decode(s.encode(msg)) == msg


@pytest.fixture(scope="module")
def live_connector(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz-connector")
    with start_sim() as sim:
        cfg = write_config(tmp / "c.toml", sim, prefix="fz")
        with connector("ctfuzz", cfg, tmp) as conn:
            bot = BotEndpoint.attach("ctfuzz", "fuzzbot", timeout=10)
            bot.send(s.RegisterInstrument(bot.bot_id, "BTCUSDT", 0.1, 0.001))
            try:
                yield sim, conn, bot
            finally:
                bot.close()


class Answers:
    def __init__(self, bot: BotEndpoint) -> None:
        self.bot = bot
        self.got: dict[int, int] = {}

    def pump(self, until: float) -> None:
        while time.monotonic() < until:
            m = self.bot.recv(0.02)
            if isinstance(m, (s.OrderUpdate, s.Error)) and m.req_id is not None:
                self.got[m.req_id] = self.got.get(m.req_id, 0) + 1


_next_req = iter(range(1, 1 << 62))


@examples(15)
@given(st.data())
def test_connector_answers_every_random_request_exactly_once(live_connector, data):
    sim, conn, bot = live_connector
    answers = Answers(bot)
    sent = []
    for _ in range(data.draw(st.integers(1, 12))):
        req = next(_next_req)
        record = data.draw(_hostile(bot.bot_id, req))
        bot.requests.send(msgpack.packb(record, use_bin_type=True))
        if record[0] in (s.SubmitOrder.TAG, s.CancelOrder.TAG, s.ModifyOrder.TAG):
            sent.append(req)
    # Orders the connector accepted are cancelled by the next example's CancelAll or the stop.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(r not in answers.got for r in sent):
        answers.pump(time.monotonic() + 0.1)
    answers.pump(time.monotonic() + 0.3)       # a duplicate would arrive about now
    missing = [r for r in sent if r not in answers.got]
    twice = {r: n for r, n in answers.got.items() if r in sent and n != 1}
    assert not missing and not twice, (missing, twice)
    assert conn.p.poll() is None, "connector died"
    bot.send(s.CancelAll(bot.bot_id, next(_next_req)))


def test_connector_survived_the_fuzz(live_connector):
    """Runs after the fuzz in this module: the connector still trades, logged no traceback."""
    sim, conn, bot = live_connector
    answers = Answers(bot)
    req = next(_next_req)
    bot.send(s.SubmitOrder(bot.bot_id, req, "BTCUSDT", 77, s.BUY, 1000.0, 0.1, "limit", "gtc"))
    answers.pump(time.monotonic() + 5)
    assert answers.got.get(req) == 1
    assert "Traceback" not in conn.text() and "connector task failed" not in conn.text()
    assert isinstance(sim_state(sim), dict)
