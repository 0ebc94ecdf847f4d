"""The sim's Binance COIN-M REST API: the public market-data routes (/dapi/v1 ping, time,
exchangeInfo, depth, ticker/bookTicker) with USD-M's weights and answers. No order routes: hftctl
has no COIN-M connector, so the sim stands in for COIN-M's public side only."""

from __future__ import annotations

from hftctl.exchanges.binance.coinm import schemas as w
from hftctl.exchanges.binance.coinm import sim_messages as wire
from hftctl.exchanges.binance.coinm.sim_instruments import pair
from hftctl.exchanges.binance.coinm.venues import PATHS
from hftctl.exchanges.binance.common.sim_rest import Request
from hftctl.exchanges.binance.futures.sim_rest import BinanceFuturesRest


class BinanceCoinmRest(BinanceFuturesRest):
    WIRE = wire
    PATHS = PATHS

    def route_table(self) -> list[tuple]:
        p = self.PATHS
        # (method, path, handler, request weight (0: depends on parameters), signed)
        return [
            ("GET", p["ping"], self.ping, 1, False),
            ("GET", p["time"], self.time, 1, False),
            ("GET", p["exchange_info"], self.exchange_info, 1, False),
            ("GET", p["depth"], self.depth, 0, False),
            ("GET", p["book_ticker"], self.ticker_book, 2, False),
        ]

    async def depth(self, req: Request, headers) -> w.DepthSnapshot:
        snap = await super().depth(req, headers)
        symbol = req.need("symbol").upper()
        return w.DepthSnapshot(lastUpdateId=snap.lastUpdateId, symbol=symbol, pair=pair(symbol), E=snap.E,
                               T=snap.T, bids=snap.bids, asks=snap.asks)
