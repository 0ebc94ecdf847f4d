"""Bybit v5 HMAC signing, shared by the client (sign) and the simulator (verify).

docs/v5/guide.mdx "Authentication for public API" (REST) and
docs/v5/websocket/wss-authentication.mdx (websocket ``auth`` op).
"""

from __future__ import annotations

from hftctl.exchanges.wire import hmac_sha256_hex


def bybit_signature(secret: str, timestamp_ms: int | str, api_key: str, recv_window: int | str,
                    payload: str) -> str:
    """REST: HMAC-SHA256 of timestamp + api_key + recv_window + (query string or JSON body)."""
    return hmac_sha256_hex(secret, f"{timestamp_ms}{api_key}{recv_window}{payload}")


def bybit_ws_auth_signature(secret: str, expires_ms: int) -> str:
    """Websocket ``auth`` op: HMAC-SHA256 of "GET/realtime" + expires."""
    return hmac_sha256_hex(secret, f"GET/realtime{expires_ms}")
