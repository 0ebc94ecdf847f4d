"""Every IPC request gets exactly one answer, whatever it contains.

A real hostile bot process (tests/hostile_bot.py) sends a real connector, trading on the real
sim, prices of inf/nan/1e300, zero and negative quantities, prices between ticks, huge and
negative order ids, unknown and malformed symbols, records of the wrong types, truncated and
spoofed records, garbage. Each request with a req_id must be answered exactly once (an
OrderUpdate or an Error carrying it), nothing hostile may reach the exchange, the connector must
log no traceback and keep serving: with orders over the WebSocket API (the default) and over
REST alike.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hftctl.health import check
from hftctl.sim.process import start_sim
from tests.connector_procs import ROOT, connector, sim_state, write_config

HOSTILE = ROOT / "tests" / "hostile_bot.py"


@pytest.mark.parametrize("transport", ["ws", "rest"])
def test_hostile_requests_are_each_answered_exactly_once(tmp_path, transport):
    name = f"cthst{transport}"
    with start_sim() as sim:
        cfg = write_config(tmp_path / "c.toml", sim, prefix="hst", extra=f'order_transport = "{transport}"')
        with connector(name, cfg, tmp_path) as conn:
            out = tmp_path / "hostile.json"
            r = subprocess.run([sys.executable, str(HOSTILE), "--name", name, "--out", str(out)],
                               cwd=ROOT, capture_output=True, text=True, timeout=120,
                               stdin=subprocess.DEVNULL)
            assert r.returncode == 0, r.stderr[-3000:]
            res = json.loads(out.read_text())
            state = sim_state(sim)
            assert conn.p.poll() is None, "connector died"
            stats = check(name).connectors[0].stats
        text = conn.text()
    # the transport asked for is the one the orders took
    assert stats["order_rest_fallbacks"] == 0
    assert stats["order_api_connects"] == (1 if transport == "ws" else 0)

    sent, answers = res["sent"], res["answers"]
    problems = []
    for rid, label in sent.items():
        got = answers.get(rid, [])
        if len(got) != 1:
            problems.append(f"{label} (req {rid}): {len(got)} answers {got}")
    assert not problems, "\n".join(problems)
    assert not set(answers) - set(sent), "answers to requests never sent"

    by_label = {label: answers[rid][0] for rid, label in sent.items()}
    assert by_label["control submit"].startswith("OrderUpdate new")
    assert by_label["control cancel"].startswith("OrderUpdate canceled")
    assert res["control"] == "canceled"
    for label, answer in by_label.items():
        if label.startswith(("control", "modify to the same")):
            continue
        assert answer.startswith(("Error", "OrderUpdate rejected")), f"{label}: {answer}"
    assert "not a multiple of 0.1" in by_label["px between ticks"]
    assert "finite" in by_label["px inf"] and "finite" in by_label["qty nan"]
    assert "out of range" in by_label["px 1e300"] and "out of range" in by_label["qty 1e300"]
    assert "register the instrument first" in by_label["unknown symbol"]
    assert "refused" in by_label["px as a string"] and "sent by bot" in by_label["submit for another bot"]
    # Requests without a req_id were refused to the sender too: garbage, a Trade, bad registers,
    # an injected stream name, an absurd pid.
    un = " | ".join(res["unaddressed"])
    for expect in ("malformed request", "Trade is not a request", "tick_size must be a finite",
                   "lot_size must be a finite", "invalid symbol '../../etc'",
                   "invalid symbol 'btcusdt@depth@0ms/ethusdt'", "is not a process id"):
        assert expect in un, (expect, un)

    # Nothing hostile reached the exchange: the sim saw only the control order (now cancelled).
    open_orders = [o for a in state["accounts"] for o in a["open_orders"]]
    assert open_orders == [], open_orders
    assert "Traceback" not in text and "connector task failed" not in text, text[-3000:]
