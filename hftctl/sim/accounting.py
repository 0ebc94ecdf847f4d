"""How fills move money: linear (USDT-margined) perpetuals or spot balances.

The engine matches orders the same way for every exchange; what an order locks, what a fill
pays and which balances change differ between a futures account (margin, one-way positions,
fees in the margin asset) and a spot account (free/locked balances, fees in the received asset).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from hftctl.sim.accounts import Account, Position, apply_fill
from hftctl.sim.errors import SimReject
from hftctl.sim.instruments import SymbolSpec
from hftctl.sim.margin import MarginView
from hftctl.sim.orders import Order


@dataclass
class FillEffect:
    fee: float
    fee_asset: str
    realized: float
    assets: list[str]
    changes: dict[str, float]
    positions: list[Position] = field(default_factory=list)


class Accounting:
    """Bound to the engine's instruments, margin view and clock once (``bind``), so it needs no
    reference to the engine itself."""

    name = ""

    def bind(self, specs: Mapping[str, SymbolSpec], margin: MarginView, now_ms: Callable[[], int]) -> None:
        self.specs = specs
        self.margin = margin
        self.now_ms = now_ms

    def check_new(self, account: Account, spec: SymbolSpec, side: int, qty_lots: int, price: float,
                  reduce_only: bool) -> None:
        """Raise SimReject if the account cannot carry this new order."""

    def on_accept(self, order: Order) -> list[str] | None:
        """Assets whose free/locked split changed (-> an account event), or None."""
        return None

    def on_fill(self, order: Order, lots: int, ticks: int, is_maker: bool) -> FillEffect:
        raise NotImplementedError

    def on_done(self, order: Order) -> list[str] | None:
        """Assets released when an order ends with a remainder, or None."""
        return None

    def on_amend(self, order: Order, old_ticks: int, old_lots: int) -> list[str] | None:
        """Assets whose free/locked split changed when ``order`` was amended from ``old_ticks`` x
        ``old_lots`` to its current price and quantity, or None."""
        return None


class LinearAccounting(Accounting):
    name = "linear"

    def check_new(self, account: Account, spec: SymbolSpec, side: int, qty_lots: int, price: float,
                  reduce_only: bool) -> None:
        pos = account.position(spec.symbol)
        if reduce_only:
            if pos.lots == 0 or (pos.lots > 0) == (side > 0) or qty_lots > abs(pos.lots):
                raise SimReject("reduce_only")
        elif not (pos.lots != 0 and (pos.lots > 0) != (side > 0) and qty_lots <= abs(pos.lots)):
            need = price * qty_lots * spec.step / account.leverage
            if need > self.margin.available_balance(account, spec.quote) + 1e-9:
                raise SimReject("margin")

    def on_fill(self, order: Order, lots: int, ticks: int, is_maker: bool) -> FillEffect:
        account = order.account
        spec = self.specs[order.symbol]
        price = ticks * spec.tick
        fee = price * lots * spec.step * (account.maker_fee if is_maker else account.taker_fee)
        pos = account.position(order.symbol)
        realized = apply_fill(pos, lots * order.side, price, spec.step)
        account.balances[spec.quote] = account.balances.get(spec.quote, 0.0) + realized - fee
        pos.update_ms = self.now_ms()
        return FillEffect(fee, spec.quote, realized, [spec.quote], {spec.quote: realized - fee}, [pos])


class SpotAccounting(Accounting):
    """Free/locked balances: a limit buy locks quote at its price, a sell locks base; the fee is
    taken from the asset received (Binance spot without BNB discounts)."""

    name = "spot"

    def check_new(self, account: Account, spec: SymbolSpec, side: int, qty_lots: int, price: float,
                  reduce_only: bool) -> None:
        qty = qty_lots * spec.step
        if side > 0:
            if account.balances.get(spec.quote, 0.0) + 1e-9 < price * qty:
                raise SimReject("balance")
        elif account.balances.get(spec.base, 0.0) + 1e-12 < qty:
            raise SimReject("balance")

    def _lock(self, account: Account, asset: str, amount: float) -> None:
        account.balances[asset] = account.balances.get(asset, 0.0) - amount
        account.locked[asset] = account.locked.get(asset, 0.0) + amount

    def on_accept(self, order: Order) -> list[str] | None:
        if order.type != "limit":
            return None
        spec = self.specs[order.symbol]
        if order.side > 0:
            self._lock(order.account, spec.quote, order.price_ticks * spec.tick * order.qty_lots * spec.step)
            return [spec.quote]
        self._lock(order.account, spec.base, order.qty_lots * spec.step)
        return [spec.base]

    def on_fill(self, order: Order, lots: int, ticks: int, is_maker: bool) -> FillEffect:
        account = order.account
        spec = self.specs[order.symbol]
        qty = lots * spec.step
        price = ticks * spec.tick
        rate = account.maker_fee if is_maker else account.taker_fee
        bal = account.balances
        if order.side > 0:
            if order.type == "limit":       # release what this part locked, pay the fill price
                self._lock(account, spec.quote, -order.price_ticks * spec.tick * qty)
            bal[spec.quote] = bal.get(spec.quote, 0.0) - price * qty
            fee = qty * rate
            bal[spec.base] = bal.get(spec.base, 0.0) + qty - fee
            changes = {spec.base: qty - fee, spec.quote: -price * qty}
            fee_asset = spec.base
        else:
            if order.type == "limit":
                self._lock(account, spec.base, -qty)
            bal[spec.base] = bal.get(spec.base, 0.0) - qty
            fee = price * qty * rate
            bal[spec.quote] = bal.get(spec.quote, 0.0) + price * qty - fee
            changes = {spec.base: -qty, spec.quote: price * qty - fee}
            fee_asset = spec.quote
        return FillEffect(fee, fee_asset, 0.0, [spec.base, spec.quote], changes)

    def on_amend(self, order: Order, old_ticks: int, old_lots: int) -> list[str] | None:
        """The remainder's lock follows the new price and quantity."""
        spec = self.specs[order.symbol]
        old_left = (old_lots - order.filled_lots) * spec.step
        if order.side > 0:
            self._lock(order.account, spec.quote, order.price_ticks * spec.tick * order.remaining * spec.step
                       - old_ticks * spec.tick * old_left)
            return [spec.quote]
        self._lock(order.account, spec.base, order.remaining * spec.step - old_left)
        return [spec.base]

    def on_done(self, order: Order) -> list[str] | None:
        """Unlock what the unfilled remainder still holds."""
        if order.type != "limit" or order.remaining <= 0:
            return None
        spec = self.specs[order.symbol]
        if order.side > 0:
            self._lock(order.account, spec.quote, -order.price_ticks * spec.tick * order.remaining * spec.step)
            return [spec.quote]
        self._lock(order.account, spec.base, -order.remaining * spec.step)
        return [spec.base]
