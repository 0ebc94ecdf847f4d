"""Simulated-execution settings of the strategy commands: flags over a config's ``[backtest]`` table.

One place turns ``--engine --latency-ms --order-latency --feed-latency-mul --queue-model
--queue-power --partial-fills --maker-fee --taker-fee`` (and the same keys in a strategy
config's ``[backtest]`` table) into an engine name and an ``ExecutionModel``, checking every
value, so a typo or a NaN is one line naming the flag or key, never a silently odd backtest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hftctl.bot.models import QUEUE_MODELS, ExecutionModel, require_finite
from hftctl.errors import HftctlError
from hftctl.strategies.config import build, read_toml

ENGINES = ("auto", "hftbacktest", "builtin")
# Settings that only mean something in a backtest (a dry run uses latency and fees only).
BACKTEST_ONLY = ("engine", "order_latency", "feed_latency_mul", "queue_model", "queue_power", "partial_fills")


@dataclass
class SimSettings:
    """The ``[backtest]`` table; every key optional."""

    engine: str = "auto"
    latency_ms: float = 10.0
    order_latency: str = ""          # "" constant latency; "feed"; or an order-latency .npz
    feed_latency_mul: float = 1.0
    queue_model: str = "risk-averse"
    queue_power: float = 2.0
    partial_fills: bool = False
    maker_fee: float = 0.0002
    taker_fee: float = 0.0005

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise HftctlError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.queue_model not in QUEUE_MODELS:
            raise HftctlError(f"queue-model must be one of {', '.join(QUEUE_MODELS)}, got {self.queue_model!r}")
        require_finite("latency-ms", self.latency_ms, 0.0, 3_600_000.0)

    def model(self) -> ExecutionModel:
        ns = int(round(self.latency_ms * 1_000_000))
        return ExecutionModel(entry_latency_ns=ns, response_latency_ns=ns, maker_fee=self.maker_fee,
                              taker_fee=self.taker_fee, queue_model=self.queue_model,
                              queue_power=self.queue_power, order_latency=self.order_latency or None,
                              feed_latency_mul=self.feed_latency_mul, partial_fills=self.partial_fills)


def load_sim_settings(config: str | Path | None, flags: dict[str, Any], *, backtest: bool) -> SimSettings:
    """The config file's ``[backtest]`` table (if any) overlaid with the flags that were given.

    Flags given for a live or dry run that only a backtest uses are an error, so nobody
    believes a dry run used a queue model.
    """
    given = {k: v for k, v in flags.items() if v is not None}
    if not backtest:
        wrong = [k for k in BACKTEST_ONLY if k in given]
        if wrong:
            raise HftctlError(f"--{wrong[0].replace('_', '-')} only applies to --backtest")
    values: dict[str, Any] = {}
    where = "backtest settings"
    if config is not None:
        table = read_toml(config).get("backtest", {})
        if not isinstance(table, dict):
            raise HftctlError(f"{config}: [backtest] must be a table")
        values.update(table)
        where = f"{config} [backtest]"
    if "order_latency" in given and "latency_ms" in given:
        raise HftctlError("--latency-ms and --order-latency are exclusive")
    if values.get("order_latency") and "latency_ms" in values:
        raise HftctlError(f"{where}: latency_ms and order_latency are exclusive")
    # a latency flag replaces the file's latency model, whichever kind it is
    if "latency_ms" in given:
        values.pop("order_latency", None)
    if "order_latency" in given:
        values.pop("latency_ms", None)
    for flag, needs, ok in (("feed_latency_mul", "--order-latency feed", lambda v: v.get("order_latency") == "feed"),
                            ("queue_power", "a power queue model", lambda v: str(v.get("queue_model", "")).startswith("power"))):
        if flag in given and not ok({**values, **given}):
            raise HftctlError(f"--{flag.replace('_', '-')} only applies with {needs}")
    for k, v in given.items():
        if isinstance(v, float):
            require_finite(f"--{k.replace('_', '-')}", v)
    values.update(given)
    settings = build(SimSettings, values, where, partial=True)
    settings.model()                      # validates fees, queue power, multiplier
    return settings
