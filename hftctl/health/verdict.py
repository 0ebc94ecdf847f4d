"""Turn what was found into problems and one verdict: healthy (0), degraded (1), down (2).

Down means there is nothing to talk to: no live connector (or not the one asked for with
``--connector``) and no live collector. Anything alive but not quite right is degraded, so a
monitoring script can page on 2 and warn on 1.
"""

from __future__ import annotations

from hftctl.health.model import DEGRADED, DOWN, HEALTHY, ConnectorHealth, HealthReport
from hftctl.ipc.ring import STALE_AFTER

HEARTBEAT_MAX_S = 2.0          # readers call a writer gone after 1.5 s without a heartbeat
STATUS_MAX_S = 5.0             # status files are rewritten about once a second
MARKET_SILENCE_MAX_S = 15.0    # no market data for this long on a connected stream
COLLECTOR_WRITE_MAX_S = 15.0   # a recording collector flushes about once a second
LAG_MAX = 50_000               # messages a bot may be behind before it counts as lagging

assert HEARTBEAT_MAX_S > STALE_AFTER


def _connector_problems(c: ConnectorHealth) -> list[str]:
    p = []
    if not c.alive:
        who = f"pid {c.pid}" if c.pid else "owner unknown"
        return [f"connector {c.name}: not running ({who}); leftovers can be removed with --clean"]
    if c.heartbeat_age is not None and c.heartbeat_age > HEARTBEAT_MAX_S:
        p.append(f"connector {c.name}: heartbeat {c.heartbeat_age:.1f}s old (hung?)")
    if c.status_age is None:
        p.append(f"connector {c.name}: publishes no status (streams and books unknown)")
    elif c.status_age > STATUS_MAX_S:
        p.append(f"connector {c.name}: status {c.status_age:.1f}s old (event loop stuck?)")
    for s in c.streams:
        if s.state != "connected":
            p.append(f"connector {c.name}: {s.name} stream {s.state}")
        elif (s.name != "user" and s.last_msg_age is not None
              and s.last_msg_age > MARKET_SILENCE_MAX_S):
            p.append(f"connector {c.name}: no {s.name} data for {s.last_msg_age:.0f}s")
    for sym, state in c.books.items():
        if state != "synced":
            p.append(f"connector {c.name}: {sym} book {state}")
    backoff = c.stats.get("rest_backoff_s", 0.0)
    if backoff > 0:
        p.append(f"connector {c.name}: REST backing off for {backoff:.0f} s (the exchange's Retry-After): "
                 "book snapshots, reconciles and order requests wait")
    dm = c.dead_man
    if dm is not None and dm.state == "failing":
        p.append(f"connector {c.name}: dead man's switch {dm.mechanism or ''} failing ({dm.error}; "
                 + (f"last refreshed {dm.last_refresh_age:.0f}s ago)" if dm.last_refresh_age is not None
                    else "never armed)"))
    elif (dm is not None and dm.state == "armed" and dm.last_refresh_age is not None
          and dm.last_refresh_age > dm.window_s + STATUS_MAX_S):
        p.append(f"connector {c.name}: dead man's switch {dm.mechanism} not refreshed for "
                 f"{dm.last_refresh_age:.0f}s (window {dm.window_s:g}s)")
    for b in c.bots:
        label = f"{b.role} {b.bot_id} ({b.name or '?'}, pid {b.pid})"
        if not b.alive:
            p.append(f"connector {c.name}: {label} died without a clean exit")
        elif b.silent:
            p.append(f"connector {c.name}: {label} went silent (its orders were cancelled)")
        elif b.lag is not None and b.lag > LAG_MAX:
            p.append(f"connector {c.name}: {label} is {b.lag} messages behind")
    c.problems = p
    return p


def judge(report: HealthReport, connector: str | None = None) -> None:
    problems: list[str] = []
    for c in report.connectors:
        problems += _connector_problems(c)
    for col in report.collectors:
        if not col.alive:
            col.problems.append(f"collector {col.name} (pid {col.pid}) died without a clean exit")
        elif col.last_write_age is None:
            col.problems.append(f"collector {col.name}: nothing written yet")
        elif col.last_write_age > COLLECTOR_WRITE_MAX_S:
            col.problems.append(f"collector {col.name}: last write {col.last_write_age:.0f}s ago")
        problems += col.problems
    for b in report.orphan_bots:
        problems.append(f"bot {b.name} (pid {b.pid}) "
                        + ("has no running connector" if b.alive else "died without a clean exit"))
    stale_shm = [s for s in report.stale if s.kind != "status"]
    if stale_shm:
        problems.append(f"{len(stale_shm)} stale shared-memory object(s) of dead processes (--clean removes them)")
    report.problems = list(dict.fromkeys(problems))

    live_conn = [c for c in report.connectors if c.alive]
    live_coll = [c for c in report.collectors if c.alive]
    if connector is not None and not any(c.name == connector for c in live_conn):
        report.verdict = DOWN
        report.summary = f"connector {connector!r} is not running"
    elif not live_conn and not live_coll:
        report.verdict = DOWN
        report.summary = ("nothing is running" if not report.connectors and not report.collectors
                          and not report.orphan_bots else "no hftctl process is running")
    elif report.problems:
        report.verdict = DEGRADED
        report.summary = f"{len(report.problems)} problem(s)"
    else:
        report.verdict = HEALTHY
        report.summary = (f"{len(live_conn)} connector(s), "
                          f"{sum(len(c.bots) for c in live_conn)} ring reader(s), "
                          f"{len(live_coll)} collector(s) running")
