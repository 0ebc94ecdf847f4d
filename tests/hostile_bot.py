"""A hostile bot process (run as ``python tests/hostile_bot.py``): it sends the connector requests
no well-behaved bot would (non-finite and absurd numbers, prices between ticks, other bots' ids,
wrong types, truncated records, garbage) through the real request ring, plus one valid order as
a control, and records every answer per ``req_id``. The test then checks: each request answered
exactly once, and the connector still serving.

Writes JSON to --out: {"sent": {req_id: label}, "answers": {req_id: [answer, ...]},
"unaddressed": [errors without req_id], "control": {...}}.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import msgpack

from hftctl.ipc import schema as s
from hftctl.ipc.endpoint import BotEndpoint
from hftctl.ipc.ring import Overrun, WriterGone

SYM = "BTCUSDT"
TICK, LOT = 0.1, 0.001
QTY = 0.01       # over the exchange's minimum notional


class Hostile:
    def __init__(self, name: str) -> None:
        self.ep = BotEndpoint.attach(name, "hostile", timeout=10)
        self.bot = self.ep.bot_id
        self.req = 1000
        self.sent: dict[int, str] = {}
        self.answers: dict[int, list[str]] = {}
        self.unaddressed: list[str] = []
        self.book_mid = 0.0
        self.control_status: dict[int, str] = {}

    def next_req(self, label: str) -> int:
        self.req += 1
        self.sent[self.req] = label
        return self.req

    def send(self, msg: s.Message) -> None:
        self.ep.send(msg)

    def raw(self, label: str, fields: list | None = None, data: bytes | None = None, req: bool = True) -> int | None:
        """Send bytes the schema would never produce; ``fields`` get [tag, bot, req_id, ...]."""
        rid = self.next_req(label) if req else None
        if data is None:
            assert fields is not None
            data = msgpack.packb([fields[0], fields[1], rid, *fields[2:]] if req else fields)
        self.ep.requests.send(data)
        return rid

    def pump(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            m = self.ep.recv(0.05)
            while m is not None:
                self.on(m)
                m = self.ep.recv(0.0)

    def on(self, m) -> None:
        if isinstance(m, (Overrun, WriterGone)):
            self.unaddressed.append(f"{type(m).__name__}")
            return
        if isinstance(m, s.DepthSnapshot) and m.symbol == SYM and m.bids and m.asks:
            self.book_mid = (m.bids[0][0] + m.asks[0][0]) / 2
        elif isinstance(m, s.OrderUpdate):
            self.control_status[m.order_id] = m.status
            if m.req_id is not None:
                self.answers.setdefault(m.req_id, []).append(f"OrderUpdate {m.status} {m.reason or ''}")
        elif isinstance(m, s.Error):
            if m.req_id is not None:
                self.answers.setdefault(m.req_id, []).append(f"Error {m.code} {m.message}")
            else:
                self.unaddressed.append(f"Error {m.code} {m.message} {m.symbol}")

    def submit(self, label: str, oid: int, px: float, qty: float, typ: str = "limit", tif: str = "gtc",
               sym: str = SYM, side: int = s.BUY) -> int:
        rid = self.next_req(label)
        self.send(s.SubmitOrder(self.bot, rid, sym, oid, side, px, qty, typ, tif))
        return rid


def run(h: Hostile) -> dict:
    h.send(s.RegisterInstrument(h.bot, SYM, TICK, LOT))
    deadline = time.monotonic() + 30
    while h.book_mid == 0.0 and time.monotonic() < deadline:
        h.pump(0.1)
    if h.book_mid == 0.0:
        raise SystemExit("no book")
    far = round(round((h.book_mid - 500) / TICK) * TICK, 1)      # never fills

    # The control: a valid order, accepted. Everything hostile comes after it.
    h.submit("control submit", 1, far, QTY)
    h.pump(1.0)

    inf, nan = float("inf"), float("nan")
    for label, px, qty in (("px inf", inf, LOT), ("px -inf", -inf, LOT), ("px nan", nan, LOT),
                           ("px 1e300", 1e300, LOT), ("px negative", -far, LOT), ("px zero", 0.0, LOT),
                           ("px between ticks", far + 0.05, LOT), ("px 1e-300", 1e-300, LOT),
                           ("qty zero", far, 0.0), ("qty negative", far, -LOT), ("qty nan", far, nan),
                           ("qty inf", far, inf), ("qty 1e300", far, 1e300), ("qty between lots", far, 0.0015),
                           ("qty 1e-300", far, 1e-300)):
        h.submit(label, 100 + len(h.sent), px, qty)
    h.submit("market qty nan", 200, 0.0, nan, typ="market", tif="ioc")
    h.submit("market px inf", 201, inf, LOT, typ="market", tif="ioc")
    h.submit("order_id 2^63-1", (1 << 63) - 1, far, LOT)
    h.submit("order_id negative", -5, far, LOT)
    h.submit("unknown symbol", 300, far, LOT, sym="FOOUSDT")
    h.submit("symbol injection", 301, far, LOT, sym="BTCUSDT@aggTrade/ethusdt@depth")
    h.submit("empty symbol", 302, far, LOT, sym="")
    h.submit("order_id of the open control", 1, far, LOT)
    # Cancels and modifies: unknown ids, bad values on the live control order, a no-op modify.
    for label, msg in (("cancel unknown", lambda r: s.CancelOrder(h.bot, r, SYM, 999_999)),
                       ("cancel uint64 id", lambda r: s.CancelOrder(h.bot, r, SYM, (1 << 64) - 1)),
                       ("modify unknown", lambda r: s.ModifyOrder(h.bot, r, SYM, 424242, far, LOT)),
                       ("modify px nan", lambda r: s.ModifyOrder(h.bot, r, SYM, 1, nan, LOT)),
                       ("modify px inf", lambda r: s.ModifyOrder(h.bot, r, SYM, 1, inf, LOT)),
                       ("modify qty 0", lambda r: s.ModifyOrder(h.bot, r, SYM, 1, far, 0.0)),
                       ("modify px between ticks", lambda r: s.ModifyOrder(h.bot, r, SYM, 1, far + 0.03, LOT)),
                       ("modify to the same values", lambda r: s.ModifyOrder(h.bot, r, SYM, 1, far, QTY))):
        h.send(msg(h.next_req(label)))
    # Records the schema refuses: the connector must still answer each with its req_id.
    b = h.bot
    h.raw("px as a string", [68, b, SYM, 400, 1, "60000", LOT, "limit", "gtc"])
    h.raw("side 2", [68, b, SYM, 401, 2, far, LOT, "limit", "gtc"])
    h.raw("side true", [68, b, SYM, 402, True, far, LOT, "limit", "gtc"])
    h.raw("order_type stop", [68, b, SYM, 403, 1, far, LOT, "stop", "gtc"])
    h.raw("tif bogus", [68, b, SYM, 404, 1, far, LOT, "limit", "day"])
    h.raw("order_id float", [68, b, SYM, 405.0, 1, far, LOT, "limit", "gtc"])
    h.raw("symbol bytes", [68, b, b"BTCUSDT", 406, 1, far, LOT, "limit", "gtc"])
    h.raw("truncated submit", [68, b])
    h.raw("extra fields", [68, b, SYM, 407, 1, far, LOT, "limit", "gtc", 1, 2, 3])
    h.raw("submit for another bot", [68, b + 1, SYM, 408, 1, far, LOT, "limit", "gtc"])
    h.raw("cancel for another bot", [69, b + 7, SYM, 1])
    h.raw("cancel symbol int", [69, b, 5, 1])
    h.raw("cancel_all symbol list", [71, b, ["x"]])
    h.raw("modify qty string", [70, b, SYM, 1, far, "1"])
    huge = (1 << 64) - 1
    h.sent[huge] = "req_id 2^64-1 with px nan"
    h.send(s.SubmitOrder(b, huge, SYM, 500, s.BUY, nan, LOT, "limit", "gtc"))
    # Garbage and events posing as requests: no req_id to answer with, but the sender is told.
    h.raw("garbage", data=b"\xc1\xc1\xc1", req=False)
    h.raw("empty", data=b"", req=False)
    h.raw("a Trade as a request", fields=[4, SYM, 1, 2, 1, 1.0, 1.0], req=False)
    # Requests without a req_id that are still refused, each with an Error.
    h.send(s.RegisterInstrument(b, "ETHUSDT", float("inf"), LOT))
    h.send(s.RegisterInstrument(b, "ETHUSDT", TICK, float("nan")))
    h.send(s.RegisterInstrument(b, "../../etc", TICK, LOT))
    h.send(s.SubscribeRaw(b, "btcusdt@depth@0ms/ethusdt"))
    h.send(s.SnapshotRequest(b, "\x00" * 5000))
    h.send(s.Hello(b, 1 << 40, "x" * 10000))       # a pid the watchdog cannot signal

    h.pump(4.0)
    # After all that the connector still serves: a valid cancel of the control order.
    h.send(s.CancelOrder(b, h.next_req("control cancel"), SYM, 1))
    h.send(s.BotHeartbeat(b, time.time_ns()))
    end = time.monotonic() + 20
    while time.monotonic() < end and any(r not in h.answers for r in h.sent):
        h.pump(0.2)
    h.pump(2.0)          # late duplicates would show up here
    return {"bot_id": b, "sent": {str(k): v for k, v in h.sent.items()},
            "answers": {str(k): v for k, v in h.answers.items()}, "unaddressed": h.unaddressed,
            "control": h.control_status.get(1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    h = Hostile(args.name)
    try:
        result = run(h)
    finally:
        h.ep.close()
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
