"""The connector's exchange-independent knobs (all optional in its config file)."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

from hftctl.configfile import ConfigReader

CANCEL_ON_STOP = ("own", "all", "none")
DEAD_MAN_FALLBACK = ("guardian", "none")
MIN_DEAD_MAN_WINDOW_S = 1.0
# A sanity bound (Binance documents none for countdownTime; Bybit's DCP takes 3-300 s and the
# client falls back to the guardian outside it): a switch that waits longer protects nothing.
MAX_DEAD_MAN_WINDOW_S = 3600.0


@dataclass(frozen=True)
class ConnectorSettings:
    """Exchange-independent knobs (all optional in the file)."""

    bot_heartbeat_timeout_s: float = 5.0   # 0 disables the watchdog
    cancel_on_bot_timeout: bool = True
    # At stop: "own" cancels the open orders carrying this connector's order prefix, "all" every
    # open order of the account on the traded symbols (hftbacktest's connector), "none" nothing.
    cancel_on_stop: str = "own"
    reconcile_interval_s: float = 30.0     # periodic REST reconciliation, besides reconnects
    # An order whose submit outcome is unknown is taken as never placed only when the exchange
    # still says "not found" this long after the submit (see connector/outcomes.py).
    unknown_outcome_window_s: float = 10.0
    heartbeat_interval_s: float = 1.0      # connector -> bots Heartbeat
    # The exchange cancels our orders if the connector goes silent this long (0: off), armed and
    # refreshed every third of it (ExchangeClient.arm_dead_man). Where the exchange has no such
    # mechanism, or refuses it for the account, "guardian" starts a watchdog process that outlives
    # the connector and cancels its orders when it dies; "none" leaves them resting.
    dead_man_window_s: float = 5.0
    dead_man_fallback: str = "guardian"

    @classmethod
    def read(cls, r: ConfigReader) -> "ConnectorSettings":
        window = r.number("dead_man_window_s", cls.dead_man_window_s, 0, MAX_DEAD_MAN_WINDOW_S)
        if 0 < window < MIN_DEAD_MAN_WINDOW_S:
            # refreshed every third of it: a shorter one costs more requests than it is worth
            # ("we do not recommend setting the countdown time to be too precise or too small")
            raise r.error("dead_man_window_s",
                          f"expected 0 (off) or a number >= {MIN_DEAD_MAN_WINDOW_S:g} for key")
        return cls(
            bot_heartbeat_timeout_s=r.number("bot_heartbeat_timeout_s", cls.bot_heartbeat_timeout_s, 0, 3600),
            cancel_on_bot_timeout=r.bool("cancel_on_bot_timeout", cls.cancel_on_bot_timeout),
            cancel_on_stop=r.choice("cancel_on_stop", CANCEL_ON_STOP, cls.cancel_on_stop),
            reconcile_interval_s=r.number("reconcile_interval_s", cls.reconcile_interval_s, 0, 86400),
            unknown_outcome_window_s=r.number("unknown_outcome_window_s", cls.unknown_outcome_window_s, 1, 600),
            heartbeat_interval_s=r.number("heartbeat_interval_s", cls.heartbeat_interval_s, 0.05, 60),
            dead_man_window_s=window,
            dead_man_fallback=r.choice("dead_man_fallback", DEAD_MAN_FALLBACK, cls.dead_man_fallback),
        )


def config_keys(exchange_module: Any) -> set[str]:
    """Every key a connector config of this exchange may hold: the exchange config's fields
    (each loader reads its dataclass's field names) and the connector's own knobs. The collector
    uses it to accept a connector config as its ``--config``; a test checks it against the keys
    the loaders really read."""
    cfg_type = typing.get_type_hints(exchange_module.load_config)["return"]
    return {f.name for f in dataclasses.fields(cfg_type)} | {f.name for f in dataclasses.fields(ConnectorSettings)}
