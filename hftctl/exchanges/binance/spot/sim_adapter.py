"""Binance spot in the sim: instruments, accounting, REST and websocket routes, replay."""

from __future__ import annotations

from hftctl.exchanges.binance.common.sim_adapter import BinanceReplay, installer, ready_urls
from hftctl.exchanges.binance.spot.sim_instruments import DEFAULT_SYMBOLS, SPECS
from hftctl.exchanges.binance.spot.sim_rest import BinanceSpotRest
from hftctl.exchanges.binance.spot.sim_ws import BinanceSpotStreams
from hftctl.sim.accounting import SpotAccounting
from hftctl.sim.adapter import SimAdapter

ADAPTER = SimAdapter(
    specs=SPECS,
    default_symbols=tuple(DEFAULT_SYMBOLS),
    default_balances={"USDT": 100_000.0, "BTC": 1.0, "ETH": 10.0},
    default_rate_limits={"weight_per_min": 6000, "orders_per_10s": 100, "orders_per_day": 200_000},
    accounting=SpotAccounting,
    install=installer(BinanceSpotRest, BinanceSpotStreams),
    ready_urls=ready_urls,
    replay=BinanceReplay(),
)
