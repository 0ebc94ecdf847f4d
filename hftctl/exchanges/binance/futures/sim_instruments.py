"""Binance USD-M futures instruments the sim lists (filters as on the testnet's exchangeInfo)."""

from __future__ import annotations

from dataclasses import replace

from hftctl.sim.instruments import SymbolSpec

SPECS: dict[str, SymbolSpec] = {
    s.symbol: s for s in (
        SymbolSpec("BTCUSDT", "BTC", "USDT", tick=0.1, price_decimals=2, step=0.001, qty_decimals=3,
                   min_qty=0.001, max_qty=1000, min_price=556.8, max_price=4529764,
                   min_notional=100, start_price=60000.0),
        SymbolSpec("ETHUSDT", "ETH", "USDT", tick=0.01, price_decimals=2, step=0.001, qty_decimals=3,
                   min_qty=0.001, max_qty=10000, min_price=39.86, max_price=306177,
                   min_notional=20, start_price=2600.0),
        SymbolSpec("SOLUSDT", "SOL", "USDT", tick=0.01, price_decimals=4, step=1, qty_decimals=0,
                   min_qty=1, max_qty=1000000, min_price=0.42, max_price=6857,
                   min_notional=5, start_price=150.0),
    )
}
DEFAULT_SYMBOLS = ["BTCUSDT", "ETHUSDT"]

# Test instruments: BTCUSDT's rules under 20 made-up names, so scale tests and benchmarks can have
# one collector record 20 symbols (a synthetic market, or the real btcusdt recording renamed once
# per symbol for --replay). Like every instrument, the sim lists them only when asked for by name.
TEST_SYMBOLS = [f"TEST{i:02d}USDT" for i in range(1, 21)]
SPECS.update({s: replace(SPECS["BTCUSDT"], symbol=s, base=s[:-4]) for s in TEST_SYMBOLS})
