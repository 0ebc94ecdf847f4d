"""Run one collector source until SIGINT/SIGTERM: flush every second, show progress, close cleanly.

Shared by direct and --ipc mode. The flush timer is what bounds the loss on SIGKILL; SIGINT and
SIGTERM cancel the source and close every file (final member written, fsync) before exiting.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Awaitable, Callable

from hftctl.collector.progress import Progress
from hftctl.collector.stats import CollectStats
from hftctl.collector.writer import RecordingWriter
from hftctl.errors import HftctlError
from hftctl.status import StatusFile

log = logging.getLogger(__name__)


async def run_until_stopped(source: Callable[[], Awaitable[None]], writer: RecordingWriter,
                            stats: CollectStats, flush_interval: float = 1.0,
                            progress: bool | None = None, duration: float | None = None,
                            status: StatusFile | None = None) -> None:
    """Run ``source()`` with periodic flushes; returns on a signal, after ``duration`` seconds,
    or raises the source's or writer's ``HftctlError``. ``status`` (for ``hftctl health``) is
    refreshed with every flush and removed on the way out."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if duration:
        loop.call_later(duration, stop.set)
    src = asyncio.create_task(source(), name="collector-source")
    failure: BaseException | None = None
    try:
        with Progress(stats, writer, enabled=progress) as prog:
            stopper = asyncio.create_task(stop.wait())
            next_flush = loop.time() + flush_interval
            while True:
                # deadline-based, so the time spent flushing does not stretch the interval
                done, _ = await asyncio.wait({src, stopper}, timeout=max(0.0, next_flush - loop.time()),
                                             return_when=asyncio.FIRST_COMPLETED)
                if loop.time() >= next_flush or done:
                    writer.flush()
                    prog.tick()
                    if status is not None:
                        status.update(status_fields(stats, writer))
                    next_flush += flush_interval
                    if next_flush <= loop.time():  # fell behind (a stalled machine): start afresh
                        next_flush = loop.time() + flush_interval
                if src in done:
                    src.result()  # raises the source's error; a clean return ends the run
                    break
                if stopper in done:
                    log.info("stopping")
                    break
            stopper.cancel()
    except BaseException as e:
        failure = e
        raise
    finally:
        src.cancel()
        await asyncio.gather(src, return_exceptions=True)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        try:
            writer.close()
        except HftctlError:
            if failure is None:
                raise
        finally:
            if status is not None:
                status.close()
        log.info("closed: %s", stats.summary())


def status_fields(stats: CollectStats, writer: RecordingWriter) -> dict:
    """What ``hftctl health`` shows for a collector (hftctl.health.gather reads these keys)."""
    return {"messages": stats.messages, "snapshots": stats.snapshots, "gaps": stats.gaps,
            "reconnects": stats.reconnects, "state": stats.state, "last_write": writer.stats.last_write,
            "files": [str(p) for p in writer.current_files().values()],
            "bytes_written": writer.stats.bytes_written}
