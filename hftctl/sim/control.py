"""The sim's own control endpoints (/_sim/...): state for tests and fault switches.

They need no authentication (tests, the demo and `curl` use them), so they show accounts by name
and never their API keys, secrets or listen keys. Every response passes a fail-closed check that
withholds it if any credential the sim holds appears in it anyway, whatever route built it.
"""

from __future__ import annotations

import logging

import orjson
from aiohttp import web

from hftctl.errors import HftctlError

log = logging.getLogger(__name__)

# Shorter credentials are only looked for as whole JSON strings: as substrings they would match
# ordinary text (a test account's key "k").
_SUBSTRING_MIN = 8


def _json(data, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


class Control:
    def __init__(self, sim) -> None:
        self.sim = sim

    def _credentials(self) -> list[tuple[int, str, str]]:
        """(account number, what it is, value) of every credential the sim holds right now."""
        found = []
        for i, acct in enumerate(self.sim.engine.accounts, 1):
            found += [(i, "API key", acct.api_key), (i, "secret", acct.secret)]
            found += [(i, "user-stream key", key) for key in self.sim.protocol.session_keys(acct)]
        return found

    def _reply(self, data, status: int = 200) -> web.Response:
        body = orjson.dumps(data)
        for number, what, value in self._credentials():
            if value and (orjson.dumps(value) in body or
                          (len(value) >= _SUBSTRING_MIN and value.encode() in body)):
                # by number: the account's name may be what carried the credential
                log.error("withheld a /_sim response: it would show the %s of account #%d", what, number)
                return _json({"error": f"response withheld: it would show the {what} of account #{number} "
                                       "(accounts counted in config order)"}, 500)
        return _json(data, status)

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/_sim/state", self.state)
        app.router.add_get("/_sim/fault", self.get_fault)
        app.router.add_post("/_sim/fault", self.post_fault)

    def _book(self, symbol: str, depth: int | None) -> dict:
        book = self.sim.engine.books[symbol]
        n = depth or max(len(book.bids), len(book.asks), 1)
        return {"update_id": book.last_update_id, "bids": book.wire_levels(1, n),
                "asks": book.wire_levels(-1, n)}

    def _order(self, o) -> dict:
        spec = self.sim.engine.specs[o.symbol]
        return {"order_id": o.order_id, "client_order_id": o.client_id, "symbol": o.symbol,
                "side": "buy" if o.side > 0 else "sell", "type": o.type, "tif": o.tif,
                "price": spec.price_str(o.price_ticks), "qty": spec.qty_str(o.qty_lots),
                "filled": spec.qty_str(o.filled_lots), "status": o.status}

    async def state(self, request: web.Request) -> web.Response:
        engine = self.sim.engine
        symbol = request.query.get("symbol")
        depth = request.query.get("depth")
        try:
            depth_n = int(depth) if depth else None
        except ValueError:
            return self._reply({"error": f"depth must be an integer, got {depth!r}"}, 400)
        if symbol is not None:
            symbol = symbol.upper()
            if symbol not in engine.specs:
                return self._reply({"error": f"unknown symbol {symbol} (known: {', '.join(engine.specs)})"}, 404)
        symbols = [symbol] if symbol else list(engine.specs)
        every = request.query.get("orders") == "all"       # also the finished orders the engine keeps
        accounts = []
        for acct in engine.accounts:
            orders = [o for o in acct.orders.values() if symbol is None or o.symbol == symbol]
            state = {
                "name": acct.name,
                "balances": {a: round(v, 8) for a, v in acct.balances.items()},
                "positions": [{"symbol": p.symbol, "qty": engine.specs[p.symbol].qty(p.lots),
                               "entry_price": p.entry_price, "realized_pnl": p.realized_pnl}
                              for p in acct.positions.values() if symbol is None or p.symbol == symbol],
                "open_orders": [self._order(o) for o in orders],
                "user_streams": self.sim.protocol.user_streams(acct),
                # armed dead man's switches: seconds left per symbol ("*": every symbol)
                "countdowns": {sym or "*": round(left, 3)
                               for sym, left in engine.countdowns.remaining(acct).items()}}
            if every:
                done = [o for o in engine.done.values() if o.account is acct and (symbol is None or o.symbol == symbol)]
                state["orders"] = [self._order(o) for o in sorted(done + orders, key=lambda o: o.order_id)]
            accounts.append(state)
        body = {
            "exchange": self.sim.options.exchange, "server_time": engine.now_ms(),
            "books": {s: self._book(s, depth_n) for s in symbols},
            # what a client needs to size orders (the demo reads it instead of an exchange endpoint)
            "instruments": {s: {"tick_size": engine.specs[s].tick, "lot_size": engine.specs[s].step,
                                "min_qty": engine.specs[s].min_qty, "min_notional": engine.specs[s].min_notional}
                            for s in symbols},
            "accounts": accounts,
            "counters": dict(engine.counters) | self.sim.extra_counters(),
            "faults": self.sim.faults.as_dict(),
            "replay": [{"symbol": r.stats.symbol, "path": str(r.path), "lines_emitted": r.stats.lines_emitted,
                        "loops": r.stats.loops, "recorded_elapsed_s": round(r.stats.recorded_elapsed_s, 3),
                        "wall_elapsed_s": round(r.stats.wall_elapsed_s, 3),
                        "achieved_speed": round(r.stats.achieved_speed, 3),
                        "requested_speed": r.speed, "max_lag_ms": round(r.stats.max_lag_ms, 1),
                        "finished": r.stats.finished, "skipped": r.stats.skipped} for r in self.sim.replays],
        }
        if symbol:
            body["symbol"] = symbol
            body["book"] = body["books"][symbol]
        return self._reply(body)

    async def get_fault(self, request: web.Request) -> web.Response:
        return self._reply({"faults": self.sim.faults.as_dict()})

    async def post_fault(self, request: web.Request) -> web.Response:
        try:
            values = orjson.loads(await request.read())
        except orjson.JSONDecodeError as exc:
            return self._reply({"error": f"body is not JSON: {exc}"}, 400)
        if not isinstance(values, dict):
            return self._reply({"error": "body must be a JSON object of switches"}, 400)
        drop = values.pop("drop_ws", False)
        expire = values.pop("expire_user_stream", None)
        try:
            self.sim.faults.update(values)
        except HftctlError as exc:
            return self._reply({"error": str(exc)}, 400)
        out: dict = {}
        if drop:
            out["dropped"] = self.sim.hub.drop_all()
        if expire:
            # true: every session; a string: that one (its owner knows it). The answer names the
            # accounts whose sessions lapsed, never a key.
            out["expired"] = self.sim.protocol.expire_user_streams(None if expire is True else str(expire))
        out["faults"] = self.sim.faults.as_dict()
        return self._reply(out)
