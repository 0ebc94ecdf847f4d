"""What a bot may ask for: the connector's one check of request values, before anything is
recorded or sent to an exchange.

The schema (``hftctl.ipc.schema``) guarantees types; this guarantees meaning. A price of
``inf`` or ``1e300``, a quantity of 0, a price between two ticks, a symbol that would splice
another stream name into a subscription: each is refused here with a reason the bot receives as
``Error(req_id=...)``, instead of failing somewhere in an exchange client (a traceback and no
answer) or being silently rounded to a different order.
"""

from __future__ import annotations

import math
import re

from hftctl.errors import HftctlError
from hftctl.exchanges.base import Instrument

SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9_.-]{0,39}$")
MIN_STEP, MAX_STEP = 1e-12, 1e9      # sane tick/lot sizes
# Prices and quantities are at most this many ticks/lots: large enough for any market, small
# enough that px / tick stays exact to within GRID_TOL in float arithmetic (error ~ n * 5e-16).
MAX_STEPS = 1e11
GRID_TOL = 1e-4                      # of a step: float noise passes, a price between ticks does not
MAX_PID = 1 << 22                    # Linux PID_MAX_LIMIT
MAX_NAME = 64


class BadRequest(HftctlError):
    """A request the connector refuses; the message goes to the bot as Error.message."""


def symbol(sym: str) -> str:
    """The exchange spelling (upper case) of a bot's symbol, if it can be one."""
    up = sym.upper()
    if not SYMBOL.match(up):
        raise BadRequest(f"invalid symbol {sym[:48]!r} (1-40 of A-Z 0-9 _ . -)")
    return up


def steps(tick_size: float, lot_size: float) -> None:
    for name, v in (("tick_size", tick_size), ("lot_size", lot_size)):
        if not (math.isfinite(v) and MIN_STEP <= v <= MAX_STEP):
            raise BadRequest(f"{name} must be a finite number from {MIN_STEP:g} to {MAX_STEP:g}, got {v!r}")


def _on_grid(what: str, v: float, step: float) -> None:
    n = v / step
    if n > MAX_STEPS:
        raise BadRequest(f"{what} {v!r} is out of range (more than {MAX_STEPS:g} steps of {step:g})")
    if abs(n - round(n)) > GRID_TOL:
        raise BadRequest(f"{what} {v!r} is not a multiple of {step:g}")
    if round(n) < 1:
        raise BadRequest(f"{what} {v!r} is less than one step of {step:g}")


def order(inst: Instrument, px: float, qty: float, order_type: str) -> None:
    """A new or modified order's price and quantity, against the bot's registered instrument."""
    if not math.isfinite(qty) or qty <= 0:
        raise BadRequest(f"qty must be a finite number > 0, got {qty!r}")
    _on_grid("qty", qty, inst.lot_size)
    if not math.isfinite(px) or px < 0:
        raise BadRequest(f"px must be a finite number >= 0, got {px!r}")
    if order_type == "limit":
        if px == 0:
            raise BadRequest("px must be > 0 for a limit order")
        _on_grid("px", px, inst.tick_size)


def order_id(oid: int) -> None:
    if oid < 0:
        raise BadRequest(f"order_id must be >= 0, got {oid}")


def hello(pid: int, name: str) -> str:
    """A bot's pid (checked: the watchdog signals it) and its name made safe to log."""
    if not 0 < pid <= MAX_PID:
        raise BadRequest(f"pid {pid} is not a process id")
    clean = "".join(c if c.isprintable() else "?" for c in name[:MAX_NAME])
    return clean or "?"
