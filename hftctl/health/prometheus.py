"""``hftctl health --prometheus``: the health report as Prometheus text exposition (format 0.0.4).

For node_exporter's textfile collector (a cron writes ``hftctl health --prometheus > f.prom.tmp
&& mv f.prom.tmp f.prom``) or any scraper that reads a file. Everything comes from the same
report as the table and ``--json``: the connector's status file counters, its ring, its bots'
reader slots, collectors, leftovers. Counters end in ``_total``; ages and lags are seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from hftctl.health.model import EXIT_CODES, HealthReport

Labels = dict[str, str]

# Connector stats (status file "stats") exported as counters: stat name -> (metric, help).
COUNTERS = {
    "requests": ("requests", "Bot requests received."),
    "requests_refused": ("requests_refused", "Bot requests refused (malformed, out of range, not allowed)."),
    "orders_submitted": ("orders_submitted", "New orders sent to the exchange."),
    "orders_rejected": ("orders_rejected", "Orders reported rejected to their bot (by the exchange or the connector)."),
    "cancels_sent": ("cancels_sent", "Cancel requests sent for bots."),
    "modifies_sent": ("modifies_sent", "Modify requests sent for bots."),
    "throttled": ("rest_throttled", "REST requests held back by the rate limiter or a Retry-After."),
    "unknown_outcomes": ("unknown_outcomes", "Submits whose outcome was unknown and had to be looked up."),
    "order_updates": ("order_updates", "Order updates sent to bots."),
    "reconciled_updates": ("reconciled_updates", "Order updates found only by REST reconciliation (missed by the stream)."),
    "reconciles": ("reconciles", "REST reconciliations of orders and positions."),
    "depth_gaps": ("depth_gaps", "Depth sequence gaps (book resynchronised)."),
    "depth_resyncs": ("depth_resyncs", "Book resynchronisations."),
    "bots_timed_out": ("bots_timed_out", "Bots that went silent past the heartbeat timeout."),
    "listen_key_renewals": ("listen_key_renewals", "User-data listenKeys renewed."),
    "clock_resyncs": ("clock_resyncs", "Server clock measurements."),
    # websocket order entry (order_transport = "ws"): Binance's WebSocket API, Bybit's /v5/trade
    "order_ws_requests": ("order_ws_requests", "Order requests answered over the order websocket."),
    "order_api_lost": ("order_ws_lost", "Order websocket requests whose answer never came (outcome looked up)."),
    "order_ws_lost_in_flight": ("order_ws_lost", "Order websocket requests whose answer never came (outcome looked up)."),
    "order_rest_fallbacks": ("order_rest_fallbacks", "Order requests sent over REST because the order websocket was down."),
    "user_resubscribes": ("user_resubscribes", "User-data subscriptions renewed on a live WebSocket API connection."),
    "server_shutdowns": ("server_shutdowns", "WebSocket API connections the exchange announced it would close."),
    "connect_waits": ("connect_waits", "Websocket connects held back by the exchange's connection rate limit."),
}
# Stats exported as gauges, scaled to base units: stat -> (metric, help, scale).
GAUGES = {
    "feed_lag_ms": ("feed_lag_seconds", "Local receive time minus exchange time of the last market event.", 1e-3),
    "rest_backoff_s": ("rest_backoff_seconds", "Seconds the REST client still waits out a Retry-After.", 1.0),
    "clock_offset_ms": ("clock_offset_seconds", "Exchange clock minus local clock.", 1e-3),
    "dcp_window_s": ("dcp_window_seconds", "The exchange's disconnection-protection window set for the account (0: none).", 1.0),
}
RECONNECTS = {"market_connects": "market", "user_connects": "user",
              "order_api_connects": "orders", "order_ws_connects": "orders"}
DEAD_MAN_STATES = ("armed", "failing", "off", "unprotected", "starting")


@dataclass
class Family:
    name: str
    kind: str               # counter | gauge
    help: str
    samples: list[tuple[Labels, float]] = field(default_factory=list)

    def add(self, labels: Labels, value: float | None) -> None:
        if value is not None and math.isfinite(value):
            self.samples.append((labels, float(value)))


class Exposition:
    def __init__(self) -> None:
        self.families: dict[str, Family] = {}

    def family(self, name: str, kind: str, help_: str) -> Family:
        full = f"hftctl_{name}" + ("_total" if kind == "counter" else "")
        fam = self.families.get(full)
        if fam is None:
            fam = self.families[full] = Family(full, kind, help_)
        return fam

    def render(self) -> str:
        out: list[str] = []
        for fam in self.families.values():
            out.append(f"# HELP {fam.name} {_escape_help(fam.help)}")
            out.append(f"# TYPE {fam.name} {fam.kind}")
            for labels, value in fam.samples:
                out.append(f"{fam.name}{_labels(labels)} {_value(value)}")
        return "\n".join(out) + "\n"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    parts = (f'{k}="{_escape_label(v)}"' for k, v in labels.items())
    return "{" + ",".join(parts) + "}"


def _escape_label(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _value(v: float) -> str:
    return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)


def _bool(b: bool) -> float:
    return 1.0 if b else 0.0


def render_prometheus(report: HealthReport) -> str:
    x = Exposition()
    x.family("health_status", "gauge", "Overall verdict: 0 healthy, 1 degraded, 2 down.").add({}, EXIT_CODES[report.verdict])
    x.family("problems", "gauge", "Problems hftctl health found.").add({}, len(report.problems))
    x.family("stale_objects", "gauge", "Leftovers of dead processes (shared memory, semaphores, status files).").add(
        {}, len(report.stale))
    for c in report.connectors:
        cl = {"connector": c.name, "exchange": c.exchange or "unknown"}
        x.family("connector_up", "gauge", "1 if the connector process is alive.").add(cl, _bool(c.alive))
        x.family("connector_heartbeat_age_seconds", "gauge", "Age of the connector's ring heartbeat.").add(
            cl, c.heartbeat_age)
        x.family("connector_messages", "counter", "Messages published on the connector's broadcast ring.").add(
            cl, c.messages)
        for s in c.streams:
            sl = cl | {"stream": s.name}
            x.family("stream_up", "gauge", "1 if the exchange stream is connected.").add(sl, _bool(s.state == "connected"))
            x.family("stream_last_message_age_seconds", "gauge", "Seconds since the stream's last message.").add(
                sl, s.last_msg_age)
        for sym, state in c.books.items():
            x.family("book_synced", "gauge", "1 if the connector's book of the symbol is in sync.").add(
                cl | {"symbol": sym}, _bool(state == "synced"))
        for stat, (metric, help_) in COUNTERS.items():
            if stat in c.stats:
                x.family(f"connector_{metric}", "counter", help_).add(cl, c.stats[stat])
        for stat, (metric, help_, scale) in GAUGES.items():
            if stat in c.stats:
                x.family(f"connector_{metric}", "gauge", help_).add(cl, c.stats[stat] * scale)
        for stat, stream in RECONNECTS.items():
            if stat in c.stats:
                x.family("stream_reconnects", "counter", "Reconnects of the exchange stream.").add(
                    cl | {"stream": stream}, max(0.0, c.stats[stat] - 1))
        if c.dead_man is not None:
            dm = c.dead_man
            dl = cl | {"mechanism": dm.mechanism or "none"}
            for state in DEAD_MAN_STATES:
                x.family("dead_man_state", "gauge", "1 for the dead man's switch's state (armed, failing, off, "
                         "unprotected, starting).").add(dl | {"state": state}, _bool(dm.state == state))
            x.family("dead_man_last_refresh_age_seconds", "gauge",
                     "Seconds since the dead man's switch was last refreshed.").add(dl, dm.last_refresh_age)
            x.family("dead_man_window_seconds", "gauge", "The dead man's switch's window.").add(dl, dm.window_s)
        for b in c.bots:
            bl = {"connector": c.name, "bot_id": str(b.bot_id), "name": b.name or "?", "role": b.role}
            x.family("bot_up", "gauge", "1 if the bot (or ring reader) process is alive.").add(bl, _bool(b.alive))
            x.family("bot_ring_lag_messages", "gauge", "Messages on the ring the bot has not read yet.").add(
                bl, None if b.lag is None else float(b.lag))
            x.family("bot_ring_overruns", "counter", "Messages the bot lost by falling a whole ring behind.").add(
                bl, b.overruns)
            x.family("bot_open_orders", "gauge", "Open orders of the bot.").add(
                bl, None if b.open_orders is None else float(b.open_orders))
            for sym, qty in b.positions.items():
                x.family("bot_position", "gauge", "Position per symbol as the bot's connector reports it.").add(
                    bl | {"symbol": sym}, qty)
    for col in report.collectors:
        ll = {"collector": col.name, "source": col.source}
        x.family("collector_up", "gauge", "1 if the collector process is alive.").add(ll, _bool(col.alive))
        x.family("collector_last_write_age_seconds", "gauge", "Seconds since the collector last wrote.").add(
            ll, col.last_write_age)
        x.family("collector_messages", "counter", "Messages the collector recorded.").add(
            ll, None if col.messages is None else float(col.messages))
    return x.render()
