"""The sim's Binance spot WebSocket API (``/ws-api/v3``): the shared Binance WebSocket API
(``common/sim_ws_api.py``: envelopes, signing, weights, the REST routes' order actions) plus
spot's sessions, user data subscriptions and their events.

web-socket-api.md (checked 2026-12-01): user data is subscribed with
``userDataStream.subscribe.signature`` (any key type) and arrives as ``{"subscriptionId",
"event"}``; ``userDataStream.unsubscribe`` ends it with ``eventStreamTerminated``;
``serverShutdown`` (no subscriptionId) warns of a disconnection. ``session.logon`` and
``userDataStream.subscribe`` need Ed25519 keys: the sim's accounts have HMAC keys, so they are
refused (docs/protocols.md says with what).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

import msgspec

from hftctl.exchanges.binance.common.sim_errors import BAD_API_KEY, BAD_SIGNATURE, BinanceError, err, illegal, missing
from hftctl.exchanges.binance.common.sim_ws_api import BinanceWsApiBase
from hftctl.exchanges.binance.spot import sim_messages as wire
from hftctl.exchanges.binance.spot.sim_rest import RETIRED, BinanceSpotRest
from hftctl.exchanges.binance.spot.venues import WS_API_PATH
from hftctl.sim.accounts import Account
from hftctl.sim.events import AccountEvent, OrderEvent
from hftctl.sim.wshub import WsClient, WsHub, WsLimits

SUBSCRIPTION_ACTIVE = (400, -2035, "User Data Stream subscription already active.")
MAX_SUBSCRIPTION_IDS = (400, -2042, "Maximum subscription ID reached for this connection.")
WEIGHT_EXCEEDED = (429, -1003, "Too much request weight used; current limit is {limit} request weight per "
                   "1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.")
MAX_SUBSCRIPTIONS = 65_535                 # per connection, over its lifetime
_RETIRED_METHODS = ("userDataStream.start", "userDataStream.ping", "userDataStream.stop")


class BinanceSpotWsApi(BinanceWsApiBase):
    """Connections at /ws-api/v3 and their user data subscriptions."""

    PATH = WS_API_PATH
    # web-socket-api.md § General API Information / § Connection limits: a connection lives 24 h,
    # 300 connection attempts per 5 minutes per IP. No per-connection message rate is documented.
    LIMITS = WsLimits(max_lifetime_s=24 * 3600, max_connects=300, connect_window_s=300)
    PING_INTERVAL_S = 20.0                 # the server's ping period; a pong is due within a minute
    CONNECT_WEIGHT = 2                     # § IP limits: "Connecting to WebSocket API costs 2 weight."
    VERSION_PREFIX = "v3/"

    def __init__(self, rest: BinanceSpotRest, hub: WsHub, ping_interval_s: float) -> None:
        super().__init__(rest, hub, ping_interval_s)
        self.subs: dict[Account, dict[WsClient, int]] = defaultdict(dict)   # account -> {conn: id}
        self.engine.user_listeners.append(self.on_user)
        self.methods.update({
            "ping": (lambda c, p, a: {}, 1, False),
            "time": (lambda c, p, a: {"serverTime": self.engine.now_ms()}, 1, False),
            "exchangeInfo": (lambda c, p, a: wire.exchange_info(self.engine, rest.config.rate_limits,
                                                                self.engine.now_ms()), 20, False),
            "session.logon": (self.session_logon, 2, False),
            "session.status": (self.session_status, 2, False),
            "session.logout": (self.session_status, 2, False),
            "session.subscriptions": (self.session_subscriptions, 2, False),
            "userDataStream.subscribe": (self.subscribe_logged_on, 2, False),
            "userDataStream.subscribe.signature": (self.subscribe, 2, True),
            "userDataStream.unsubscribe": (self.unsubscribe, 2, False),
            "account.status": (lambda c, p, a: wire.account(a, self.engine.now_ms()), 20, True),
        })
        self.order_methods({"order.place": rest.place, "order.cancel": rest.cancel,
                            "order.cancelReplace": rest.cancel_replace, "order.amend.keepPriority": rest.amend,
                            "order.status": rest.query, "openOrders.status": rest.open_orders,
                            "openOrders.cancelAll": rest.cancel_all})
        self.counted = frozenset({"order.place", "order.cancelReplace"})

    def opened(self, client: WsClient) -> None:
        client.state.update(next_sub=0, subs={})

    def _on_close(self, client: WsClient) -> None:
        super()._on_close(client)
        for account in list(client.state.get("subs", {})):
            self.subs[account].pop(client, None)

    def check_method(self, method: str) -> None:
        if method in _RETIRED_METHODS:
            raise err(RETIRED)

    def weight_exceeded(self, limit: int) -> BinanceError:
        """429 -1003 with the ban's end (web-socket-api.md § IP limits)."""
        now_ms = self.engine.now_ms()
        return err(WEIGHT_EXCEEDED, {"serverTime": now_ms, "retryAfter": (now_ms // 60_000 + 1) * 60_000},
                   limit=limit)

    # ---- sessions and subscriptions --------------------------------------------------------------
    def session_status(self, client: WsClient, params: dict, account: Account | None) -> dict:
        """session.status / session.logout: never authenticated (no Ed25519 keys in the sim)."""
        return {"apiKey": None, "authorizedSince": None, "connectedSince": client.state["since"],
                "returnRateLimits": client.state["rate_limits"], "serverTime": self.engine.now_ms(),
                "userDataStream": bool(client.state["subs"])}

    def session_logon(self, client: WsClient, params: dict, account: Account | None) -> dict:
        """Only Ed25519 keys may log on; an HMAC key's signature does not verify as one."""
        for name in ("apiKey", "signature", "timestamp"):
            if params.get(name) in (None, ""):
                raise missing(name)
        if self.engine.account_for_key(str(params["apiKey"])) is None:
            raise err(BAD_API_KEY)
        raise err(BAD_SIGNATURE)

    def subscribe_logged_on(self, client: WsClient, params: dict, account: Account | None) -> dict:
        """userDataStream.subscribe needs a logged-on (Ed25519) session, which this one is not."""
        raise err(BAD_API_KEY)

    def session_subscriptions(self, client: WsClient, params: dict, account: Account | None) -> list:
        return [{"subscriptionId": sid} for sid in sorted(client.state["subs"].values())]

    def subscribe(self, client: WsClient, params: dict, account: Account) -> dict:
        subs = client.state["subs"]
        if account in subs:
            raise err(SUBSCRIPTION_ACTIVE)         # one subscription per account per connection
        if client.state["next_sub"] >= MAX_SUBSCRIPTIONS:
            raise err(MAX_SUBSCRIPTION_IDS)
        sid = client.state["next_sub"]
        client.state["next_sub"] = sid + 1
        subs[account] = sid
        self.subs[account][client] = sid
        return {"subscriptionId": sid}

    def unsubscribe(self, client: WsClient, params: dict, account: Account | None) -> dict:
        """Without ``subscriptionId`` every subscription of the connection ends; with one, that one
        if it exists. Each ended one gets ``eventStreamTerminated`` (before this answer)."""
        sid = params.get("subscriptionId")
        if sid is not None and (isinstance(sid, bool) or not isinstance(sid, int)):
            raise illegal("subscriptionId")
        for acct, s in list(client.state["subs"].items()):
            if sid is None or s == sid:
                self._terminate(client, acct)
        return {}

    def _terminate(self, client: WsClient, account: Account) -> None:
        sid = client.state["subs"].pop(account)
        self.subs[account].pop(client, None)
        client.send(_wrap(sid, msgspec.json.encode(wire.event_stream_terminated(self.engine.now_ms()))))

    def terminate(self, api_key: str | None) -> list[str]:
        """End every subscription (or those of the account with ``api_key``), as an unsubscribe
        would: the fault behind ``expire_user_stream``. Returns the accounts' names."""
        names = []
        for account, conns in list(self.subs.items()):
            if conns and (api_key is None or account.api_key == api_key):
                for client in list(conns):
                    self._terminate(client, account)
                names.append(account.name)
        return names

    def active(self, account: Account) -> int:
        return len(self.subs.get(account, ()))

    def shutdown_notice(self, grace_s: float) -> int:
        """``serverShutdown`` to every connection, which is then cut after ``grace_s`` (a client
        that did not move to a new connection by then loses its stream)."""
        clients = list(self.clients)
        raw = b'{"event":' + msgspec.json.encode(wire.server_shutdown(self.engine.now_ms())) + b"}"
        for c in clients:
            c.send(raw)
        loop = asyncio.get_running_loop()
        for c in clients:
            loop.call_later(grace_s, c.drop)
        return len(clients)

    # ---- events -------------------------------------------------------------------------------------
    def on_user(self, ev) -> None:
        if type(ev) is OrderEvent:
            account = ev.order.account
            conns = self.subs.get(account)
            if conns:
                self._send(conns, msgspec.json.encode(wire.execution_report(ev, self.engine.specs[ev.order.symbol])))
        elif type(ev) is AccountEvent:
            conns = self.subs.get(ev.account)
            if conns:
                self._send(conns, msgspec.json.encode(wire.outbound_account_position(ev)))

    @staticmethod
    def _send(conns: dict[WsClient, int], raw: bytes) -> None:
        for client, sid in conns.items():
            client.send(_wrap(sid, raw))


def _wrap(sid: int, raw_event: bytes) -> bytes:
    return b'{"subscriptionId":%d,"event":%s}' % (sid, raw_event)
