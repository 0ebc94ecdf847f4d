"""Backtest results: the engine's state values (equity, balance, position, fees, trades, volume),
drawdown, speed, and the equity-curve plot; the same for both engines."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from hftctl.bot.backtest import ReplayBot
from hftctl.errors import HftctlError


@dataclass(frozen=True)
class BacktestReport:
    symbol: str
    start_ns: int
    end_ns: int
    events: int
    pnl: float              # equity at the end: balance + position * last mid - fees
    gross_pnl: float        # the same before fees
    balance: float          # cash from fills (sells add, buys subtract), fees apart
    fees: float
    position: float
    trades: int
    volume: float
    traded_value: float
    max_drawdown: float     # largest fall of the net equity curve from a previous peak
    last_mid: float
    open_orders: int
    engine: str             # which backtest engine produced these figures
    models: str             # its latency, queue, fill and fee models
    wall_s: float           # wall time of the replay itself (data loading and start-up excluded)

    @property
    def events_per_s(self) -> float:
        return self.events / self.wall_s if self.wall_s > 0 else 0.0

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "events_per_s": self.events_per_s})


def max_drawdown(equity: list[float]) -> float:
    peak = float("-inf")
    worst = 0.0
    for e in equity:
        if e > peak:
            peak = e
        elif peak - e > worst:
            worst = peak - e
    return worst


def build_report(bot: ReplayBot, wall_s: float = 0.0) -> BacktestReport:
    bot.sample_equity()
    acc = bot.account(0)
    mid = bot.depth(0).mid
    if mid != mid and bot.records:
        mid = bot.records[-1][3]
    equity = [r[1] for r in bot.records]
    pnl = acc.equity(mid) if mid == mid else 0.0
    equity.append(pnl)
    return BacktestReport(
        symbol=bot.instruments[0].symbol, start_ns=bot.start_timestamp, end_ns=bot.current_timestamp,
        events=bot.events_processed, pnl=pnl, gross_pnl=pnl + acc.fee, balance=acc.balance,
        fees=acc.fee, position=acc.position, trades=acc.num_trades, volume=acc.trading_volume,
        traded_value=acc.trading_value, max_drawdown=max_drawdown(equity), last_mid=mid,
        open_orders=bot.open_orders(0), engine=bot.engine, models=bot.model.describe(), wall_s=wall_s,
    )


def format_report(r: BacktestReport, note: str = "") -> str:
    secs = (r.end_ns - r.start_ns) / 1e9
    return "\n".join([
        "======================================",
        f" Backtest result: {r.symbol}",
        "======================================",
        f"Engine: {r.engine}" + (f" ({note})" if note else ""),
        f"Models: {r.models}",
        f"Duration: {secs:.1f} s ({r.events} events in {r.wall_s:.2f} s, {r.events_per_s:,.0f} events/s)",
        f"PnL (net of fees): {r.pnl:.4f}",
        f"PnL (before fees): {r.gross_pnl:.4f}",
        f"Balance: {r.balance:.4f}",
        f"Fees: {r.fees:.4f}",
        f"Position: {r.position:.4f}",
        f"Trades: {r.trades}",
        f"Volume: {r.volume:.4f} (value {r.traded_value:.2f})",
        f"Max drawdown: {r.max_drawdown:.4f}",
        f"Last mid: {r.last_mid:.2f}",
        "======================================",
    ])


def plot_equity(bot: ReplayBot, path: str | Path, title: str = "") -> Path:
    """Write the equity (net of fees) and position curves to a PNG.

    matplotlib is the optional ``plot`` extra, imported only here so bots never pay for it.
    """
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise HftctlError("--plot needs matplotlib: pip install 'hftctl[plot]'") from None
    if not bot.records:
        raise HftctlError("nothing to plot: the backtest recorded no equity samples")
    t0 = bot.records[0][0]
    xs = [(r[0] - t0) / 1e9 for r in bot.records]
    fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=(10, 6))
    ax1.plot(xs, [r[1] for r in bot.records], color="tab:blue")
    ax1.set_ylabel("equity (net of fees)")
    ax1.set_title(title or f"{bot.instruments[0].symbol} backtest ({bot.engine})")
    ax1.grid(True, alpha=0.3)
    ax2.plot(xs, [r[2] for r in bot.records], color="tab:orange")
    ax2.set_ylabel("position")
    ax2.set_xlabel("seconds")
    ax2.grid(True, alpha=0.3)
    fig.tight_layout()
    out = Path(path)
    try:
        fig.savefig(out, dpi=100)
    except OSError as exc:
        raise HftctlError(f"cannot write plot {out}: {exc}") from None
    finally:
        plt.close(fig)
    return out
