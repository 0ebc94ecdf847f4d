"""Bybit's order-entry websocket (``/v5/trade``): create, amend and cancel without an HTTP request each.

One authenticated connection (the ``auth`` op, signed like the private stream), kept up in the
background. Each request carries a ``reqId`` of this client's own (Bybit echoes it and refuses a
repeated one, 20006) and the ``header`` Bybit requires (``X-BAPI-TIMESTAMP`` on the server's
clock, ``X-BAPI-RECV-WINDOW``); the answer comes back on the same connection, matched by reqId
(websocket/trade/guideline.mdx).

What may be re-sent and what may not is decided per request: a request that could not be
written (socket down, not yet authenticated) or that Bybit refused to take (10019, "service is
restarting, do not accept new request") was never carried out, and the caller sends it over REST
instead (:class:`NotSent`). A request that was written and then lost its answer (the connection
dropped, no answer within ``request_timeout_s``, 10016) may have run: :class:`OutcomeUnknown`,
and the connector finds the order by its orderLinkId; nothing is re-sent. Rate-limit budgets are
the REST client's (``BybitRest.hold`` / ``track``): Bybit counts them per account and op type.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

import aiohttp
import msgspec
import orjson

from hftctl.exchanges.bybit.config import BybitConfig
from hftctl.exchanges.bybit.rest import SERVER, BybitRest, refusal
from hftctl.exchanges.bybit.schemas import TradeReply
from hftctl.exchanges.bybit.signing import bybit_ws_auth_signature
from hftctl.exchanges.bybit.venues import TRADE_OPS
from hftctl.exchanges.errors import OutcomeUnknown, RateLimited
from hftctl.exchanges.reconnecting_ws import ReconnectingWebSocket

log = logging.getLogger(__name__)

_REPLY = msgspec.json.Decoder(TradeReply)
_CLOCK = 10002
_RESTARTING = 10019              # "do not accept new request": this one was not taken
_RATE = {10006, 10403, 10429, 20003}   # account / IP / system / session frequency limits


class NotSent(Exception):
    """The request was not carried out over the websocket: send it over REST."""


class BybitTradeSocket:
    def __init__(self, cfg: BybitConfig, rest: BybitRest, url: Callable[[], Awaitable[str]],
                 on_state: Callable[[str], None]) -> None:
        self.cfg = cfg
        self.rest = rest
        self._on_state = on_state
        self.ws = ReconnectingWebSocket("orders", url, self._open, self._on_message, self._state,
                                        cfg.reconnect_min_s, cfg.reconnect_max_s)
        self.ready = asyncio.Event()           # authenticated: requests may go
        self._first_auth: asyncio.Future | None = None  # (ok, message) of the first auth answer
        self._conn: aiohttp.ClientWebSocketResponse | None = None
        self._pending: dict[str, asyncio.Future] = {}
        self._tag = secrets.token_hex(4)       # reqIds are unique across this client's connections
        self._ids = itertools.count(1)
        self.sent = 0            # requests answered over the websocket
        self.lost = 0            # requests in flight when their connection went
        self._reconnect: asyncio.Task | None = None

    async def run(self) -> None:
        await self.ws.run()

    async def first_answer(self, timeout_s: float) -> tuple[bool, str]:
        """(authenticated, why not) once the first connection's auth is answered."""
        try:
            return await asyncio.wait_for(asyncio.shield(self._auth_answer()), timeout_s)
        except asyncio.TimeoutError:
            return False, f"no answer within {timeout_s:.0f}s"

    def _auth_answer(self) -> asyncio.Future:
        if self._first_auth is None:
            self._first_auth = asyncio.get_running_loop().create_future()
        return self._first_auth

    async def stop(self) -> None:
        await self.ws.stop()

    # --- connection -----------------------------------------------------------------------

    async def _open(self, ws: aiohttp.ClientWebSocketResponse, connects: int) -> None:
        self._conn = ws
        expires = self.rest.now_ms() + 10_000
        await ws.send_json({"reqId": f"{self._tag}-auth-{connects}", "op": "auth", "args": [
            self.cfg.api_key.reveal(), expires, bybit_ws_auth_signature(self.cfg.secret.reveal(), expires)]})

    def _state(self, state: str) -> None:
        if state == "disconnected":
            self.ready.clear()
            self._conn = None
            lost, self._pending = self._pending, {}
            for fut in lost.values():
                if not fut.done():
                    self.lost += 1
                    fut.set_exception(OutcomeUnknown("the order websocket closed with the request in flight"))
        self._on_state(state)

    def _on_message(self, payload: bytes | str, local_ts: int) -> None:
        try:
            m = _REPLY.decode(payload)
        except (msgspec.DecodeError, msgspec.ValidationError):
            log.warning("order websocket: undecodable message skipped: %r", payload[:120])
            return
        if m.op == "pong":
            return
        if m.op == "auth":
            ok = m.retCode == 0
            if ok:
                self.ready.set()
            else:
                log.error("order websocket authentication refused: %s %s; orders go over REST",
                          m.retCode, m.retMsg.replace(self.cfg.api_key.reveal(), "***"))
            if not self._auth_answer().done():
                self._auth_answer().set_result((ok, m.retMsg))
            return
        fut = self._pending.pop(m.reqId, None) if isinstance(m.reqId, str) else None
        if fut is None or fut.done():
            log.debug("order websocket: answer to no waiting request (%s %s)", m.op, m.retCode)
            return
        fut.set_result(m)

    # --- requests -------------------------------------------------------------------------

    async def request(self, op: str, args: dict) -> object:
        """Send one order op and return its ``data``; raises :class:`NotSent`, OutcomeUnknown or
        the refusal (ExchangeRejected and its kinds)."""
        path = TRADE_OPS[op]
        await self.rest.hold(path)
        for attempt in (1, 2):
            ws = self._conn
            if not self.ready.is_set() or ws is None or ws.closed:
                raise NotSent("the order websocket is not connected")
            req_id = f"{self._tag}-{next(self._ids)}"
            fut = asyncio.get_running_loop().create_future()
            self._pending[req_id] = fut
            sent_at = time.monotonic()
            msg = {"reqId": req_id, "header": {"X-BAPI-TIMESTAMP": str(self.rest.now_ms()),
                                               "X-BAPI-RECV-WINDOW": str(self.cfg.recv_window_ms)},
                   "op": op, "args": [args]}
            try:
                await ws.send_str(orjson.dumps(msg).decode())
            except (ConnectionError, RuntimeError) as e:
                # refused by the transport before anything was written
                self._pending.pop(req_id, None)
                raise NotSent(f"the order websocket could not send: {e}") from None
            try:
                reply: TradeReply = await asyncio.wait_for(fut, self.cfg.request_timeout_s)
            except asyncio.TimeoutError:
                self._pending.pop(req_id, None)
                raise OutcomeUnknown(f"{op}: no answer on the order websocket within "
                                     f"{self.cfg.request_timeout_s:g}s") from None
            self.rest.track(path, reply.header)
            code, text = reply.retCode, reply.retMsg.replace(self.cfg.api_key.reveal(), "***")
            log.debug("%s -> retCode %s", op, code)
            if code == 0:
                self.sent += 1
                return reply.data
            if code == _CLOCK and attempt == 1:       # not processed: re-measure and send again
                await self.rest._clock_rejected(sent_at, f"{op}: {code}")
                continue
            if code == _RESTARTING:
                log.warning("order websocket: %s (%s); reconnecting, this request goes over REST", code, text)
                self.ready.clear()
                self._reconnect = asyncio.get_running_loop().create_task(self.ws.reconnect_now())
                raise NotSent(f"{op}: {code} {text}")
            if code in SERVER:
                raise OutcomeUnknown(f"{op}: retCode {code} {text} (order websocket)")
            if code in _RATE:
                self.rest.back_off(path)
                raise RateLimited(code, text or "rate limited")
            raise refusal(code, text)
        raise AssertionError("unreachable")
