"""Binance COIN-M futures in the sim: its public side (REST market data, dstream streams, replay
of COIN-M recordings). Orders are not served (no COIN-M connector), so the accounting is the
engine's default and never used."""

from __future__ import annotations

from hftctl.exchanges.binance.coinm.sim_instruments import DEFAULT_SYMBOLS, SPECS
from hftctl.exchanges.binance.coinm.sim_rest import BinanceCoinmRest
from hftctl.exchanges.binance.coinm.sim_ws import BinanceCoinmStreams
from hftctl.exchanges.binance.common.sim_adapter import BinanceReplay, installer, ready_urls
from hftctl.sim.accounting import LinearAccounting
from hftctl.sim.adapter import SimAdapter

ADAPTER = SimAdapter(
    specs=SPECS,
    default_symbols=tuple(DEFAULT_SYMBOLS),
    default_balances={"BTC": 10.0},
    # COIN-M shares USD-M's IP weight pool since the CM/UM integration (2026-06-30): 2400/min.
    default_rate_limits={"weight_per_min": 2400, "orders_per_min": 1200, "orders_per_10s": 300},
    accounting=LinearAccounting,
    install=installer(BinanceCoinmRest, BinanceCoinmStreams, lambda: {"snapshot_marks": set()}),
    ready_urls=ready_urls,
    replay=BinanceReplay(),
)
