"""Binance USD-M futures behind the shared Binance client: /fapi paths, ORDER_TRADE_UPDATE /
ACCOUNT_UPDATE, positions, amend."""

from __future__ import annotations

import time
from typing import Any

from hftctl.configfile import ConfigReader
from hftctl.exchanges.base import Instrument
from hftctl.exchanges.binance.common import config as binance_config
from hftctl.exchanges.binance.common import orders
from hftctl.exchanges.binance.common.client import BinanceClient
from hftctl.exchanges.binance.common.config import BinanceConfig
from hftctl.exchanges.binance.futures import messages as futures_wire
from hftctl.exchanges.binance.futures import schemas
from hftctl.exchanges.binance.futures.venues import PATHS, SNAPSHOT_LIMITS, STREAMS
from hftctl.ipc.schema import Balance, OrderUpdate, Position

__all__ = ["BinanceFuturesClient", "load_config", "create_client"]


def load_config(r: ConfigReader) -> BinanceConfig:
    """Binance's keys with USD-M's request budgets (2400 weight/min, 300 orders/10 s, 1200/min)."""
    return binance_config.load_config(r, weight_limit_1m=2400, order_limit_10s=300, order_limit_1m=1200,
                                      snapshot_limits=SNAPSHOT_LIMITS)


def create_client(cfg: BinanceConfig) -> "BinanceFuturesClient":
    return BinanceFuturesClient(cfg)


class BinanceFuturesClient(BinanceClient):
    name = "binancefutures"
    wire = futures_wire
    paths = PATHS
    streams = STREAMS
    order_body = schemas.OrderBody
    depth_first_offset = 0

    def _user_event(self, ev: Any, local_ts: int) -> None:
        if type(ev) is schemas.OrderTradeUpdate:
            self.sink.order(futures_wire.order_trade_update(ev, local_ts))
        elif type(ev) is schemas.AccountUpdate:
            positions, balances = futures_wire.account_update(ev)
            for p in positions:
                self.sink.position(p)
            for b in balances:
                self.sink.balance(b)

    async def modify(self, instrument: Instrument, client_order_id: str, side: int,
                     px: float, qty: float) -> OrderUpdate:
        # Binance's amend is idempotent for equal parameters, so a retry after a 5xx is safe.
        body = await self.rest.signed("PUT", self.paths["order"],
                                      orders.modify_params(instrument, client_order_id, side, px, qty),
                                      safe=True, is_order=True, into=schemas.OrderBody)
        return futures_wire.order_body(body, time.time_ns())

    async def positions(self) -> list[Position]:
        body = await self.rest.signed("GET", self.paths["position_risk"], {}, safe=True,
                                      into=list[schemas.PositionRisk])
        now = time.time_ns()
        return [futures_wire.position_risk(p, now) for p in body if p.positionSide == "BOTH"]

    async def balances(self) -> list[Balance]:
        body = await self.rest.signed("GET", self.paths["balance"], {}, safe=True,
                                      into=list[schemas.BalanceRow])
        return [futures_wire.balance(b) for b in body]
