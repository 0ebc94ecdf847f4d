"""What a Binance spot error answer means for the request, on REST and the WebSocket API alike.

Spot's docs name three signs that a request may have been executed although it was not answered
with success (checked 2026-12-01): any 5XX status ("the execution status is UNKNOWN and could
have been a success", rest-api.md § HTTP Return Codes, web-socket-api.md § Status codes),
-1006 UNEXPECTED_RESP and -1007 TIMEOUT ("execution status unknown", errors.md), whatever
status those two come with. A new order answered so must be found before anyone is told it
failed; an idempotent request (cancel, query) may simply be asked again.
"""

from __future__ import annotations

from hftctl.exchanges.errors import (ExchangeError, ExchangeRejected, OrderNotFound, OutcomeUnknown, RateLimited,
                                     Unavailable)

UNKNOWN_CODES = frozenset({-1006, -1007})
NOT_FOUND_CODES = frozenset({-2011, -2013})      # unknown order sent / order does not exist
TIMESTAMP_CODE = -1021                           # rejected unprocessed: resend with a fresh clock


def outcome_unknown(status: int, code: int) -> bool:
    return status >= 500 or code in UNKNOWN_CODES


def error_for(status: int, code: int, msg: str, what: str, *, safe: bool) -> ExchangeError:
    """The typed error for an answer that was not a success (a -1021 is the caller's to retry)."""
    if outcome_unknown(status, code):
        text = f"{what}: {status} {code} {msg}"
        return Unavailable(text) if safe else OutcomeUnknown(text)
    if status in (418, 429):
        return RateLimited(code, msg)
    if code in NOT_FOUND_CODES:
        return OrderNotFound(code, msg)
    return ExchangeRejected(code, msg)


def reclassify(e: ExchangeRejected, what: str, *, safe: bool) -> ExchangeError:
    """A REST refusal the shared Binance client took as final: -1006/-1007 mean unknown on spot
    whatever their HTTP status."""
    if e.code in UNKNOWN_CODES:
        text = f"{what}: {e.code} {e.reason}"
        return Unavailable(text) if safe else OutcomeUnknown(text)
    return e
