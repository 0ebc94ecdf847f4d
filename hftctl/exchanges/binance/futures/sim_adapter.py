"""Binance USD-M futures in the sim: instruments, accounting, REST and websocket routes, replay."""

from __future__ import annotations

from hftctl.exchanges.binance.common.sim_adapter import BinanceReplay, installer, ready_urls
from hftctl.exchanges.binance.futures.sim_instruments import DEFAULT_SYMBOLS, SPECS
from hftctl.exchanges.binance.futures.sim_rest import BinanceFuturesRest
from hftctl.exchanges.binance.futures.sim_ws import BinanceFuturesStreams
from hftctl.sim.accounting import LinearAccounting
from hftctl.sim.adapter import SimAdapter

ADAPTER = SimAdapter(
    specs=SPECS,
    default_symbols=tuple(DEFAULT_SYMBOLS),
    default_balances={"USDT": 100_000.0},
    # USD-M: 2400 weight/min per IP, 1200 orders/min and 300 orders/10 s per account.
    default_rate_limits={"weight_per_min": 2400, "orders_per_min": 1200, "orders_per_10s": 300},
    accounting=LinearAccounting,
    # The REST side marks served snapshots, the streams widen the next diff to cover them.
    install=installer(BinanceFuturesRest, BinanceFuturesStreams, lambda: {"snapshot_marks": set()}),
    ready_urls=ready_urls,
    replay=BinanceReplay(),
)
