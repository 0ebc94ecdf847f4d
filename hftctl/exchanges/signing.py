"""Request signing, shared by the clients (sign) and the simulator (verify) so the two never drift."""

from __future__ import annotations

import hashlib
import hmac


def hmac_sha256_hex(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def binance_signature(secret: str, query: str) -> str:
    """Binance SIGNED endpoints: HMAC-SHA256 of the query string (plus body for POST form data)."""
    return hmac_sha256_hex(secret, query)


def bybit_signature(secret: str, timestamp_ms: int | str, api_key: str, recv_window: int | str,
                    payload: str) -> str:
    """Bybit v5: HMAC-SHA256 of timestamp + api_key + recv_window + (query string or JSON body)."""
    return hmac_sha256_hex(secret, f"{timestamp_ms}{api_key}{recv_window}{payload}")


def bybit_ws_auth_signature(secret: str, expires_ms: int) -> str:
    """Bybit v5 websocket `auth` op: HMAC-SHA256 of "GET/realtime" + expires."""
    return hmac_sha256_hex(secret, f"GET/realtime{expires_ms}")


def verify(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected, given or "")
