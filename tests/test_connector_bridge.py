"""The connector's ring bridge at shutdown: requests still in flight when it closes must not raise.

What SIGTERM of a connector with busy bots used to show (issue 17): the request thread had
already handed requests to the event loop when ``close()`` removed the channels; asyncio then
ran those callbacks, whose answers were published into the released ring ("operation forbidden
on released memoryview object").
"""

from __future__ import annotations

import asyncio
import time

from hftctl.connector.bridge import RingBridge
from hftctl.ipc import BotEndpoint
from hftctl.ipc import ring as R
from hftctl.ipc import schema as s
from tests.ipc_helpers import chan  # noqa: F401


def test_requests_queued_on_the_loop_when_the_bridge_closes_raise_nothing(chan):
    loop = asyncio.new_event_loop()
    errors: list[dict] = []
    loop.set_exception_handler(lambda _loop, ctx: errors.append(ctx))
    bridge = RingBridge(chan)
    bot = BotEndpoint.attach(chan, "shutdown-test", timeout=5)

    def answer(msg: s.Message) -> None:
        # what Connector.on_request does while stopping: refuse, to the requesting bot
        bridge.publish(s.Error(-1, "connector is shutting down", getattr(msg, "req_id", None)), msg.bot_id)

    try:
        bridge.start(loop, answer, lambda *refusal: None)
        last = 0
        for req_id in range(1, 51):
            last = bot.requests.send(s.encode(s.CancelAll(bot.bot_id, req_id)))
        # The reader thread takes them off the ring and queues one callback each on the loop,
        # which is not running: exactly the state the loop thread is in when it closes the bridge.
        deadline = time.monotonic() + 30
        while bridge.endpoint.requests._h[R.H_READ_SEQ] < last:
            assert time.monotonic() < deadline, "the bridge's reader thread never took the requests"
            time.sleep(0.01)
        bridge.close()
        loop.run_until_complete(asyncio.sleep(0.05))   # what asyncio.run does after main returns
    finally:
        bot.close()
        loop.close()
    assert [c.get("exception") or c.get("message") for c in errors] == []
