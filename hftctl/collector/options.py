"""Collector options: durations, URL sources (flags > --config > the venue, mainnet by default),
optional streams, validation."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from hftctl import exchanges
from hftctl.configfile import ConfigReader, open_config
from hftctl.connector.settings import config_keys
from hftctl.errors import HftctlError
from hftctl.exchanges.venues import MAINNET, VENUE_NAMES, Venue

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


def parse_streams(text: str | None) -> list[str]:
    """``--streams markPrice,forceOrder`` -> the names (checked by the exchange's protocol)."""
    return [s.strip() for s in (text or "").split(",") if s.strip()]


def check_symbols(symbols: list[str]) -> list[str]:
    if not symbols:
        raise HftctlError("give at least one symbol, e.g. btcusdt")
    for s in symbols:
        if not _SYMBOL.match(s):
            raise HftctlError(f"invalid symbol {s!r}")
    return symbols


def resolve_venue(exchange: str, venue: str | None, config: Path | None, stream_url: str | None,
                  rest_url: str | None, stand_in: str | None = None) -> Venue:
    """Where to record from. Each URL: its flag, else the config's key (hftbacktest's
    ``stream_url``/``api_url``), else the venue's: ``--venue``, else the config's ``venue`` key,
    else mainnet. Public market data moves no money, so no host needs --allow-mainnet."""
    # the connector's config reader: same keys, same one-line errors naming file and key
    conf = open_config(config) if config is not None else None
    if venue is None and conf is not None and "venue" in conf.data:
        venue = conf.choice("venue", VENUE_NAMES)
    base = exchanges.venue(exchange, venue or MAINNET, stand_in)
    stream = (stream_url or _conf_url(conf, "stream_url", ("ws", "wss"))
              or _conf_url(conf, "public_url", ("ws", "wss")))
    rest = (rest_url or _conf_url(conf, "api_url", ("http", "https"))
            or _conf_url(conf, "rest_url", ("http", "https")))
    if conf is not None:
        conf.check_unknown(_collector_keys(exchange))
    for key, url, schemes in (("stream_url", stream, ("ws", "wss")), ("rest_url", rest, ("http", "https"))):
        if url is not None and not url.startswith(tuple(s + "://" for s in schemes)):
            raise HftctlError(f"{key} = {url!r} is not a {'/'.join(schemes)} URL")
    if stream is None and rest is None:
        return base
    chosen = replace(base, name="custom", note="")
    if stream is not None:
        chosen = exchanges.get(exchange).collector().with_stream_url(chosen, stream)
    return replace(chosen, rest=rest) if rest is not None else chosen


def _collector_keys(exchange: str) -> set[str]:
    """The keys a collector ``--config`` may hold: its own, and a connector config's of this
    exchange (known there, so not typos here); anything else is a one-line error."""
    d = exchanges.get(exchange)
    return URL_KEYS | {"venue"} | (config_keys(d.connector()) if d.trading else set())


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
    streams: list[str] = field(default_factory=list)     # optional streams (--streams)
    snapshot_interval: float = 0.0
    # ipc mode
    ipc_name: str | None = None
