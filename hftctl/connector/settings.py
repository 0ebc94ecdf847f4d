"""The connector's exchange-independent knobs (all optional in its config file)."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

from hftctl.configfile import ConfigReader

CANCEL_ON_STOP = ("own", "all", "none")


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

    @classmethod
    def read(cls, r: ConfigReader) -> "ConnectorSettings":
        return cls(
            bot_heartbeat_timeout_s=r.number("bot_heartbeat_timeout_s", cls.bot_heartbeat_timeout_s, 0, 3600),
            cancel_on_bot_timeout=r.bool("cancel_on_bot_timeout", cls.cancel_on_bot_timeout),
            cancel_on_stop=r.choice("cancel_on_stop", CANCEL_ON_STOP, cls.cancel_on_stop),
            reconcile_interval_s=r.number("reconcile_interval_s", cls.reconcile_interval_s, 0, 86400),
            unknown_outcome_window_s=r.number("unknown_outcome_window_s", cls.unknown_outcome_window_s, 1, 600),
            heartbeat_interval_s=r.number("heartbeat_interval_s", cls.heartbeat_interval_s, 0.05, 60),
        )


def config_keys(exchange_module: Any) -> set[str]:
    """Every key a connector config of this exchange may hold: the exchange config's fields
    (each loader reads its dataclass's field names) and the connector's own knobs. The collector
    uses it to accept a connector config as its ``--config``; a test checks it against the keys
    the loaders really read."""
    cfg_type = typing.get_type_hints(exchange_module.load_config)["return"]
    return {f.name for f in dataclasses.fields(cfg_type)} | {f.name for f in dataclasses.fields(ConnectorSettings)}
