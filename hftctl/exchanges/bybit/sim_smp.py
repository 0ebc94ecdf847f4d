"""Bybit's self-match prevention (docs/v5/smp.mdx) on the sim engine's self-trade prevention.

``smpType`` is ``None`` by default, so an account's orders trade with each other; ``CancelMaker``,
``CancelTaker`` and ``CancelBoth`` cancel the resting order, the incoming one or both. Only the
incoming order's type counts ("once an order is placed in the orderbook, its smpType becomes
invalid"), which is the engine's rule: it decides by the taker's mode, expires orders with reason
"stp" and records the prevented match on both orders. Bybit shows those as ``Cancelled`` with
``cancelType=CancelBySmp`` and names the other order in ``smpOrderId``. SMP groups (institutions
only) are not modelled: the sim's accounts are separate UIDs without a group.
"""

from __future__ import annotations

from hftctl.sim.orders import Order

SMP_TYPES = {"None": "none", "CancelMaker": "expire_maker", "CancelTaker": "expire_taker", "CancelBoth": "expire_both"}
SMP_NAMES = {mode: name for name, mode in SMP_TYPES.items()}


def smp_type(order: Order) -> str:
    return SMP_NAMES[order.stp]


def smp_order_id(order: Order) -> int | None:
    """The other order of the match that cancelled this one (None: not cancelled by SMP)."""
    m = order.stp_match
    return m.counter(order).order_id if m is not None else None
