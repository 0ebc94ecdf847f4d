"""The bots a connector serves: who is alive, what they registered, when they were last heard."""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass, field

from hftctl.exchanges.base import Instrument


@dataclass
class BotSession:
    bot_id: int
    gen: int                      # distinguishes successive bots in the same slot
    pid: int = 0
    name: str = ""
    last_seen: float = field(default_factory=time.monotonic)
    instruments: dict[str, Instrument] = field(default_factory=dict)
    raw_symbols: set[str | None] = field(default_factory=set)   # None = every symbol
    timed_out: bool = False       # went silent past the watchdog's limit; cleared when it speaks

    def alive(self) -> bool:
        """False once the bot's process is gone (SIGKILL leaves no Bye)."""
        if self.pid <= 0:
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


class BotRegistry:
    def __init__(self) -> None:
        self.bots: dict[int, BotSession] = {}
        self._gens = itertools.count(1)

    def hello(self, bot_id: int, pid: int, name: str) -> tuple[BotSession, BotSession | None]:
        """A new session for the slot; the previous occupant, if any, is returned to clean up."""
        old = self.bots.pop(bot_id, None)
        s = BotSession(bot_id, next(self._gens), pid, name)
        self.bots[bot_id] = s
        return s, old

    def get_or_create(self, bot_id: int) -> BotSession:
        """Requests from a bot that skipped Hello still get a session (and a watchdog)."""
        s = self.bots.get(bot_id)
        if s is None:
            s = BotSession(bot_id, next(self._gens))
            self.bots[bot_id] = s
        return s

    def remove(self, bot_id: int) -> BotSession | None:
        return self.bots.pop(bot_id, None)

    def touch(self, bot_id: int) -> BotSession | None:
        """Note that the bot spoke; returns its session if it had timed out (it is back)."""
        s = self.bots.get(bot_id)
        if s is None:
            return None
        s.last_seen = time.monotonic()
        if s.timed_out:
            s.timed_out = False
            return s
        return None

    def silent(self, timeout_s: float) -> list[BotSession]:
        """Bots whose process is gone, and live ones newly silent for more than ``timeout_s``."""
        now = time.monotonic()
        return [s for s in self.bots.values()
                if not s.alive() or (not s.timed_out and now - s.last_seen > timeout_s)]

    def subscribers(self, symbol: str) -> list[BotSession]:
        return [s for s in self.bots.values() if symbol in s.instruments]

    def raw_subscribers(self, symbol: str) -> list[int]:
        return [s.bot_id for s in self.bots.values()
                if None in s.raw_symbols or symbol in s.raw_symbols]
