"""What ``hftctl health`` found, as plain dataclasses (rendered as a table or as JSON)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

HEALTHY, DEGRADED, DOWN = "healthy", "degraded", "down"
EXIT_CODES = {HEALTHY: 0, DEGRADED: 1, DOWN: 2}


@dataclass
class StreamHealth:
    name: str
    state: str
    last_msg_age: float | None = None


@dataclass
class BotHealth:
    bot_id: int
    pid: int
    alive: bool
    name: str = ""
    role: str = "bot"                    # "bot" or "collector" (the collector is a ring reader too)
    lag: int | None = None               # messages behind the connector
    overruns: int = 0                    # messages lost to overruns
    open_orders: int | None = None
    positions: dict[str, float] = field(default_factory=dict)
    status_age: float | None = None      # age of its own status file, if it publishes one
    silent: bool = False                 # alive, but quiet past the connector's heartbeat limit


@dataclass
class DeadManHealth:
    """Who cancels the connector's orders if it is killed (connector/dead_man.py)."""
    mechanism: str                       # the exchange's (e.g. countdownCancelAll), "guardian", or ""
    state: str                           # armed, failing, off, unprotected, starting
    window_s: float = 0.0
    symbols: list[str] = field(default_factory=list)
    last_refresh_age: float | None = None
    error: str = ""
    guardian_pid: int | None = None


@dataclass
class ConnectorHealth:
    name: str
    pid: int
    alive: bool
    heartbeat_age: float | None          # ring heartbeat (the connector stamps it every 0.25 s)
    status_age: float | None = None
    exchange: str = ""
    streams: list[StreamHealth] = field(default_factory=list)
    books: dict[str, str] = field(default_factory=dict)
    bots: list[BotHealth] = field(default_factory=list)
    dead_man: DeadManHealth | None = None
    messages: int = 0                    # published on the broadcast channel so far
    # The connector's counters and gauges (status file "stats": exchange client and connector),
    # numbers only: orders sent/rejected, reconnects, gaps, feed lag, REST back-off...
    stats: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


@dataclass
class CollectorHealth:
    name: str
    pid: int
    alive: bool
    source: str = ""
    last_write_age: float | None = None
    messages: int | None = None
    files: list[str] = field(default_factory=list)
    status_age: float | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class StaleItem:
    """A leftover of a dead process: a shared-memory segment, semaphore or status file."""
    file: str
    kind: str            # shm, sem, status
    owner_pid: int
    detail: str = ""


@dataclass
class HealthReport:
    verdict: str = DOWN
    summary: str = ""
    connectors: list[ConnectorHealth] = field(default_factory=list)
    collectors: list[CollectorHealth] = field(default_factory=list)
    orphan_bots: list[BotHealth] = field(default_factory=list)   # bots whose connector is not found
    stale: list[StaleItem] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    cleaned: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def as_dict(self) -> dict[str, Any]:
        d = _rounded(asdict(self))
        d["exit_code"] = self.exit_code
        return d


def _rounded(v: Any) -> Any:
    """Ages to the millisecond: more digits are noise in a monitoring document."""
    if isinstance(v, float):
        return round(v, 3)
    if isinstance(v, dict):
        return {k: _rounded(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_rounded(x) for x in v]
    return v
