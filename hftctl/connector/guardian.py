"""The guardian: a small process that outlives its connector and cancels the connector's orders
when the connector dies without a clean stop.

For an exchange with no cancel-on-disconnect of its own (Binance spot), or one that refuses it for
the account, nothing else would take a SIGKILLed connector's quotes off the book. The connector
starts ``python -m hftctl.connector.guardian NAME`` in a session of its own (a terminal's Ctrl-C
or a kill of the connector's process group does not reach it, and unlike every other child of
hftctl it is deliberately *not* tied to its parent by PDEATHSIG) and keeps the write end of its
stdin. Over that pipe, one JSON object per line:

- ``{"start": {...}}`` first (:class:`Start`): exchange, the config table, the credentials as the
  ``HFTCTL_API_KEY`` / ``HFTCTL_SECRET`` overrides the config reader takes (never argv,
  environment or logs), the order prefix and the connector's instance tag, the log level, the
  time it may take to act. The guardian answers ``ready`` on stdout once the config loads.
- ``{"symbols": [...]}`` whenever the traded symbols change.
- ``{"stop": true}`` on a clean stop: the guardian exits at once, touching nothing.

End of file without ``stop`` means the connector is gone (SIGKILL, crash, OOM): the guardian
lists the open orders on the traded symbols, cancels those carrying the connector's order prefix
and instance tag (``connector/claim.py``: never another connector's, nor those of a connector of
the same NAME started since) over REST (the exchange client's own code), logs what it did and exits; bounded by
``act_within_s`` and ``ROUNDS``, so it exits even if the exchange is unreachable. SIGTERM and
SIGINT are ignored (a supervisor stopping everything must not take the guardian down before its
connector has said how it ended); SIGKILL ends it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import IO, Any

from hftctl import exchanges
from hftctl.configfile import ConfigReader
from hftctl.connector.claim import OWN, Ownership
from hftctl.connector.own_orders import cancel_each, list_own
from hftctl.errors import HftctlError
from hftctl.exchanges.base import Instrument
from hftctl.exchanges.rest_base import retry_backoff
from hftctl.log import setup_logging
from hftctl.secrets import install_redaction

log = logging.getLogger("hftctl.guardian")

ACT_WITHIN_S = 30.0      # from the connector's death to the guardian's exit, whatever happens
ROUNDS = 5               # list-and-cancel passes before giving up on orders that stay open
READY = b"ready\n"


@dataclass
class Start:
    """What the connector hands its guardian (``start`` message)."""

    exchange: str
    config: dict[str, Any]        # the connector's config table
    env: dict[str, str]           # the credentials, as the config reader's overrides
    prefix: str
    name: str
    tag: str                      # the connector's instance tag: its client order ids carry it
    log_level: str = "info"
    act_within_s: float = ACT_WITHIN_S

    def to_line(self) -> bytes:
        return _line({"start": asdict(self)})


def symbols_line(symbols: list[str]) -> bytes:
    return _line({"symbols": sorted(symbols)})


STOP_LINE = b'{"stop": true}\n'


def _line(msg: dict) -> bytes:
    # default=str: a TOML date the exchange's config reader would refuse anyway stays readable
    return json.dumps(msg, default=str).encode() + b"\n"


def _read(line: bytes) -> dict:
    try:
        msg = json.loads(line)
    except ValueError:
        raise HftctlError(f"unreadable message from the connector ({len(line)} bytes)") from None
    if not isinstance(msg, dict) or len(msg) != 1:
        raise HftctlError("unexpected message from the connector")
    return msg


def read_start(line: bytes) -> Start:
    body = _read(line).get("start") if line else None
    if not isinstance(body, dict):
        raise HftctlError("the connector sent no start message")
    try:
        return Start(**body)
    except TypeError as e:
        raise HftctlError(f"bad start message: {e}") from None


def load_client(start: Start):
    """The exchange client exactly as the connector built it: the same config reader over the
    same table, the credentials from the pipe."""
    module = exchanges.get(start.exchange).connector()
    cfg = module.load_config(ConfigReader(start.config, f"connector {start.name}'s config", start.env))
    install_redaction([cfg.api_key, cfg.secret])
    return module, cfg


async def sweep(client, ownership: Ownership, symbols: list[str], cancelled: list[str],
                rounds: int = ROUNDS) -> str:
    """List this connector instance's open orders and cancel them until none is left (or
    ``rounds`` runs out); the last error, or "". ``cancelled`` collects the ids as they go (a
    timeout keeps them)."""
    error, opened = "", False
    for attempt in range(1, rounds + 1):
        if attempt > 1:
            await asyncio.sleep(retry_backoff(attempt))
        try:
            if not opened:
                await client.open_rest()
                opened = True
            own = await list_own(client, ownership, symbols, owners=(OWN,))
        except Exception as e:
            error = f"{type(e).__name__}: {e}"
            log.warning("pass %d of %d failed: %s", attempt, rounds, error)
            continue
        if not own:
            return ""
        failed = await cancel_each(client, {u.client_order_id: Instrument(u.symbol, 0.0, 0.0) for u in own})
        cancelled += [u.client_order_id for u in own if u.client_order_id not in failed]
        error = f"{len(failed)} cancel(s) failed" if failed else ""
    return error or f"orders still open after {rounds} passes"


async def act(start: Start, module, cfg, symbols: list[str]) -> int:
    """The connector is gone: cancel its orders; the exit status (0: none of them left open)."""
    if not symbols:
        log.info("connector %s is gone without a clean stop; it traded no symbol: nothing to cancel",
                 start.name)
        return 0
    log.warning("connector %s is gone without a clean stop: cancelling its open orders (prefix %s, "
                "tag %s) on %s", start.name, start.prefix, start.tag, ", ".join(symbols))
    client = module.create_client(cfg)
    cancelled: list[str] = []
    try:
        error = await asyncio.wait_for(sweep(client, Ownership(start.prefix, start.tag), symbols, cancelled), start.act_within_s)
    except asyncio.TimeoutError:
        error = f"gave up after {start.act_within_s:g}s"
    finally:
        await client.close_rest()
    n = len(set(cancelled))
    if error:
        log.error("connector %s: its orders may still be open at the exchange (%s); cancelled %d",
                  start.name, error, n)
        return 1
    log.info("cancelled %d open order(s) of connector %s; exiting", n, start.name)
    return 0


def watch(stdin: IO[bytes], stdout: IO[bytes] | None) -> tuple[Start, Any, Any, list[str]] | None:
    """Follow the connector over the pipe: None after a clean stop, else what ``act`` needs."""
    start = read_start(stdin.readline())
    setup_logging(start.log_level, "guardian")
    module, cfg = load_client(start)
    if stdout is not None:
        stdout.write(READY)
        stdout.flush()
        stdout.close()          # nothing more goes that way: its reader may be dead by then
    log.debug("guarding connector %s (pid %d)", start.name, os.getppid())
    symbols: list[str] = []
    for line in stdin:
        try:
            msg = _read(line)
        except HftctlError as e:       # e.g. half a line from a connector killed mid-write
            log.warning("%s; ignored", e)
            continue
        if "stop" in msg:
            log.debug("connector %s stopped cleanly", start.name)
            return None
        if isinstance(msg.get("symbols"), list):
            symbols = [str(s) for s in msg["symbols"]]
    return start, module, cfg, symbols


def _ignore(signum: int, frame: Any) -> None:
    log.warning("%s ignored: the guardian leaves when its connector stops (SIGKILL ends it now)",
                signal.Signals(signum).name)


def main(env: Mapping[str, str] = os.environ) -> int:
    setup_logging(env.get("HFTCTL_LOG"), "guardian")
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _ignore)
    try:
        found = watch(sys.stdin.buffer, sys.stdout.buffer)
        if found is None:
            return 0
        return asyncio.run(act(*found))
    except HftctlError as e:
        log.error("%s", e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
