"""The audit report on a terminal: one table per file (with the first entries of every finding)
and, for several files, a summary table with one row each."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from hftctl.audit.report import Thresholds
from hftctl.audit.run import AuditRun

SHOWN = 10          # entries of each list shown on the terminal (--json has more)


def _ok(good: bool) -> str:
    return "[green]ok[/]" if good else "[bold red]FAIL[/]"


def _failed(report: dict) -> set[str]:
    return {f["check"] for f in report["verdict"]["failed"]}


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def render(run: AuditRun, thresholds: Thresholds, console: Console | None = None) -> None:
    con = console or Console(highlight=False)
    for report in run.reports:
        _file(con, report, thresholds)
    if len(run.reports) > 1:
        _summary(con, run)


def _file(con: Console, r: dict, t: Thresholds) -> None:
    failed = _failed(r)
    table = Table(title=f"{r['path']} ({r['exchange']})", title_justify="left", show_header=True, box=None,
                  pad_edge=False)
    table.add_column("check")
    table.add_column("result")
    table.add_column("limit")
    table.add_column("")
    span = r["span_s"]
    table.add_row("time span", f"{r['first']} .. {r['last']} ({span:,.1f} s)", "", "")
    table.add_row("lines", f"{r['lines']:,} ({r['bad_lines']} bad)", str(t.max_bad_lines), _ok("bad_lines" not in failed))
    for name, count in sorted(r["streams"].items()):
        rate = f", {count / span:,.1f}/s" if span > 0 else ""
        table.add_row(f"  {name}", f"{count:,} messages{rate}", "", "")
    seq, marks = r["sequence_breaks"], r["gap_marks"]
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(marks["by_reason"].items())) or "none"
    table.add_row("sequence breaks", f"{seq['count']} ({seq['unmarked']} without a gap mark)", "", "")
    table.add_row("gap marks", f"{marks['count']} ({reasons})", "", "")
    table.add_row("holes (gaps)", str(r["holes"]), str(t.max_gaps), _ok("gaps" not in failed))
    sil = r["silences"]
    table.add_row(f"silences > {sil['threshold_s']:g} s", f"{sil['count']}, longest {sil['longest_s']:g} s",
                  f"{t.max_silence_s:g} s", _ok("silence_s" not in failed))
    table.add_row("reconnects / snapshots", f"{r['reconnects']} / {r['snapshots']['count']}", "", "")
    lat = r["latency_ms"]
    if lat.get("samples"):
        limit = "-" if t.max_latency_p99_ms is None else f"p99 {t.max_latency_p99_ms:g}"
        table.add_row("feed latency ms (p50/p99/max)", f"{_ms(lat['p50'])} / {_ms(lat['p99'])} / {_ms(lat['max'])}",
                      limit, _ok("latency_p99_ms" not in failed))
        drift = lat.get("drift_ms_per_hour")
        table.add_row("clock drift", "-" if drift is None else f"{drift:+,.1f} ms/h",
                      "-" if t.max_drift_ms_per_hour is None else f"{t.max_drift_ms_per_hour:g}",
                      _ok("drift_ms_per_hour" not in failed))
    for name, b in r["book"].items():
        table.add_row(f"book {name}", f"{b['checked']:,} checked, {b['not_in_sync']:,} not in sync: "
                                      f"{b['crossed']} crossed, {b['locked']} locked",
                      str(t.max_crossed), _ok("crossed_or_locked" not in failed))
    tr = r["trades"]
    table.add_row("trades outside the book", f"{tr['outside']} of {tr['checked']:,} checked ({tr['outside_pct']:g}%), "
                                             f"max {tr['max_excursion_bps']:g} bps (tolerance {tr['tolerance_bps']:g})",
                  f"{t.max_trades_outside_pct:g}%", _ok("trades_outside_pct" not in failed))
    verdict = "[bold green]PASS[/]" if r["verdict"]["ok"] else "[bold red]FAIL[/]: " + ", ".join(sorted(failed))
    table.add_row("verdict", verdict, "", "")
    con.print(table)
    _listing(con, "sequence breaks", seq["list"], ("time", "stream", "ids_skipped", "seconds_lost", "mark_reason"))
    _listing(con, "gap marks", marks["list"], ("time", "symbol", "reason", "seconds_lost"))
    _listing(con, "silences", sil["list"], ("start", "end", "seconds"))
    for name, b in r["book"].items():
        _listing(con, f"crossed or locked: {name}", b["first_crossed_or_locked"], ("time", "line", "best_bid", "best_ask"))
    _listing(con, "trades outside the book", tr["list"], ("time", "price", "best_bid", "best_ask", "excursion_bps"))
    con.print()


def _listing(con: Console, title: str, rows: list[dict], cols: tuple[str, ...]) -> None:
    if not rows:
        return
    t = Table(title=f"{title} (first {min(len(rows), SHOWN)})", title_justify="left", box=None, pad_edge=False)
    for c in cols:
        t.add_column(c)
    for row in rows[:SHOWN]:
        t.add_row(*("-" if row.get(c) is None else str(row.get(c)) for c in cols))
    con.print(t)


def _summary(con: Console, run: AuditRun) -> None:
    t = Table(title="summary", title_justify="left", box=None, pad_edge=False)
    for c in ("file", "exchange", "span s", "lines", "holes", "silence s", "crossed", "outside %",
              "p50 ms", "drift ms/h", "verdict"):
        t.add_column(c)
    for r in run.reports:
        drift = r["latency_ms"].get("drift_ms_per_hour")
        t.add_row(r["path"], r["exchange"], f"{r['span_s']:,.0f}", f"{r['lines']:,}", str(r["holes"]),
                  f"{r['silences']['longest_s']:g}",
                  str(sum(b["crossed"] + b["locked"] for b in r["book"].values())),
                  f"{r['trades']['outside_pct']:g}", _ms(r["latency_ms"].get("p50")),
                  "-" if drift is None else f"{drift:+.1f}", _ok(r["verdict"]["ok"]))
    con.print(t)
