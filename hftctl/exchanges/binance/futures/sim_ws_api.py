"""The sim's Binance USD-M WebSocket API (``/ws-fapi/v1``): order entry in the shared Binance
WebSocket API envelopes (``common/sim_ws_api.py``), each method the REST route's own action.

``websocket-api-general-info`` (checked 2026-12-01): a connection lives 24 hours; the server
pings every 3 minutes and wants a pong within 10; "WebSocket handshake attempt costs 5 weight";
rate limits are shared with REST; ``rateLimits`` come with every answer unless
``returnRateLimits=false``. Methods served: ``order.place``, ``order.cancel``, ``order.modify``,
``order.status`` (``trade/websocket-api``); user data is not pushed here (it stays on the
``/private`` listenKey stream), and ``session.logon`` (Ed25519 only) is not served.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from hftctl.exchanges.binance.common.sim_errors import TOO_MANY_REQUESTS, BinanceError, err
from hftctl.exchanges.binance.common.sim_ws_api import BinanceWsApiBase
from hftctl.exchanges.binance.futures.sim_rest import BinanceFuturesRest
from hftctl.exchanges.binance.futures.venues import VENUES
from hftctl.exchanges.venues import TESTNET
from hftctl.sim.wshub import WsHub, WsLimits

WS_API_PATH = urlsplit(VENUES[TESTNET].url("api")).path         # /ws-fapi/v1 on every venue


class BinanceFuturesWsApi(BinanceWsApiBase):
    PATH = WS_API_PATH
    LIMITS = WsLimits(max_lifetime_s=24 * 3600)     # no connection-attempt limit is documented
    PING_INTERVAL_S = 180.0
    CONNECT_WEIGHT = 5
    VERSION_PREFIX = ""          # "v2/account.status" is another method, not a version of one

    def __init__(self, rest: BinanceFuturesRest, hub: WsHub, ping_interval_s: float) -> None:
        super().__init__(rest, hub, ping_interval_s)
        self.order_methods({"order.place": rest.place, "order.cancel": rest.cancel, "order.modify": rest.modify,
                            "order.status": rest.query})
        self.counted = frozenset({"order.place", "order.modify"})

    def weight_exceeded(self, limit: int) -> BinanceError:
        return err(TOO_MANY_REQUESTS, limit=limit)
