"""`hftctl audit` on recordings made by a real `hftctl collect` from the real sim with sequence gaps
injected (the sim's ``gap_every`` fault): the report must find exactly the gaps the sim counted.

The fault is switched on through /_sim/fault once the collector records (not with --gap-every at
start-up): gaps the sim injects before the collector has subscribed are in no recording, so only
the counter's growth while the collector listens is comparable.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hftctl.audit.report import Thresholds, build
from hftctl.audit.scan import AuditOptions, scan_file
from hftctl.sim.process import start_sim
from tests.conftest import ROOT
from tests.test_collect_sim import (http_json, recording_started, replay_finished, stop, wait_for,
                                    wait_recording_caught_up)

# recording, and a gap every N depth updates of the sim's engine. The sim sends spot's depth@100ms
# as 100 ms batches of its updates (about 40 at 40x) and a batch shows one skipped id however many
# gaps it holds: 100 keeps gaps in separate batches, so each is one break the audit can count.
REPLAYS = {"binancefutures": ("usdm/btcusdt_20240808.gz", 50), "binancespot": ("spot/btcusdt_20240808.gz", 100)}


def injected(sim) -> int:
    return http_json(f"{sim.control_url}/state")["counters"]["gaps_injected"]


def collect(exchange: str, sim, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "hftctl", "collect", exchange, "btcusdt", "--out", str(out),
                             "--stream-url", sim.ws_url, "--rest-url", sim.rest_url, "--no-progress"],
                            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def audit_cli(path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hftctl", "audit", str(path), "--json", *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("exchange", list(REPLAYS))
def test_audit_finds_exactly_the_gaps_the_sim_injected(tmp_path, shared_data, exchange):
    recording, every = REPLAYS[exchange]
    replay = ["--replay", str(shared_data / "recordings" / recording), "--speed", "40"]
    with start_sim(exchange=exchange, extra_args=replay) as sim:
        p = collect(exchange, sim, tmp_path)
        try:
            wait_for(lambda: recording_started(tmp_path), 30, "the collector to record")
            before = injected(sim)
            http_json(f"{sim.control_url}/fault", {"gap_every": every})
            wait_for(lambda: replay_finished(sim), 90, "the replay to finish")
            gaps = injected(sim) - before
            wait_recording_caught_up(tmp_path, sim)
        finally:
            err = stop(p)
    assert p.returncode == 0, err
    assert gaps > 20
    (path,) = tmp_path.iterdir()
    out = audit_cli(path)
    assert out.returncode == 1, out.stderr                     # holes above the default --max-gaps 0
    (r,) = json.loads(out.stdout)["files"]
    assert r["exchange"] == exchange
    assert r["sequence_breaks"]["count"] == gaps and r["sequence_breaks"]["unmarked"] == 0
    assert r["gap_marks"]["by_reason"] == {"sequence": gaps}
    assert r["holes"] == gaps and r["reconnects"] == 0
    assert all(b["mark_reason"] == "sequence" and b["ids_skipped"] == 1 for b in r["sequence_breaks"]["list"])
    (book,) = r["book"].values()
    # the collector takes a snapshot after each gap: the replayed book is checked between them
    # (spot's depth@100ms comes in 100 ms batches of sim time: at 40x, few and large diffs)
    assert book["crossed"] == book["locked"] == 0 and book["checked"] > book["messages"] / 3
    assert r["trades"]["checked"] > 1000
    if exchange == "binancefutures":
        # (spot: trades go out at once but depth only every 100 ms of wall time, 4 s of market at
        # 40x, so trades do run ahead of the recorded book there and the audit rightly says so)
        assert r["trades"]["outside"] == 0
        assert audit_cli(path, "--max-gaps", str(gaps)).returncode == 0
    assert audit_cli(path, "--max-gaps", str(gaps), "--max-trades-outside", "100").returncode == 0


def test_bybit_recording_from_the_bybit_sim(tmp_path):
    """A Bybit recording: three orderbook topics (each its own book and id chain) and trades; gaps
    injected after a clean start show as u breaks on the deepest book, one per gap."""
    with start_sim(exchange="bybit", extra_args=["--symbol", "BTCUSDT"]) as sim:
        p = collect("bybit", sim, tmp_path)
        try:
            wait_for(lambda: recording_started(tmp_path), 30, "the collector to record")
            time.sleep(3)                                      # a clean stretch: every book checked
            before = injected(sim)
            http_json(f"{sim.control_url}/fault", {"gap_every": 3})
            time.sleep(4)
            http_json(f"{sim.control_url}/fault", {"gap_every": 0})
            gaps = injected(sim) - before
            time.sleep(1.5)                                    # the last gapped deltas are pushed and flushed
        finally:
            err = stop(p)
    assert p.returncode == 0, err
    assert gaps >= 5
    (path,) = tmp_path.iterdir()
    r = build(scan_file(str(path), AuditOptions()), Thresholds())
    assert r["exchange"] == "bybit" and r["bad_lines"] == 0
    books = {f"orderbook.{d}.BTCUSDT" for d in (1, 50, 1000)}
    assert set(r["book"]) == books and set(r["streams"]) == books | {"publicTrade.BTCUSDT"}
    per_stream: dict[str, int] = {}
    for b in r["sequence_breaks"]["list"]:
        per_stream[b["stream"]] = per_stream.get(b["stream"], 0) + 1
        assert b["ids_skipped"] == 1 and not b["marked"]
    assert per_stream["orderbook.1000.BTCUSDT"] == gaps         # every engine update changes the full book
    assert all(n <= gaps for n in per_stream.values())
    assert r["snapshots"]["count"] >= 3, r["snapshots"]      # one per topic after subscribing
    for name, book in r["book"].items():
        assert book["crossed"] == book["locked"] == 0 and book["checked"] > 10, name
    assert r["trades"]["checked"] > 0 and r["trades"]["outside"] == 0
    assert r["latency_ms"]["samples"] > 100 and 0 <= r["latency_ms"]["p50"] < 1000
