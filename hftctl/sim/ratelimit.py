"""Fixed-window counters like the exchanges' (weight per minute, orders per 10 s / minute)."""

from __future__ import annotations

import time


class WindowCounter:
    """Counts in the current calendar window of `seconds`; resets when the window rolls."""

    __slots__ = ("seconds", "window", "count")

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        self.window = 0
        self.count = 0

    def add(self, n: int = 1, now: float | None = None) -> int:
        w = int((now if now is not None else time.time()) // self.seconds)
        if w != self.window:
            self.window = w
            self.count = 0
        self.count += n
        return self.count

    def current(self, now: float | None = None) -> int:
        w = int((now if now is not None else time.time()) // self.seconds)
        return self.count if w == self.window else 0
