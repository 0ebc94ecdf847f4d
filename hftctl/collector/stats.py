"""Counters the collector keeps for the progress display, logs and the final summary."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class CollectStats:
    source: str = ""
    state: str = "starting"
    started: float = field(default_factory=time.monotonic)
    messages: int = 0          # market data lines written (snapshots and gap marks excluded)
    snapshots: int = 0
    gaps: int = 0
    reconnects: int = 0
    malformed: int = 0
    per_symbol: dict[str, int] = field(default_factory=dict)

    def count(self, symbol: str) -> None:
        self.messages += 1
        self.per_symbol[symbol] = self.per_symbol.get(symbol, 0) + 1

    def summary(self) -> str:
        secs = max(time.monotonic() - self.started, 1e-9)
        return (f"{self.messages} messages in {secs:.1f} s ({self.messages / secs:.0f}/s), "
                f"{self.snapshots} snapshots, {self.gaps} gaps, {self.reconnects} reconnects")
