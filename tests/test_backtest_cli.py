"""`hftctl mm/obi-mm --backtest` end to end: the figures printed are the engine's, the engine that
ran is named, models come from flags and config, and every bad option is a one-line error."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from hftctl.bot import hbt_engine
from hftctl.bot.models import ExecutionModel
from hftctl.bot.runner import run_backtest
from hftctl.bot.types import Instrument
from hftctl.strategies.grid_mm import GridConfig, GridMarketMaker

REFERENCE = "reference/usdm_btcusdt_20240808.npz"
ROOT = Path(__file__).resolve().parent.parent
INST = Instrument("btcusdt", 0.1, 0.001)
GRID_ARGS = ["--half-spread", "0.0001", "--grid-interval", "0.00005"]
needs_hbt = pytest.mark.skipif(not hbt_engine.available(), reason="hftbacktest (the backtest extra) is not installed")


def hftctl(*args: str, timeout: float = 120, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hftctl", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def text_values(stdout: str) -> dict[str, str]:
    """The ``Label: value`` lines of the text report."""
    return dict(m.groups() for m in re.finditer(r"^([A-Z][A-Za-z ()]+): (.*)$", stdout, re.M))


def assert_same_report(cli: dict, lib) -> None:
    """The command's JSON report equals the library's run, floats to 1e-9: hftbacktest applies
    fills of one instant in its hash maps' order, which changes from process to process."""
    expected = asdict(lib)
    assert cli.keys() - {"events_per_s"} == expected.keys()
    for k, v in expected.items():
        if k == "wall_s":
            continue
        assert cli[k] == (pytest.approx(v, rel=1e-9, abs=1e-9) if isinstance(v, float) else v), k


def test_mm_report_prints_the_engines_figures(shared_data: Path, tmp_path: Path):
    png = tmp_path / "mm.png"
    data = shared_data / REFERENCE
    args = ["mm", "--backtest", str(data), "--duration", "120", *GRID_ARGS, "--max-position", "0.004"]
    text = hftctl(*args, "--plot", str(png))
    assert text.returncode == 0, text.stderr
    js = hftctl(*args, "--json")
    assert js.returncode == 0, js.stderr
    rep = json.loads(js.stdout)
    # the command computes exactly what the library does, on the engine it names
    lib = run_backtest(lambda bot: GridMarketMaker(bot, GridConfig(half_spread=0.0001, grid_interval=0.00005,
                                                                   max_position=0.004), out=lambda _l: None),
                       data, INST, duration_s=120, out=lambda _l: None)
    assert_same_report(rep, lib)
    assert rep["engine"] == ("hftbacktest 2.4.4" if hbt_engine.available() else "built-in")
    # the figures are consistent with each other
    assert rep["trades"] > 10 and 100_000 < rep["events"] < 200_000
    assert rep["pnl"] == pytest.approx(rep["balance"] + rep["position"] * rep["last_mid"] - rep["fees"])
    assert rep["gross_pnl"] == pytest.approx(rep["pnl"] + rep["fees"])
    assert rep["fees"] == pytest.approx(rep["traded_value"] * 0.0002)        # grid quotes: all maker
    assert rep["volume"] == pytest.approx(rep["trades"] * 0.001)
    assert abs(rep["position"]) <= 0.004 + 1e-9 and rep["max_drawdown"] >= 0
    # and the text report prints the same figures
    v = text_values(text.stdout)
    assert v["Engine"] == rep["engine"]
    assert v["Models"] == "risk-averse queue, latency 10/10 ms, no partial fills, fees maker 0.0002 / taker 0.0005"
    assert int(v["Trades"]) == rep["trades"]
    for label, key in (("PnL (net of fees)", "pnl"), ("PnL (before fees)", "gross_pnl"), ("Balance", "balance"),
                       ("Fees", "fees"), ("Position", "position"), ("Max drawdown", "max_drawdown")):
        assert float(v[label]) == pytest.approx(rep[key], abs=5e-5), label
    assert v["Volume"] == f"{rep['volume']:.4f} (value {rep['traded_value']:.2f})"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


@needs_hbt
def test_engines_are_named_and_the_builtin_one_is_the_fallback(shared_data: Path, tmp_path: Path):
    args = ["mm", "--backtest", str(shared_data / REFERENCE), "--duration", "60", *GRID_ARGS, "--json"]
    runs = {engine: json.loads(hftctl(*args, "--engine", engine).stdout) for engine in ("hftbacktest", "builtin")}
    assert runs["hftbacktest"]["engine"] == "hftbacktest 2.4.4" and runs["builtin"]["engine"] == "built-in"
    assert runs["hftbacktest"]["trades"] == runs["builtin"]["trades"] > 0
    assert runs["hftbacktest"]["pnl"] == pytest.approx(runs["builtin"]["pnl"], rel=1e-9)
    # hftbacktest hidden (a package without its extension module first on the path): the
    # default falls back to the built-in engine and says so; asking for hftbacktest is an error
    shadow = tmp_path / "shadow" / "hftbacktest"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("")
    env = {"PYTHONPATH": str(shadow.parent)}
    r = hftctl(*args[:-1], env=env)
    assert r.returncode == 0, r.stderr
    assert "Engine: built-in (hftbacktest is not installed: the built-in engine ran (pip install 'hftctl[backtest]'))" in r.stdout
    assert int(text_values(r.stdout)["Trades"]) == runs["builtin"]["trades"]
    r = hftctl(*args, "--engine", "hftbacktest", env=env)
    assert r.returncode == 1 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1
    assert "hftbacktest's engine is not available" in r.stderr and "hftctl[backtest]" in r.stderr


def test_models_come_from_the_config_table_and_flags_win(shared_data: Path, tmp_path: Path):
    cfg = tmp_path / "mm.toml"
    cfg.write_text((ROOT / "configs" / "mm.toml").read_text() + """
[backtest]
queue_model = "log"
latency_ms = 5.0
maker_fee = -0.0001
""")
    args = ["mm", "--backtest", str(shared_data / REFERENCE), "--duration", "60", "--config", str(cfg),
            "--half-spread", "0", "--grid-interval", "0.0000001", "--json"]
    from_file = json.loads(hftctl(*args).stdout)
    assert from_file["models"] == "log queue, latency 5/5 ms, no partial fills, fees maker -0.0001 / taker 0.0005"
    assert from_file["fees"] == pytest.approx(-0.0001 * from_file["traded_value"])     # a rebate
    flagged = json.loads(hftctl(*args, "--queue-model", "power", "--queue-power", "3",
                                "--order-latency", "feed", "--feed-latency-mul", "2").stdout)
    assert flagged["models"] == ("power(3) queue, latency 2 x feed latency, no partial fills, "
                                 "fees maker -0.0001 / taker 0.0005")
    model = ExecutionModel(queue_model="power", queue_power=3.0, order_latency="feed", feed_latency_mul=2.0,
                           maker_fee=-0.0001)
    lib = run_backtest(lambda bot: GridMarketMaker(bot, GridConfig(half_spread=0.0, grid_interval=1e-7),
                                                   out=lambda _l: None),
                       shared_data / REFERENCE, INST, model=model, duration_s=60, out=lambda _l: None)
    assert (flagged["trades"], flagged["pnl"]) == (lib.trades, pytest.approx(lib.pnl, rel=1e-12))
    assert flagged["trades"] != from_file["trades"]


def test_settings_resolve_flags_over_the_config_table_and_refuse_contradictions(tmp_path: Path):
    from hftctl.bot.settings import load_sim_settings
    from hftctl.errors import HftctlError
    cfg = tmp_path / "c.toml"
    cfg.write_text('[backtest]\norder_latency = "feed"\nfeed_latency_mul = 3.0\nqueue_model = "power3"\n')
    s = load_sim_settings(cfg, {"queue_power": 4.0}, backtest=True)
    assert s.model() == ExecutionModel(order_latency="feed", feed_latency_mul=3.0, queue_model="power3", queue_power=4.0)
    s = load_sim_settings(cfg, {"latency_ms": 2.5}, backtest=True)        # a flag replaces the file's latency
    assert (s.model().order_latency, s.model().entry_latency_ns) == (None, 2_500_000)
    assert load_sim_settings(None, {}, backtest=False).model() == ExecutionModel()
    cfg.write_text('[backtest]\norder_latency = "feed"\nlatency_ms = 3.0\n')
    with pytest.raises(HftctlError, match=r"\[backtest\]: latency_ms and order_latency are exclusive"):
        load_sim_settings(cfg, {}, backtest=True)
    with pytest.raises(HftctlError, match="--feed-latency-mul only applies with --order-latency feed"):
        load_sim_settings(None, {"feed_latency_mul": 2.0}, backtest=True)
    with pytest.raises(HftctlError, match="--queue-power only applies with a power queue model"):
        load_sim_settings(None, {"queue_power": 2.0, "queue_model": "log"}, backtest=True)


@pytest.mark.parametrize("args, message", [
    (["mm", "--backtest", "/nonexistent/x.npz"], "backtest data not found"),
    (["mm", "--config", "/nonexistent/mm.toml", "--backtest", "x.npz"], "config file not found"),
    (["mm", "--grid-num", "0", "--backtest", "x.npz"], "grid_num must be positive"),
    (["mm", "--dry-run", "--backtest", "x.npz"], "exclusive"),
    (["obi-mm", "--plot", "x.png"], "--plot only applies"),
    (["obi-mm", "--connector", "nosuchconnector", "--dry-run", "--connect-timeout", "0.2"], "nosuchconnector"),
    (["mm", "--backtest", "x.npz", "--duration", "-5"], "--duration must be a finite number > 0, got -5.0"),
    (["obi-mm", "--backtest", "x.npz", "--duration", "nan"], "--duration must be a finite number > 0, got nan"),
    (["mm", "--backtest", "x.npz", "--maker-fee", "nan"], "--maker-fee must be a finite number, got nan"),
    (["obi-mm", "--backtest", "x.npz", "--taker-fee", "0.5"], "taker-fee must be a finite number in [-0.1, 0.1]"),
    (["mm", "--backtest", "x.npz", "--latency-ms", "-1"], "latency-ms must be a finite number in [0, 3.6e+06]"),
    (["mm", "--backtest", "x.npz", "--latency-ms", "inf"], "--latency-ms must be a finite number, got inf"),
    (["mm", "--backtest", "x.npz", "--queue-model", "fifo"], "queue-model must be one of risk-averse, power"),
    (["mm", "--backtest", "x.npz", "--queue-model", "power", "--queue-power", "0"], "queue-power must be a finite number in (0, 100]"),
    (["mm", "--backtest", "x.npz", "--engine", "numba"], "engine must be one of auto, hftbacktest, builtin"),
    (["mm", "--backtest", "x.npz", "--latency-ms", "5", "--order-latency", "feed"], "are exclusive"),
    (["mm", "--backtest", "x.npz", "--order-latency", "feed", "--feed-latency-mul", "-2"], "feed-latency-mul must be a finite number in (0, 1000]"),
    (["mm", "--dry-run", "--queue-model", "log"], "--queue-model only applies to --backtest"),
    (["mm", "--backtest", "x.npz", "--connect-timeout", "nan"], "--connect-timeout must be a finite number in (0, 3600]"),
    (["mm", "--backtest", "x.npz", "--half-spread", "nan"], "half_spread: expected a finite number, got nan"),
    (["mm", "--backtest", "x.npz", "--tick-size", "inf"], "tick_size: expected a finite number, got inf"),
    (["obi-mm", "--backtest", "x.npz", "--lot-size", "nan"], "lot_size must be a finite number >= 0, got nan"),
])
def test_bad_options_are_one_line_errors(args: list[str], message: str):
    r = hftctl(*args, timeout=60)
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert message in r.stderr


def test_partial_fills_on_the_builtin_engine_is_a_one_line_error(shared_data: Path):
    r = hftctl("mm", "--backtest", str(shared_data / REFERENCE), "--engine", "builtin", "--partial-fills")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "no partial fills" in r.stderr


def test_obi_backtest_runs_the_guide_config(shared_data: Path, tmp_path: Path):
    png = tmp_path / "obi.png"
    r = hftctl("obi-mm", "--backtest", str(shared_data / REFERENCE), "--plot", str(png), "--json", "--duration", "200")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    from hftctl.strategies.obi_mm import ObiMarketMaker, load_obi_config
    cfg = load_obi_config(ROOT / "configs" / "obi_mm.toml")
    lib = run_backtest(lambda bot: ObiMarketMaker(bot, cfg, out=lambda _l: None), shared_data / REFERENCE, INST,
                       duration_s=200, out=lambda _l: None)
    assert_same_report(rep, lib)
    assert rep["trades"] > 0 and abs(rep["position"]) <= 0.02 + 1e-9
    assert rep["pnl"] == pytest.approx(rep["balance"] + rep["position"] * rep["last_mid"] - rep["fees"])
    assert png.stat().st_size > 10_000


def test_obi_config_errors(tmp_path: Path):
    from hftctl.errors import HftctlError
    from hftctl.strategies.obi_mm import load_obi_config
    good = (ROOT / "configs" / "obi_mm.toml").read_text()
    cases = {
        "missing.toml": (good.replace("window = 360", ""), "missing key window"),
        "typo.toml": (good.replace("skew = 0.01", "skw = 0.01"), "unknown key(s) skw"),
        "type.toml": (good.replace("grid_num = 3", 'grid_num = "three"'), "expected an integer"),
        "table.toml": (good.replace("[stop_loss]", "[stoploss]"), "unknown table"),
        "negative.toml": (good.replace("order_qty = 0.002", "order_qty = -1"), "order_qty must be positive"),
        "nan.toml": (good.replace("half_spread = 0.0005", "half_spread = nan"), "expected a finite number"),
        "broken.toml": ("[global\norder_qty = ", "malformed TOML"),
    }
    for name, (text, message) in cases.items():
        p = tmp_path / name
        p.write_text(text)
        with pytest.raises(HftctlError) as exc:
            load_obi_config(p)
        assert message in str(exc.value), (name, str(exc.value))
    # and through the CLI: one line, exit 1, no traceback; a bad [backtest] key too
    r = hftctl("obi-mm", "--config", str(tmp_path / "typo.toml"), "--backtest", "x.npz", timeout=60)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().count("\n") == 0 and "unknown key(s) skw" in r.stderr
    (tmp_path / "bt.toml").write_text(good + "\n[backtest]\nqueue_modle = \"log\"\n")
    r = hftctl("obi-mm", "--config", str(tmp_path / "bt.toml"), "--backtest", "x.npz", timeout=60)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "[backtest]: unknown key(s) queue_modle" in r.stderr


def test_start_obi_mm_script_passes_flags_through(shared_data: Path):
    script = ROOT / "scripts" / "start_obi_mm.sh"
    r = subprocess.run([str(script), "--symbol", "btcusdt", "--backtest", str(shared_data / REFERENCE),
                        "--duration", "30", "--json"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["symbol"] == "btcusdt" and rep["end_ns"] - rep["start_ns"] <= 30e9
    r = subprocess.run([str(script), "--config"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--config needs a value" in r.stderr
    r = subprocess.run([str(script), "--config", "/nonexistent.toml", "--dry-run"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1 and "config file not found" in r.stderr and "Traceback" not in r.stderr


def test_backtest_on_hftctl_convert_output_matches_reference(shared_data: Path, tmp_path: Path):
    """The whole offline path: recording -> hftctl convert -> backtest of the grid MM."""
    npz = tmp_path / "btcusdt.npz"
    r = hftctl("convert", str(shared_data / "recordings" / "usdm" / "btcusdt_20240808.gz"), str(npz))
    assert r.returncode == 0, r.stderr
    cfg = GridConfig(half_spread=0.0001, grid_interval=0.00005)
    reports = [run_backtest(lambda bot: GridMarketMaker(bot, cfg, out=lambda _l: None), path, INST,
                            engine="builtin", duration_s=90, out=lambda _l: None)
               for path in (npz, shared_data / REFERENCE)]
    a, b = ({k: v for k, v in asdict(rep).items() if k != "wall_s"} for rep in reports)
    assert a["trades"] > 0
    assert a == b                # the built-in engine is deterministic: equal to the last bit
