"""A real bot process for the connector's end-to-end tests (run as ``python tests/connector_bot.py``).

It registers a symbol, keeps its own book, orders and position purely from what the connector
sends, runs a scripted order flow (passive orders, a modify, a cancel, a market order, then a
stream of orders at the touch that the market fills), and on SIGUSR1 writes its view as JSON so
the test can compare it with the simulator's own state. SIGTERM: write the view and exit.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

import posix_ipc

from hftctl.book import OrderBook
from hftctl.ipc import schema as s
from hftctl.ipc.endpoint import BotEndpoint
from hftctl.ipc.ring import Overrun, WriterGone

TICK, LOT = 0.1, 0.001      # --tick/--lot override (e.g. spot BTCUSDT: 0.01 / 0.00001)
FAR = 300.0                 # price distance that never fills during a test


class View:
    def __init__(self, symbol: str, tick: float, lot: float) -> None:
        self.symbol = symbol
        self.book = OrderBook(tick, lot)
        self.book_ok = False
        self.orders: dict[int, dict] = {}
        self.position = 0.0
        self.fills = 0
        self.filled_signed = 0.0
        self.errors: list[str] = []
        self.cids_seen: set[str] = set()
        self.clears = 0
        self.snapshots = 0
        self.overruns = 0
        self.rejects: list[str] = []
        self.balances: dict[str, list[float]] = {}
        self.bbo: list[float] = []

    def on(self, m: s.Message) -> None:
        t = type(m)
        if t is s.DepthDiff and m.symbol == self.symbol:
            if self.book_ok:
                self.book.apply_diff(m.bids, m.asks)
        elif t is s.DepthSnapshot and m.symbol == self.symbol:
            self.book.apply_snapshot(m.bids, m.asks)
            self.book_ok = True
            self.snapshots += 1
        elif t is s.DepthClear and m.symbol == self.symbol:
            self.book.clear()
            self.book_ok = False
            self.clears += 1
        elif t is s.OrderUpdate:
            self.cids_seen.add(m.client_order_id)
            o = self.orders.setdefault(m.order_id, {})
            o.update(cid=m.client_order_id, status=m.status, cum=m.cum_qty, px=m.px, qty=m.qty,
                     side=m.side)
            if m.exec_qty > 0:
                self.fills += 1
                self.filled_signed += m.side * m.exec_qty
            if m.status == "rejected":
                self.rejects.append(f"{m.order_id}: {m.reason}")
        elif t is s.Position and m.symbol == self.symbol:
            self.position = m.qty
        elif t is s.BestBidOffer and m.symbol == self.symbol:
            self.bbo = [m.bid_px, m.ask_px]
        elif t is s.Balance:
            self.balances[m.asset] = [m.wallet, m.available]
        elif t is s.Error:
            self.errors.append(f"{m.code} {m.message} req={m.req_id}")

    def open_ids(self) -> list[int]:
        return [oid for oid, o in self.orders.items() if o["status"] in ("new", "partially_filled")]

    def dump(self, path: Path, bot_id: int) -> None:
        data = {
            "bot_id": bot_id, "pid": os.getpid(), "book_ok": self.book_ok,
            "bids": self.book.bid_levels(20), "asks": self.book.ask_levels(20),
            "orders": {str(k): v for k, v in self.orders.items()},
            "open_cids": sorted(self.orders[i]["cid"] for i in self.open_ids()),
            "position": self.position, "fills": self.fills, "filled_signed": self.filled_signed,
            "errors": self.errors, "rejects": self.rejects, "cids_seen": sorted(self.cids_seen),
            "clears": self.clears, "snapshots": self.snapshots, "overruns": self.overruns,
            "balances": self.balances, "bbo": self.bbo,
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--symbol", default="BTCUSDT")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--mode", choices=("flow", "rest"), default="flow")
    ap.add_argument("--flow-seconds", type=float, default=10.0)
    ap.add_argument("--qty", type=float, default=0.01)
    ap.add_argument("--no-modify", action="store_true", help="leave the scripted modify out")
    ap.add_argument("--tick", type=float, default=TICK)
    ap.add_argument("--lot", type=float, default=LOT)
    args = ap.parse_args()
    tick = args.tick

    dump_now = False
    stop = False

    def on_usr1(*_):
        nonlocal dump_now
        dump_now = True

    def on_term(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGTERM, on_term)

    ep = BotEndpoint.attach(args.name, f"testbot-{os.getpid()}", timeout=10)
    view = View(args.symbol, tick, args.lot)
    ep.send(s.RegisterInstrument(ep.bot_id, args.symbol, tick, args.lot))
    req = iter(range(1, 1 << 30))
    next_oid = iter(range(1, 1 << 30))
    placed_at: dict[int, float] = {}
    cancel_sent: set[int] = set()
    step = 0
    flow_end = None
    last_hb = last_action = 0.0

    def submit(side: int, px: float, qty: float, typ: str = "limit", tif: str = "gtc") -> int:
        oid = next(next_oid)
        placed_at[oid] = time.monotonic()
        ep.send(s.SubmitOrder(ep.bot_id, next(req), args.symbol, oid, side, round(round(px / tick) * tick, 8), qty, typ, tif))
        return oid

    while not stop:
        try:
            r = ep.recv(0.05)
        except posix_ipc.SignalError:   # SIGUSR1 interrupted the wait
            r = None
        while r is not None:
            if isinstance(r, Overrun):
                view.overruns += 1
                ep.send(s.SnapshotRequest(ep.bot_id, args.symbol))
            elif isinstance(r, WriterGone):
                view.errors.append("connector gone")
                stop = True
                break
            else:
                view.on(r)
            r = ep.recv(0.0)
        now = time.monotonic()
        if now - last_hb > 0.3:
            ep.send(s.BotHeartbeat(ep.bot_id, time.time_ns()))
            last_hb = now
        if dump_now:
            view.dump(args.out, ep.bot_id)
            dump_now = False
        if not view.book.ready or now - last_action < 0.3:
            continue
        last_action = now
        bb, ba = view.book.best_bid, view.book.best_ask
        if args.mode == "rest":
            # Orders far from the touch that stay open: for the kill and isolation tests.
            if step < 3:
                submit(1, bb - FAR - step * tick, args.qty)
                submit(-1, ba + FAR + step * tick, args.qty)
                step += 1
            elif step == 3 and len(view.open_ids()) >= 6:
                view.dump(args.out, ep.bot_id)
                step += 1
            continue
        # flow mode: a scripted sequence, then orders at the touch for --flow-seconds.
        if step == 0:
            submit(1, bb - FAR, args.qty)                          # 1: will be modified
            submit(-1, ba + FAR, args.qty)                         # 2: will be cancelled
            submit(1, bb - FAR - 10 * tick, args.qty, tif="gtx")  # 3: post-only, stays open
            step = 1
        elif step == 1 and all(view.orders.get(i, {}).get("status") == "new" for i in (1, 2, 3)):
            if not args.no_modify:
                ep.send(s.ModifyOrder(ep.bot_id, next(req), args.symbol, 1, round(bb - FAR + 10 * tick, 8), args.qty * 2))
            ep.send(s.CancelOrder(ep.bot_id, next(req), args.symbol, 2))
            submit(1, 0.0, args.qty, typ="market", tif="ioc")      # 4: market buy, fills
            submit(1, ba + 30.0, args.qty, tif="gtx")              # 5: post-only through the ask: refused
            step = 2
            flow_end = now + args.flow_seconds
        elif step == 2:
            if flow_end is not None and now < flow_end:
                # Join the touch on alternating sides; cancel what has rested for over 1.5 s.
                side = 1 if len(placed_at) % 2 else -1
                submit(side, bb if side > 0 else ba, args.qty)
                for oid in view.open_ids():
                    if oid > 5 and oid not in cancel_sent and now - placed_at.get(oid, now) > 1.5:
                        cancel_sent.add(oid)
                        ep.send(s.CancelOrder(ep.bot_id, next(req), args.symbol, oid))
            else:
                step = 3
                view.dump(args.out, ep.bot_id)
    view.dump(args.out, ep.bot_id)
    ep.close()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
