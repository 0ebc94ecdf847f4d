"""What an exchange client raises, one type per meaning.

The connector acts differently on each: a refusal (``ExchangeRejected``) is final and the order
never existed; an unknown outcome (``OutcomeUnknown``) means the order may be live at the
exchange and must be found before the bot is told anything final; ``Unavailable`` and
``ConnectFailed`` are transient and retried; ``NotSupported`` is a permanent property of the
exchange. A single sentinel code for all of them (the old ``-1``) made the connector guess.
"""

from __future__ import annotations

from typing import Any

from hftctl.errors import HftctlError


class ExchangeError(HftctlError):
    """Base of every error an exchange client raises; the message is fit for a log line."""


class ExchangeRejected(ExchangeError):
    """The exchange answered and refused the request: it was not executed.

    ``code``/``reason`` are the exchange's own (e.g. Binance ``-2019``, Bybit ``110007``);
    ``data`` whatever structured detail the answer carried (Binance cancelReplace's results).
    """

    def __init__(self, code: int, reason: str, data: Any = None) -> None:
        super().__init__(f"exchange rejected request: {code} {reason}")
        self.code = code
        self.reason = reason
        self.data = data


class OrderNotFound(ExchangeRejected):
    """The exchange does not know the order (already final, never placed, wrong id)."""


class RateLimited(ExchangeRejected):
    """Refused for a rate limit (HTTP 429/418, Binance -1003/-1015, Bybit 10006): not executed."""


class NotSupported(ExchangeError):
    """The exchange (or this client of it) has no such operation."""


class ConnectFailed(ExchangeError):
    """A stream or session could not be established: timeout, refused login, no user-stream key."""


class Unavailable(ExchangeError):
    """Gave up on a request that is safe to repeat (a query, a cancel) after retries: 5xx,
    timeouts, dropped connections. Nothing is known to have changed at the exchange."""


class OutcomeUnknown(ExchangeError):
    """A state-changing request may or may not have been executed (HTTP 5xx, a timeout, a lost
    socket, Binance -1006/-1007, Bybit 10000/10016). Re-sending could double it; the caller must
    find out by querying the order by its client id."""
