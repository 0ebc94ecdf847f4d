"""`hftctl audit` on the real recordings (values checked against plain gzip + json counts and an
independent book replay), on a small file with planted faults, and its CLI contract: JSON schema,
exit codes, bad input, --plot. Recordings with gaps injected by the sim: test_audit_sim.py."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hftctl.audit import accel as audit_accel
from hftctl.audit.report import Thresholds, build, iso
from hftctl.audit.scan import AuditOptions, BadInput, scan_file
from hftctl.convert import accel as convert_accel
from tests.conftest import ROOT

RECORDINGS = ["usdm/btcusdt_20240808.gz", "usdm/ethusdt_20240808.gz", "cm/btcusd_perp_20240808.gz",
              "spot/btcusdt_20240808.gz", "spot/btcusdt_20240809.gz", "spot/ethusdt_20240808.gz"]


def audit(path, **options) -> dict:
    return build(scan_file(str(path), AuditOptions(**options)), Thresholds())


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hftctl", "audit", *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, stdin=subprocess.DEVNULL)


# --- independent reading of a Binance recording: gzip + json, one line at a time ------------------
def plain(path: Path) -> list[tuple[int, dict]]:
    return [(int(ln[:19]), json.loads(ln[20:])) for ln in gzip.decompress(path.read_bytes()).splitlines()]


def plain_counts(lines) -> dict[str, int]:
    out: dict[str, int] = {}
    for _, msg in lines:
        name = msg["stream"] if "stream" in msg else "depthSnapshot"
        out[name] = out.get(name, 0) + 1
    return out


def plain_breaks(lines) -> int:
    prev, breaks = None, 0
    for _, msg in lines:
        d = msg.get("data", {})
        if d.get("e") != "depthUpdate":
            continue
        if prev is not None and (d["pu"] != prev if "pu" in d else d["U"] != prev + 1):
            breaks += 1
        prev = d["u"]
    return breaks


def plain_book(lines, tolerance_bps: float) -> tuple[int, int, float]:
    """(crossed or locked messages, trades outside, max excursion bps) by the rules docs/audit.md
    states, with dicts: snapshot plus the earlier diffs it does not contain, diffs it contains
    skipped; a trade is outside if beyond the tolerance before it and after the next diff."""
    futures = any("pu" in m.get("data", {}) for _, m in lines[:50])

    def newer(u, s):
        return u >= s if futures else u > s

    def apply(book, levels):
        for p, q in levels:
            if float(q) == 0:
                book.pop(float(p), None)
            else:
                book[float(p)] = float(q)

    def excursion(p, bids, asks):
        return max(max(bids) - p, p - min(asks), 0) / p * 1e4

    bids, asks, diffs, snap, bad, pending, exc = {}, {}, [], None, 0, [], []
    for _, msg in lines:
        if "lastUpdateId" in msg:
            snap = msg["lastUpdateId"]
            bids = {float(p): float(q) for p, q in msg["bids"]}
            asks = {float(p): float(q) for p, q in msg["asks"]}
            for d in diffs:
                if newer(d["u"], snap):
                    apply(bids, d["b"])
                    apply(asks, d["a"])
            continue
        d = msg["data"]
        if d.get("e") == "depthUpdate":
            diffs.append(d)
            if snap is None or not newer(d["u"], snap):
                continue
            apply(bids, d["b"])
            apply(asks, d["a"])
            bad += max(bids) >= min(asks)
            exc += [min(e, excursion(p, bids, asks)) for p, e in pending]
            pending = []
        elif d.get("e") == "trade" and snap is not None and d.get("X", "MARKET") == "MARKET":
            pending.append((float(d["p"]), excursion(float(d["p"]), bids, asks)))
    exc += [e for _, e in pending]
    return bad, sum(e > tolerance_bps for e in exc), round(max(exc, default=0.0), 2)


@pytest.mark.parametrize("name", RECORDINGS)
def test_shared_recording_counts_times_latency_and_sequence(shared_data, name):
    path = shared_data / "recordings" / name
    lines = plain(path)
    r = audit(path)
    assert r["streams"] == plain_counts(lines)
    assert r["lines"] == len(lines) and r["bad_lines"] == 0
    assert r["span_s"] == round((lines[-1][0] - lines[0][0]) / 1e9, 3)
    assert r["silences"]["longest_s"] == round(max(np.diff([ts for ts, _ in lines])) / 1e9, 3) < 1
    assert r["sequence_breaks"]["count"] == plain_breaks(lines) == 0      # the real files have none
    assert r["gap_marks"]["count"] == 0 and r["holes"] == 0
    assert r["snapshots"]["count"] == plain_counts(lines).get("depthSnapshot", 0)
    latency = np.array([ts // 1_000_000 - m["data"]["E"] for ts, m in lines if "E" in m.get("data", {})])
    got = r["latency_ms"]
    assert got["samples"] == len(latency)
    assert (got["min"], got["max"]) == (latency.min(), latency.max())
    assert got["p50"] == np.percentile(latency, 50, method="inverted_cdf")
    assert got["p99"] == np.percentile(latency, 99, method="inverted_cdf")
    # the recorder's clock ran ~1.27 s behind the exchange's, and drifted little in 6 minutes
    assert -1300 < got["p50"] < -1250 and abs(got["drift_ms_per_hour"]) < 100
    assert r["verdict"] == {"ok": True, "failed": []}


@pytest.mark.parametrize("name", ["spot/ethusdt_20240808.gz", "cm/btcusd_perp_20240808.gz"])
def test_shared_recording_book_against_an_independent_replay(shared_data, name):
    path = shared_data / "recordings" / name
    r = audit(path, trade_tolerance_bps=1.0)        # a tolerance low enough that some trades count
    bad, outside, max_exc = plain_book(plain(path), 1.0)
    (book,) = r["book"].values()
    assert book["crossed"] + book["locked"] == bad == 0
    assert book["checked"] == book["messages"] - book["not_in_sync"] > 3000
    assert r["trades"]["outside"] == outside > 0
    assert r["trades"]["max_excursion_bps"] == max_exc


def test_spot_recording_without_a_snapshot_checks_no_book(shared_data):
    r = audit(shared_data / "recordings/spot/btcusdt_20240809.gz")
    (book,) = r["book"].values()
    assert book["checked"] == 0 and book["not_in_sync"] == book["messages"] == 3044
    assert r["trades"]["checked"] == 0 and r["trades"]["count"] == 10147


def test_c_accelerator_and_python_give_the_same_report(shared_data, monkeypatch):
    path = shared_data / "recordings/spot/ethusdt_20240808.gz"
    fast = audit(path, trade_tolerance_bps=1.0)
    monkeypatch.setattr(audit_accel, "fast", None)
    monkeypatch.setattr(convert_accel, "scan", None)
    slow = audit(path, trade_tolerance_bps=1.0)
    assert audit_accel.fast is None and fast == slow


# --- planted faults ---------------------------------------------------------------------------------
T0 = 1723161255_000_000_000        # ns
MS = 1_000_000


class Recording:
    """A small Binance USD-M recording written line by line, each line 5 ms after the exchange."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.t = T0
        self.u = 100

    def add(self, msg: dict, dt_ms: int = 10) -> int:
        self.t += dt_ms * MS
        self.lines.append(b"%d %s" % (self.t, json.dumps(msg, separators=(",", ":")).encode()))
        return len(self.lines)

    def diff(self, bids=(), asks=(), skip: int = 0, dt_ms: int = 10) -> int:
        pu = self.u + skip
        self.u = pu + 3
        e = (self.t + dt_ms * MS) // MS - 5
        return self.add({"stream": "btcusdt@depth@0ms", "data": {
            "e": "depthUpdate", "E": e, "T": e, "s": "BTCUSDT", "U": pu + 1, "u": self.u, "pu": pu,
            "b": [list(x) for x in bids], "a": [list(x) for x in asks]}}, dt_ms)

    def trade(self, px: str, dt_ms: int = 10) -> int:
        e = (self.t + dt_ms * MS) // MS - 5
        return self.add({"stream": "btcusdt@trade", "data": {
            "e": "trade", "E": e, "T": e, "s": "BTCUSDT", "t": 1, "p": px, "q": "0.1", "X": "MARKET", "m": False}}, dt_ms)

    def snapshot(self) -> int:
        e = self.t // MS
        return self.add({"lastUpdateId": self.u, "E": e, "T": e,
                         "bids": [["100.0", "1"], ["99.9", "2"]], "asks": [["100.1", "1"], ["100.2", "2"]]})

    def gap_mark(self, reason: str) -> int:
        return self.add({"stream": "btcusdt@gap", "data": {"e": "gap", "E": self.t // MS, "s": "BTCUSDT",
                                                           "reason": reason}})

    def write(self, path: Path) -> Path:
        path.write_bytes(gzip.compress(b"\n".join(self.lines) + b"\n"))
        return path


def planted(tmp_path: Path) -> tuple[Path, dict]:
    r = Recording()
    r.diff([("99.8", "1")])
    r.snapshot()                                  # the book starts here
    r.diff([("100.0", "3")])
    r.trade("100.1")
    at = {"crossed": r.diff([("100.15", "1")])}    # a bid above the best ask
    r.diff([("100.15", "0")])
    at["locked"] = r.diff([("100.1", "1")])        # a bid at the best ask
    r.diff([("100.1", "0")])
    at["outside"] = r.trade("101.0")              # 89 bps above the ask, and after the next diff too
    r.diff(asks=[("100.3", "1")])
    at["silence"] = r.trade("100.1", dt_ms=12_000)
    at["unmarked"] = r.diff(skip=5)               # ids lost, no mark
    at["mark"] = r.gap_mark("sequence")
    at["marked"] = r.diff(skip=7)
    r.snapshot()
    r.diff([("100.0", "4")])
    r.trade("100.0")
    return r.write(tmp_path / "planted.gz"), at


def test_planted_faults_are_found_with_time_and_size(tmp_path):
    path, at = planted(tmp_path)
    r = audit(path)
    t = lambda line: T0 + 10 * MS * line + (12_000 - 10) * MS * (line >= at["silence"])  # noqa: E731
    assert r["streams"] == {"btcusdt@depth@0ms": 10, "btcusdt@trade": 4, "btcusdt@gap": 1, "depthSnapshot": 2}
    breaks = r["sequence_breaks"]
    assert breaks["count"] == 2 and breaks["unmarked"] == 1
    first, second = breaks["list"]
    assert (first["line"], first["ids_skipped"], first["marked"]) == (at["unmarked"], 5, False)
    assert (second["line"], second["ids_skipped"], second["marked"], second["mark_reason"]) == \
        (at["marked"], 7, True, "sequence")
    assert first["time"] == iso(t(at["unmarked"])) and first["seconds_lost"] == 12.01   # from the diff before
    (mark,) = r["gap_marks"]["list"]
    assert (mark["line"], mark["reason"], mark["explains_break"]) == (at["mark"], "sequence", True)
    assert r["holes"] == 2
    (silence,) = r["silences"]["list"]
    assert silence["line"] == at["silence"] and silence["seconds"] == 12.0 and r["silences"]["longest_s"] == 12.0
    (book,) = r["book"].values()
    assert (book["crossed"], book["locked"]) == (1, 1)
    crossed, locked = book["first_crossed_or_locked"]
    assert (crossed["line"], crossed["best_bid"], crossed["best_ask"]) == (at["crossed"], 100.15, 100.1)
    assert (locked["line"], locked["best_bid"], locked["best_ask"]) == (at["locked"], 100.1, 100.1)
    assert crossed["time"] == iso(t(at["crossed"]))
    # not checked: the diff before the first snapshot, the two from the first break to the next snapshot
    assert book["not_in_sync"] == 1 + 2 and r["snapshots"]["count"] == 2
    trades = r["trades"]
    assert (trades["count"], trades["checked"], trades["outside"]) == (4, 4, 1)
    (out,) = trades["list"]
    assert (out["line"], out["price"], out["best_ask"]) == (at["outside"], 101.0, 100.1)
    assert out["excursion_bps"] == round((101.0 - 100.1) / 101.0 * 1e4, 2)
    assert r["latency_ms"]["p50"] == 5 and r["latency_ms"]["max"] == 5
    assert {f["check"] for f in r["verdict"]["failed"]} == {"gaps", "crossed_or_locked", "trades_outside_pct"}


def test_cli_json_schema_and_exit_codes(tmp_path):
    path, _ = planted(tmp_path)
    out = cli(str(path), "--json")
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    assert set(doc) == {"schema", "ok", "exit_code", "thresholds", "options", "files", "errors"}
    assert (doc["schema"], doc["ok"], doc["exit_code"], doc["errors"]) == (1, False, 1, [])
    assert doc["thresholds"] == {"max_gaps": 0, "max_silence_s": 60.0, "max_crossed": 0,
                                 "max_trades_outside_pct": 0.1, "max_drift_ms_per_hour": None,
                                 "max_latency_p99_ms": None, "max_bad_lines": 0}
    (f,) = doc["files"]
    assert set(f) == {"path", "exchange", "lines", "bad_lines", "problems", "first", "last", "span_s",
                      "time_went_back", "streams", "sequence_breaks", "gap_marks", "holes", "silences",
                      "reconnects", "snapshots", "latency_ms", "book", "trades", "verdict"}
    assert set(f["latency_ms"]) == {"samples", "min", "p50", "p99", "max", "drift_ms_per_hour"}
    assert set(f["sequence_breaks"]["list"][0]) == {"time", "line", "stream", "previous_last_id",
                                                    "expected_previous_id", "ids_skipped", "seconds_lost",
                                                    "marked", "mark_reason"}
    assert set(f["trades"]) == {"count", "checked", "outside", "outside_pct", "tolerance_bps",
                                "max_excursion_bps", "list"}
    assert f["verdict"]["failed"][0] == {"check": "gaps", "value": 2, "limit": 0}
    relaxed = cli(str(path), "--json", "--max-gaps", "2", "--max-crossed", "2", "--max-trades-outside", "50")
    assert relaxed.returncode == 0 and json.loads(relaxed.stdout)["ok"]
    table = cli(str(path), "--max-silence", "5")
    assert table.returncode == 1 and "FAIL" in table.stdout and "silence_s" in table.stdout


def test_bad_input_is_one_line_and_exit_2(tmp_path, shared_data):
    good = shared_data / "recordings/spot/ethusdt_20240808.gz"
    data = good.read_bytes()
    (tmp_path / "truncated.gz").write_bytes(data[: len(data) // 2])
    corrupt = bytearray(data)
    corrupt[len(data) // 2:len(data) // 2 + 64] = bytes(64)
    (tmp_path / "corrupt.gz").write_bytes(bytes(corrupt))
    (tmp_path / "notes.txt").write_text("not a recording\n")
    (tmp_path / "empty.gz").write_bytes(b"")
    expected = {"missing.gz": "no such file", "truncated.gz": "file truncated", "corrupt.gz": "corrupt gzip data",
                "notes.txt": "not a recording", "empty.gz": "empty file"}
    for name, why in expected.items():
        out = cli(str(tmp_path / name))
        assert out.returncode == 2, (name, out.stderr)
        (line,) = out.stderr.strip().splitlines()
        assert line.startswith(f"error: {tmp_path / name}") and why in line, line
    both = cli(str(good), str(tmp_path / "missing.gz"), "--json")      # the good one is still reported
    assert both.returncode == 2
    doc = json.loads(both.stdout)
    assert [f["path"] for f in doc["files"]] == [str(good)] and doc["errors"][0]["path"] == str(tmp_path / "missing.gz")
    with pytest.raises(BadInput, match="file truncated"):
        scan_file(str(tmp_path / "truncated.gz"), AuditOptions())


def test_lines_that_are_not_messages_are_bad_lines(tmp_path):
    r = Recording()
    r.diff()
    r.lines.append(b"%d garbage" % (r.t + 1))
    r.lines.append(b"no timestamp here")
    r.trade("100.0")
    out = cli(str(r.write(tmp_path / "bad.gz")), "--json")
    assert out.returncode == 1
    (f,) = json.loads(out.stdout)["files"]
    assert f["bad_lines"] == 2 and len(f["problems"]) == 2
    assert {"check": "bad_lines", "value": 2, "limit": 0} in f["verdict"]["failed"]


def test_plot_writes_a_png(tmp_path, shared_data):
    pytest.importorskip("matplotlib")
    path, _ = planted(tmp_path)
    png = tmp_path / "audit.png"
    out = cli(str(path), str(shared_data / "recordings/cm/btcusd_perp_20240808.gz"), "--plot", str(png),
              "--max-gaps", "9", "--max-crossed", "9", "--max-trades-outside", "100")
    assert out.returncode == 0, out.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    unwritable = cli(str(path), "--plot", str(tmp_path / "no" / "such" / "dir.png"))
    assert unwritable.returncode == 2 and unwritable.stderr.strip().startswith("error: cannot write")


# --- the C accelerator against its Python twins, on random input ------------------------------------
@pytest.mark.skipif(audit_accel.fast is None, reason="the C accelerator is not built")
def test_c_replay_locate_and_int_fields_equal_their_python_twins():
    from hftctl.audit.book import replay_py
    from hftctl.audit.fields import int_fields
    from hftctl.convert.lines import split_lines
    from hftctl.convert.problems import ProblemLog

    rng = np.random.default_rng(7)
    for _ in range(50):
        n_px, m = int(rng.integers(1, 60)), int(rng.integers(1, 40))
        counts = rng.integers(0, 6, m)
        off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        n = int(off[-1])
        args = (rng.integers(0, 2, m).astype(np.uint8) * (rng.random(m) < 0.1), rng.integers(0, 2, n).astype(np.uint8),
                rng.integers(0, n_px, n).astype(np.int64), np.where(rng.random(n) < 0.4, 0.0, rng.random(n)))
        books = []
        for run in (audit_accel.fast.replay, replay_py):
            bid, ask, best = np.zeros(n_px), np.zeros(n_px), np.full(2, -1, np.int64)
            out_b, out_a = np.empty(m, np.int64), np.empty(m, np.int64)
            run(bid, ask, best, off, *args, out_b, out_a)
            books.append((bid.tolist(), ask.tolist(), best.tolist(), out_b.tolist(), out_a.tolist()))
        assert books[0] == books[1]
        axis = np.unique(np.round(rng.normal(100, 3, int(rng.integers(0, 200))), 1))
        px = np.round(rng.normal(100, 4, 300), 1)
        idx, found = audit_accel.fast.locate(axis, px)
        assert np.frombuffer(idx, np.int64).tolist() == np.searchsorted(axis, px).tolist()
        assert np.frombuffer(found, np.uint8).astype(bool).tolist() == np.isin(px, axis).tolist()
    # integers by key: present, missing, negative, too long, not digits
    values = ["123", "-5", "", "x1", "1234567890123456789", "00042", "9" * 18]
    text = b"".join(b'%d {"a":%s,"b":7}\n' % (T0 + i, v.encode()) for i, v in enumerate(values))
    table = split_lines(text, 1, ProblemLog("x"))
    rows = np.arange(len(values))
    fast = int_fields(table, rows, (b'"a":', b'"b":'))
    saved, audit_accel.fast = audit_accel.fast, None
    try:
        slow = int_fields(table, rows, (b'"a":', b'"b":'))
    finally:
        audit_accel.fast = saved
    assert fast[0].tolist() == slow[0].tolist() == [True, True, False, False, False, True, True]
    assert fast[1].tolist() == slow[1].tolist()
    assert fast[1][:, 0].tolist() == [123, -5, 0, 0, 0, 42, int("9" * 18)]
