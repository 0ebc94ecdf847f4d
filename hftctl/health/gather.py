"""Collect everything ``hftctl health`` reports, from three sources that never need the
processes' cooperation beyond what they already do:

- the connectors' broadcast channels (owner lock, heartbeat, reader slots with pid and lag),
  read from outside by :mod:`hftctl.health.ring_view`;
- the processes' status files (:mod:`hftctl.status`): streams, books, bots' orders/positions,
  collectors' writes;
- the segment listing of :mod:`hftctl.ipc.segments` for leftovers of dead processes.
"""

from __future__ import annotations

import time
from typing import Any

from hftctl.health.model import (BotHealth, CollectorHealth, ConnectorHealth, DeadManHealth,
                                 HealthReport, StaleItem, StreamHealth)
from hftctl.health.ring_view import RingView, view_broadcast
from hftctl.health.verdict import judge
from hftctl.ipc.segments import SegmentInfo, clean_stale, list_segments
from hftctl.status import StatusRecord, clean_dead_statuses, read_statuses


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _age(ts: Any, now: float) -> float | None:
    t = _num(ts)
    return None if t is None else max(0.0, now - t)


def _newest(recs: list[StatusRecord]) -> StatusRecord | None:
    """The live record if there is one (a restarted process leaves its dead twin behind)."""
    live = [r for r in recs if r.alive]
    pool = live or recs
    return max(pool, key=lambda r: r.data.get("updated", 0) or 0) if pool else None


def _streams(data: dict, now: float) -> list[StreamHealth]:
    out = []
    streams = data.get("streams")
    if isinstance(streams, dict):
        for name, st in sorted(streams.items()):
            if isinstance(st, dict):
                age = _age(st.get("last_msg"), now)
                if age is None:
                    age = _num(st.get("last_msg_age"))
                out.append(StreamHealth(str(name), str(st.get("state", "?")), age))
            else:
                out.append(StreamHealth(str(name), str(st)))
    return out


def _positions(v: Any) -> dict[str, float]:
    if isinstance(v, dict):
        return {str(k): float(x) for k, x in v.items() if _num(x) is not None}
    return {}


def _connector(name: str, view: RingView | None, rec: StatusRecord | None,
               bot_recs: list[StatusRecord], collector_recs: list[StatusRecord], now: float) -> ConnectorHealth:
    data = rec.data if rec is not None else {}
    if view is not None:
        pid, alive, hb = view.owner_pid, view.owner_alive, view.heartbeat_age
    else:
        pid, alive, hb = (rec.pid, rec.alive, None) if rec is not None else (0, False, None)
    ch = ConnectorHealth(name, pid, alive, hb, status_age=rec.age if rec is not None and rec.alive else None,
                         exchange=str(data.get("exchange", "")), messages=view.messages if view else 0)
    if rec is not None and rec.alive:
        ch.streams = _streams(data, now)
        books = data.get("books")
        if isinstance(books, dict):
            ch.books = {str(k): str(v) for k, v in sorted(books.items())}
        stats = data.get("stats")
        if isinstance(stats, dict):
            ch.stats = {str(k): float(v) for k, v in sorted(stats.items()) if _num(v) is not None}
        ch.dead_man = _dead_man(data.get("dead_man"), now)
    conn_bots = data.get("bots") if rec is not None and rec.alive and isinstance(data.get("bots"), dict) else {}
    by_pid = {r.pid: r for r in bot_recs}
    collector_pids = {r.pid: r for r in collector_recs}
    seen_pids = set()
    for rd in (view.readers if view is not None else []):
        info = conn_bots.get(str(rd.bot_id)) or {}
        bh = BotHealth(rd.bot_id, rd.pid, rd.alive, lag=rd.lag, overruns=rd.overruns,
                       name=str(info.get("name", "")))
        if isinstance(info, dict):
            bh.open_orders = info.get("open_orders") if isinstance(info.get("open_orders"), int) else None
            bh.silent = info.get("silent") is True
            bh.positions = _positions(info.get("positions"))
        brec = by_pid.get(rd.pid)
        if brec is not None:
            _merge_bot_status(bh, brec)
        if rd.pid in collector_pids:
            bh.role, bh.name = "collector", bh.name or collector_pids[rd.pid].name
        seen_pids.add(rd.pid)
        ch.bots.append(bh)
    # Bots that published a status for this connector but hold no reader slot: they died and
    # the connector reaped their slot (their file is a leftover), or the channel is gone.
    for brec in bot_recs:
        if brec.pid in seen_pids:
            continue
        bh = BotHealth(int(_num(brec.data.get("bot_id")) or 0), brec.pid, brec.alive, name=brec.name)
        _merge_bot_status(bh, brec)
        ch.bots.append(bh)
    return ch


def _dead_man(d: Any, now: float) -> DeadManHealth | None:
    if not isinstance(d, dict):
        return None
    symbols = d.get("symbols")
    pid = _num(d.get("guardian_pid"))
    return DeadManHealth(str(d.get("mechanism", "")), str(d.get("state", "?")), _num(d.get("window_s")) or 0.0,
                         [str(x) for x in symbols] if isinstance(symbols, list) else [],
                         _age(d.get("last_refresh"), now), str(d.get("error", "")),
                         int(pid) if pid is not None else None)


def _merge_bot_status(bh: BotHealth, rec: StatusRecord) -> None:
    d = rec.data
    bh.name = bh.name or rec.name
    bh.status_age = rec.age if rec.alive else None
    if isinstance(d.get("open_orders"), int):
        bh.open_orders = d["open_orders"]
    pos = d.get("position")
    sym = d.get("symbol")
    if _num(pos) is not None and sym:
        bh.positions[str(sym).upper()] = float(pos)
    bh.positions.update({k.upper(): v for k, v in _positions(d.get("positions")).items()})


def _collector(rec: StatusRecord, now: float) -> CollectorHealth:
    d = rec.data
    source = d.get("connector") or d.get("exchange") or ""
    source = f"connector {source}" if d.get("connector") else str(source)
    files = d.get("files") if isinstance(d.get("files"), list) else []
    msgs = d.get("messages")
    return CollectorHealth(rec.name, rec.pid, rec.alive, source,
                           last_write_age=_age(d.get("last_write"), now) if rec.alive else None,
                           messages=msgs if isinstance(msgs, int) else None,
                           files=[str(f) for f in files], status_age=rec.age if rec.alive else None)


def gather(connector: str | None = None) -> HealthReport:
    """The state of every hftctl process and leftover on this machine (or of one connector)."""
    now = time.time()
    only = None if connector is None else [connector]
    segments = list_segments(only)
    statuses = read_statuses()
    conn_recs = [r for r in statuses if r.kind == "connector"]
    bot_recs = [r for r in statuses if r.kind == "bot"]
    coll_recs = [r for r in statuses if r.kind == "collector"]

    names = {s.connector for s in segments if s.kind == "shm" and s.channel in ("bc", "rq")}
    names |= {r.name for r in conn_recs if r.alive}
    if connector is not None:
        names = {connector}
    report = HealthReport()
    for name in sorted(names):
        recs = [r for r in conn_recs if r.name == name]
        rec = _newest(recs)
        mine_bots = [r for r in bot_recs if str(r.data.get("connector", "")) == name]
        mine_coll = [r for r in coll_recs if str(r.data.get("connector", "")) == name]
        view = view_broadcast(name)
        if view is None and rec is None and not any(s.connector == name for s in segments):
            continue    # --connector NAME that does not exist at all: judged as down below
        report.connectors.append(_connector(name, view, rec, mine_bots, mine_coll, now))
    known = {c.name for c in report.connectors} | set(names)
    for rec in bot_recs:
        if str(rec.data.get("connector", "")) not in known and connector is None:
            bh = BotHealth(int(_num(rec.data.get("bot_id")) or 0), rec.pid, rec.alive, name=rec.name)
            _merge_bot_status(bh, rec)
            report.orphan_bots.append(bh)
    for rec in coll_recs:
        if connector is None or str(rec.data.get("connector", "")) == connector:
            report.collectors.append(_collector(rec, now))
    report.stale = [_stale(s) for s in segments if s.stale]
    for rec in statuses:
        if not rec.alive and (connector is None or rec.name == connector
                              or str(rec.data.get("connector", "")) == connector):
            report.stale.append(StaleItem(rec.path.name, "status", rec.pid,
                                          f"{rec.kind} {rec.name!r} exited without cleaning up"))
    judge(report, connector)
    return report


def _stale(s: SegmentInfo) -> StaleItem:
    return StaleItem(s.file, s.kind, s.owner_pid, s.detail)


def clean(connector: str | None = None) -> list[str]:
    """Remove leftovers of dead processes: stale hftctl segments/semaphores and status files.
    Live processes' objects and anything not named by hftctl are never touched."""
    removed = clean_stale(None if connector is None else [connector])
    if connector is None:
        return removed + clean_dead_statuses()
    return removed + clean_dead_statuses(only=lambda rec: rec.name == connector
                                         or str(rec.data.get("connector", "")) == connector)
