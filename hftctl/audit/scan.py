"""One recording, read once, chunk by chunk: everything the audit report needs.

Reading reuses the converter's (gzip/zstd/plain by content, ISA-L, a reader thread decompressing
ahead, lines split and timestamps read by the C scanner); each chunk goes through the exchange's
audit reader and then through numpy over the whole chunk. Per-message results are kept only where
the report needs them at the end (the best bid and ask after each depth message, the trades);
counts, latency and silences are folded as the chunks pass, so memory grows slowly with the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hftctl import exchanges
from hftctl.audit.book import BookReplay
from hftctl.audit.latency import LatencyStats
from hftctl.audit.reader import NO_ID, AuditChunk, AuditReader, BookMessages, Kind
from hftctl.convert.lines import split_lines
from hftctl.convert.problems import ProblemLog
from hftctl.convert.source import read_chunks, sample_text
from hftctl.errors import HftctlError

NS = 1_000_000_000
CONTROL_STREAM = "(control)"              # acks, pongs, error messages
UNKNOWN_STREAM = "(unrecognised)"
RESTART_REASONS = ("reconnect", "connector-gone", "restart")
MAX_SECONDS = 40 * 86400                  # messages per second are counted this far from the first line


class BadInput(HftctlError):
    """Not an auditable recording: missing, unreadable, truncated, corrupt, of no known exchange."""

    exit_code = 2


@dataclass(frozen=True)
class AuditOptions:
    silence_s: float = 5.0               # a pause longer than this is a silent period
    trade_tolerance_bps: float = 10.0    # a trade further outside the book than this is reported
    exchange: str | None = None          # None: told from the content


@dataclass
class BookOut:
    """Per depth message of one book stream: where it is and the book after it."""

    line: list[np.ndarray] = field(default_factory=list)
    ts: list[np.ndarray] = field(default_factory=list)
    bid: list[np.ndarray] = field(default_factory=list)
    ask: list[np.ndarray] = field(default_factory=list)
    synced: list[np.ndarray] = field(default_factory=list)

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate(getattr(self, k)) if getattr(self, k) else np.zeros(0)
                for k in ("line", "ts", "bid", "ask", "synced")}


@dataclass
class _Chain:
    """A book stream's id chain and sync state, carried from chunk to chunk."""

    last: int = NO_ID
    line: int = 0
    ts: int = 0
    resync_line: int = -1            # last snapshot
    unsync_line: int = -1            # last break or gap mark


class FileScan:
    """Feed chunks with ``feed``; ``result`` returns the raw findings (``report`` turns them into
    the report)."""

    def __init__(self, path: str, exchange: str, reader: AuditReader, options: AuditOptions) -> None:
        self.path = path
        self.exchange = exchange
        self.reader = reader
        self.options = options
        self.problems = ProblemLog(path)
        self.codes: dict[str, int] = {}
        self.names: list[str] = []
        self.symbol_of: list[str] = []
        self.counts = np.zeros(0, np.int64)
        self.lines = 0
        self.first_ts: int | None = None
        self.last_ts = 0
        self.min_ts: int | None = None
        self.max_ts = 0
        self.silences: list[tuple[int, int, int]] = []     # (line, start ns, end ns)
        self.longest_pause = 0                              # ns, between consecutive lines
        self.per_second = np.zeros(0, np.int64)
        self.latency = LatencyStats()
        self.chains: dict[int, _Chain] = {}
        self.breaks: list[dict] = []
        self.marks: list[dict] = []
        self._mark_waiting: list[dict] = []                 # marks whose next line is in the next chunk
        self.snapshots: list[tuple[int, int, int]] = []     # (line, ts, book code)
        self.unattributed_snapshots = 0
        self.books: dict[int, BookReplay] = {}
        self.book_out: dict[int, BookOut] = {}
        self.trades: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    # -- names -------------------------------------------------------------------------------
    def code(self, name: str, symbol: str = "") -> int:
        c = self.codes.get(name)
        if c is None:
            c = self.codes[name] = len(self.names)
            self.names.append(name)
            self.symbol_of.append(symbol)
        return c

    # -- one chunk ---------------------------------------------------------------------------
    def feed(self, data: bytes, first_line: int) -> None:
        table = split_lines(data, first_line, self.problems)
        if not len(table):
            return
        chunk = self.reader.read(table, self.problems)
        ts, line = table.local_ts, table.line_no
        codes = self._map(chunk)
        self._count(chunk, codes)
        before = self.last_ts if self.first_ts is not None else None
        self._times(ts, line)
        for mark in self._mark_waiting:
            mark["next_ts"] = int(ts[0])
        self._mark_waiting = []
        timed = chunk.exch_ms != NO_ID
        self.latency.add(ts[timed], ts[timed] // 1_000_000 - chunk.exch_ms[timed])
        self._gap_marks(chunk, ts, line, before)
        book = chunk.book
        self._books(book, np.where(book.book >= 0, codes[np.maximum(book.book, 0)], -1), ts, line)
        t = chunk.trades
        self.trades.append((line[t.row], ts[t.row], codes[np.maximum(t.stream, 0)], t.px))

    def _map(self, chunk: AuditChunk) -> np.ndarray:
        return np.array([self.code(n, s) for n, s in zip(chunk.streams, chunk.stream_symbol)] or [0], np.int64)

    def _count(self, chunk: AuditChunk, codes: np.ndarray) -> None:
        """Lines per stream; lines without one by kind (control messages, unrecognised lines)."""
        stream = np.where(chunk.stream >= 0, codes[np.maximum(chunk.stream, 0)], -1)
        nameless = stream < 0
        if nameless.any():
            stream[nameless] = np.where(chunk.kind[nameless] == Kind.CONTROL, self.code(CONTROL_STREAM),
                                        self.code(UNKNOWN_STREAM))
        counts = np.bincount(stream, minlength=len(self.names))
        if len(self.counts) < len(counts):
            self.counts = np.concatenate([self.counts, np.zeros(len(counts) - len(self.counts), np.int64)])
        self.counts[:len(counts)] += counts
        self.lines += len(stream)

    def _times(self, ts: np.ndarray, line: np.ndarray) -> None:
        if self.first_ts is None:
            self.first_ts = int(ts[0])
            self.min_ts, prev = int(ts[0]), int(ts[0])
        else:
            prev = self.last_ts
        self.last_ts = int(ts[-1])
        self.min_ts = min(self.min_ts, int(ts.min()))
        self.max_ts = max(self.max_ts, int(ts.max()))
        before = np.concatenate([[prev], ts[:-1]])
        pause = ts - before
        self.longest_pause = max(self.longest_pause, int(pause.max()))
        for i in np.flatnonzero(pause > self.options.silence_s * NS).tolist():
            self.silences.append((int(line[i]), int(before[i]), int(ts[i])))
        origin = self.first_ts // NS
        sec = np.clip(ts // NS - origin, 0, MAX_SECONDS)     # a wild timestamp must not allocate years
        counts = np.bincount(sec)
        if len(self.per_second) < len(counts):
            self.per_second = np.concatenate([self.per_second, np.zeros(len(counts) - len(self.per_second), np.int64)])
        self.per_second[:len(counts)] += counts

    def _gap_marks(self, chunk: AuditChunk, ts: np.ndarray, line: np.ndarray, before: int | None) -> None:
        """The collector's gap marks, with the times of the lines around each (the hole)."""
        n = len(ts)
        for row, symbol, reason in zip(chunk.gaps.row.tolist(), chunk.gaps.symbol, chunk.gaps.reason):
            mark = {"line": int(line[row]), "ts": int(ts[row]), "symbol": symbol.upper(), "reason": reason,
                    "prev_ts": int(ts[row - 1]) if row else before,
                    "next_ts": int(ts[row + 1]) if row + 1 < n else None}
            self.marks.append(mark)
            if row + 1 >= n:
                self._mark_waiting.append(mark)

    # -- books -------------------------------------------------------------------------------
    def _books(self, book: BookMessages, book_code: np.ndarray, ts: np.ndarray, line: np.ndarray) -> None:
        known = {int(c) for c in np.unique(book_code[~book.snapshot])} | set(self.books)
        known.discard(-1)
        lone = book_code < 0
        if lone.any():
            if len(known) == 1:
                book_code = np.where(lone, next(iter(known)), book_code)
            else:
                self.unattributed_snapshots += int(lone.sum())
        for snap in np.flatnonzero(book.snapshot & (book_code >= 0)).tolist():
            self.snapshots.append((int(line[book.row[snap]]), int(ts[book.row[snap]]), int(book_code[snap])))
        counts = 2 * (book.n_bid + book.n_ask)
        starts = np.cumsum(counts) - counts
        for code in np.unique(book_code[book_code >= 0]).tolist():
            sel = np.flatnonzero(book_code == code)
            take = np.repeat(starts[sel], counts[sel]) + _ranks(counts[sel])
            msgs = BookMessages(book.row[sel], book.book[sel], book.snapshot[sel], book.link[sel], book.last[sel],
                                book.n_bid[sel], book.n_ask[sel], book.values[take])
            self._book(code, msgs, ts, line)

    def _book(self, code: int, msgs: BookMessages, ts: np.ndarray, line: np.ndarray) -> None:
        chain = self.chains.setdefault(code, _Chain())
        m_line, m_ts = line[msgs.row], ts[msgs.row]
        # the id chain: diffs (and, where the exchange chains them, snapshots)
        chained = np.ones(len(msgs.row), bool) if self.reader.snapshots_in_sequence else ~msgs.snapshot
        idx = np.flatnonzero(chained)
        breaks = np.zeros(len(msgs.row), bool)
        if len(idx):
            prev_last = np.concatenate([[chain.last], msgs.last[idx[:-1]]])
            prev_line = np.concatenate([[chain.line], m_line[idx[:-1]]])
            prev_ts = np.concatenate([[chain.ts], m_ts[idx[:-1]]])
            link = msgs.link[idx]
            broken = (link != NO_ID) & (prev_last != NO_ID) & (link != prev_last)
            breaks[idx[broken]] = True
            for k in np.flatnonzero(broken).tolist():
                self.breaks.append({"stream": code, "line": int(m_line[idx[k]]), "ts": int(m_ts[idx[k]]),
                                    "prev_line": int(prev_line[k]), "prev_ts": int(prev_ts[k]),
                                    "prev_last": int(prev_last[k]), "link": int(link[k]),
                                    "ids_skipped": int(link[k] - prev_last[k])})
            chain.last, chain.line, chain.ts = int(msgs.last[idx[-1]]), int(m_line[idx[-1]]), int(m_ts[idx[-1]])
        # in sync: the last snapshot came after the last break or gap mark of this book's symbol
        symbol = self.symbol_of[code]
        marks = [m["line"] for m in self.marks if m["symbol"] == symbol.upper() or not symbol]
        unsync = np.sort(np.concatenate([[chain.unsync_line], m_line[breaks], marks]).astype(np.int64))
        resync = np.concatenate([[chain.resync_line], m_line[msgs.snapshot]]).astype(np.int64)
        last_unsync = unsync[np.searchsorted(unsync, m_line, side="right") - 1]
        last_resync = resync[np.searchsorted(resync, m_line, side="right") - 1]
        synced = (last_resync >= 0) & (last_resync > last_unsync)
        chain.unsync_line, chain.resync_line = int(unsync[-1]), int(resync[-1])
        replay = self.books.get(code)
        if replay is None:
            replay = self.books[code] = BookReplay(self.reader)
        bid, ask = replay.feed(msgs)
        out = self.book_out.setdefault(code, BookOut())
        out.line.append(m_line)
        out.ts.append(m_ts)
        out.bid.append(bid)
        out.ask.append(ask)
        out.synced.append(synced)


def _ranks(counts: np.ndarray) -> np.ndarray:
    starts = np.cumsum(counts) - counts
    return np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(starts, counts)


def scan_file(path: str, options: AuditOptions, progress=None) -> FileScan:
    """Read ``path`` once; BadInput for anything that is not a whole recording."""
    io_problems = ProblemLog(path)
    try:
        sample = sample_text(path)
        exchange = options.exchange
        if exchange is None:
            exchange = exchanges.detect(sample) if sample else None
        if exchange is None:
            list(read_chunks(path, io_problems))          # says why if it cannot be read at all
            if io_problems.problems:
                raise BadInput(_unreadable(io_problems))
            raise BadInput(f"{path}: not a recording of a known exchange (no market-data messages "
                           "hftctl recognises in its first lines)")
        scan = FileScan(path, exchange, exchanges.get(exchange).audit(), options)
        for chunk in read_chunks(path, io_problems, progress):
            scan.feed(chunk.data, chunk.first_line)
    except BadInput:
        raise
    except HftctlError as exc:
        raise BadInput(str(exc)) from None
    if io_problems.problems:
        raise BadInput(_unreadable(io_problems))
    if not scan.lines:
        raise BadInput(f"{path}: empty recording (no lines)")
    return scan


def _unreadable(problems: ProblemLog) -> str:
    """The reader's first complaint (truncated, corrupt, empty), without the converter's note on
    what it did with the rest: an audit of part of a file would pass for an audit of the file."""
    first = problems.problems[0]
    reason = first.message.split(": incomplete last line")[0].split("; the lines before")[0]
    where = f"{first.path}:{first.line}" if first.line else first.path
    return f"{where}: {reason}"
