"""Collector options: durations, URL sources (flags > --config > the exchange's venue), validation."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from hftctl import exchanges
from hftctl.configfile import ConfigReader, open_config
from hftctl.connector.settings import config_keys
from hftctl.errors import HftctlError
from hftctl.exchanges.venues import Venue

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SYMBOL = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
URL_KEYS = {"stream_url", "api_url", "public_url", "rest_url"}     # what --config may give the collector


def parse_duration(text: str, what: str) -> float:
    """``3600``, ``90s``, ``30m``, ``1h``, ``1d``; ``0``/``never`` disables."""
    t = text.strip().lower()
    if t in ("0", "never", "off", "none"):
        return 0.0
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd]?)", t)
    if not m:
        raise HftctlError(f"{what}: cannot read duration {text!r} (use e.g. 3600, 30m, 1h, 1d or never)")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def check_symbols(symbols: list[str]) -> list[str]:
    if not symbols:
        raise HftctlError("give at least one symbol, e.g. btcusdt")
    for s in symbols:
        if not _SYMBOL.match(s):
            raise HftctlError(f"invalid symbol {s!r}")
    return symbols


def resolve_venue(exchange: str, config: Path | None, stream_url: str | None, rest_url: str | None,
                  allow_mainnet: bool) -> Venue:
    """Flags win over the config file (hftbacktest keys ``stream_url``/``api_url``), which wins
    over the exchange's default venue; mainnet hosts need --allow-mainnet."""
    venues = exchanges.get(exchange).venues
    default = venues[venues.default]
    # the connector's config reader: same keys, same one-line errors naming file and key
    conf = open_config(config) if config is not None else None
    stream = (stream_url or _conf_url(conf, "stream_url", ("ws", "wss"))
              or _conf_url(conf, "public_url", ("ws", "wss")) or default.ws["public"])
    rest = (rest_url or _conf_url(conf, "api_url", ("http", "https"))
            or _conf_url(conf, "rest_url", ("http", "https")) or default.rest)
    if conf is not None:
        # A connector config of this exchange works too: its other keys are known, not typos.
        conf.check_unknown(URL_KEYS | config_keys(exchanges.get(exchange).connector()))
    for key, url, schemes in (("stream_url", stream, ("ws", "wss")), ("rest_url", rest, ("http", "https"))):
        if not url.startswith(tuple(s + "://" for s in schemes)):
            raise HftctlError(f"{key} = {url!r} is not a {'/'.join(schemes)} URL")
    exchanges.check_test_venue({"stream_url": stream, "rest_url": rest}, allow_mainnet,
                               what="record from it")
    if stream == default.ws["public"] and rest == default.rest:
        return default
    return replace(default, name="custom", rest=rest, ws={**default.ws, "public": stream})


def _conf_url(conf: ConfigReader | None, key: str, schemes: tuple[str, ...]) -> str | None:
    if conf is None or key not in conf.data:
        return None
    return conf.url(key, schemes)


@dataclass
class CollectOptions:
    symbols: list[str]
    out: Path
    compress: str = "gzip"
    rotate_s: float = 3600.0
    flush_interval: float = 1.0
    duration: float | None = None
    progress: bool | None = None
    # direct mode
    exchange: str | None = None
    venue: Venue | None = None
    snapshot_interval: float = 0.0
    # ipc mode
    ipc_name: str | None = None
