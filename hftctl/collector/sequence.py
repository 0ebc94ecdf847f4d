"""Depth sequence tracking shared by direct and --ipc mode: is this diff the next one?"""

from __future__ import annotations

from hftctl.collector.protocol import CollectorProtocol, DepthSeq


class DepthSequence:
    """Last update id per symbol; ``check`` says whether a diff continues it."""

    FIRST = "first"   # no history (start, reconnect): a snapshot is needed, nothing was lost
    GAP = "gap"       # diffs were lost between the previous one and this one

    def __init__(self, protocol: CollectorProtocol) -> None:
        self.protocol = protocol
        self._last: dict[str, int] = {}

    def reset(self, symbols: tuple[str, ...] | None = None) -> None:
        """Forget the history of ``symbols`` (None: all), e.g. their connection is new."""
        if symbols is None:
            self._last.clear()
        for sym in symbols or ():
            self._last.pop(sym, None)

    def check(self, symbol: str, seq: DepthSeq) -> str | None:
        prev = self._last.get(symbol)
        self._last[symbol] = seq.last
        if prev is None:
            return self.FIRST
        if not self.protocol.continuous(prev, seq):
            return self.GAP
        return None

    def previous(self, symbol: str) -> int | None:
        return self._last.get(symbol)
