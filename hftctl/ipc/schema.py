"""Typed messages exchanged between a connector and its bots, and their msgpack wire form.

The ring transport (``hftctl.ipc.ring``) moves opaque bytes; this module is the one place that
says what those bytes mean, so the connector, the collector and the bots cannot drift apart.

Wire form: a msgpack array ``[tag, field1, field2, ...]`` in declaration order. A small integer
tag plus positional fields keeps a trade event around 40 bytes, and decoding is a single
``msgpack.unpackb`` plus per-field checks. Every field is checked on decode, because a bot that
trusts a malformed message would crash later, far from the cause: anything that does not fit
raises ``SchemaError`` (an ``HftctlError``), never ``TypeError``/``KeyError``/a msgpack error.

Conventions (all generic, no exchange names):
- timestamps are integer nanoseconds since the epoch (``exch_ts`` from the exchange,
  ``local_ts`` when the connector received it);
- prices and quantities are floats; book levels are lists of ``(px, qty)`` tuples and a
  quantity of 0 in a ``DepthDiff`` deletes the level;
- ``side`` is +1 buy / -1 sell (for trades: the aggressor);
- ``order_id`` is an int chosen by the bot, unique per bot; ``bot_id`` is the reader slot id the
  broadcast channel gave the bot (``BroadcastReader.bot_id``).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Callable, ClassVar

import msgpack

from hftctl.errors import HftctlError

__all__ = [
    "SchemaError", "encode", "decode", "request_ref", "Message", "EVENTS", "REQUESTS",
    "BUY", "SELL", "ORDER_STATUSES", "ORDER_TYPES", "TIME_IN_FORCES", "FINAL_STATUSES",
    "DepthDiff", "DepthSnapshot", "DepthClear", "Trade", "BestBidOffer", "OrderUpdate",
    "Position", "Balance", "Error", "Heartbeat", "RawMessage", "ConnectorStatus",
    "Hello", "Bye", "BotHeartbeat", "RegisterInstrument", "SubmitOrder", "CancelOrder",
    "ModifyOrder", "CancelAll", "SnapshotRequest", "SubscribeRaw",
]

BUY = 1
SELL = -1
ORDER_STATUSES = ("new", "partially_filled", "filled", "canceled", "expired", "rejected")
FINAL_STATUSES = frozenset({"filled", "canceled", "expired", "rejected"})
ORDER_TYPES = ("limit", "market")
TIME_IN_FORCES = ("gtc", "gtx", "ioc", "fok")

Level = tuple[float, float]
Levels = list[Level]


class SchemaError(HftctlError):
    """Bytes that are not a valid message of this schema (unknown tag, wrong fields, bad types)."""


class Message:
    """Base of every message; ``TAG`` is its wire tag."""

    __slots__ = ()
    TAG: ClassVar[int] = 0


# --- events: connector -> bots ---------------------------------------------------------------

@dataclass(slots=True)
class DepthDiff(Message):
    """Incremental book update; a level with qty 0 is deleted."""
    TAG: ClassVar[int] = 1
    symbol: str
    exch_ts: int
    local_ts: int
    bids: Levels
    asks: Levels


@dataclass(slots=True)
class DepthSnapshot(Message):
    """Full book; replaces whatever the bot had for this symbol."""
    TAG: ClassVar[int] = 2
    symbol: str
    exch_ts: int
    local_ts: int
    bids: Levels
    asks: Levels


@dataclass(slots=True)
class DepthClear(Message):
    """The connector lost book sync (gap, reconnect): drop the book until the next snapshot."""
    TAG: ClassVar[int] = 3
    symbol: str
    reason: str


@dataclass(slots=True)
class Trade(Message):
    TAG: ClassVar[int] = 4
    symbol: str
    exch_ts: int
    local_ts: int
    side: int
    px: float
    qty: float


@dataclass(slots=True)
class BestBidOffer(Message):
    TAG: ClassVar[int] = 5
    symbol: str
    exch_ts: int
    local_ts: int
    bid_px: float
    bid_qty: float
    ask_px: float
    ask_qty: float


@dataclass(slots=True)
class OrderUpdate(Message):
    """State change of one of the bot's orders; ``exec_qty``/``exec_px`` describe this fill only."""
    TAG: ClassVar[int] = 6
    symbol: str
    order_id: int
    client_order_id: str
    exch_order_id: str
    side: int
    px: float
    qty: float
    leaves_qty: float
    exec_qty: float
    exec_px: float
    cum_qty: float
    status: str
    order_type: str
    time_in_force: str
    exch_ts: int
    local_ts: int
    reason: str | None = None
    req_id: int | None = None


@dataclass(slots=True)
class Position(Message):
    TAG: ClassVar[int] = 7
    symbol: str
    qty: float
    entry_px: float
    exch_ts: int


@dataclass(slots=True)
class Balance(Message):
    TAG: ClassVar[int] = 8
    asset: str
    wallet: float
    available: float


@dataclass(slots=True)
class Error(Message):
    """A request failed (``req_id`` set) or the connector has a problem to report."""
    TAG: ClassVar[int] = 9
    code: int
    message: str
    req_id: int | None = None
    symbol: str | None = None


@dataclass(slots=True)
class Heartbeat(Message):
    TAG: ClassVar[int] = 10
    ts: int
    pid: int


@dataclass(slots=True)
class RawMessage(Message):
    """An exchange message exactly as received, for ``hftctl collect --ipc``."""
    TAG: ClassVar[int] = 11
    exchange: str
    symbol: str
    stream: str
    local_ts: int
    raw: bytes


@dataclass(slots=True)
class ConnectorStatus(Message):
    """``streams``: stream name -> state; ``books``: symbol -> book sync state. ``dead_man``:
    what cancels the orders if the connector is killed (the exchange's mechanism, "guardian",
    or "" for nothing), ``dead_man_state`` (armed, failing, off, unprotected, starting) and
    ``dead_man_refresh_ts`` its last successful refresh (0: never)."""
    TAG: ClassVar[int] = 12
    exchange: str
    ts: int
    streams: dict[str, str]
    books: dict[str, str]
    dead_man: str = ""
    dead_man_state: str = ""
    dead_man_refresh_ts: int = 0


# --- requests: bots -> connector -------------------------------------------------------------

@dataclass(slots=True)
class Hello(Message):
    TAG: ClassVar[int] = 64
    bot_id: int
    pid: int
    name: str


@dataclass(slots=True)
class Bye(Message):
    TAG: ClassVar[int] = 65
    bot_id: int


@dataclass(slots=True)
class BotHeartbeat(Message):
    TAG: ClassVar[int] = 66
    bot_id: int
    ts: int


@dataclass(slots=True)
class RegisterInstrument(Message):
    TAG: ClassVar[int] = 67
    bot_id: int
    symbol: str
    tick_size: float
    lot_size: float


@dataclass(slots=True)
class SubmitOrder(Message):
    TAG: ClassVar[int] = 68
    bot_id: int
    req_id: int
    symbol: str
    order_id: int
    side: int
    px: float
    qty: float
    order_type: str
    time_in_force: str


@dataclass(slots=True)
class CancelOrder(Message):
    TAG: ClassVar[int] = 69
    bot_id: int
    req_id: int
    symbol: str
    order_id: int


@dataclass(slots=True)
class ModifyOrder(Message):
    TAG: ClassVar[int] = 70
    bot_id: int
    req_id: int
    symbol: str
    order_id: int
    px: float
    qty: float


@dataclass(slots=True)
class CancelAll(Message):
    """Cancel all of this bot's orders, on one symbol or (``symbol=None``) everywhere."""
    TAG: ClassVar[int] = 71
    bot_id: int
    req_id: int
    symbol: str | None = None


@dataclass(slots=True)
class SnapshotRequest(Message):
    """Ask for a DepthSnapshot (e.g. after an Overrun on the broadcast channel)."""
    TAG: ClassVar[int] = 72
    bot_id: int
    symbol: str


@dataclass(slots=True)
class SubscribeRaw(Message):
    """Ask the connector to also publish RawMessage events (to this bot), one or all symbols."""
    TAG: ClassVar[int] = 73
    bot_id: int
    symbol: str | None = None


EVENTS: tuple[type[Message], ...] = (
    DepthDiff, DepthSnapshot, DepthClear, Trade, BestBidOffer, OrderUpdate, Position, Balance,
    Error, Heartbeat, RawMessage, ConnectorStatus,
)
REQUESTS: tuple[type[Message], ...] = (
    Hello, Bye, BotHeartbeat, RegisterInstrument, SubmitOrder, CancelOrder, ModifyOrder,
    CancelAll, SnapshotRequest, SubscribeRaw,
)

# --- field checks ----------------------------------------------------------------------------

Check = Callable[[Any], Any]


def _int(v: Any) -> int:
    if type(v) is int:
        return v
    raise TypeError(f"expected int, got {type(v).__name__}")


def _float(v: Any) -> float:
    t = type(v)
    if t is float:
        return v
    if t is int:
        return float(v)
    raise TypeError(f"expected number, got {t.__name__}")


def _str(v: Any) -> str:
    if type(v) is str:
        return v
    raise TypeError(f"expected str, got {type(v).__name__}")


def _bytes(v: Any) -> bytes:
    if type(v) is bytes:
        return v
    raise TypeError(f"expected bytes, got {type(v).__name__}")


def _levels(v: Any) -> Levels:
    if type(v) is not list:
        raise TypeError(f"expected list of levels, got {type(v).__name__}")
    return [(_float(px), _float(qty)) for px, qty in v]


def _str_map(v: Any) -> dict[str, str]:
    if type(v) is not dict:
        raise TypeError(f"expected map, got {type(v).__name__}")
    return {_str(k): _str(x) for k, x in v.items()}


def _optional(check: Check) -> Check:
    def opt(v: Any) -> Any:
        return None if v is None else check(v)
    return opt


def _choice(allowed: tuple[str, ...]) -> Check:
    ok = frozenset(allowed)

    def choice(v: Any) -> str:
        if v in ok:
            return v
        raise TypeError(f"expected one of {', '.join(allowed)}, got {v!r}")
    return choice


def _side(v: Any) -> int:
    if v == 1 or v == -1:
        return _int(v)
    raise TypeError(f"expected side +1 or -1, got {v!r}")


_BY_TYPE: dict[Any, Check] = {int: _int, float: _float, str: _str, bytes: _bytes,
                              Levels: _levels, dict[str, str]: _str_map}
# Fields whose values are enumerations get a stricter check than their Python type.
_BY_NAME: dict[str, Check] = {"side": _side, "status": _choice(ORDER_STATUSES),
                              "order_type": _choice(ORDER_TYPES),
                              "time_in_force": _choice(TIME_IN_FORCES)}


def _check_for(name: str, hint: Any) -> Check:
    if name in _BY_NAME:
        return _BY_NAME[name]
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) and type(None) in args:
        (inner,) = [a for a in args if a is not type(None)]
        return _optional(_BY_TYPE[inner])
    return _BY_TYPE[hint]


class _Codec:
    __slots__ = ("cls", "name", "fields", "checks", "required", "getter")

    def __init__(self, cls: type[Message]) -> None:
        hints = typing.get_type_hints(cls)
        fields = dataclasses.fields(cls)
        self.cls = cls
        self.name = cls.__name__
        self.fields = tuple(f.name for f in fields)
        self.checks = tuple(_check_for(f.name, hints[f.name]) for f in fields)
        self.required = sum(1 for f in fields if f.default is dataclasses.MISSING)
        self.getter = attrgetter(*self.fields)


_CODECS: dict[int, _Codec] = {}
for _cls in EVENTS + REQUESTS:
    assert _cls.TAG not in _CODECS, f"duplicate tag {_cls.TAG}"
    _CODECS[_cls.TAG] = _Codec(_cls)
_BY_CLASS: dict[type, _Codec] = {c.cls: c for c in _CODECS.values()}

_packer = msgpack.Packer(use_bin_type=True)


def encode(msg: Message) -> bytes:
    """Serialise a message to its wire bytes ``[tag, *fields]``."""
    codec = _BY_CLASS.get(type(msg))
    if codec is None:
        raise SchemaError(f"not a schema message: {type(msg).__name__}")
    values = codec.getter(msg)
    if len(codec.fields) == 1:
        values = (values,)
    try:
        return _packer.pack((msg.TAG, *values))
    except (TypeError, ValueError, OverflowError) as e:
        raise SchemaError(f"cannot encode {codec.name}: {e}") from None


def decode(data: bytes | bytearray | memoryview) -> Message:
    """Parse wire bytes into a message; anything malformed raises ``SchemaError``."""
    try:
        arr = msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True)
    except Exception as e:  # msgpack raises several unrelated types on garbage
        raise SchemaError(f"undecodable message ({len(data)} bytes): {type(e).__name__}: {e}") from None
    if type(arr) is not list or not arr or type(arr[0]) is not int:
        raise SchemaError(f"not a tagged message: {type(arr).__name__}")
    codec = _CODECS.get(arr[0])
    if codec is None:
        raise SchemaError(f"unknown message tag {arr[0]}")
    n = len(arr) - 1
    if not codec.required <= n <= len(codec.fields):
        raise SchemaError(f"{codec.name}: expected {len(codec.fields)} fields, got {n}")
    values = []
    for name, check, v in zip(codec.fields, codec.checks, arr[1:]):
        try:
            values.append(check(v))
        except (TypeError, ValueError) as e:
            raise SchemaError(f"{codec.name}.{name}: {e}") from None
    return codec.cls(*values)


def request_ref(data: bytes | bytearray | memoryview) -> tuple[str, int | None]:
    """What can still be read of a request that failed :func:`decode`: its type name and its
    ``req_id``, when that field is intact, so the connector can answer the request it refuses
    (a bot must learn the fate of every order request). ("?", None) for garbage."""
    try:
        arr = msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True)
    except Exception:
        return "?", None
    if type(arr) is not list or not arr or type(arr[0]) is not int:
        return "?", None
    codec = _CODECS.get(arr[0])
    if codec is None:
        return "?", None
    try:
        i = codec.fields.index("req_id") + 1
    except ValueError:
        return codec.name, None
    req_id = arr[i] if i < len(arr) else None
    return codec.name, req_id if type(req_id) is int else None


def message_types() -> dict[int, type[Message]]:
    """Tag -> class, for tools that list or document the schema."""
    return {tag: c.cls for tag, c in _CODECS.items()}
