"""The audit report of one recording (a plain dict: what ``--json`` prints and the table shows)
and the verdict against the thresholds. docs/audit.md documents every field."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from hftctl.audit.scan import NS, RESTART_REASONS, FileScan

LISTED = 50          # entries per list in the report; the counts are always complete
SCHEMA = 1


@dataclass(frozen=True)
class Thresholds:
    max_gaps: int = 0                     # holes: sequence breaks + gap marks that explain none
    max_silence_s: float = 60.0           # the longest silent period
    max_crossed: int = 0                  # depth messages after which the in-sync book is crossed or locked
    max_trades_outside_pct: float = 0.1   # % of checked trades outside the book beyond the tolerance
    max_drift_ms_per_hour: float | None = None
    max_latency_p99_ms: float | None = None
    max_bad_lines: int = 0                # lines that are not a message of the exchange


def iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    return datetime.fromtimestamp(ns / NS, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def build(scan: FileScan, thresholds: Thresholds) -> dict:
    names = scan.names
    books = {code: out.arrays() for code, out in scan.book_out.items()}
    breaks, marks = _holes(scan)
    holes = len(breaks) + sum(1 for m in marks if not m["explains_break"])
    silences = [{"line": line, "start": iso(a), "end": iso(b), "seconds": round((b - a) / NS, 3)}
                for line, a, b in scan.silences]
    book_report = {names[code]: _book(arrays, code, scan) for code, arrays in books.items()}
    trades = _trades(scan, books)
    latency = scan.latency.summary()
    report = {
        "path": scan.path,
        "exchange": scan.exchange,
        "lines": scan.lines,
        "bad_lines": scan.problems.skipped,
        "problems": [str(p) for p in scan.problems.problems],
        "first": iso(scan.first_ts), "last": iso(scan.last_ts),
        "span_s": round((scan.last_ts - scan.first_ts) / NS, 3),
        "time_went_back": scan.min_ts < scan.first_ts or scan.max_ts > scan.last_ts,
        "streams": {names[i]: int(c) for i, c in enumerate(scan.counts) if c},
        "sequence_breaks": {"count": len(breaks), "unmarked": sum(1 for b in breaks if not b["marked"]),
                            "list": breaks[:LISTED]},
        "gap_marks": {"count": len(marks), "by_reason": _by(marks, "reason"), "list": marks[:LISTED]},
        "holes": holes,
        "silences": {"threshold_s": scan.options.silence_s, "count": len(silences),
                     "longest_s": round(scan.longest_pause / NS, 3), "list": silences[:LISTED]},
        "reconnects": sum(1 for m in marks if m["reason"] in RESTART_REASONS),
        "snapshots": {"count": len(scan.snapshots), "unattributed": scan.unattributed_snapshots,
                      "list": [{"line": line, "time": iso(ts), "stream": names[code]}
                               for line, ts, code in scan.snapshots[:LISTED]]},
        "latency_ms": latency,
        "book": book_report,
        "trades": trades,
    }
    report["verdict"] = verdict(report, thresholds)
    return report


def _holes(scan: FileScan) -> tuple[list[dict], list[dict]]:
    """Sequence breaks and gap marks, each break with the mark that announced it (a mark of its
    symbol between the diff before the break and the diff after), each mark with whether it
    explains a break."""
    mark_lines = [m["line"] for m in scan.marks]
    explained: set[int] = set()
    breaks = []
    for b in scan.breaks:
        symbol = scan.symbol_of[b["stream"]].upper()
        lo, hi = bisect.bisect_right(mark_lines, b["prev_line"]), bisect.bisect_left(mark_lines, b["line"])
        mine = [i for i in range(lo, hi) if scan.marks[i]["symbol"] == symbol or not symbol]
        explained.update(mine)
        breaks.append({"time": iso(b["ts"]), "line": b["line"], "stream": scan.names[b["stream"]],
                       "previous_last_id": b["prev_last"], "expected_previous_id": b["link"],
                       "ids_skipped": b["ids_skipped"], "seconds_lost": round((b["ts"] - b["prev_ts"]) / NS, 3),
                       "marked": bool(mine), "mark_reason": scan.marks[mine[0]]["reason"] if mine else None})
    marks = []
    for i, m in enumerate(scan.marks):
        around = [t for t in (m["prev_ts"], m["next_ts"]) if t is not None]
        marks.append({"time": iso(m["ts"]), "line": m["line"], "symbol": m["symbol"], "reason": m["reason"],
                      "seconds_lost": round((around[-1] - around[0]) / NS, 3) if len(around) == 2 else None,
                      "explains_break": i in explained})
    return breaks, marks


def _by(items: list[dict], key: str) -> dict:
    out: dict = {}
    for it in items:
        out[it[key]] = out.get(it[key], 0) + 1
    return out


def _book(a: dict, code: int, scan: FileScan) -> dict:
    synced = a["synced"].astype(bool)
    bid, ask = a["bid"], a["ask"]
    both = synced & ~np.isnan(bid) & ~np.isnan(ask)
    crossed = both & (bid > ask)
    locked = both & (bid == ask)
    bad = np.flatnonzero(crossed | locked)
    return {"messages": int(len(synced)), "checked": int(both.sum()), "not_in_sync": int((~synced).sum()),
            "crossed": int(crossed.sum()), "locked": int(locked.sum()),
            "first_crossed_or_locked": [{"time": iso(int(a["ts"][i])), "line": int(a["line"][i]),
                                         "best_bid": float(bid[i]), "best_ask": float(ask[i])}
                                        for i in bad[:LISTED].tolist()]}


def _trades(scan: FileScan, books: dict[int, dict]) -> dict:
    """Trades against the book of their symbol (the busiest book stream of it): outside if the
    price is beyond the best bid/ask by more than the tolerance both in the book just before the
    trade line and in the book after the next depth message (a sweep shows in the latter)."""
    tol = scan.options.trade_tolerance_bps
    parts = [t for t in scan.trades if len(t[0])]
    result = {"count": 0, "checked": 0, "outside": 0, "outside_pct": 0.0, "tolerance_bps": tol,
              "max_excursion_bps": 0.0, "list": []}
    if not parts:
        return result
    line, ts, stream, px = (np.concatenate(x) for x in zip(*parts))
    result["count"] = int(len(line))
    trade_symbol = np.array([s.upper() for s in scan.symbol_of], object)[stream]
    busiest: dict[str, int] = {}
    for code, a in books.items():
        sym = scan.symbol_of[code].upper()
        if sym not in busiest or len(a["line"]) > len(books[busiest[sym]]["line"]):
            busiest[sym] = code
    checked_total, outside_rows = 0, []
    max_exc = 0.0
    for sym, code in busiest.items():
        a = books[code]
        idx = np.flatnonzero(trade_symbol == sym) if sym else np.arange(len(line))
        if not len(idx) or not len(a["line"]):
            continue
        before = np.searchsorted(a["line"], line[idx], side="left") - 1
        after = np.searchsorted(a["line"], line[idx], side="right")
        ok = (before >= 0) & a["synced"].astype(bool)[np.maximum(before, 0)]
        exc_b = _excursion(px[idx], a["bid"][np.maximum(before, 0)], a["ask"][np.maximum(before, 0)])
        has_after = (after < len(a["line"]))
        after_c = np.minimum(after, len(a["line"]) - 1)
        exc_a = np.where(has_after & a["synced"].astype(bool)[after_c],
                         _excursion(px[idx], a["bid"][after_c], a["ask"][after_c]), np.inf)
        exc = np.minimum(exc_b, exc_a)
        ok &= ~np.isnan(exc_b)
        checked_total += int(ok.sum())
        if ok.any():
            max_exc = max(max_exc, float(np.nanmax(np.where(ok, exc, 0.0))))
        out = ok & (exc > tol)
        for k in np.flatnonzero(out).tolist():
            i, b = int(idx[k]), int(before[k])
            outside_rows.append({"time": iso(int(ts[i])), "line": int(line[i]), "price": float(px[i]),
                                 "best_bid": float(a["bid"][b]), "best_ask": float(a["ask"][b]),
                                 "excursion_bps": round(float(exc[k]), 2)})
    outside_rows.sort(key=lambda r: r["line"])
    result.update(checked=checked_total, outside=len(outside_rows),
                  outside_pct=round(100 * len(outside_rows) / checked_total, 4) if checked_total else 0.0,
                  max_excursion_bps=round(max_exc, 2), list=outside_rows[:LISTED])
    return result


def _excursion(px: np.ndarray, bid: np.ndarray, ask: np.ndarray) -> np.ndarray:
    """How far (bps of the price) a trade is outside [bid, ask]; 0 inside, NaN without a book."""
    return np.maximum(np.maximum(bid - px, px - ask), 0.0) / px * 1e4


def verdict(report: dict, t: Thresholds) -> dict:
    checks = [("gaps", report["holes"], t.max_gaps),
              ("silence_s", report["silences"]["longest_s"], t.max_silence_s),
              ("crossed_or_locked", sum(b["crossed"] + b["locked"] for b in report["book"].values()), t.max_crossed),
              ("trades_outside_pct", report["trades"]["outside_pct"], t.max_trades_outside_pct),
              ("bad_lines", report["bad_lines"], t.max_bad_lines)]
    drift = report["latency_ms"].get("drift_ms_per_hour")
    if t.max_drift_ms_per_hour is not None and drift is not None:
        checks.append(("drift_ms_per_hour", abs(drift), t.max_drift_ms_per_hour))
    p99 = report["latency_ms"].get("p99")
    if t.max_latency_p99_ms is not None and p99 is not None:
        checks.append(("latency_p99_ms", p99, t.max_latency_p99_ms))
    failed = [{"check": name, "value": value, "limit": limit} for name, value, limit in checks if value > limit]
    return {"ok": not failed, "failed": failed}
