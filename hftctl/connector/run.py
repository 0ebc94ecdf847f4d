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
from hftctl.configfile import open_config
from hftctl.connector.claim import AccountClaim, account_id, instance_tag
from hftctl.connector.service import Connector
from hftctl.connector.settings import ConnectorSettings
from hftctl.secrets import install_redaction

log = logging.getLogger("hftctl.connector")


def load(exchange: str, config_path: str | Path, allow_mainnet: bool = False):
    """(exchange config, connector settings, exchange module); every problem is one line."""
    module = exchanges.get(exchange).connector()
    reader = open_config(config_path)
    cfg = module.load_config(reader)
    settings = ConnectorSettings.read(reader)
    reader.check_unknown()
    exchanges.check_test_venue(cfg.urls(), allow_mainnet)
    return cfg, settings, module


def run_connector(name: str, exchange: str, config_path: str | Path, allow_mainnet: bool = False) -> None:
    from hftctl.ipc.segments import check_name   # shared-memory code only when we really run
    check_name(name)
    cfg, settings, module = load(exchange, config_path, allow_mainnet)
    install_redaction([cfg.api_key, cfg.secret])
    log.debug("config %r; %r", cfg, settings)
    log.info("connector %s: %s (%s)", name, exchange, ", ".join(f"{k}={v}" for k, v in cfg.urls().items()))
    claim = AccountClaim(account_id(exchange, cfg.urls().values(), cfg.api_key.reveal()), cfg.order_prefix, name)
    try:
        asyncio.run(_main(name, module.create_client(cfg), cfg.order_prefix, settings, claim))
    finally:
        claim.release()


async def _main(name: str, client, prefix: str, settings: ConnectorSettings, claim: AccountClaim) -> None:
    from hftctl.connector.bridge import RingBridge
    bridge = RingBridge(name)
    tag = instance_tag(name, int(time.time()))
    log.info("client order ids: %s-%s-<bot>-<session>-<order id>", prefix, tag)
    conn = Connector(name, client, bridge, prefix, settings, tag)
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
