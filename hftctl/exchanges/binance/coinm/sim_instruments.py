"""Binance COIN-M instruments the sim lists: perpetuals quoted in USD, sized in contracts (one
BTCUSD_PERP contract is 100 USD, one ETHUSD_PERP 10 USD), as in the COIN-M recording."""

from __future__ import annotations

from hftctl.sim.instruments import SymbolSpec

SPECS: dict[str, SymbolSpec] = {
    s.symbol: s for s in (
        SymbolSpec("BTCUSD_PERP", "BTC", "USD", tick=0.1, price_decimals=1, step=1, qty_decimals=0,
                   min_qty=1, max_qty=1_000_000, min_price=1000, max_price=4_520_958,
                   min_notional=0, start_price=60000.0),
        SymbolSpec("ETHUSD_PERP", "ETH", "USD", tick=0.01, price_decimals=2, step=1, qty_decimals=0,
                   min_qty=1, max_qty=1_000_000, min_price=50, max_price=306_177,
                   min_notional=0, start_price=2600.0),
    )
}
DEFAULT_SYMBOLS = ["BTCUSD_PERP", "ETHUSD_PERP"]
CONTRACT_SIZE = {"BTCUSD_PERP": 100, "ETHUSD_PERP": 10}     # USD per contract


def pair(symbol: str) -> str:
    """BTCUSD_PERP -> BTCUSD (the ``ps`` of stream payloads, ``pair`` of REST bodies)."""
    return symbol.partition("_")[0]
