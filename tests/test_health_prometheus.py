"""`hftctl health --prometheus`: valid text exposition (parsed by prometheus_client's own parser),
and the numbers are the running connector's: streams, books, orders, bots' open orders."""

from __future__ import annotations

import subprocess
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hftctl.health.model import BotHealth, ConnectorHealth, DeadManHealth, HealthReport, StreamHealth
from hftctl.health.prometheus import render_prometheus
from hftctl.health.verdict import judge
from hftctl.sim.process import start_sim
from tests.connector_procs import ROOT, bot, connector, wait_for, write_config


def parse(text: str) -> dict[str, list[tuple[dict, float]]]:
    """Sample name -> [(labels, value)], via the reference parser (it raises on bad syntax)."""
    out: dict[str, list[tuple[dict, float]]] = {}
    for fam in text_string_to_metric_families(text):
        assert fam.documentation, fam.name
        assert fam.type in ("counter", "gauge"), fam.type
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def value(samples, metric: str, **labels) -> float:
    hits = [v for lab, v in samples.get(metric, []) if all(lab.get(k) == w for k, w in labels.items())]
    assert len(hits) == 1, (metric, labels, samples.get(metric))
    return hits[0]


def test_exposition_escapes_labels_and_skips_non_finite_values():
    c = ConnectorHealth("bf", 1, True, 0.1, status_age=0.2, exchange="binancefutures", messages=7)
    c.streams = [StreamHealth("market", "connected", 0.5), StreamHealth("user", "disconnected", None)]
    c.books = {"BTCUSDT": "synced", "ETHUSDT": "syncing"}
    c.stats = {"orders_submitted": 12.0, "feed_lag_ms": 3.5, "rest_backoff_s": 41.0,
               "market_connects": 3.0, "clock_offset_ms": float("nan"),
               "order_ws_connects": 4.0, "order_ws_lost_in_flight": 2.0, "order_rest_fallbacks": 5.0}
    c.dead_man = DeadManHealth("DCP", "failing", 10.0, ["BTCUSDT"], last_refresh_age=12.5, error="timeout")
    c.bots = [BotHealth(2, 99, True, name='we"ird\\name\nx', lag=4, overruns=1, open_orders=6,
                        positions={"BTCUSDT": -0.002})]
    report = HealthReport(connectors=[c])
    judge(report)
    samples = parse(render_prometheus(report))
    assert value(samples, "hftctl_connector_up", connector="bf") == 1
    assert value(samples, "hftctl_connector_messages_total", connector="bf") == 7
    assert value(samples, "hftctl_stream_up", stream="market") == 1
    assert value(samples, "hftctl_stream_up", stream="user") == 0
    assert value(samples, "hftctl_book_synced", symbol="ETHUSDT") == 0
    assert value(samples, "hftctl_connector_orders_submitted_total") == 12
    assert value(samples, "hftctl_connector_feed_lag_seconds") == pytest.approx(0.0035)
    assert value(samples, "hftctl_connector_rest_backoff_seconds") == 41
    assert value(samples, "hftctl_stream_reconnects_total", stream="market") == 2
    assert "hftctl_connector_clock_offset_seconds" not in samples          # nan is not exported
    # websocket order entry: reconnects of the order socket, answers lost in flight, REST fallbacks
    assert value(samples, "hftctl_stream_reconnects_total", stream="orders") == 3
    assert value(samples, "hftctl_connector_order_ws_lost_total") == 2
    assert value(samples, "hftctl_connector_order_rest_fallbacks_total") == 5
    # the dead man's switch: one state set, its age and window
    assert value(samples, "hftctl_dead_man_state", mechanism="DCP", state="failing") == 1
    assert value(samples, "hftctl_dead_man_state", mechanism="DCP", state="armed") == 0
    assert value(samples, "hftctl_dead_man_last_refresh_age_seconds", mechanism="DCP") == 12.5
    assert value(samples, "hftctl_dead_man_window_seconds", mechanism="DCP") == 10
    assert value(samples, "hftctl_bot_open_orders", name='we"ird\\name\nx') == 6
    assert value(samples, "hftctl_bot_position", symbol="BTCUSDT") == -0.002
    assert value(samples, "hftctl_health_status") == 1                     # degraded
    # The back-off is a problem an operator sees, with what it holds up.
    assert any("REST backing off for 41 s" in p for p in report.problems)


def test_prometheus_from_a_running_connector(tmp_path):
    with start_sim() as sim:
        cfg = write_config(tmp_path / "c.toml", sim, prefix="prm")
        with connector("ctprm", cfg, tmp_path):
            out = tmp_path / "bot.json"
            with bot("ctprm", out, "--mode", "rest"):
                wait_for(lambda: out.exists(), 30, "bot's orders")

                def scrape():
                    r = subprocess.run([sys.executable, "-m", "hftctl", "health", "--prometheus",
                                        "--connector", "ctprm"], capture_output=True, text=True,
                                       timeout=60, cwd=ROOT)
                    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
                    s = parse(r.stdout)
                    ok = s.get("hftctl_bot_open_orders") and value(s, "hftctl_bot_open_orders", connector="ctprm") == 6
                    return s if ok else None

                s = wait_for(scrape, 15, "the bot's 6 orders in the metrics", 0.5)
    assert value(s, "hftctl_connector_up", connector="ctprm", exchange="binancefutures") == 1
    assert value(s, "hftctl_stream_up", stream="market") == 1 and value(s, "hftctl_stream_up", stream="user") == 1
    assert value(s, "hftctl_book_synced", symbol="BTCUSDT") == 1
    assert value(s, "hftctl_connector_orders_submitted_total") >= 6
    assert value(s, "hftctl_connector_orders_rejected_total") == 0
    assert value(s, "hftctl_connector_messages_total") > 0
    assert value(s, "hftctl_bot_up", role="bot") == 1
    assert value(s, "hftctl_bot_ring_overruns_total", role="bot") == 0
    assert 0 <= value(s, "hftctl_connector_feed_lag_seconds") < 60
    # orders went over the WebSocket API (order_transport = "ws", the default): one connection,
    # every answer came, nothing fell back to REST
    assert value(s, "hftctl_stream_reconnects_total", stream="orders") == 0
    assert value(s, "hftctl_connector_order_ws_lost_total") == 0
    assert value(s, "hftctl_connector_order_rest_fallbacks_total") == 0
    assert value(s, "hftctl_dead_man_state", mechanism="countdownCancelAll", state="armed") == 1
    assert value(s, "hftctl_stream_last_message_age_seconds", stream="market") < 15
    for name in ("hftctl_connector_unknown_outcomes_total", "hftctl_connector_depth_gaps_total",
                 "hftctl_connector_rest_throttled_total", "hftctl_stream_reconnects_total"):
        assert name in s, name


def test_prometheus_and_json_are_exclusive():
    r = subprocess.run([sys.executable, "-m", "hftctl", "health", "--prometheus", "--json"],
                       capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 1 and r.stderr.strip().startswith("error: ") and "pick one" in r.stderr
