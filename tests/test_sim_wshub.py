"""The sim's websocket send path on real sockets: a request's reply leaves before the events its
action queued on the client's other connections (as a REST response does), frames on one
connection never interleave or reorder when the reply path and the sender task both send, and a
delay fault still holds replies back."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiohttp import web

from hftctl.sim.faults import Faults
from hftctl.sim.wshub import WsClient, WsHub

pytestmark = pytest.mark.asyncio


class _Recorded:
    """A hub whose clients note, in one list, each frame as it is handed to the socket."""

    def __init__(self, faults: Faults) -> None:
        self.hub = WsHub(faults)
        self.sent: list[bytes] = []
        self.user: WsClient | None = None
        self.user_ready = asyncio.Event()

    def _spy(self, client: WsClient) -> None:
        real = client.ws.send_frame

        async def send_frame(data: bytes, opcode, compress=None):
            self.sent.append(data)
            await real(data, opcode, compress)

        client.ws.send_frame = send_frame          # the real send, noted first

    async def on_user_open(self, client: WsClient) -> bool:
        self._spy(client)
        self.user = client
        self.user_ready.set()
        return True

    async def on_api_open(self, client: WsClient) -> bool:
        self._spy(client)
        return True

    def on_api_text(self, client: WsClient, text: str) -> None:
        """An order action: its user-stream event is queued first, then the reply, as the sim's
        exchange adapters do; ``burst:N`` queues N numbered frames on the same connection."""
        if text.startswith("burst:"):
            for i in range(int(text[6:])):
                client.send(f"{text}#{i}".encode())
            return
        assert self.user is not None
        self.user.send(f"event:{text}".encode())
        client.send(f"reply:{text}".encode())


async def _serve(rec: _Recorded):
    async def user(request):
        return await rec.hub.serve(request, 30.0, lambda c, t: None, lambda c: None, rec.on_user_open)

    async def api(request):
        return await rec.hub.serve(request, 30.0, rec.on_api_text, lambda c: None, rec.on_api_open)

    app = web.Application()
    app.router.add_get("/user", user)
    app.router.add_get("/api", api)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"ws://127.0.0.1:{port}"


async def _with_sockets(faults: Faults, body) -> _Recorded:
    rec = _Recorded(faults)
    runner, url = await _serve(rec)
    try:
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(f"{url}/user") as user_ws, session.ws_connect(f"{url}/api") as api_ws:
            await asyncio.wait_for(rec.user_ready.wait(), 10)
            await asyncio.wait_for(body(rec, user_ws, api_ws), 30)
    finally:
        await rec.hub.close_all()
        await runner.cleanup()
    return rec


async def test_a_reply_leaves_before_the_event_its_action_queued_elsewhere():
    async def body(rec, user_ws, api_ws):
        for i in range(20):
            await api_ws.send_str(f"order{i}")
            assert (await api_ws.receive_str()) == f"reply:order{i}"
            assert (await user_ws.receive_str()) == f"event:order{i}"

    rec = await _with_sockets(Faults(), body)
    expected = [f"{kind}:order{i}".encode() for i in range(20) for kind in ("reply", "event")]
    assert rec.sent == expected


async def test_frames_on_one_connection_keep_their_order_whoever_sends_them():
    async def body(rec, user_ws, api_ws):
        sizes = [1, 3, 50, 2, 400, 1, 7]
        for n in sizes:                       # sent back to back: flush and the sender task overlap
            await api_ws.send_str(f"burst:{n}")
        got = [await api_ws.receive_str() for _ in range(sum(sizes))]
        assert got == [f"burst:{n}#{i}" for n in sizes for i in range(n)]

    await _with_sockets(Faults(), body)


async def test_a_delay_fault_still_holds_replies_back():
    async def body(rec, user_ws, api_ws):
        t0 = time.monotonic()
        await api_ws.send_str("held")
        assert (await api_ws.receive_str()) == "reply:held"
        # the fault's semantics, a lower bound: the reply was not sent before it was due
        assert time.monotonic() - t0 >= 0.25

    await _with_sockets(Faults(ws_delay_ms=300), body)
