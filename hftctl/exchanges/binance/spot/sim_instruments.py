"""Binance spot instruments the sim lists (filters as on the spot testnet's exchangeInfo)."""

from __future__ import annotations

from hftctl.sim.instruments import SymbolSpec

SPECS: dict[str, SymbolSpec] = {
    s.symbol: s for s in (
        SymbolSpec("BTCUSDT", "BTC", "USDT", tick=0.01, price_decimals=8, step=0.00001, qty_decimals=8,
                   min_qty=0.00001, max_qty=9000, min_price=0.01, max_price=1000000,
                   min_notional=5, start_price=60000.0),
        SymbolSpec("ETHUSDT", "ETH", "USDT", tick=0.01, price_decimals=8, step=0.0001, qty_decimals=8,
                   min_qty=0.0001, max_qty=9000, min_price=0.01, max_price=1000000,
                   min_notional=5, start_price=2600.0),
    )
}
DEFAULT_SYMBOLS = ["BTCUSDT", "ETHUSDT"]
