"""Live terminal view of a running collector: rate, per-symbol counts, files being written."""

from __future__ import annotations

import time

from rich.console import Console
from rich.live import Live
from rich.table import Table

from hftctl.collector.stats import CollectStats
from hftctl.collector.writer import RecordingWriter


class Progress:
    """A rich Live panel on stderr when it is a terminal; nothing at all otherwise."""

    def __init__(self, stats: CollectStats, writer: RecordingWriter, enabled: bool | None = None) -> None:
        self.stats = stats
        self.writer = writer
        self.console = Console(stderr=True)
        self.enabled = self.console.is_terminal if enabled is None else enabled
        self._live: Live | None = None
        self._last = (time.monotonic(), 0)
        self._rate = 0.0

    def __enter__(self) -> "Progress":
        if self.enabled:
            self._live = Live(self._render(), console=self.console, refresh_per_second=2, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live:
            self._live.update(self._render())
            self._live.__exit__(None, None, None)
            self._live = None

    def tick(self) -> None:
        """Called about once a second by the collector loop."""
        now = time.monotonic()
        t0, n0 = self._last
        if now - t0 >= 0.5:
            self._rate = (self.stats.messages - n0) / (now - t0)
            self._last = (now, self.stats.messages)
        if self._live:
            self._live.update(self._render())

    def _render(self) -> Table:
        s = self.stats
        table = Table(title=f"hftctl collect — {s.source} — {s.state}", title_justify="left")
        table.add_column("symbol")
        table.add_column("messages", justify="right")
        table.add_column("file")
        files = self.writer.current_files()
        for sym in sorted(set(s.per_symbol) | set(files)):
            f = files.get(sym)
            table.add_row(sym, f"{s.per_symbol.get(sym, 0):,}", str(f) if f else "-")
        table.caption = (f"{self._rate:,.0f} msg/s · {s.messages:,} messages · {s.snapshots} snapshots · "
                         f"{s.gaps} gaps · {s.reconnects} reconnects · "
                         f"{self.writer.stats.bytes_written / 1e6:.1f} MB written")
        return table
