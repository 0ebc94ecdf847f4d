"""The one interface the connector uses for any exchange.

An exchange client turns the exchange's REST and websocket protocols into ``hftctl.ipc.schema``
messages and pushes them into an :class:`ExchangeSink`; the connector never sees an exchange
field name. Order requests come in as exchange-neutral :class:`OrderRequest` values carrying the
client order id the connector chose, so responses and stream updates can be routed back to the
owning bot by that id alone.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from hftctl.exchanges.errors import ConnectFailed, NotSupported
from hftctl.exchanges.rest_base import RestClient
from hftctl.instrument import Instrument
from hftctl.ipc.schema import Balance, Message, OrderUpdate, Position

__all__ = ["ExchangeClient", "ExchangeSink", "Instrument", "OrderRequest", "NullSink", "every"]


@dataclass(slots=True)
class OrderRequest:
    """A new order as the connector hands it to an exchange client."""

    instrument: Instrument
    client_order_id: str
    side: int            # +1 buy, -1 sell
    px: float
    qty: float
    order_type: str      # "limit" | "market"
    time_in_force: str   # "gtc" | "gtx" | "ioc" | "fok"


class ExchangeSink(Protocol):
    """Where an exchange client delivers what it learns; implemented by the connector.

    ``order`` receives ``OrderUpdate`` values whose ``order_id`` is 0: only the
    ``client_order_id`` is known at this level, the connector maps it to a bot and its id.
    """

    def market(self, msg: Message) -> None: ...             # DepthSnapshot/Diff/Clear, Trade, BBO
    def raw(self, symbol: str, stream: str, local_ts: int, raw: bytes) -> None: ...
    def order(self, update: OrderUpdate) -> None: ...
    def position(self, pos: Position) -> None: ...
    def balance(self, bal: Balance) -> None: ...
    def stream_state(self, stream: str, state: str) -> None: ...
    def symbol_error(self, symbol: str, code: int, message: str) -> None: ...  # e.g. unknown symbol
    def user_stream_reconnected(self) -> None: ...          # -> connector reconciles by REST


log = logging.getLogger(__name__)


class NullSink:
    """Swallows everything; a client's sink until the connector attaches."""

    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: None


async def every(interval_s: float, fn: Callable[[], Awaitable[Any]], what: str) -> None:
    """Run ``fn`` every ``interval_s`` forever; a failure is logged and retried next period."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await fn()
        except Exception as e:
            log.warning("%s failed: %s", what, e)


class ExchangeClient(ABC):
    """One exchange account: market data on demand, user data, orders and account state."""

    name: str
    rest: RestClient        # the account's REST side (signing, clock, limits)
    # Set by the connector before close(): another session on this host uses the same account,
    # so close() must leave account-wide sessions (Binance's listenKey) alone.
    account_shared: bool = False

    def __init__(self) -> None:
        self._tasks: list[asyncio.Task] = []

    @abstractmethod
    async def connect_market(self, sink: ExchangeSink, timeout_s: float = 30.0) -> None:
        """Measure the server clock and open the market stream; returns once it is up."""

    @abstractmethod
    async def connect_user(self, timeout_s: float = 30.0) -> None:
        """Open the user-data stream (orders, account); returns once it is up."""

    @abstractmethod
    async def close(self) -> None:
        """Stop streams and background tasks; open orders are the connector's business."""

    @abstractmethod
    async def subscribe(self, instrument: Instrument) -> None:
        """Start depth/trade/BBO for a symbol and synchronise its book (idempotent)."""

    @abstractmethod
    async def resync(self, symbol: str, reason: str) -> None:
        """Drop the symbol's book and rebuild it from a fresh snapshot."""

    # submit/cancel/modify return the order's state after the request, or None when the exchange
    # only acknowledged it and the state will arrive on the user stream. They raise the errors of
    # hftctl.exchanges.errors: ExchangeRejected (refused, not executed), OutcomeUnknown (may have
    # been executed), NotSupported, Unavailable.

    @abstractmethod
    async def submit(self, req: OrderRequest) -> OrderUpdate | None:
        """Place an order; never re-submits: an unknown outcome raises OutcomeUnknown and the
        connector finds the order by its client id (connector/outcomes.py)."""

    @abstractmethod
    async def cancel(self, instrument: Instrument, client_order_id: str) -> OrderUpdate | None: ...

    @abstractmethod
    async def modify(self, instrument: Instrument, client_order_id: str, side: int,
                     px: float, qty: float) -> OrderUpdate | None: ...

    @abstractmethod
    async def cancel_all(self, instrument: Instrument) -> None: ...

    @abstractmethod
    async def query_order(self, instrument: Instrument, client_order_id: str) -> OrderUpdate:
        """Current state of one order (raises OrderNotFound)."""

    @abstractmethod
    async def open_orders(self, symbol: str | None = None) -> list[OrderUpdate]: ...

    @abstractmethod
    async def positions(self) -> list[Position]: ...

    @abstractmethod
    async def balances(self) -> list[Balance]: ...

    # --- the exchange's own dead man's switch (cancel-on-disconnect) ------------------------------
    # A SIGKILLed connector cannot cancel anything: only the exchange can. Where it offers a
    # mechanism (Binance USD-M countdownCancelAll, Bybit DCP) the client names it here and the
    # connector arms it and keeps refreshing it well inside the window (connector/dead_man.py).
    dead_man_mechanism: str = ""          # "" = the exchange documents none

    async def arm_dead_man(self, symbols: Sequence[str], window_s: float) -> None:
        """Have the exchange cancel the account's open orders on ``symbols`` if this client goes
        silent for ``window_s`` seconds; called again every window/3 to keep it armed. Raises
        NotSupported where the exchange has no mechanism or refuses it for this account."""
        raise NotSupported(f"{self.name} documents no exchange-side cancel-on-disconnect")

    async def disarm_dead_man(self, symbols: Sequence[str]) -> None:
        """Switch the exchange's timer off (a clean stop that leaves orders resting on purpose)."""

    # --- REST alone, for a process that only lists and cancels orders (connector/guardian.py) --

    async def open_rest(self) -> None:
        """Open the REST side and measure the server clock; no streams, sessions or listen keys.
        Orders, cancels and queries then go over REST whatever transport the config names."""
        await self.rest.open()
        await self.rest.sync_time()

    async def close_rest(self) -> None:
        await self.rest.close()

    def urls(self) -> dict[str, str]:
        """Config key -> URL, for the mainnet guard and for logs."""
        return {}

    # --- helpers for implementations ----------------------------------------------------------

    def _spawn(self, coro: Any) -> asyncio.Task:
        """A background task that lives until :meth:`_stop_tasks` (streams, periodic upkeep)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.append(task)
        return task

    async def _stop_tasks(self, *others: asyncio.Task) -> None:
        """Cancel the spawned tasks (and ``others``) and wait until they have all finished."""
        for t in self._tasks + list(others):
            t.cancel()
        await asyncio.gather(*self._tasks, *others, return_exceptions=True)
        self._tasks.clear()

    async def _start_rest(self, rest: RestClient, resync_s: float) -> None:
        """Open the REST session and measure the server clock, now and every ``resync_s``."""
        await rest.open()
        await rest.sync_time()
        self._spawn(every(resync_s, rest.sync_time, "server time re-measure"))

    async def _wait_up(self, aw: Awaitable[Any], what: str, timeout_s: float) -> Any:
        """``aw``'s result, or a one-line error naming the stream that did not come up."""
        try:
            return await asyncio.wait_for(aw, timeout_s)
        except asyncio.TimeoutError:
            raise ConnectFailed(f"could not connect to the {what} within {timeout_s:.0f}s") from None

    async def raw_snapshot(self, symbol: str) -> None:
        """Publish a fresh depth snapshot to raw subscribers (a lapped recorder resyncing)."""

    def book_states(self) -> dict[str, str]:
        """Symbol -> "synced" / "syncing"."""
        return {}

    def stats(self) -> dict[str, Any]:
        """Counters for status output and tests (reconnects, gaps, clock resyncs...)."""
        return {}
