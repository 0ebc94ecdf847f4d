"""Binance spot behind :class:`hftctl.exchanges.base.ExchangeClient`, on the shared Binance base.

What differs from USD-M futures: /api/v3 paths, the depth bridge rule (``U <= lastUpdateId+1``),
``executionReport``/``outboundAccountPosition`` on the user stream, post-only as
``LIMIT_MAKER``, no positions, and no amend (ModifyOrder is refused with a clear error).
"""

from __future__ import annotations

from typing import Any

from hftctl.configfile import ConfigReader
from hftctl.exchanges.base import Instrument, OrderRequest
from hftctl.exchanges.binance.common import config as binance_config
from hftctl.exchanges.binance.common import orders
from hftctl.exchanges.binance.common.client import BinanceClient
from hftctl.exchanges.binance.common.config import BinanceConfig
from hftctl.exchanges.binance.spot import messages as spot_wire
from hftctl.exchanges.binance.spot import schemas
from hftctl.exchanges.binance.spot.venues import PATHS, SNAPSHOT_LIMITS, STREAMS
from hftctl.exchanges.errors import NotSupported
from hftctl.ipc.schema import Balance, OrderUpdate, Position

__all__ = ["BinanceSpotClient", "load_config", "create_client"]


def load_config(r: ConfigReader) -> BinanceConfig:
    """Binance's keys with spot's request budgets: 6000 weight/min, 100 orders/10 s (spot has
    no per-minute order limit; its daily one is far above what a session sends)."""
    return binance_config.load_config(r, weight_limit_1m=6000, order_limit_10s=100,
                                      order_limit_1m=1_000_000, snapshot_limits=SNAPSHOT_LIMITS)


def create_client(cfg: BinanceConfig) -> "BinanceSpotClient":
    return BinanceSpotClient(cfg)


class BinanceSpotClient(BinanceClient):
    name = "binancespot"
    wire = spot_wire
    paths = PATHS
    streams = STREAMS
    order_body = schemas.OrderBody
    depth_first_offset = 1
    listen_key_param = True

    def new_order_params(self, req: OrderRequest) -> dict[str, str]:
        p = orders.new_order_params(req)
        if req.order_type == "limit" and req.time_in_force == "gtx":
            p["type"] = "LIMIT_MAKER"        # spot's post-only; it takes no timeInForce
            del p["timeInForce"]
        return p

    def _user_event(self, ev: Any, local_ts: int) -> None:
        if type(ev) is schemas.ExecutionReport:
            self.sink.order(spot_wire.execution_report(ev, local_ts))
        elif type(ev) is schemas.OutboundAccountPosition:
            for b in spot_wire.account_position(ev):
                self.sink.balance(b)

    async def modify(self, instrument: Instrument, client_order_id: str, side: int,
                     px: float, qty: float) -> OrderUpdate:
        raise NotSupported("binancespot has no order amend; cancel and submit instead")

    async def positions(self) -> list[Position]:
        return []     # spot has balances only

    async def balances(self) -> list[Balance]:
        body = await self.rest.signed("GET", self.paths["account"], {}, safe=True, into=schemas.Account)
        return spot_wire.account_balances(body)
