"""The sim's Bybit disconnection protection (DCP): the account-side dead man's switch.

As documented (order/dcp.mdx, websocket/private/dcp.mdx, account/dcp-info.mdx): an account with
DCP on for a product has a window (10 s unless set with ``POST /v5/order/disconnected-cancel-all``,
3..300 s). Only private connections subscribed to that product's dcp topic count; when every one
of them is gone, timing starts at the first disconnection, and when the window passes without one
coming back, every active order of the product is cancelled with ``cancelType=CancelByDCP``. A
connection comes back when it has subscribed the topic and resumed the heartbeat ``ping``.

Decisions where the docs are silent (docs/protocols.md): a connection that unsubscribes leaves
the set without starting the timer (so a clean stop can switch it off, there being no request to
do so); a new window applies at once (the docs ask clients to wait 10 s before checking); a
non-institutional account's set request is refused with 10005, its query answers an empty list
(documented); trade-websocket connections do not count. Only DERIVATIVES (dcp.future) has orders
to cancel here: the sim serves linear only.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from hftctl.exchanges.bybit.sim_rest import BybitError
from hftctl.exchanges.bybit.venues import DCP_DEFAULT_WINDOW_S, DCP_PRODUCTS, DCP_TOPICS, DCP_WINDOW_S
from hftctl.sim.accounts import Account
from hftctl.sim.countdown import ALL_SYMBOLS
from hftctl.sim.engine import SimEngine
from hftctl.sim.wshub import WsClient

log = logging.getLogger(__name__)

DERIVATIVES_TOPIC = "dcp.future"


class BybitDcp:
    def __init__(self, engine: SimEngine) -> None:
        self.engine = engine
        self._windows: dict[int, dict[str, int]] = {}                   # id(account) -> product -> s
        self._members: dict[int, set[WsClient]] = defaultdict(set)       # subscribed to dcp.future
        self._timing: set[int] = set()                                   # id(account) of running windows

    def windows(self, account: Account) -> dict[str, int]:
        """Products DCP is on for, with their windows: all three for an institutional account
        (its account manager switched it on), none otherwise."""
        if not account.institutional:
            return {}
        return self._windows.setdefault(id(account), dict.fromkeys(DCP_PRODUCTS, DCP_DEFAULT_WINDOW_S))

    # --- REST ------------------------------------------------------------------------------

    def set_window(self, account: Account, p: dict) -> None:
        product = p.get("product", "OPTIONS")
        if product not in DCP_PRODUCTS:
            raise BybitError(10001, "params error: product invalid")
        window = p.get("timeWindow")
        if isinstance(window, bool) or not isinstance(window, int):
            raise BybitError(10001, "params error: timeWindow is required and must be an integer")
        lo, hi = DCP_WINDOW_S
        if not lo <= window <= hi:
            raise BybitError(10001, f"params error: timeWindow must be in [{lo}, {hi}]")
        if not account.institutional:
            raise BybitError(10005, "Permission denied, please check your API key permissions.")
        self.windows(account)[product] = window

    def info(self, account: Account) -> dict:
        return {"dcpInfos": [{"product": product, "dcpStatus": "ON", "timeWindow": str(window)}
                             for product, window in self.windows(account).items()]}

    # --- private connections ---------------------------------------------------------------

    def subscribed(self, client: WsClient, account: Account, topic: str) -> None:
        if topic == DERIVATIVES_TOPIC:
            self._members[id(account)].add(client)

    def unsubscribed(self, client: WsClient, account: Account, topic: str) -> None:
        if topic == DERIVATIVES_TOPIC:
            self._members[id(account)].discard(client)

    def pinged(self, client: WsClient, account: Account) -> None:
        """A subscribed connection's heartbeat: the account is back, the timing stops."""
        if client in self._members.get(id(account), ()) and id(account) in self._timing:
            self._timing.discard(id(account))
            self.engine.countdowns.arm(account, ALL_SYMBOLS, 0)
            log.info("DCP: %s reconnected within its window", account.name)

    def closed(self, client: WsClient, account: Account) -> None:
        members = self._members.get(id(account))
        if members is None or client not in members:
            return
        members.discard(client)
        window = self.windows(account).get(DCP_TOPICS[DERIVATIVES_TOPIC])
        if members or window is None or id(account) in self._timing:
            return
        log.info("DCP: %s lost its last dcp.future connection; cancelling its orders in %d s", account.name, window)
        # the engine's cancel-on-silence timer cancels every open order (cancelType CancelByDCP)
        self._timing.add(id(account))
        self.engine.countdowns.arm(account, ALL_SYMBOLS, window * 1000, reason="dcp")
