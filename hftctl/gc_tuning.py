"""Garbage collection for the long-running, latency-sensitive processes (connector, live bots).

CPython's cycle collector walks every tracked object of the generations it collects, on the
thread that happened to allocate. Measured in a connector replaying BTCUSDT at 2x for 8 s: 82
young-generation passes of ~0.1 ms and 7 middle-generation passes of 1.5-2.3 ms, with 40k
objects alive after start-up (imported modules, aiohttp, msgspec types) that a full pass walks
again every time. Those passes were the tail of the websocket -> bot hop.

``gc.freeze()`` once start-up is over moves everything then alive into the permanent
generation, which no later pass walks (the pattern CPython documents for pre-fork servers and
Instagram's Django fleet uses), so a pass costs in proportion to what was allocated since.
The thresholds stay CPython's: raising them makes passes rarer but each one longer, which a
latency tail does not want.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def freeze_startup_heap() -> int:
    """Collect what start-up left as garbage, then exempt the survivors from later passes.
    Returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    n = gc.get_freeze_count()
    log.debug("gc: %d start-up objects frozen", n)
    return n
