"""The sim core's refusal of an order request, in exchange-neutral terms."""

from __future__ import annotations


class SimReject(Exception):
    """An order request the exchange refuses; adapters map ``reason`` to their own error codes.

    Reasons: unknown_symbol, qty_nonpositive, lot_size, price_filter, min_notional, no_liquidity,
    duplicate_client_id, reduce_only, margin, balance, would_take, unknown_order, modify_type,
    modify_side, modify_qty, no_change.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
