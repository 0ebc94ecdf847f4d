"""What the exchange-neutral sim core needs from an exchange's protocol adapter.

Each exchange folder's ``sim_adapter.py`` provides one ``ADAPTER``: the instruments it lists, an
account's starting balances and limits, how fills move money there, the REST and websocket
routes it installs on the sim's server, where those live (for the ready file), and how to read
its recordings for ``--replay``. The core (engine, books, matching, market sources, faults,
control endpoints) never sees an exchange's field names or enums.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from aiohttp import web

    from hftctl.exchanges.venues import Venue
    from hftctl.sim.accounting import Accounting
    from hftctl.sim.accounts import Account
    from hftctl.sim.config import SimConfig
    from hftctl.sim.engine import SimEngine
    from hftctl.sim.instruments import SymbolSpec
    from hftctl.sim.wshub import WsHub


# --- neutral market messages read from a recording ---------------------------------------------

@dataclass(slots=True)
class DepthMsg:
    """A depth diff: levels as wire strings, the source's sequence range, exchange-side lag."""

    bids: list
    asks: list
    first_id: int
    last_id: int
    lag_ms: int = 0           # event time - transaction time, as recorded


@dataclass(slots=True)
class TradeMsg:
    price: str
    qty: str
    buyer_is_maker: bool
    trade_id: int | None
    lag_ms: int = 0


@dataclass(slots=True)
class TickerMsg:
    bid: str
    bid_qty: str
    ask: str
    ask_qty: str
    update_id: int | None
    lag_ms: int = 0


@dataclass(slots=True)
class SnapshotMsg:
    last_id: int
    bids: list
    asks: list


@dataclass(slots=True)
class MarkMsg:
    mark: float
    index: float
    funding_rate: float
    next_funding_ms: int


@dataclass(slots=True)
class LiquidationMsg:
    long: bool               # a long position was liquidated
    price: str
    qty: str
    lag_ms: int = 0


MarketMsg = DepthMsg | TradeMsg | TickerMsg | MarkMsg | LiquidationMsg
# What a recording may carry besides books and trades; the sim makes up what it lacks.
MARK, LIQUIDATION = "mark", "liquidation"


class ReplayFormat(Protocol):
    """How an exchange's recordings read, line body by line body (``<local_ts> <body>``)."""

    def symbol(self, raw: bytes) -> str | None:
        """The symbol a market message is about (upper case), or None."""

    def is_snapshot(self, raw: bytes) -> bool: ...

    def snapshot(self, msg: Any) -> SnapshotMsg:
        """A decoded snapshot line."""

    def message(self, msg: Any) -> MarketMsg | None:
        """A decoded line as a neutral market message; None for kinds the sim does not replay."""

    def carries(self, raw: bytes) -> str | None:
        """MARK or LIQUIDATION if a line is one of those (cheap: the scan asks every line)."""


class InstalledProtocol(Protocol):
    """What ``install`` hands back: the adapter's running parts the core talks to."""

    requests: int                     # REST requests served (for /_sim/state)

    def background(self) -> list[Coroutine[Any, Any, None]]:
        """Coroutines to run while the server runs (stream cadences, session expiry)."""

    def expire_user_streams(self, only: str | None) -> list[str]:
        """Force user-data sessions to lapse (a fault); ``only``: one session id, or all. Returns
        the names of the accounts whose sessions lapsed (never a key)."""

    def user_streams(self, account: "Account") -> int:
        """Live user-data sessions of an account (for /_sim/state)."""

    def session_keys(self, account: "Account") -> list[str]:
        """Secrets of the account's user-data sessions (listen keys): /_sim never shows them."""


@dataclass(frozen=True)
class SimAdapter:
    specs: Mapping[str, "SymbolSpec"]
    default_symbols: tuple[str, ...]
    default_balances: Mapping[str, float]
    default_rate_limits: Mapping[str, int]
    accounting: Callable[[], "Accounting"]
    install: Callable[["web.Application", "SimEngine", "WsHub", "SimConfig", float], InstalledProtocol]
    # the venue the sim stands in for, on its host and port -> rest_url, ws_url, the exchange's
    # other URLs, and "connector_config": the URL keys of a connector config pointed at this sim
    ready_urls: Callable[["Venue"], dict]
    replay: ReplayFormat | None = None
