"""One `hftctl collect` recording 20 symbols at once from the sim: nothing lost, every symbol recorded.

Not a timing test (scripts/bench_collect.py --symbols 20 measures throughput and CPU): the sim's
synthetic market runs 20 test instruments at 20 book updates a second each (a few hundred messages
a second in all) and the recordings must hold every symbol, a snapshot each, no gap mark and no
sequence break -- checked with `hftctl audit`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

from hftctl.exchanges.binance.futures.sim_instruments import TEST_SYMBOLS
from hftctl.sim.process import start_sim
from tests.collect_replay import decompress_all
from tests.conftest import ROOT
from tests.test_collect_sim import http_json, stop, wait_for

MARKET = "[synthetic]\ninterval_ms = 50\ntrades_per_s = 4\n"
SECONDS = 8


def test_twenty_symbols_recorded_without_a_gap(tmp_path):
    cfg = tmp_path / "sim.toml"
    cfg.write_text(MARKET)
    out = tmp_path / "data"
    symbols = [s.lower() for s in TEST_SYMBOLS]
    args = ["--config", str(cfg)] + [a for s in TEST_SYMBOLS for a in ("--symbol", s)]
    with start_sim(extra_args=args) as sim:
        p = subprocess.Popen([sys.executable, "-m", "hftctl", "collect", "binancefutures", *symbols,
                              "--out", str(out), "--stream-url", sim.ws_url, "--rest-url", sim.rest_url,
                              "--no-progress", "--log-level", "info"], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: out.exists() and len(list(out.iterdir())) == 20, 60, "a file for every symbol")
            time.sleep(SECONDS)
            sent = http_json(f"{sim.control_url}/state")["counters"]
        finally:
            err = stop(p)
    assert p.returncode == 0, err
    assert re.search(r"closed: \d+ messages .*, 20 snapshots, 0 gaps, 0 reconnects", err), err
    assert "sequence gap" not in err and "reconnecting" not in err, err
    files = sorted(out.iterdir())
    assert [f.name.split("_")[0] for f in files] == symbols
    recorded = 0
    for f in files:
        lines = decompress_all(f).splitlines()
        recorded += len(lines)
        assert sum(b'"lastUpdateId"' in ln[20:40] for ln in lines) == 1, f.name    # the start snapshot only
        assert not any(b'"e":"gap"' in ln for ln in lines), f.name
    assert recorded > sent["depth_updates"] // 2 > SECONDS * 20 * 20 // 2
    audit = subprocess.run([sys.executable, "-m", "hftctl", "audit", *map(str, files), "--json", "--no-progress"],
                           capture_output=True, text=True, timeout=120, cwd=ROOT, stdin=subprocess.DEVNULL)
    doc = json.loads(audit.stdout)
    assert audit.returncode == 0 and doc["ok"], [f["verdict"] for f in doc["files"]]
    for report in doc["files"]:
        assert report["holes"] == 0 and report["sequence_breaks"]["count"] == 0, report["path"]
        (book,) = report["book"].values()
        assert book["checked"] > SECONDS * 20 * 0.8 and book["crossed"] == 0, report["path"]
