"""The sim's configuration: accounts (keys, balances, fees), the synthetic market, rate limits.

Everything has a default so `hftctl sim` runs with no file; a file that exists but is wrong is a
one-line error naming the key, never a traceback.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from hftctl.configfile import show_key
from hftctl.errors import HftctlError
from hftctl.exchanges.venues import TESTNET
from hftctl.sim.accounts import Account
from hftctl.sim.market import SyntheticParams

DEFAULT_API_KEY = "hftctl-sim-key"
DEFAULT_SECRET = "hftctl-sim-secret"
MAX_BALANCE = 1e15     # finite, and far above any balance a test account needs


@dataclass
class RateLimits:
    enabled: bool = True
    weight_per_min: int = 2400          # Binance USD-M REQUEST_WEIGHT per IP
    orders_per_min: int = 1200          # ORDERS per account
    orders_per_10s: int = 300
    orders_per_day: int = 200_000       # Binance spot's daily ORDERS limit


@dataclass
class SimConfig:
    accounts: list[Account] = field(default_factory=list)
    symbols: list[str] = field(default_factory=list)     # empty: the exchange's defaults
    synthetic: SyntheticParams = field(default_factory=SyntheticParams)
    rate_limits: RateLimits = field(default_factory=RateLimits)
    listen_key_ttl_s: float = 3600.0
    # Serve an exchange's retired websocket paths too (USD-M's unrouted /ws, /stream); a CLI
    # switch, not a file key: off unless a test or user asks for the old behaviour.
    legacy_ws_paths: bool = False
    # The venue whose host set the sim stands in for (its paths, its ready-file URLs); a CLI
    # switch like the one above.
    venue: str = TESTNET


def default_account(balances: dict[str, float] | None = None) -> Account:
    return Account("default", DEFAULT_API_KEY, DEFAULT_SECRET, dict(balances or {"USDT": 100_000.0}))


def load_config(path: Path | None, default_balances: dict[str, float] | None = None,
                default_limits: dict | None = None) -> SimConfig:
    """`default_balances`: the exchange's starting balances for accounts that name none;
    `default_limits`: the exchange's own rate limits, which the file may still override."""
    default_balances = dict(default_balances or {"USDT": 100_000.0})
    limits = RateLimits(**(default_limits or {}))
    if path is None:
        return SimConfig(accounts=[default_account(default_balances)], rate_limits=limits)
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise HftctlError(f"sim config {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HftctlError(f"cannot read sim config {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise HftctlError(f"sim config {path} is not valid TOML: {exc}") from None
    cfg = SimConfig(rate_limits=limits)
    _check_keys(path, "", data, {"accounts", "symbols", "synthetic", "rate_limits", "listen_key_ttl_s"})
    accounts = data.get("accounts", [])
    if not isinstance(accounts, list):
        raise HftctlError(f"sim config {path}: accounts must be an array of tables ([[accounts]])")
    for i, entry in enumerate(accounts):
        where = f"accounts[{i}]"
        if not isinstance(entry, dict):
            raise HftctlError(f"sim config {path}: {where} must be a table")
        _check_keys(path, where, entry, {"name", "api_key", "secret", "balances", "maker_fee",
                                         "taker_fee", "leverage", "institutional"})
        for key in ("api_key", "secret"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise HftctlError(f"sim config {path}: {where}.{key} is missing or not a string")
        balances = entry.get("balances", default_balances)
        if not isinstance(balances, dict) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= MAX_BALANCE
                for v in balances.values()):
            # 1e400 parses as inf; nan fails every comparison: both refused by the range
            raise HftctlError(f"sim config {path}: {where}.balances must map assets to numbers "
                              f"from 0 to {MAX_BALANCE:g}")
        acct = Account(str(entry.get("name", f"account{i}")), entry["api_key"], entry["secret"],
                       {k: float(v) for k, v in balances.items()})
        for key in ("maker_fee", "taker_fee"):
            if key in entry:
                setattr(acct, key, _number(path, f"{where}.{key}", entry[key], -0.01, 0.1))
        if "leverage" in entry:
            acct.leverage = int(_number(path, f"{where}.leverage", entry["leverage"], 1, 125))
        if "institutional" in entry:
            if not isinstance(entry["institutional"], bool):
                raise HftctlError(f"sim config {path}: {where}.institutional must be true or false")
            acct.institutional = entry["institutional"]
        if any(a.api_key == acct.api_key for a in cfg.accounts):
            raise HftctlError(f"sim config {path}: {where}.api_key is used by two accounts")
        cfg.accounts.append(acct)
    if not cfg.accounts:
        cfg.accounts.append(default_account(default_balances))
    symbols = data.get("symbols", [])
    if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
        raise HftctlError(f"sim config {path}: symbols must be a list of strings")
    cfg.symbols = [s.upper() for s in symbols]
    for section, target in (("synthetic", cfg.synthetic), ("rate_limits", cfg.rate_limits)):
        values = data.get(section, {})
        if not isinstance(values, dict):
            raise HftctlError(f"sim config {path}: [{section}] must be a table")
        known = {f.name: f for f in fields(target)}
        _check_keys(path, section, values, set(known))
        for key, value in values.items():
            current = getattr(target, key)
            if isinstance(current, bool):
                if not isinstance(value, bool):
                    raise HftctlError(f"sim config {path}: {section}.{key} must be true or false")
                setattr(target, key, value)
            else:
                num = _number(path, f"{section}.{key}", value, 0, 1e12)
                setattr(target, key, int(num) if isinstance(current, int) else float(num))
    if "listen_key_ttl_s" in data:
        cfg.listen_key_ttl_s = _number(path, "listen_key_ttl_s", data["listen_key_ttl_s"], 1, 1e9)
    if (cfg.synthetic.interval_ms <= 0 or cfg.synthetic.levels < 5 or cfg.synthetic.spread_ticks < 1
            or cfg.synthetic.mark_interval_ms <= 0):
        raise HftctlError(f"sim config {path}: synthetic needs interval_ms > 0, levels >= 5, spread_ticks >= 1, "
                          "mark_interval_ms > 0")
    return cfg


def _check_keys(path, where: str, table: dict, known: set[str]) -> None:
    unknown = set(table) - known
    if unknown:
        prefix = f"{where}." if where else ""
        raise HftctlError(f"sim config {path}: unknown key {prefix}{show_key(sorted(unknown)[0])} "
                          f"(known: {', '.join(sorted(known))})")


def _number(path, name: str, value, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise HftctlError(f"sim config {path}: {name} must be a number in [{lo}, {hi}], got {value!r}")
    return float(value)
