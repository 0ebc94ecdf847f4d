"""How fills move money: linear (USDT-margined) perpetuals or spot balances.

The engine matches orders the same way for every exchange; what an order locks, what a fill
pays and which balances change differ between a futures account (margin, one-way positions,
fees in the margin asset) and a spot account (free/locked balances, fees in the received asset).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hftctl.sim.accounts import Account, Position, apply_fill

if TYPE_CHECKING:
    from hftctl.sim.engine import SimEngine
    from hftctl.sim.instruments import SymbolSpec
    from hftctl.sim.orders import Order


@dataclass
class FillEffect:
    fee: float
    fee_asset: str
    realized: float
    assets: list[str]
    changes: dict[str, float]
    positions: list[Position] = field(default_factory=list)


class LinearAccounting:
    name = "linear"

    def check_new(self, engine: "SimEngine", account: Account, spec: "SymbolSpec", side: int,
                  qty_lots: int, price: float, reduce_only: bool) -> None:
        from hftctl.sim.engine import SimReject
        pos = account.position(spec.symbol)
        if reduce_only:
            if pos.lots == 0 or (pos.lots > 0) == (side > 0) or qty_lots > abs(pos.lots):
                raise SimReject("reduce_only")
        elif not (pos.lots != 0 and (pos.lots > 0) != (side > 0) and qty_lots <= abs(pos.lots)):
            need = price * qty_lots * spec.step / account.leverage
            if need > engine.available_balance(account, spec.quote) + 1e-9:
                raise SimReject("margin")

    def on_accept(self, engine: "SimEngine", order: "Order") -> list[str] | None:
        """Assets whose free/locked split changed (-> an account event), or None."""
        return None

    def on_fill(self, engine: "SimEngine", order: "Order", lots: int, ticks: int, is_maker: bool) -> FillEffect:
        account = order.account
        spec = engine.specs[order.symbol]
        price = ticks * spec.tick
        fee = price * lots * spec.step * (account.maker_fee if is_maker else account.taker_fee)
        pos = account.position(order.symbol)
        realized = apply_fill(pos, lots * order.side, price, spec.step)
        account.balances[spec.quote] = account.balances.get(spec.quote, 0.0) + realized - fee
        pos.update_ms = engine.now_ms()
        return FillEffect(fee, spec.quote, realized, [spec.quote], {spec.quote: realized - fee}, [pos])

    def on_done(self, engine: "SimEngine", order: "Order") -> list[str] | None:
        return None


class SpotAccounting:
    """Free/locked balances: a limit buy locks quote at its price, a sell locks base; the fee is
    taken from the asset received (Binance spot without BNB discounts)."""

    name = "spot"

    def check_new(self, engine: "SimEngine", account: Account, spec: "SymbolSpec", side: int,
                  qty_lots: int, price: float, reduce_only: bool) -> None:
        from hftctl.sim.engine import SimReject
        qty = qty_lots * spec.step
        if side > 0:
            if account.balances.get(spec.quote, 0.0) + 1e-9 < price * qty:
                raise SimReject("balance")
        elif account.balances.get(spec.base, 0.0) + 1e-12 < qty:
            raise SimReject("balance")

    def _lock(self, account: Account, asset: str, amount: float) -> None:
        account.balances[asset] = account.balances.get(asset, 0.0) - amount
        account.locked[asset] = account.locked.get(asset, 0.0) + amount

    def on_accept(self, engine: "SimEngine", order: "Order") -> list[str] | None:
        if order.type != "LIMIT":
            return None
        spec = engine.specs[order.symbol]
        if order.side > 0:
            self._lock(order.account, spec.quote, order.price_ticks * spec.tick * order.qty_lots * spec.step)
            return [spec.quote]
        self._lock(order.account, spec.base, order.qty_lots * spec.step)
        return [spec.base]

    def on_fill(self, engine: "SimEngine", order: "Order", lots: int, ticks: int, is_maker: bool) -> FillEffect:
        account = order.account
        spec = engine.specs[order.symbol]
        qty = lots * spec.step
        price = ticks * spec.tick
        rate = account.maker_fee if is_maker else account.taker_fee
        bal = account.balances
        if order.side > 0:
            if order.type == "LIMIT":       # release what this part locked, pay the fill price
                self._lock(account, spec.quote, -order.price_ticks * spec.tick * qty)
            bal[spec.quote] = bal.get(spec.quote, 0.0) - price * qty
            fee = qty * rate
            bal[spec.base] = bal.get(spec.base, 0.0) + qty - fee
            changes = {spec.base: qty - fee, spec.quote: -price * qty}
            fee_asset = spec.base
        else:
            if order.type == "LIMIT":
                self._lock(account, spec.base, -qty)
            bal[spec.base] = bal.get(spec.base, 0.0) - qty
            fee = price * qty * rate
            bal[spec.quote] = bal.get(spec.quote, 0.0) + price * qty - fee
            changes = {spec.base: -qty, spec.quote: price * qty - fee}
            fee_asset = spec.quote
        return FillEffect(fee, fee_asset, 0.0, [spec.base, spec.quote], changes)

    def on_done(self, engine: "SimEngine", order: "Order") -> list[str] | None:
        """Unlock what the unfilled remainder still holds."""
        if order.type != "LIMIT" or order.remaining <= 0:
            return None
        spec = engine.specs[order.symbol]
        if order.side > 0:
            self._lock(order.account, spec.quote, -order.price_ticks * spec.tick * order.remaining * spec.step)
            return [spec.quote]
        self._lock(order.account, spec.base, -order.remaining * spec.step)
        return [spec.base]
