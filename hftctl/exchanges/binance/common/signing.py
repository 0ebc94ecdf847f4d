"""Binance HMAC signing, shared by the clients (sign) and the simulator (verify) so the two never drift.

REST (SIGNED endpoints): HMAC-SHA256 of the query string followed by the form body, exactly as
sent (rest-api.md "SIGNED (TRADE, USER_DATA, AND MARGIN) Endpoint security").

WebSocket API (spot ``/ws-api/v3`` and USD-M ``/ws-fapi/v1`` alike): not a query string as sent
but "all request ``params`` except ``signature``, sorted in alphabetical order by parameter
name", formatted ``name=value`` joined by ``&``, values as UTF-8 text with no percent-encoding,
``apiKey`` included (spot web-socket-api.md § SIGNED request example (HMAC); USD-M
websocket-api-general-info § Signed request, checked 2026-12-01). HMAC signatures are hex and
"not case-sensitive" (§ Signature Case Sensitivity).
"""

from __future__ import annotations

from collections.abc import Mapping

from hftctl.exchanges.wire import hmac_sha256_hex, verify


def binance_signature(secret: str, query: str) -> str:
    return hmac_sha256_hex(secret, query)


def _text(value: object) -> str:
    """A JSON parameter as the server reads it back into the payload: booleans as JSON spells them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def ws_api_payload(params: Mapping[str, object]) -> str:
    return "&".join(f"{k}={_text(v)}" for k, v in sorted(params.items()) if k != "signature")


def ws_api_signature(secret: str, params: Mapping[str, object]) -> str:
    return hmac_sha256_hex(secret, ws_api_payload(params))


def ws_api_signature_ok(secret: str, params: Mapping[str, object]) -> bool:
    given = params.get("signature")
    return isinstance(given, str) and verify(ws_api_signature(secret, params), given.lower())
