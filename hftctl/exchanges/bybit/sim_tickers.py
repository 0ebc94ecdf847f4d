"""The sim's Bybit ``tickers.{symbol}`` and ``allLiquidation.{symbol}`` topics (linear).

tickers (docs/v5/websocket/public/ticker.mdx): a snapshot on subscribe, then every 100 ms a delta
of the fields that changed. The sim fills the fields it can derive: last price and tick
direction from its trades, best bid/ask from its book, mark and index price, funding rate and
next funding time from the engine's mark (a recording's, else ``hftctl.sim.derivatives``);
24-hour statistics, open interest and the like are left out (a field not sent is one that did
not change, so a client never sees a made-up value).

allLiquidation (all-liquidation.mdx, since 2025-02-20): every 500 ms, the liquidations of the
symbol in that window (``S`` is the liquidated position's side). The deprecated
``liquidation.{symbol}`` (page removed 2025-11-19) is not served: subscribing it is refused
like any unknown topic.
"""

from __future__ import annotations

from collections import defaultdict

import msgspec

from hftctl.exchanges.bybit import schemas as w
from hftctl.exchanges.bybit.venues import LIQUIDATION_MS, TICKERS_MS
from hftctl.sim.engine import SimEngine
from hftctl.sim.events import Liquidation, Trade
from hftctl.sim.wshub import WsClient

KINDS = {"tickers": "tickers", "allLiquidation": "liquidation"}
FUNDING_INTERVAL_HOUR = "8"


def _rate(x: float) -> str:
    text = f"{x:.8f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


class TickerTopics:
    def __init__(self, engine: SimEngine) -> None:
        self.engine = engine
        self.clients: dict[tuple[str, str], set[WsClient]] = defaultdict(set)    # (kind, symbol)
        self.sent: dict[str, dict[str, str]] = {}        # symbol -> the fields its subscribers hold
        self.last: dict[str, tuple[str, str]] = {}       # symbol -> (last price, tick direction)
        self.pending: dict[str, list[Liquidation]] = defaultdict(list)
        self.next_tickers = self.next_liquidations = 0.0

    def kind(self, topic: str) -> tuple[str, str] | None:
        """(kind, symbol) of a topic this class serves, else None."""
        name, _, symbol = topic.partition(".")
        kind = KINDS.get(name)
        return (kind, symbol) if kind and symbol in self.engine.specs else None

    def subscribe(self, client: WsClient, kind: str, symbol: str) -> None:
        if kind == "tickers":
            # existing subscribers catch up first, so every subscriber holds the same fields
            if symbol in self.sent:
                self._push_tickers(symbol)
            else:
                self.sent[symbol] = self._fields(symbol)
            client.send(self._ticker_message(symbol, "snapshot", self.sent[symbol]))
        self.clients[(kind, symbol)].add(client)

    def unsubscribe(self, client: WsClient, kind: str, symbol: str) -> None:
        self.clients[(kind, symbol)].discard(client)

    def close(self, client: WsClient) -> None:
        for clients in self.clients.values():
            clients.discard(client)

    def on_market(self, ev) -> None:
        if type(ev) is Trade:
            prev = self.last.get(ev.symbol)
            if prev is None or float(ev.price) == float(prev[0]):
                direction = "Zero" + (prev[1].removeprefix("Zero") if prev else "PlusTick")
            else:
                direction = "PlusTick" if float(ev.price) > float(prev[0]) else "MinusTick"
            self.last[ev.symbol] = (ev.price, direction)
        elif type(ev) is Liquidation:
            self.pending[ev.symbol].append(ev)

    def tick(self, now: float) -> None:
        if now >= self.next_tickers:
            self.next_tickers = now + TICKERS_MS / 1000
            for (kind, symbol), clients in self.clients.items():
                if kind == "tickers" and clients:
                    self._push_tickers(symbol)
        if now >= self.next_liquidations:
            self.next_liquidations = now + LIQUIDATION_MS / 1000
            for symbol, events in self.pending.items():
                clients = self.clients.get(("liquidation", symbol))
                if events and clients:
                    payload = msgspec.json.encode(w.LiquidationMessage(
                        topic=f"allLiquidation.{symbol}", type="snapshot", ts=self.engine.now_ms(),
                        data=[w.LiquidationRow(T=e.trade_ms, s=symbol, S="Buy" if e.long else "Sell", v=e.qty,
                                               p=e.price) for e in events]))
                    for c in clients:
                        c.send(payload)
            self.pending.clear()

    def _fields(self, symbol: str) -> dict[str, str]:
        engine = self.engine
        spec, book = engine.specs[symbol], engine.books[symbol]
        out = {"symbol": symbol}
        if symbol in self.last:
            out["lastPrice"], out["tickDirection"] = self.last[symbol]
        mark = engine.marks.get(symbol)
        if mark is not None:
            price = f"{{:.{spec.price_decimals}f}}"
            out.update(markPrice=price.format(mark.mark), indexPrice=price.format(mark.index),
                       fundingRate=_rate(mark.funding_rate), nextFundingTime=str(mark.next_funding_ms),
                       fundingIntervalHour=FUNDING_INTERVAL_HOUR)
        if book.best_bid is not None:
            out.update(bid1Price=spec.price_str(book.best_bid), bid1Size=spec.qty_str(book.bids[book.best_bid]))
        if book.best_ask is not None:
            out.update(ask1Price=spec.price_str(book.best_ask), ask1Size=spec.qty_str(book.asks[book.best_ask]))
        return out

    def _push_tickers(self, symbol: str) -> None:
        held = self.sent.get(symbol)
        if held is None:
            return                          # nobody subscribed yet: the snapshot starts them
        now = self._fields(symbol)
        changed = {k: v for k, v in now.items() if held.get(k) != v}
        if not changed:
            return
        held.update(changed)
        payload = self._ticker_message(symbol, "delta", {"symbol": symbol, **changed})
        for c in self.clients.get(("tickers", symbol), ()):
            c.send(payload)

    def _ticker_message(self, symbol: str, kind: str, data: dict[str, str]) -> bytes:
        return msgspec.json.encode(w.TickerMessage(topic=f"tickers.{symbol}", type=kind, data=data,
                                                   cs=self.engine.books[symbol].last_update_id,
                                                   ts=self.engine.now_ms()))
