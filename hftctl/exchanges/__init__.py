"""Exchange-specific code, one sub-package per exchange behind a common interface.

Exchange names appear here and under their own folder, nowhere else in hftctl.
"""

EXCHANGES = ("binancefutures", "binancespot", "bybit")
