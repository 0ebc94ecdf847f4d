"""Entry point behind ``hftctl collect``: build the writer and the source, run until stopped."""

from __future__ import annotations

import asyncio
import logging

from hftctl import exchanges
from hftctl.collector.codec import make_codec
from hftctl.collector.direct import DirectConfig, DirectSource
from hftctl.collector.ipc_source import IpcSource
from hftctl.collector.options import CollectOptions
from hftctl.collector.runner import run_until_stopped
from hftctl.collector.stats import CollectStats
from hftctl.collector.writer import RecordingWriter
from hftctl.status import StatusFile

log = logging.getLogger(__name__)


def collect(opts: CollectOptions) -> CollectStats:
    codec = make_codec(opts.compress)
    writer = RecordingWriter(opts.out, codec, opts.rotate_s)
    stats = CollectStats()
    if opts.ipc_name is not None:
        source = IpcSource(opts.ipc_name, opts.symbols, writer, stats)
        status = StatusFile("collector", opts.ipc_name)
        status.update({"connector": opts.ipc_name, "symbols": opts.symbols, "out": str(opts.out)})
    else:
        assert opts.exchange and opts.venue
        protocol = exchanges.get(opts.exchange).collector().with_streams(opts.streams)
        log.info("recording %s from %s (%s)", ", ".join(opts.symbols), opts.venue.name,
                 ", ".join(dict.fromkeys(c.url for c in protocol.connections(opts.venue, opts.symbols[:1]))))
        if opts.venue.note:
            log.info("%s", opts.venue.note)
        source = DirectSource(DirectConfig(opts.exchange, protocol, opts.symbols, opts.venue,
                                           opts.snapshot_interval), writer, stats)
        status = StatusFile("collector", opts.exchange)
        status.update({"exchange": opts.exchange, "symbols": opts.symbols, "out": str(opts.out)})
    writer.resume_mark = lambda symbol, ts_ns: _restart_mark(source, stats, symbol, ts_ns)
    try:
        asyncio.run(run_until_stopped(source.run, writer, stats, opts.flush_interval,
                                      opts.progress, opts.duration, status))
    finally:
        writer.close()
        status.close()
    return stats


def _restart_mark(source: DirectSource | IpcSource, stats: CollectStats, symbol: str, ts_ns: int) -> bytes | None:
    """The gap mark a restart puts where it resumes a file: what was sent while no collector
    ran is lost. (In --ipc mode the exchange, hence the mark's shape, is known from the first
    message on, before anything is written.)"""
    if source.protocol is None:
        return None
    stats.gaps += 1
    return source.protocol.gap_marker(symbol, "restart", ts_ns // 1_000_000)
