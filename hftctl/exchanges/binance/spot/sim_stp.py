"""Spot's self-trade prevention in the sim: the modes and their default.

The engine decides (``place(..., stp=)``, the taker's mode) and records each prevented match on
both orders (``Order.prevented``, ``Order.stp_match``); Binance spot names the modes and makes
``defaultSelfTradePreventionMode`` the default of an order that gives none (faqs/stp_faq.md,
checked 2026-12-01). DECREMENT and TRANSFER, also allowed on the exchange, are not modelled: the
sim's symbols do not list them, so an order asking for them gets -1013.
"""

from __future__ import annotations

MODES = {"NONE": "none", "EXPIRE_TAKER": "expire_taker", "EXPIRE_MAKER": "expire_maker",
         "EXPIRE_BOTH": "expire_both"}
MODE_OUT = {v: k for k, v in MODES.items()}
DEFAULT_MODE = "EXPIRE_MAKER"
NOT_ALLOWED = (400, -1013, "This symbol does not allow the specified self-trade prevention mode.")
