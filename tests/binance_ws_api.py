"""A plain client of Binance's WebSocket APIs (spot /ws-api/v3, USD-M /ws-fapi/v1) for the sim
tests, written from the docs (not from hftctl's client): requests signed as both markets' docs
say (the sorted params), responses matched by id, user data events (spot) kept aside.

(No tests here.)"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import aiohttp
import orjson

from hftctl.exchanges.binance.common.signing import ws_api_signature
from tests.test_sim_support import KEY, SECRET


_AUTO = object()


def signed_params(params: dict | None = None, key: str = KEY, secret: str = SECRET, ts_ms: int | None = None) -> dict:
    p = {**(params or {}), "apiKey": key, "timestamp": ts_ms if ts_ms is not None else int(time.time() * 1000)}
    p["signature"] = ws_api_signature(secret, p)
    return p


class WsApi:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict] = []          # {"subscriptionId"?, "event"} frames, in arrival order
        self.replies: dict[Any, dict] = {}

    async def _read_one(self, timeout: float) -> None:
        msg = await self.ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"websocket {msg.type.name}")
        frame = orjson.loads(msg.data)
        if "event" in frame:
            self.events.append(frame)
        else:
            self.replies[frame["id"]] = frame

    async def send(self, method: str, params: dict | None = None, rid: Any = _AUTO) -> Any:
        """Send one request; ``rid`` defaults to the next integer (None sends a null id)."""
        rid = next(self.ids) if rid is _AUTO else rid
        req: dict = {"id": rid, "method": method}
        if params is not None:
            req["params"] = params
        await self.ws.send_str(orjson.dumps(req).decode())
        return rid

    async def reply(self, rid: Any, timeout: float = 5.0) -> dict:
        deadline = time.monotonic() + timeout
        while rid not in self.replies:
            await self._read_one(max(0.01, deadline - time.monotonic()))
        return self.replies.pop(rid)

    async def call(self, method: str, params: dict | None = None, *, signed: bool = False, **sign) -> dict:
        if signed:
            params = signed_params(params, **sign)
        return await self.reply(await self.send(method, params))

    async def event(self, pred, timeout: float = 5.0) -> dict:
        """The first event frame (kept or arriving) that ``pred`` accepts; it is consumed."""
        deadline = time.monotonic() + timeout
        while True:
            for i, frame in enumerate(self.events):
                if pred(frame):
                    return self.events.pop(i)
            await self._read_one(max(0.01, deadline - time.monotonic()))

    async def quiet(self, seconds: float) -> None:
        """Read whatever arrives for ``seconds`` (events are kept)."""
        try:
            await asyncio.wait_for(self._drain(), seconds)
        except asyncio.TimeoutError:
            pass

    async def _drain(self) -> None:
        while True:
            await self._read_one(60)


def order_event(kind: str, **fields):
    """A predicate for ``{"event": {"e": kind, ...fields}}``."""
    return lambda f: f["event"].get("e") == kind and all(f["event"].get(k) == v for k, v in fields.items())
