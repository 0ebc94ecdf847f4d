"""One bot order through spot's cancel-replace: the exchange orders that carry it, seen as one.

Spot has no amend that changes a price: ``order.cancelReplace`` cancels the exchange order and
places a new one (a new ``orderId``; web-socket-api.md § Cancel and replace order). The bot asked
to change *its* order, so the connector must keep showing one order: the new exchange order takes
the same client order id ("The new order can reuse old clientOrderId of the canceled order"),
and what the earlier exchange orders filled is carried into its numbers: filled quantity =
filled before + filled by the current one, quantity = filled before + the current one's
quantity, average price over all of them.

Every update the spot client hands on passes through :meth:`OrderLives.view`, which

- remembers each open order's last state (an amend is chosen from it: keep-priority or replace);
- translates the current exchange order's updates as above, and drops those of the replaced
  ones (their fills are in the carried numbers, their cancel is not the bot's order ending);
- while a replace is in flight, holds the old order's final update (is it a cancel that a new
  order continues, or the end of the order?) and any update of an exchange order it does not
  know yet (the new one, seen before the answer): :meth:`replaced` / :meth:`not_replaced`
  settle them, from the cancel-replace's answer or, when that was lost, from queries.

Only REST-shaped bodies (``avg=True``: ``exec_px`` is the average price) settle a replace, as only
they say what the cancelled order's fills were worth; stream events never do.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from hftctl.ipc.schema import FINAL_STATUSES, OrderUpdate


@dataclass(slots=True)
class Life:
    current: str                           # the exchange order that is the bot's order now
    last: OrderUpdate | None = None        # the last state handed on (translated)
    base_qty: float = 0.0                  # filled by earlier (replaced) exchange orders
    base_quote: float = 0.0                # what those fills were worth (price x quantity)
    retired: set[str] = field(default_factory=set)
    replacing: str = ""                    # the exchange order a cancel-replace is replacing
    held: list[tuple[OrderUpdate, bool]] = field(default_factory=list)   # (raw, avg) until it settles


class OrderLives:
    def __init__(self) -> None:
        self.lives: dict[str, Life] = {}

    def get(self, cid: str) -> Life | None:
        return self.lives.get(cid)

    def replacing(self) -> list[str]:
        """Client ids with a cancel-replace not settled yet."""
        return [cid for cid, life in self.lives.items() if life.replacing]

    def view(self, u: OrderUpdate, avg: bool) -> OrderUpdate | None:
        """``u`` as the bot's order, or None: held, or about an exchange order the bot's order
        has left behind. ``avg``: ``u.exec_px`` is the average fill price (a REST body)."""
        cid = u.client_order_id
        life = self.lives.get(cid)
        if life is None or (u.exch_order_id != life.current and u.exch_order_id not in life.retired
                            and not life.replacing):
            if u.status in FINAL_STATUSES:
                self.lives.pop(cid, None)
                return u
            life = self.lives[cid] = Life(u.exch_order_id)       # a new order (or an id reused)
        oid = u.exch_order_id
        if oid in life.retired:
            return None
        if life.replacing and (oid != life.current or u.status in FINAL_STATUSES):
            life.held.append((u, avg))
            return None
        out = self._translate(life, u, avg)
        life.last = out
        if out.status in FINAL_STATUSES:
            del self.lives[cid]
        return out

    @staticmethod
    def _translate(life: Life, u: OrderUpdate, avg: bool) -> OrderUpdate:
        if not life.base_qty:
            return u
        cum = life.base_qty + u.cum_qty
        exec_px = (life.base_quote + u.exec_px * u.cum_qty) / cum if avg else u.exec_px
        status = "partially_filled" if u.status == "new" else u.status      # the bot's order has fills
        return replace(u, qty=life.base_qty + u.qty, cum_qty=cum, exec_px=exec_px, status=status)

    def begin(self, cid: str) -> Life:
        """A cancel-replace of the order's current exchange order is about to be sent."""
        life = self.lives[cid]
        life.replacing = life.current
        return life

    def replaced(self, cid: str, old: OrderUpdate, new_id: str) -> list[OrderUpdate]:
        """The replace happened: ``old`` is the cancelled exchange order's final state (a REST
        body, already named by ``cid``), ``new_id`` the exchange order that continues the bot's
        order. Returns the held updates that now mean something, translated."""
        life = self.lives[cid]
        if new_id == life.current:           # settled already (a query raced the answer)
            return []
        life.base_qty += old.cum_qty
        life.base_quote += old.exec_px * old.cum_qty
        life.retired.add(life.current)
        life.current, life.replacing = new_id, ""
        return self._release(life)

    def not_replaced(self, cid: str, keep_held: bool = True) -> list[OrderUpdate]:
        """No new exchange order continues the bot's order: the held updates are handed on as
        they are (``keep_held=False``: dropped, the caller has the authoritative state)."""
        life = self.lives.get(cid)
        if life is None or not life.replacing:
            return []
        life.replacing = ""
        if not keep_held:
            life.held.clear()
        return self._release(life)

    def _release(self, life: Life) -> list[OrderUpdate]:
        held, life.held = life.held, []
        return [v for v in (self.view(u, avg) for u, avg in held) if v is not None]
