"""Fault switches a client's test can flip: dropped sockets, sequence gaps, delays, REST errors,
expired listen keys and a shifted server clock. Set from CLI flags or POST /_sim/fault."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import asdict, dataclass, fields

from hftctl.errors import HftctlError


@dataclass
class Faults:
    drop_ws_every_s: float = 0.0     # close every websocket this often (0: never)
    gap_every: int = 0               # skip a depth sequence number every N depth events (0: never)
    skip_depth_seq: int = 0          # one-shot: each symbol's next N depth events skip a sequence number
    ws_delay_ms: float = 0.0         # hold every outgoing websocket message this long
    rest_delay_ms: float = 0.0       # hold every REST response this long
    rest_5xx_rate: float = 0.0       # fraction of REST calls answered 503
    rest_429_rate: float = 0.0       # fraction of REST calls answered 429 / -1003
    clock_shift_ms: int = 0          # added to the server's clock (serverTime, E/T, recvWindow)
    # Order requests (new/cancel/amend) answered with the exchange's "outcome unknown" error:
    unknown_after_exec_rate: float = 0.0    # ... after the engine executed them
    unknown_before_exec_rate: float = 0.0   # ... without executing them

    def __post_init__(self) -> None:
        self.rng = random.Random(0)
        self._depth_count: dict[str, int] = {}
        self._skip_left: dict[str, int] = {}

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.clock_shift_ms

    def take_gap(self, symbol: str) -> bool:
        """Called once per depth event: should this event pretend one before it was lost?"""
        if self.skip_depth_seq > 0:
            left = self._skip_left.setdefault(symbol, self.skip_depth_seq)
            if left > 0:
                self._skip_left[symbol] = left - 1
                return True
        if self.gap_every > 0:
            n = self._depth_count[symbol] = self._depth_count.get(symbol, 0) + 1
            if n % self.gap_every == 0:
                return True
        return False

    def unknown_outcome(self) -> str | None:
        """Per order request: "after" (execute, then answer "unknown"), "before" (answer
        "unknown" and do nothing) or None. Each adapter renders its exchange's own error."""
        if self.unknown_after_exec_rate > 0 and self.rng.random() < self.unknown_after_exec_rate:
            return "after"
        if self.unknown_before_exec_rate > 0 and self.rng.random() < self.unknown_before_exec_rate:
            return "before"
        return None

    def rest_fault(self) -> int:
        """0, or the HTTP status (503 / 429) this REST call should fail with."""
        if self.rest_5xx_rate > 0 and self.rng.random() < self.rest_5xx_rate:
            return 503
        if self.rest_429_rate > 0 and self.rng.random() < self.rest_429_rate:
            return 429
        return 0

    async def rest_call(self) -> int:
        """What every REST endpoint does first: decide its fault, then wait out the delay."""
        fault = self.rest_fault()
        if self.rest_delay_ms > 0:
            await asyncio.sleep(self.rest_delay_ms / 1000)
        return fault

    def update(self, values: dict) -> None:
        """Apply known switches from a JSON object; unknown names or bad values are refused."""
        known = {f.name: f.type for f in fields(self)}
        for key, value in values.items():
            if key not in known:
                raise HftctlError(f"unknown fault switch {key!r} (known: {', '.join(sorted(known))})")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise HftctlError(f"fault switch {key} needs a number, got {value!r}")
            if value < 0 and key != "clock_shift_ms":
                raise HftctlError(f"fault switch {key} must be >= 0, got {value}")
            if key.endswith("_rate") and value > 1:
                raise HftctlError(f"fault switch {key} is a fraction between 0 and 1, got {value}")
            current = getattr(self, key)
            setattr(self, key, int(value) if isinstance(current, int) else float(value))
            if key == "skip_depth_seq":
                self._skip_left = {}      # a new one-shot for every symbol

    def as_dict(self) -> dict:
        return asdict(self)
