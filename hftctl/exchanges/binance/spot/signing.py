"""Signatures of Binance spot WebSocket API requests, shared by the client (sign) and the sim
(verify) so the two never drift.

The WebSocket API does not sign a query string as sent (that is REST's rule, ``common/signing``):
it signs "all request ``params`` except ``signature``, sorted in alphabetical order by parameter
name", formatted ``name=value`` joined by ``&``, values as UTF-8 text with no percent-encoding,
``apiKey`` included (web-socket-api.md § SIGNED request example (HMAC), checked 2026-12-01).
HMAC signatures are hex and "not case-sensitive" (§ Signature Case Sensitivity).
"""

from __future__ import annotations

from collections.abc import Mapping

from hftctl.exchanges.wire import hmac_sha256_hex, verify


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
