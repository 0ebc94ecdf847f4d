"""Binance spot connector settings: Binance's keys with spot's request budgets and venues (the
WebSocket API, which carries spot's user data since the listenKey retirement, is derived from
``stream_url`` unless ``ws_api_url`` names it: ``common/config.py``)."""

from __future__ import annotations

from hftctl.configfile import ConfigReader
from hftctl.exchanges.binance.common import config as binance_config
from hftctl.exchanges.binance.common.config import BinanceConfig
from hftctl.exchanges.binance.spot.venues import SNAPSHOT_LIMITS, VENUES


def load_config(r: ConfigReader) -> BinanceConfig:
    """Spot's request budgets: 6000 weight/min, 100 orders/10 s (spot has no per-minute order
    limit; its daily one is far above what a session sends)."""
    return binance_config.load_config(r, weight_limit_1m=6000, order_limit_10s=100, order_limit_1m=1_000_000,
                                      snapshot_limits=SNAPSHOT_LIMITS, venues=VENUES)
