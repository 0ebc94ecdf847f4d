"""This connector's orders at the exchange, told from the account's others by the order prefix and
instance tag in their client ids (``connector/claim.py``), and cancelled one by one.

The connector's clean stop (``cancel_on_stop = "own"``) and the guardian, which outlives a killed
connector with nothing but the config and the tag, both use it. The connector takes its own
instance's orders and those of dead earlier runs of its NAME; the guardian only its connector
instance's: a connector of the same NAME restarted meanwhile is alive and owns its orders.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Iterable, Mapping

from hftctl.connector.claim import DEAD, OWN, Ownership
from hftctl.connector.routing import parse_client_id
from hftctl.exchanges.base import ExchangeClient, Instrument
from hftctl.exchanges.errors import OrderNotFound
from hftctl.ipc.schema import OrderUpdate

log = logging.getLogger("hftctl.connector")


def owner(ownership: Ownership, client_order_id: str) -> str:
    """Whose order ``client_order_id`` is (claim.OWN, DEAD, OTHER or FOREIGN)."""
    parsed = parse_client_id(ownership.prefix, client_order_id)
    return ownership.of(parsed.tag if parsed else None, client_order_id)


async def list_own(exchange: ExchangeClient, ownership: Ownership, symbols: Iterable[str] | None = None,
                   owners: Collection[str] = (OWN, DEAD)) -> list[OrderUpdate]:
    """The open orders whose owner is one of ``owners``: account-wide (``symbols`` None), or on
    each symbol."""
    if symbols is None:
        listed = await exchange.open_orders()
    else:
        listed = [u for sym in symbols for u in await exchange.open_orders(sym)]
    return [u for u in listed if owner(ownership, u.client_order_id) in owners]


async def cancel_quietly(exchange: ExchangeClient, inst: Instrument, cid: str) -> bool:
    """Cancel one order; True once it is gone (an order the exchange no longer knows counts)."""
    try:
        await exchange.cancel(inst, cid)
    except OrderNotFound:
        pass
    except Exception as e:
        log.warning("cancel %s failed: %s", cid, str(e) or e.__class__.__name__)
        return False
    return True


async def cancel_each(exchange: ExchangeClient, orders: Mapping[str, Instrument],
                      timeout_s: float | None = None) -> list[str]:
    """Cancel every order (client id -> instrument) concurrently; the ids whose cancel failed or
    had not finished after ``timeout_s`` (those are given up: a REST back-off may hold them)."""
    tasks = {cid: asyncio.ensure_future(cancel_quietly(exchange, inst, cid)) for cid, inst in orders.items()}
    if not tasks:
        return []
    _, pending = await asyncio.wait(tasks.values(), timeout=timeout_s)
    for t in pending:
        t.cancel()
    await asyncio.gather(*tasks.values(), return_exceptions=True)
    return [cid for cid, t in tasks.items() if t.cancelled() or t.exception() is not None or not t.result()]
