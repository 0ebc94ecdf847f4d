"""Binance spot: exchange-specific code (converter mapping; other modules are added by their owners)."""
