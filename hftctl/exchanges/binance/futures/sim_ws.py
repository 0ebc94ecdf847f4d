"""The sim's Binance USD-M futures websockets: the routed paths (/public, /market, /private),
depth@0ms/100ms/250ms/500ms with pu, partial books in the diff format, user data
(ORDER_TRADE_UPDATE, ACCOUNT_UPDATE).

Each stream is delivered only on its own route (``venues.stream_route``); asked for elsewhere
it is accepted and silent, which is what the Change Notice documents for unrouted connections
(it says nothing of a stream on the other routed path: the sim does the same there). The
unrouted /ws and /stream of before 2026-04-23 are served only with ``--legacy-ws-paths`` (the
docs do not say whether the testnet still has them) and then, as the docs say of mainnet,
deliver public streams only.
"""

from __future__ import annotations

from hftctl.exchanges.binance.common.sim_ws import BinanceStreamsBase, _DepthAggregator
from hftctl.exchanges.binance.futures import schemas as w
from hftctl.exchanges.binance.futures import sim_messages as wire
from hftctl.exchanges.binance.futures.venues import ROUTES, stream_route
from hftctl.sim.events import AccountEvent, DepthUpdate, Liquidation, MarkPrice, OrderEvent
from hftctl.sim.wshub import WsLimits

_LEGACY = "unrouted"


class BinanceFuturesStreams(BinanceStreamsBase):
    SPEEDS_MS = (0, 100, 250, 500)
    DEFAULT_MS = 250
    WIRE = wire
    # "Websocket Market Streams": 10 incoming messages per second (the sim counts pings and
    # pongs too, as spot documents: the docs are silent there), a connection lives 24 hours.
    # No connection-attempt limit is documented for these servers.
    LIMITS = WsLimits(max_incoming_per_s=10, max_lifetime_s=24 * 3600)

    # "Mark Price Stream": every 3000 ms, or 1000 ms with @1s; "Liquidation Order Streams": the
    # latest liquidation of each symbol within 1000 ms, nothing when there was none.
    MARK_PRICE_S = {"markPrice": 3.0, "markPrice@1s": 1.0}
    LIQUIDATION_S = 1.0

    def __init__(self, *args, snapshot_marks: set[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.snapshot_marks = snapshot_marks
        self.liquidations: dict[str, Liquidation] = {}     # symbol -> latest not yet pushed
        self.next_push: dict[str, float] = {}              # stream -> when it is pushed next

    def on_market(self, ev) -> None:
        if type(ev) is Liquidation:
            self.liquidations[ev.symbol] = ev
        elif type(ev) is not MarkPrice:          # the latest is the engine's marks: pushed on cadence
            super().on_market(ev)

    def tick(self, now: float) -> None:
        for name, clients in self.subs.items():
            symbol, _, kind = name.partition("@")
            period = self.MARK_PRICE_S.get(kind) or (self.LIQUIDATION_S if kind == "forceOrder" else None)
            if period is None or not clients or now < self.next_push.get(name, 0.0):
                continue
            self.next_push[name] = now + period
            symbol = symbol.upper()
            if kind == "forceOrder":
                ev = self.liquidations.pop(symbol, None)
                if ev is not None and self.engine.now_ms() - ev.event_ms <= period * 1000:   # this window's
                    self._send(name, clients, self.WIRE.force_order(ev, self.engine.now_ms()))
            elif symbol in self.engine.marks:
                self._send(name, clients, self.WIRE.mark_price(self.engine.marks[symbol], self.engine.now_ms()))

    def path_routes(self) -> dict[str, str | None]:
        routes: dict[str, str | None] = {f"/{r}": r for r in ROUTES}
        if self.legacy_paths:
            routes[""] = _LEGACY
        return routes

    def serves(self, route: str | None, name: str) -> bool:
        own = stream_route(name)
        return own == route or (route == _LEGACY and own == "public")

    def needs_listen_key(self, route: str | None) -> bool:
        return route == "private"

    def first_id(self, ev: DepthUpdate) -> int:
        """USD-M's first-event rule is U <= lastUpdateId <= u. The sim's snapshot id is the last
        diff's u, so after a REST snapshot the next diff's range is widened to start there (U =
        pu): even a client that subscribed after the snapshot then meets the rule."""
        if ev.symbol in self.snapshot_marks:
            self.snapshot_marks.discard(ev.symbol)
            return ev.prev_id
        return ev.first_id

    def encode_depth(self, ev: DepthUpdate, first_id: int) -> w.DepthUpdate:
        return wire.depth_update(ev, first_id)

    def encode_merged_depth(self, agg: _DepthAggregator, t: int, pu: int, bids: list, asks: list) -> w.DepthUpdate:
        return w.DepthUpdate(E=t, T=t, s=agg.symbol, U=agg.first, u=agg.last, pu=pu, b=bids, a=asks)

    encode_partial_depth = encode_merged_depth

    def encode_order(self, ev: OrderEvent) -> w.OrderTradeUpdate:
        return wire.order_trade_update(ev, self.engine.specs[ev.order.symbol])

    def encode_account(self, ev: AccountEvent) -> w.AccountUpdate:
        return wire.account_update(self.engine, ev)
