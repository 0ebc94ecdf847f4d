"""``hftctl connector NAME EXCHANGE CONFIG``: load, guard, run until a signal, clean up.

Shutdown order matters: stop taking requests, cancel every open order, close the exchange
streams, and only then remove the shared-memory channels (bots see the writer go away last).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from pathlib import Path

from hftctl import exchanges
from hftctl.configfile import ENV_API_KEY, ENV_SECRET, ConfigReader, open_config
from hftctl.connector.claim import AccountClaim, account_id, instance_tag
from hftctl.connector.guardian import Start
from hftctl.connector.service import Connector
from hftctl.connector.settings import ConnectorSettings, config_keys
from hftctl.errors import HftctlError
from hftctl.exchanges.venues import VENUE_NAMES, Venue
from hftctl.secrets import install_redaction

log = logging.getLogger("hftctl.connector")


def load(exchange: str, config_path: str | Path, allow_mainnet: bool = False, venue: str | None = None,
         stand_in: str | None = None):
    """(exchange config, connector settings, exchange module, config table with the venue's URLs);
    every problem is one line.

    URLs come from the config when it names any (``*_url`` keys: explicit URLs override), else
    from the venue: ``venue``, else the config's ``venue`` key, else testnet. A real-money venue
    needs ``allow_mainnet``, stand-in or not; and whatever their source, the URLs that can carry
    orders or account data must be loopback or documented test hosts unless ``allow_mainnet``."""
    module = exchanges.get(exchange).connector()
    table = exchanges.get(exchange).venues
    reader = open_config(config_path)
    chosen = _venue(exchange, reader, venue, stand_in)
    if chosen is not None:
        reader = reader.with_defaults(table.config_urls(chosen))
    cfg = module.load_config(reader)
    settings = ConnectorSettings.read(reader)
    # Keys read only in some settings (ws_api_url when given, venue when no URL is named...) are
    # known all the same, and each is a "did you mean" candidate.
    reader.check_unknown(config_keys(module) | {"venue"})
    if chosen is not None and chosen.real_money and not allow_mainnet:
        raise HftctlError(f"venue {chosen.name} trades real money; pass --allow-mainnet to trade real money")
    exchanges.check_test_venue({k: u for k, u in cfg.urls().items() if k not in table.public_data_keys},
                               allow_mainnet)
    if chosen is not None:
        log.info("venue %s%s", chosen.name, f": {chosen.note}" if chosen.note else "")
    return cfg, settings, module, dict(reader.data)


def _venue(exchange: str, reader: ConfigReader, venue: str | None, stand_in: str | None) -> Venue | None:
    """The venue whose URLs the connector uses, or None when the config names its own."""
    named = sorted(k for k in reader.data if k.endswith("_url"))
    if named:
        if venue is not None or stand_in is not None:
            raise HftctlError(f"{reader.source} names its URLs ({', '.join(named)}): remove them to use "
                              f"--venue/--stand-in, or drop those options")
        return None
    if venue is None and "venue" in reader.data:
        venue = reader.choice("venue", VENUE_NAMES)
    return exchanges.venue(exchange, venue, stand_in)


def run_connector(name: str, exchange: str, config_path: str | Path, allow_mainnet: bool = False,
                  venue: str | None = None, stand_in: str | None = None) -> None:
    from hftctl.ipc.segments import check_name   # shared-memory code only when we really run
    check_name(name)
    cfg, settings, module, table = load(exchange, config_path, allow_mainnet, venue, stand_in)
    install_redaction([cfg.api_key, cfg.secret])
    log.debug("config %r; %r", cfg, settings)
    log.info("connector %s: %s (%s)", name, exchange, ", ".join(f"{k}={v}" for k, v in cfg.urls().items()))
    tag = instance_tag(name, int(time.time()))
    # What a guardian needs to rebuild this client (connector/guardian.py); the credentials as
    # resolved here, so it needs neither our environment nor the file's secrets.
    guardian = Start(exchange, table, {ENV_API_KEY: cfg.api_key.reveal(), ENV_SECRET: cfg.secret.reveal()},
                     cfg.order_prefix, name, tag, logging.getLevelName(logging.getLogger().level).lower())
    claim = AccountClaim(account_id(exchange, cfg.urls().values(), cfg.api_key.reveal()), cfg.order_prefix, name)
    try:
        asyncio.run(_main(name, module.create_client(cfg), cfg.order_prefix, settings, claim, guardian))
    finally:
        claim.release()


async def _main(name: str, client, prefix: str, settings: ConnectorSettings, claim: AccountClaim,
                guardian: Start) -> None:
    from hftctl.connector.bridge import RingBridge
    bridge = RingBridge(name)
    log.info("client order ids: %s-%s-<bot>-<session>-<order id>", prefix, guardian.tag)
    conn = Connector(name, client, bridge, prefix, settings, guardian.tag, guardian)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, conn.stop)
    runner = loop.create_task(conn.run())
    stopper = loop.create_task(conn.stopped())
    try:
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if runner in done:
            runner.result()     # start-up failure: raise it (one-line error from the CLI)
        log.info("stopping: cancelling open orders")
    finally:
        for t in (runner, stopper):
            t.cancel()
        await asyncio.gather(runner, stopper, return_exceptions=True)
        # Another connector of this host on the account shares its user-data session: keep it.
        client.account_shared = not claim.sole_user()
        try:
            await asyncio.wait_for(conn.shutdown(), 20)
        except Exception as e:
            log.error("shutdown incomplete: %s", str(e) or e.__class__.__name__)
            try:
                await asyncio.wait_for(client.close(), 5)
            except Exception as e2:
                log.error("closing the exchange side failed: %s", str(e2) or e2.__class__.__name__)
        conn.status.close()
        bridge.close()
        log.info("connector %s stopped; shared memory removed", name)
