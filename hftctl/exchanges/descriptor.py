"""An exchange's one entry point: what the connector, collector, converter and sim each use.

A descriptor is cheap to import (names, a venue table, a module path); the heavy parts (aiohttp
clients, numpy mappers, the sim's adapter) load on first use, so ``hftctl --help`` and every
command that does not need them stay fast.

Every exchange folder has the same modules behind its descriptor:

- ``venues.py``      the venue table (URLs per environment, stream routes, REST paths)
- ``schemas.py``     typed wire messages, decoded by the client and encoded by the sim
- ``client.py``      ``load_config(reader)`` and ``create_client(config)`` for the connector
- ``collector.py``   ``PROTOCOL``: what ``hftctl collect`` subscribes to and how it reads it
- ``convert.py``     ``MAPPER``: recordings to hftbacktest rows
- ``audit.py``       ``AUDIT``: what ``hftctl audit`` reads from recordings (ids, books, trades)
- ``sim_adapter.py`` ``ADAPTER``: the sim's REST and websocket side of this exchange
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from hftctl.errors import HftctlError
from hftctl.exchanges.venues import VenueTable

if TYPE_CHECKING:
    from hftctl.audit.reader import AuditReader
    from hftctl.collector.protocol import CollectorProtocol
    from hftctl.convert.mapper import Mapper
    from hftctl.sim.adapter import SimAdapter


@dataclass(frozen=True)
class ExchangeDescriptor:
    name: str              # as typed on the command line, e.g. "binancefutures"
    title: str             # for people, e.g. "Binance USD-M futures"
    venues: VenueTable
    package: str           # the exchange's folder as a module path
    trading: bool = True   # False: market data only (collect, convert, audit, the sim's public side)

    def _module(self, name: str) -> ModuleType:
        return importlib.import_module(f"{self.package}.{name}")

    def connector(self) -> Any:
        """The module with ``load_config(reader)`` and ``create_client(config)``."""
        if not self.trading:
            raise HftctlError(f"{self.name}: hftctl records, converts and simulates {self.title} market data "
                              "but has no connector (trading) for it")
        return self._module("client")

    def collector(self) -> "CollectorProtocol":
        return self._module("collector").PROTOCOL

    def mapper(self) -> "type[Mapper]":
        return self._module("convert").MAPPER

    def audit(self) -> "AuditReader":
        return self._module("audit").AUDIT

    def sim(self) -> "SimAdapter":
        return self._module("sim_adapter").ADAPTER
