"""A process that holds a Bybit client's sockets, for the DCP tests: it connects, arms Bybit's
disconnection protection (unless the window is 0), places resting buy orders over the order
websocket, prints "ready" and waits to be killed.

    python tests/bybit_dcp_child.py URLS_JSON API_KEY SECRET PREFIX WINDOW_S N_ORDERS PRICE
"""

from __future__ import annotations

import asyncio
import json
import sys

from hftctl.exchanges.base import Instrument, NullSink, OrderRequest
from hftctl.exchanges.bybit.client import BybitClient
from hftctl.exchanges.bybit.config import BybitConfig
from hftctl.secrets import Secret

BTC = Instrument("BTCUSDT", 0.1, 0.001)


async def main(urls: dict, key: str, secret: str, prefix: str, window_s: int, n: int, px: float) -> None:
    client = BybitClient(BybitConfig(public_url=urls["public_url"], private_url=urls["private_url"],
                                     trade_url=urls["trade_url"], rest_url=urls["rest_url"], category="linear",
                                     order_prefix=prefix, api_key=Secret(key), secret=Secret(secret)))
    await client.connect_market(NullSink(), timeout_s=10)
    await client.connect_user(timeout_s=10)
    if window_s:
        await client.arm_dead_man(["BTCUSDT"], window_s)
    for i in range(n):
        await client.submit(OrderRequest(BTC, f"{prefix}-1-1-{i}", 1, px - i, 0.001, "limit", "gtc"))
    print("ready", client.trade.sent, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    a = sys.argv[1:]
    asyncio.run(main(json.loads(a[0]), a[1], a[2], a[3], int(a[4]), int(a[5]), float(a[6])))
