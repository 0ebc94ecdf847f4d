"""What the collector needs to know about an exchange's public market data.

Each exchange folder's ``collector.py`` provides one ``PROTOCOL`` implementing this interface:
which streams make a full recording (hftbacktest's choices, so recordings convert the same),
how to open them, how to read a message's symbol and depth sequence, where REST depth snapshots
come from, and how a gap mark is written. The collector itself (files, reconnects, snapshots,
gap marks) is the same for every exchange.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from hftctl.errors import HftctlError
from hftctl.exchanges.venues import Venue


@dataclass(frozen=True)
class DepthSeq:
    """Sequence numbers of one depth diff: first/last update id, and the previous last id if sent."""

    first: int
    last: int
    prev: int | None


@dataclass(frozen=True)
class PublicMessage:
    """What the collector reads from a public message: whose it is, and its depth sequence if any."""

    symbol: str
    depth: DepthSeq | None = None
    bad_depth: bool = False    # a depth diff without usable sequence ids


@dataclass(frozen=True)
class Connection:
    """One websocket the collector keeps open, with its own reconnect loop.

    ``subscribe``: the message(s) to send after connecting, in order, never more than
    ``max_messages_per_s`` a second (the exchange's per-connection limit; 0: none).
    ``depth_symbols``: the symbols whose depth diffs it carries (None: every symbol): only such
    a connection resets their sequence and marks a gap when it drops.
    """

    url: str
    subscribe: str | tuple[str, ...] | None = None
    max_messages_per_s: float = 0
    depth_symbols: tuple[str, ...] | None = None

    @property
    def messages(self) -> tuple[str, ...]:
        if self.subscribe is None:
            return ()
        return (self.subscribe,) if isinstance(self.subscribe, str) else self.subscribe


class CollectorProtocol(ABC):
    takes_rest_snapshots: bool = True   # False: the exchange's own book topics carry snapshots
    # Streams a recording may add (``hftctl collect --streams``), as the user names them -> what
    # is subscribed per symbol; ``extra`` holds the ones chosen.
    optional_streams: Mapping[str, str] = {}
    extra: tuple[str, ...] = ()

    def with_streams(self, names: Sequence[str]) -> "CollectorProtocol":
        """This protocol recording the optional streams ``names`` too (in the same file)."""
        for name in names:
            if name not in self.optional_streams:
                known = ", ".join(self.optional_streams) or "none"
                raise HftctlError(f"--streams: {name!r} is not an optional stream of this exchange (known: {known})")
        out = copy.copy(self)
        out.extra = tuple(dict.fromkeys(self.optional_streams[n] for n in names))
        return out

    @abstractmethod
    def connections(self, venue: Venue, symbols: list[str]) -> list[Connection]:
        """The websockets (and subscriptions) that carry every stream of ``symbols``."""

    def with_stream_url(self, venue: Venue, url: str) -> Venue:
        """``venue`` with its streams at ``url`` (a ``--stream-url`` or config ``stream_url``):
        the public stream by default; an exchange with routes derives them all."""
        return replace(venue, name="custom", ws={**venue.ws, "public": url})

    @abstractmethod
    def snapshot_url(self, venue: Venue, symbol: str) -> str: ...

    @abstractmethod
    def is_snapshot(self, body: object) -> bool:
        """Is a decoded REST response a usable depth snapshot (and not an error object)?"""

    @abstractmethod
    def read(self, msg: object) -> PublicMessage | None:
        """Route a decoded websocket message to its symbol; None for acks, pongs, unknown shapes."""

    @abstractmethod
    def subscription_error(self, msg: object) -> str | None:
        """The exchange's refusal of a subscription, if ``msg`` is one."""

    @abstractmethod
    def continuous(self, prev_last: int, seq: DepthSeq) -> bool:
        """Does this diff follow the previous one (last id ``prev_last``) without a gap?"""

    @abstractmethod
    def gap_marker(self, symbol: str, reason: str, ts_ms: int) -> bytes:
        """A recording line that marks lost data, which hftbacktest's converters skip."""

    @abstractmethod
    def is_depth_stream(self, stream: str) -> bool:
        """Does a raw message of this stream name (as the connector labels it) carry depth diffs?"""

    @abstractmethod
    def is_snapshot_line(self, raw: bytes) -> bool:
        """Is a recorded line body a REST depth snapshot?"""
