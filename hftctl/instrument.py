"""A tradable symbol and the steps its prices and quantities move in: one type for the bots, the
connector and the exchange clients."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hftctl.errors import HftctlError


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str
    tick_size: float = 0.0     # 0: not known yet (the connector's raw-only subscriptions)
    lot_size: float = 0.0
    connector: str = ""        # where a bot trades it (bots only)

    def __post_init__(self) -> None:
        if not self.symbol:
            raise HftctlError("instrument symbol must not be empty")
        for name in ("tick_size", "lot_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise HftctlError(f"{name} must be a finite number >= 0, got {v!r}")

    def require_steps(self) -> "Instrument":
        """This instrument, if both steps are known (> 0): orders need them."""
        if not (self.tick_size > 0 and self.lot_size > 0):
            raise HftctlError(f"{self.symbol}: tick_size and lot_size must be > 0, got "
                              f"{self.tick_size!r} and {self.lot_size!r}")
        return self
