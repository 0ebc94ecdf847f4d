"""Binance HMAC signing, shared by the clients (sign) and the simulator (verify) so the two never drift.

REST (SIGNED endpoints): HMAC-SHA256 of the query string followed by the form body, exactly as
sent (rest-api.md "SIGNED (TRADE, USER_DATA, AND MARGIN) Endpoint security").
"""

from __future__ import annotations

from hftctl.exchanges.wire import hmac_sha256_hex


def binance_signature(secret: str, query: str) -> str:
    return hmac_sha256_hex(secret, query)
