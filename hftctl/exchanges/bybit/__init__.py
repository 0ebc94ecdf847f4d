"""Bybit v5: exchange-specific code (converter mapping; other modules are added by their owners)."""
