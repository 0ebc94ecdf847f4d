"""Bybit v5 linear (USDT perpetual) instruments the sim lists, as on the testnet's instruments-info."""

from __future__ import annotations

from hftctl.sim.instruments import SymbolSpec

SPECS: dict[str, SymbolSpec] = {
    s.symbol: s for s in (
        SymbolSpec("BTCUSDT", "BTC", "USDT", tick=0.1, price_decimals=2, step=0.001, qty_decimals=3,
                   min_qty=0.001, max_qty=1190, min_price=0.1, max_price=1999999.8,
                   min_notional=5, start_price=60000.0),
        SymbolSpec("ETHUSDT", "ETH", "USDT", tick=0.01, price_decimals=2, step=0.01, qty_decimals=2,
                   min_qty=0.01, max_qty=7240, min_price=0.01, max_price=199999.98,
                   min_notional=5, start_price=2600.0),
    )
}
DEFAULT_SYMBOLS = ["BTCUSDT", "ETHUSDT"]
