"""This connector's orders at the exchange, told from the account's others by the order prefix in
their client ids, and cancelled one by one.

The connector's clean stop (``cancel_on_stop = "own"``) and the guardian, which outlives a killed
connector with nothing but the config, both use it: the prefix is all either needs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping

from hftctl.connector.routing import parse_client_id
from hftctl.exchanges.base import ExchangeClient, Instrument
from hftctl.exchanges.errors import OrderNotFound
from hftctl.ipc.schema import OrderUpdate

log = logging.getLogger("hftctl.connector")


def is_own(prefix: str, client_order_id: str) -> bool:
    return parse_client_id(prefix, client_order_id) is not None


async def list_own(exchange: ExchangeClient, prefix: str,
                   symbols: Iterable[str] | None = None) -> list[OrderUpdate]:
    """The open orders carrying ``prefix``: account-wide (``symbols`` None), or on each symbol."""
    if symbols is None:
        listed = await exchange.open_orders()
    else:
        listed = [u for sym in symbols for u in await exchange.open_orders(sym)]
    return [u for u in listed if is_own(prefix, u.client_order_id)]


async def cancel_quietly(exchange: ExchangeClient, inst: Instrument, cid: str) -> bool:
    """Cancel one order; True once it is gone (an order the exchange no longer knows counts)."""
    try:
        await exchange.cancel(inst, cid)
    except OrderNotFound:
        pass
    except Exception as e:
        log.warning("cancel %s failed: %s", cid, e)
        return False
    return True


async def cancel_each(exchange: ExchangeClient, orders: Mapping[str, Instrument]) -> list[str]:
    """Cancel every order (client id -> instrument) concurrently; the ids whose cancel failed."""
    done = await asyncio.gather(*(cancel_quietly(exchange, inst, cid) for cid, inst in orders.items()))
    return [cid for cid, ok in zip(orders, done) if not ok]
