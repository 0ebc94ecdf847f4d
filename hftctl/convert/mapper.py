"""The interface between the generic converter and an exchange's message format.

An exchange folder's ``convert.py`` provides a ``Mapper`` (as ``MAPPER``): it looks
at a chunk of lines, recognises its message kinds and returns the rows for them in bulk. The
generic side (reading, line splitting, assembly, correction, writing) knows nothing of exchanges.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass

from hftctl.convert.lines import LineTable
from hftctl.convert.problems import ProblemLog
from hftctl.convert.rows import RowBlock


@dataclass(frozen=True)
class MapOptions:
    """Exchange-side options. ``opt`` mirrors hftbacktest's futures converters' ``opt``:
    'm' adds mark price rows (ids 100-102), 't' adds best bid/offer rows (ids 103-104)."""

    opt: str = ""
    depth: int | None = None        # book depth to use where several were recorded (None: deepest)


class Mapper(ABC):
    """Turns one exchange's recorded messages into event rows. One instance per input file."""

    name: str = ""
    # True if map_chunk keeps no state between chunks, so chunks may be parsed in parallel.
    parallel_safe: bool = False

    def __init__(self, options: MapOptions) -> None:
        self.options = options
        self.symbols: set[str] = set()      # seen in stream names/topics, lower case
        # Gap marks hftctl's collector writes where it lost data (a reconnect, a sequence gap);
        # not bad input: the book is rebuilt from the snapshot that follows each of them.
        self.gaps = 0
        # Lines of streams hftbacktest's converter turns into no event (aggTrade, forceOrder...,
        # bookTicker/markPrice without their ``opt``), by stream kind: skipped like hftbacktest
        # skips them, counted for the summary, never reported as bad input.
        self.unconverted: Counter[str] = Counter()

    @abstractmethod
    def map_chunk(self, table: LineTable, problems: ProblemLog) -> list[RowBlock]:
        """Rows for the messages of one chunk (chunks arrive in file order)."""

    def finish(self, problems: ProblemLog) -> list[RowBlock]:
        """Rows held back until the whole file was seen (e.g. a depth choice); default none."""
        return []

    @classmethod
    def recognises(cls, msg: bytes) -> bool:
        """Whether one recorded message body is this exchange's (content detection votes)."""
        return False
