"""Which bot owns which order, and what each exchange update means for that bot.

Client order ids are ``{prefix}-{tag}-{bot_id}-{gen}-{order_id}``: the exchange echoes them on
every response and stream event, so an update can be routed to its owner without any other
state. ``tag`` names the connector instance (``connector/claim.py``: which orders it may cancel
as orphans), ``gen`` (a per-instance bot session counter) keeps a new bot that reuses a dead
bot's slot from receiving the dead bot's late updates. Every part is letters, digits or ``-``
and the whole at most 36 characters: Binance's ``newClientOrderId``
(``^[.A-Z:/a-z0-9_-]{1,36}$``) and Bybit's ``orderLinkId`` (36) both take it.

Updates arrive twice or out of order by design (REST response and stream event for the same
change, REST reconciliation after a reconnect racing the stream). :meth:`OrderTable.apply`
makes them idempotent: fills are derived from the growth of the cumulative filled quantity,
never from the event's own "last fill" alone, and terminal states are sticky.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from typing import NamedTuple

from hftctl.connector.claim import TAG_LEN
from hftctl.errors import HftctlError
from hftctl.exchanges.base import Instrument
from hftctl.ipc.schema import FINAL_STATUSES, OrderUpdate

MAX_CLIENT_ID = 36     # Binance newClientOrderId and Bybit orderLinkId limit
KEEP_FINAL_S = 60.0    # a final order's record is kept this long for late duplicates
_EPS = 1e-12
_ID = re.compile(r"^(?P<prefix>[A-Za-z0-9_]{1,8})-(?P<tag>[0-9a-z]{%d})-(?P<bot>[1-9]\d{0,2})-(?P<gen>[1-9]\d*)"
                 r"-(?P<oid>0|[1-9]\d*)$" % TAG_LEN)
_RANK = {"new": 0, "partially_filled": 1}   # final statuses rank above both


class ClientId(NamedTuple):
    tag: str
    bot_id: int
    gen: int
    order_id: int


def make_client_id(prefix: str, tag: str, bot_id: int, gen: int, order_id: int) -> str:
    if order_id < 0:
        raise HftctlError(f"order_id must be >= 0, got {order_id}")
    cid = f"{prefix}-{tag}-{bot_id}-{gen}-{order_id}"
    if len(cid) > MAX_CLIENT_ID:
        raise HftctlError(f"order_id {order_id} too large: client order id {cid!r} exceeds "
                          f"{MAX_CLIENT_ID} characters")
    return cid


def parse_client_id(prefix: str, cid: str) -> ClientId | None:
    """The parts of ``cid`` if it has our prefix and format (any connector instance's), else None."""
    m = _ID.match(cid)
    if m is None or m.group("prefix") != prefix:
        return None
    return ClientId(m.group("tag"), int(m.group("bot")), int(m.group("gen")), int(m.group("oid")))


@dataclass(slots=True)
class OrderRecord:
    bot_id: int
    gen: int
    order_id: int
    client_order_id: str
    instrument: Instrument
    side: int
    px: float
    qty: float
    order_type: str
    time_in_force: str
    status: str = "pending"        # until the exchange acknowledges
    cum_qty: float = 0.0
    notional: float = 0.0          # sum of fill px * qty, to derive fill prices from averages
    exch_order_id: str = ""
    pending_req_id: int | None = None
    outcome_unknown: bool = False  # the submit's outcome was unknown: a later event may revive it
    submitted: bool = False        # the exchange acknowledged the submit
    revived: bool = False          # reported rejected after an unknown outcome, then found live
    reuse_after: float = 0.0       # monotonic: the order id may not be reused before (see _submit)
    final_at: float = 0.0          # monotonic: when it reached a final status (see OrderTable.prune)

    @property
    def is_open(self) -> bool:
        return self.status not in FINAL_STATUSES


class OrderTable:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.by_cid: dict[str, OrderRecord] = {}
        self.by_bot: dict[tuple[int, int], OrderRecord] = {}    # (bot_id, order_id)

    def add(self, rec: OrderRecord) -> None:
        self.by_cid[rec.client_order_id] = rec
        self.by_bot[(rec.bot_id, rec.order_id)] = rec

    def get(self, bot_id: int, order_id: int) -> OrderRecord | None:
        return self.by_bot.get((bot_id, order_id))

    def open_orders(self, bot_id: int | None = None, symbol: str | None = None) -> list[OrderRecord]:
        return [r for r in self.by_cid.values() if r.is_open
                and (bot_id is None or r.bot_id == bot_id)
                and (symbol is None or r.instrument.symbol == symbol)]

    def prune(self, now: float, keep_s: float = KEEP_FINAL_S) -> int:
        """Forget orders final for more than ``keep_s``, so a bot that trades for days does not
        grow the table (and every scan of it) without bound. A late event for a forgotten order
        is still recognised by its id as this connector's, and being final it is left alone."""
        old = [cid for cid, r in self.by_cid.items()
               if not r.is_open and r.final_at and now - r.final_at > keep_s
               and not (r.outcome_unknown and now < r.reuse_after)]
        for cid in old:
            r = self.by_cid.pop(cid)
            if self.by_bot.get((r.bot_id, r.order_id)) is r:
                del self.by_bot[(r.bot_id, r.order_id)]
        return len(old)

    def forget_bot(self, bot_id: int) -> None:
        """Drop a departed bot's finished orders (open ones stay until they are final)."""
        for key, rec in list(self.by_bot.items()):
            if key[0] == bot_id and not rec.is_open:
                del self.by_bot[key]
                self.by_cid.pop(rec.client_order_id, None)

    def apply(self, upd: OrderUpdate, from_rest_avg: bool = False,
              answer: int | None = None) -> tuple[OrderRecord, OrderUpdate] | None:
        """Fold an exchange update into our record; the bot's message, or None if nothing new.

        ``from_rest_avg``: ``upd.exec_px`` is the order's average fill price (REST bodies),
        not the price of a single fill (stream events). The message carries ``answer`` as its
        req_id if given (the response to a cancel/modify), else the pending submit's req_id.
        """
        rec = self.by_cid.get(upd.client_order_id)
        if rec is None:
            return None
        if not rec.is_open and not rec.outcome_unknown:
            return None        # terminal states are sticky; this is a late duplicate
        if rec.outcome_unknown and rec.status == "rejected" and upd.status not in FINAL_STATUSES:
            rec.revived = True     # the bot was told "rejected", yet the exchange has it live
        rec.outcome_unknown = False
        delta = upd.cum_qty - rec.cum_qty
        exec_qty = exec_px = 0.0
        if delta > _EPS:
            exec_qty = delta
            if not from_rest_avg and upd.exec_qty > _EPS:
                exec_px = upd.exec_px
            elif upd.exec_px > 0:
                exec_px = (upd.exec_px * upd.cum_qty - rec.notional) / delta
            rec.cum_qty = upd.cum_qty
            rec.notional += exec_px * exec_qty
        status = upd.status
        if status not in FINAL_STATUSES and rec.status in _RANK and _RANK[status] < _RANK[rec.status]:
            status = rec.status        # a stale "new" after a partial fill
        changed = (exec_qty > 0 or status != rec.status or upd.px != rec.px or upd.qty != rec.qty)
        if not changed:
            return None
        rec.status = status
        if status in FINAL_STATUSES:
            rec.final_at = time.monotonic()
        rec.px, rec.qty = upd.px, upd.qty
        if upd.exch_order_id:
            rec.exch_order_id = upd.exch_order_id
        if answer is not None:
            req_id = answer
        else:
            req_id, rec.pending_req_id = rec.pending_req_id, None
        out = replace(upd, order_id=rec.order_id, status=status, exec_qty=exec_qty, exec_px=exec_px,
                      cum_qty=rec.cum_qty,
                      leaves_qty=max(0.0, rec.qty - rec.cum_qty) if status not in FINAL_STATUSES else 0.0,
                      req_id=req_id)
        return rec, out

    def local_update(self, rec: OrderRecord, status: str, reason: str, local_ts: int,
                     req_id: int | None) -> OrderUpdate:
        """An update the connector itself decides (rejection before/at the exchange, or the
        unchanged state as the answer to a request that changed nothing)."""
        rec.status = status
        if status in FINAL_STATUSES:
            rec.final_at = time.monotonic()
        leaves = 0.0 if status in FINAL_STATUSES else max(0.0, rec.qty - rec.cum_qty)
        return OrderUpdate(
            symbol=rec.instrument.symbol, order_id=rec.order_id, client_order_id=rec.client_order_id,
            exch_order_id=rec.exch_order_id, side=rec.side, px=rec.px, qty=rec.qty, leaves_qty=leaves,
            exec_qty=0.0, exec_px=0.0, cum_qty=rec.cum_qty, status=status, order_type=rec.order_type,
            time_in_force=rec.time_in_force, exch_ts=0, local_ts=local_ts, reason=reason, req_id=req_id)
