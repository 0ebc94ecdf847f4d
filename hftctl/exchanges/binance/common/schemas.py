"""Wire messages Binance's spot and USD-M APIs share, as typed structs with Binance's field names.

One definition per message serves both sides: the connector decodes with it, the sim encodes
with it, so the two cannot drift apart without a test noticing (round trips on real recorded
frames and on the official docs' examples, ``tests/test_exchange_schemas.py``).

Conventions for every Binance schema module:
- fields keep Binance's letters and order (``E`` event time, ``T`` transaction time, ...), with
  a comment per field; the order matters because the sim's output must read like Binance's;
- prices and quantities are decimal strings on the wire (``Dec``): the sim puts strings there,
  and the connector's decoders (``strict=False``) turn them into floats while parsing;
- a field Binance sends only sometimes is ``X | UnsetType = UNSET`` (left out when unset);
- unknown fields are ignored, so a new field from Binance never breaks the connector.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec
import orjson
from msgspec import UNSET, UnsetType

from hftctl.exchanges.wire import Finite

Dec = Finite           # a decimal: a JSON string on the wire, a finite float once decoded
Level = tuple[Dec, Dec]    # [price, qty]

T = TypeVar("T")


class Envelope(msgspec.Struct, Generic[T]):
    """Combined-stream frame (``/stream?streams=...``)."""

    stream: str        # stream name, e.g. "btcusdt@depth@0ms"
    data: T            # the stream's own payload


class DepthSnapshot(msgspec.Struct, kw_only=True):
    """REST ``GET .../depth`` body. USD-M adds E and T; spot has lastUpdateId, bids, asks only."""

    lastUpdateId: int                          # last update id included in the snapshot
    E: int | UnsetType = UNSET                 # message output time, ms (USD-M)
    T: int | UnsetType = UNSET                 # transaction time, ms (USD-M)
    bids: list[Level]                          # best first
    asks: list[Level]


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """Every REST error body, and the ``error`` object of WebSocket API responses."""

    code: int          # negative Binance error code (errors.md / "Error Codes")
    msg: str
    data: msgspec.Raw | UnsetType = UNSET     # spot: cancelReplace's results, a ban's end time


class ServerTime(msgspec.Struct):
    serverTime: int    # ms


class ListenKeyBody(msgspec.Struct):
    listenKey: str


class WsRequest(msgspec.Struct, omit_defaults=True):
    """Live control message on a market stream (SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS...)."""

    method: str
    params: list | None = None
    id: int | str | None = None


class WsResult(msgspec.Struct):
    """Answer to a live control message."""

    result: object
    id: int | str | None


class WsError(msgspec.Struct):
    error: ErrorBody
    id: int | str | None


# --- WebSocket API frames (spot /ws-api/v3 and USD-M /ws-fapi/v1) ---------------------------


class WsApiFrame(msgspec.Struct, kw_only=True):
    """Anything the WebSocket API sends: a response (``id``, ``status``, ``result`` or ``error``,
    ``rateLimits``) or an event (``event``, ``subscriptionId``: spot's user data); the payloads
    stay raw until the receiver knows which schema they have."""

    id: int | str | None = None
    status: int = 0
    result: msgspec.Raw | UnsetType = UNSET
    error: ErrorBody | UnsetType = UNSET
    rateLimits: list[RateLimit] | UnsetType = UNSET
    subscriptionId: int | UnsetType = UNSET
    event: msgspec.Raw | UnsetType = UNSET


class RateLimit(msgspec.Struct):
    rateLimitType: str  # REQUEST_WEIGHT | ORDERS
    interval: str       # SECOND | MINUTE | HOUR | DAY
    intervalNum: int
    limit: int
    count: int = 0      # absent in exchangeInfo's table


def decoder(kind: type) -> msgspec.json.Decoder:
    """A decoder that also turns decimal strings into floats (``strict=False``)."""
    return msgspec.json.Decoder(kind, strict=False)


def decode_user_event(raw: bytes, plain: msgspec.json.Decoder, enveloped: msgspec.json.Decoder,
                      known: frozenset[str]) -> object | None:
    """A user-data frame through its market's event union; None for an event kind not in
    ``known`` (Binance adds kinds: they are not errors). Combined-stream envelopes are accepted.
    Raises MalformedMessage for a known kind that does not fit its schema."""
    from hftctl.exchanges.wire import MalformedMessage
    wrapped = raw.startswith(b'{"stream"')
    try:
        return (enveloped.decode(raw).data if wrapped else plain.decode(raw))
    except (msgspec.DecodeError, msgspec.ValidationError) as e:
        try:
            doc = orjson.loads(raw)
            kind = (doc.get("data") if wrapped else doc).get("e")
        except (orjson.JSONDecodeError, AttributeError):
            kind = None
        if isinstance(kind, str) and kind not in known:
            return None
        raise MalformedMessage(f"user event {kind or '?'}: {e}") from None


__all__ = ["Dec", "Level", "Envelope", "DepthSnapshot", "ErrorBody", "ServerTime", "ListenKeyBody",
           "WsRequest", "WsResult", "WsError", "WsApiFrame", "RateLimit", "decoder", "decode_user_event", "UNSET", "UnsetType"]
