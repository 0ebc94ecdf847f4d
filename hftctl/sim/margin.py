"""Margin views of a linear (USDT-margined) account, marked to the public books' mid.

Read by the accounting (may an order be placed?) and by the protocol adapters (balances,
positions and account bodies), so they live apart from the matcher.
"""

from __future__ import annotations

from collections.abc import Mapping

from hftctl.sim.accounts import Account
from hftctl.sim.book import SimBook
from hftctl.sim.instruments import SymbolSpec


class MarginView:
    def __init__(self, specs: Mapping[str, SymbolSpec], books: Mapping[str, SimBook]) -> None:
        self.specs = specs
        self.books = books

    def mark_price(self, symbol: str) -> float:
        mid = self.books[symbol].mid()
        return mid if mid is not None else 0.0

    def unrealized(self, account: Account, symbol: str | None = None) -> float:
        total = 0.0
        for s, pos in account.positions.items():
            if pos.lots and (symbol is None or s == symbol):
                mark = self.mark_price(s)
                if mark:
                    total += (mark - pos.entry_price) * pos.lots * self.specs[s].step
        return total

    def position_margin(self, account: Account) -> float:
        total = 0.0
        for s, pos in account.positions.items():
            if pos.lots:
                total += abs(pos.lots) * self.specs[s].step * (self.mark_price(s) or pos.entry_price) / account.leverage
        return total

    def order_margin(self, account: Account) -> float:
        total = 0.0
        for o in account.orders.values():
            if o.type == "limit" and not o.reduce_only:
                spec = self.specs[o.symbol]
                total += o.remaining * spec.step * o.price_ticks * spec.tick / account.leverage
        return total

    def available_balance(self, account: Account, asset: str) -> float:
        return (account.balances.get(asset, 0.0) + self.unrealized(account)
                - self.position_margin(account) - self.order_margin(account))
