"""A Bybit recording made with today's depths (orderbook.1, .50 and .1000; .500 was switched off
on 2025-09-30) and converted: the converted book is the sim's, level for level."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import urllib.request
import zlib
from decimal import Decimal

import numpy as np

from hftctl.sim.process import start_sim
from tests.collect_replay import book_from_events, normalise, sim_book
from tests.conftest import ROOT
from tests.test_collect_sim import stop, wait_for


def _state(sim, depth: int | None = None) -> dict:
    url = f"{sim.control_url}/state?symbol=BTCUSDT" + (f"&depth={depth}" if depth else "")
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def _messages(out) -> list[dict]:
    msgs = []
    for path in sorted(out.iterdir()):
        try:
            data = gzip.decompress(path.read_bytes())
        except (OSError, EOFError, zlib.error):
            return []                      # a member is being written: read again later
        msgs += [json.loads(line.split(b" ", 1)[1]) for line in data.splitlines()]
    return msgs


def _top_pushed_again(out) -> bool:
    """The recording holds orderbook.1's 3-second re-push of an unchanged book (same u): the
    market has been still that long, so every change before is recorded."""
    tops = [m["data"]["u"] for m in _messages(out) if m.get("topic") == "orderbook.1.BTCUSDT"]
    return len(tops) >= 2 and tops[-1] == tops[-2]


def test_recording_with_todays_depths_converts_to_the_sims_book(tmp_path, shared_data):
    rec = shared_data / "recordings" / "usdm" / "btcusdt_20240808.gz"
    out = tmp_path / "rec"
    out.mkdir()
    with start_sim("bybit", extra_args=["--replay", str(rec), "--speed", "40"]) as sim:
        p = subprocess.Popen([sys.executable, "-m", "hftctl", "collect", "bybit", "btcusdt", "--out", str(out),
                              "--stream-url", sim.ws_url, "--rest-url", sim.rest_url, "--no-progress"],
                             cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        try:
            wait_for(lambda: all(r["finished"] for r in _state(sim)["replay"]), 60, "the replay to finish")
            wait_for(lambda: _top_pushed_again(out), 30, "the still book to be recorded")
        finally:
            err = stop(p)
        assert p.returncode == 0, err
        expected = sim_book(_state(sim, depth=1000)["book"])
    msgs = _messages(out)
    topics = {m["topic"] for m in msgs if "topic" in m}
    assert topics == {"orderbook.1.BTCUSDT", "orderbook.50.BTCUSDT", "orderbook.1000.BTCUSDT", "publicTrade.BTCUSDT"}
    (path,) = out.iterdir()
    npz = tmp_path / "bybit.npz"
    conv = subprocess.run([sys.executable, "-m", "hftctl", "convert", str(path), str(npz)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT, stdin=subprocess.DEVNULL)
    assert conv.returncode == 0, conv.stderr
    rebuilt = normalise(book_from_events(np.load(npz)["data"]))
    bids, asks = normalise(expected)
    assert len(bids) == len(asks) == 1000, "the sim's book is deeper than 1000 levels a side"
    # the deepest recorded book (1000) was converted, and it is the sim's top 1000, exactly
    assert rebuilt == (bids, asks)
    assert max(rebuilt[0]) < min(rebuilt[1]) and all(q > Decimal(0) for q in [*bids.values(), *asks.values()])
