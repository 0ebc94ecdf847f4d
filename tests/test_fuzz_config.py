"""Fuzz: every config loader on random TOML (keys, values, types, tables, garbage text).

Connector configs (every exchange), the sim's config, the strategies' configs and their
[backtest] table: each loads or raises HftctlError with one line naming the file; nothing else
escapes (a traceback where the README promises a one-line error).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from hftctl import exchanges
from hftctl.bot.settings import load_sim_settings
from hftctl.connector.run import load
from hftctl.connector.settings import config_keys
from hftctl.errors import HftctlError
from hftctl.sim.config import load_config as load_sim_config
from hftctl.strategies.grid_mm import GridConfig, load_grid_config
from hftctl.strategies.obi_mm import load_obi_config
from tests.fuzz import examples

ROOT = Path(__file__).resolve().parent.parent


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(v)


def toml(doc: dict) -> str:
    return "".join(f"{json.dumps(k, ensure_ascii=False)} = {toml_value(v)}\n" for k, v in doc.items())


text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
leaf = st.one_of(st.booleans(), st.integers(-(2 ** 63), 2 ** 63 - 1), st.floats(), text,
                 st.sampled_from(["", "ws://127.0.0.1:9/ws", "http://127.0.0.1:9", "https://fapi.binance.com.",
                                  "own", "all", "none", "linear", "t", "x" * 300, "1e400"]),
                 st.sampled_from([0, -1, 1, 5, 7, 50, 1000, 60001, 2 ** 62, 0.0, -0.5, 1e-9, 1e300]))
value = st.recursive(leaf, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.dictionaries(text, inner, max_size=3)), max_leaves=6)


def documents(keys: list[str], base: dict) -> st.SearchStrategy[dict]:
    """A valid base with keys added, changed and removed, or random keys altogether."""
    key = st.one_of(st.sampled_from(keys), text.filter(bool))
    changed = st.builds(lambda b, add, drop: {k: v for k, v in {**b, **add}.items() if k not in drop},
                        st.just(base), st.dictionaries(key, value, max_size=4), st.sets(st.sampled_from(sorted(base)), max_size=2))
    return st.one_of(changed, st.dictionaries(key, value, max_size=6))


def _one_line(e: HftctlError) -> None:
    msg = str(e)
    assert msg and "\n" not in msg and "Traceback" not in msg, msg


def _check(loader, path: Path, content: str) -> None:
    path.write_text(content, encoding="utf-8")
    try:
        loader(path)
    except HftctlError as e:
        _one_line(e)


CONNECTOR_BASE = {
    "binancefutures": {"stream_url": "ws://127.0.0.1:9/ws", "api_url": "http://127.0.0.1:9",
                       "order_prefix": "t", "api_key": "k", "secret": "s"},
    "bybit": {"public_url": "ws://127.0.0.1:9/p", "private_url": "ws://127.0.0.1:9/q",
              "trade_url": "ws://127.0.0.1:9/t", "rest_url": "http://127.0.0.1:9",
              "order_prefix": "t", "api_key": "k", "secret": "s"},
}
CONNECTOR_BASE["binancespot"] = CONNECTOR_BASE["binancefutures"]
TRADING = [n for n in exchanges.NAMES if exchanges.get(n).trading]     # the exchanges with a connector
assert sorted(TRADING) == sorted(CONNECTOR_BASE)


@examples(60)
@given(st.data())
def test_connector_configs(tmp_path, data):
    exchange = data.draw(st.sampled_from(TRADING))
    keys = sorted(config_keys(exchanges.get(exchange).connector()) | {"venue"})
    doc = data.draw(documents(keys, CONNECTOR_BASE[exchange]))
    _check(lambda p: load(exchange, p), tmp_path / "c.toml", toml(doc))


@examples(40)
@given(st.data())
def test_sim_config(tmp_path, data):
    account = {"name": "a", "api_key": "k", "secret": "s", "balances": {"USDT": 1000.0}, "maker_fee": 0.0002}
    base = {"accounts": [account], "symbols": ["BTCUSDT"], "synthetic": {"interval_ms": 100},
            "rate_limits": {"enabled": True}, "listen_key_ttl_s": 3600.0}
    doc = data.draw(documents(sorted(base) + ["balances", "leverage"], base))
    if data.draw(st.booleans()):           # a nested table gets the near-misses instead
        acct = data.draw(documents(sorted(account), account))
        doc = {**base, "accounts": [acct]}
    _check(lambda p: load_sim_config(p, {"USDT": 1.0}, {}), tmp_path / "sim.toml", toml(doc))


@examples(40)
@given(st.data())
def test_strategy_configs(tmp_path, data):
    grid = {f: getattr(GridConfig(), f) for f in GridConfig.__dataclass_fields__}
    which = data.draw(st.sampled_from(["mm", "obi", "backtest"]))
    if which == "mm":
        doc = data.draw(documents(sorted(grid), grid))
        _check(lambda p: load_grid_config(p, {}), tmp_path / "mm.toml", toml(doc))
    elif which == "obi":
        base = (ROOT / "configs/obi_mm.toml").read_text()
        extra = data.draw(st.dictionaries(st.sampled_from(["order_qty", "window", "half_spread", "x", "live_seconds"]),
                                          value, max_size=3))
        table = data.draw(st.sampled_from(["[global]", "[params]", "[stop_loss]", "[backtest]", "[nope]"]))
        body = base.replace(table, table + "\n" + toml(extra), 1) if table in base else base + table + "\n" + toml(extra)
        _check(load_obi_config, tmp_path / "obi.toml", body)
    else:
        bt = data.draw(st.dictionaries(st.sampled_from(["latency_ms", "queue", "queue_power", "partial_fills",
                                                        "maker_fee", "taker_fee", "fee", "engine"]), value, max_size=4))
        _check(lambda p: load_sim_settings(p, {}, backtest=True), tmp_path / "bt.toml", "[backtest]\n" + toml(bt))


@examples(40)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_garbage_files(tmp_path, body):
    p = tmp_path / "g.toml"
    for loader in (lambda x: load("binancefutures", x), lambda x: load_sim_config(x, None, None),
                   lambda x: load_grid_config(x, {}), load_obi_config):
        _check(loader, p, body)
