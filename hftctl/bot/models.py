"""What simulated execution assumes: latency, queue position, partial fills, fees.

``ExecutionModel`` is the one description both backtest engines (hftbacktest's, and the built-in
one in backtest.py) and the dry run are configured from; it validates itself, so a bad value
from a flag, a config file or the API fails the same way, before anything runs.

The queue and latency models follow hftbacktest 2.4.4 (``backtest/models/queue.rs`` and
``latency.rs``) formula for formula, so the built-in engine can agree with hftbacktest's:

- risk-averse queue: an order's queue position is the quantity at its price when it reaches
  the exchange; trades at that price reduce it, and the level's quantity falling below it caps
  it (other cancellations are assumed to be behind us). The order fills once trades at its
  price have taken the whole queue ahead and at least half a lot more.
- probabilistic queues (power, power2, power3, log, log2): a decrease of the level's quantity
  not explained by trades is split between the quantity ahead and behind the order with the
  probability ``prob(front, back)``.
- latency: constant, or interpolated from an order-latency table (req_ts, exch_ts, resp_ts)
  recorded live or derived from the recording's own feed latency (``feed_order_latency``, as
  hftbacktest's ``generate_order_latency``).
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hftctl.errors import HftctlError

QUEUE_MODELS = ("risk-averse", "power", "power2", "power3", "log", "log2")
ORDER_LATENCY_DTYPE = np.dtype([("req_ts", "i8"), ("exch_ts", "i8"), ("resp_ts", "i8"), ("_padding", "i8")],
                               align=True)
# Local-time buckets the feed latency is sampled in (hftbacktest's resampling_ns default).
FEED_LATENCY_BUCKET_NS = 1_000_000_000


@dataclass(frozen=True)
class ExecutionModel:
    """Latency, queue, fill and fee assumptions of simulated execution.

    ``order_latency``: None for the constant ``entry_latency_ns``/``response_latency_ns``;
    ``"feed"`` for ``feed_latency_mul`` times the recording's feed latency each way; otherwise
    the path of an order-latency ``.npz`` (hftbacktest's format). ``queue_power`` is the
    exponent of the power queue models.
    """

    entry_latency_ns: int = 10_000_000
    response_latency_ns: int = 10_000_000
    maker_fee: float = 0.0002
    taker_fee: float = 0.0005
    queue_model: str = "risk-averse"
    queue_power: float = 2.0
    order_latency: str | None = None
    feed_latency_mul: float = 1.0
    partial_fills: bool = False

    def __post_init__(self) -> None:
        for name in ("entry_latency_ns", "response_latency_ns"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 3_600_000_000_000:
                raise HftctlError(f"{name} must be an integer number of ns in [0, 1 h], got {v!r}")
        for name in ("maker_fee", "taker_fee"):
            require_finite(name.replace("_", "-"), getattr(self, name), -0.1, 0.1)
        if self.queue_model not in QUEUE_MODELS:
            raise HftctlError(f"unknown queue model {self.queue_model!r} (one of {', '.join(QUEUE_MODELS)})")
        require_finite("queue-power", self.queue_power, 0.0, 100.0, lo_open=True)
        require_finite("feed-latency-mul", self.feed_latency_mul, 0.0, 1000.0, lo_open=True)
        if self.order_latency is not None and not self.order_latency:
            raise HftctlError("order-latency must be 'feed' or the path of an order-latency .npz")

    def describe(self) -> str:
        """One line for reports: which models ran."""
        if self.order_latency is None:
            lat = f"latency {self.entry_latency_ns / 1e6:g}/{self.response_latency_ns / 1e6:g} ms"
        elif self.order_latency == "feed":
            lat = f"latency {self.feed_latency_mul:g} x feed latency"
        else:
            lat = f"latency from {Path(self.order_latency).name}"
        queue = self.queue_model + (f"({self.queue_power:g})" if self.queue_model.startswith("power") else "")
        fills = "partial fills" if self.partial_fills else "no partial fills"
        return (f"{queue} queue, {lat}, {fills}, fees maker {self.maker_fee:g} / taker {self.taker_fee:g}")


def require_finite(name: str, value: float, lo: float | None = None, hi: float | None = None, *,
                   lo_open: bool = False) -> float:
    """``value`` as a float, or a one-line error naming ``name`` if it is not finite or out of range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise HftctlError(f"{name} must be a number, got {value!r}")
    ok = math.isfinite(value)
    if ok and lo is not None:
        ok = value > lo if lo_open else value >= lo
    if ok and hi is not None:
        ok = value <= hi
    if not ok:
        if lo is not None and hi is not None:
            rng = f"in {'(' if lo_open else '['}{lo:g}, {hi:g}]"
        elif lo is not None:
            rng = f"{'>' if lo_open else '>='} {lo:g}"
        elif hi is not None:
            rng = f"<= {hi:g}"
        else:
            rng = ""
        raise HftctlError(f"{name} must be a finite number{' ' + rng if rng else ''}, got {value!r}")
    return float(value)


# --- queue position ------------------------------------------------------------------------------

class RiskAverseQueue:
    """hftbacktest's RiskAdverseQueueModel: the position moves only on trades, capped by the level."""

    __slots__ = ()

    def new_order(self, order, level_qty: float) -> None:
        order.front = level_qty

    def trade(self, order, qty: float) -> None:
        order.front -= qty

    def depth(self, order, prev_qty: float, new_qty: float) -> None:
        if new_qty < order.front:
            order.front = new_qty

    @staticmethod
    def is_filled(order, lot_size: float) -> float:
        """Quantity executed now (whole lots), resetting the position; 0.0 if none."""
        x = -order.front / lot_size
        lots = math.floor(x + 0.5) if x > 0 else 0      # Rust's round(): halves away from zero
        if lots > 0:
            order.front = 0.0
            return lots * lot_size
        return 0.0


class ProbQueue(RiskAverseQueue):
    """hftbacktest's ProbQueueModel: unexplained decreases advance us with probability prob()."""

    __slots__ = ("prob",)

    def __init__(self, prob) -> None:
        self.prob = prob

    def new_order(self, order, level_qty: float) -> None:
        order.front = level_qty
        order.cum_trade = 0.0

    def trade(self, order, qty: float) -> None:
        order.front -= qty
        order.cum_trade += qty

    def depth(self, order, prev_qty: float, new_qty: float) -> None:
        chg = prev_qty - new_qty - order.cum_trade
        order.cum_trade = 0.0
        if chg < 0.0:
            if new_qty < order.front:
                order.front = new_qty
            return
        front = order.front
        back = prev_qty - front
        prob = self.prob(front, back)
        if math.isinf(prob):
            prob = 1.0
        est = front - (1.0 - prob) * chg + min(back - prob * chg, 0.0)
        order.front = est if est < new_qty else new_qty


def _pow(x: float, n: float) -> float:
    # Rust's powf: 0 ** n = 0 for n > 0; negative bases do not occur (quantities >= 0) but a
    # negative 'back' (our estimate ran behind the book) gives NaN there too.
    try:
        return math.pow(x, n)
    except ValueError:
        return math.nan


def _div(a: float, b: float) -> float:
    """IEEE division as Rust does it (x/0 = +-inf, 0/0 = NaN) instead of ZeroDivisionError."""
    if b == 0.0:
        return math.nan if a == 0.0 or a != a else math.copysign(math.inf, a)
    return a / b


def _log1p(x: float) -> float:
    return math.log1p(x) if x > -1.0 else (-math.inf if x == -1.0 else math.nan)


def queue_model(model: ExecutionModel):
    """The queue-position model object the built-in exchange uses for ``model``."""
    n = model.queue_power
    kind = model.queue_model
    if kind == "risk-averse":
        return RiskAverseQueue()
    if kind == "power":
        return ProbQueue(lambda f, b: _div(_pow(b, n), _pow(b, n) + _pow(f, n)))
    if kind == "power2":
        return ProbQueue(lambda f, b: _div(_pow(b, n), _pow(b + f, n)))
    if kind == "power3":
        return ProbQueue(lambda f, b: 1.0 - _pow(_div(f, f + b), n))
    if kind == "log":
        return ProbQueue(lambda f, b: _div(_log1p(b), _log1p(b) + _log1p(f)))
    return ProbQueue(lambda f, b: _div(_log1p(b), _log1p(b + f)))      # log2


# --- latency -------------------------------------------------------------------------------------

class ConstantLatency:
    __slots__ = ("entry_ns", "response_ns")

    def __init__(self, entry_ns: int, response_ns: int) -> None:
        self.entry_ns, self.response_ns = entry_ns, response_ns

    def entry(self, ts: int) -> int:
        return self.entry_ns

    def response(self, ts: int) -> int:
        return self.response_ns


class IntpLatency:
    """hftbacktest's IntpOrderLatency: latency interpolated between the table's rows.

    A row with exch_ts <= 0 marks a request the exchange rejected: entry() then returns minus
    the time the rejection took to come back, as hftbacktest does.
    """

    def __init__(self, table: np.ndarray) -> None:
        if len(table) == 0:
            raise HftctlError("order-latency table is empty")
        self.req = table["req_ts"].tolist()
        self.exch = table["exch_ts"].tolist()
        self.resp = table["resp_ts"].tolist()
        self._e = 0
        self._r = 0

    @staticmethod
    def _intp(x: int, x1: int, y1: int, x2: int, y2: int) -> int:
        return int((y2 - y1) / (x2 - x1) * (x - x1)) + y1

    @staticmethod
    def _row(xs: list[int], k: int, ts: int) -> int:
        """From row k on, the row with xs[k] <= ts < xs[k + 1]; the last row past the end."""
        n = len(xs)
        while k + 1 < n and not xs[k] <= ts < xs[k + 1]:
            k += 1
        return k

    def entry(self, ts: int) -> int:
        req, exch, resp = self.req, self.exch, self.resp
        if ts < req[0]:
            return exch[0] - req[0]
        k = self._e = self._row(req, self._e, ts)
        if k + 1 >= len(req):
            return exch[-1] - req[-1]
        if exch[k] <= 0 or exch[k + 1] <= 0:
            return -self._intp(ts, req[k], resp[k] - req[k], req[k + 1], resp[k + 1] - req[k + 1])
        return self._intp(ts, req[k], exch[k] - req[k], req[k + 1], exch[k + 1] - req[k + 1])

    def response(self, ts: int) -> int:
        exch, resp = self.exch, self.resp
        if ts < exch[0]:
            return resp[0] - exch[0]
        k = self._r = self._row(exch, self._r, ts)
        if k + 1 >= len(exch):
            return resp[-1] - exch[-1]
        return self._intp(ts, exch[k], resp[k] - exch[k], exch[k + 1], resp[k + 1] - exch[k + 1])


def feed_order_latency(events: np.ndarray, mul: float = 1.0) -> np.ndarray:
    """An order-latency table from a recording's feed latency, as hftbacktest's
    ``generate_order_latency(mul_entry=mul, mul_resp=mul)``: per second of local time, the last
    row seen by both the exchange and the bot gives feed latency L; a request then takes mul*L to
    reach the exchange and mul*L to come back."""
    from hftctl.bot.backtest import EXCH_EVENT, LOCAL_EVENT
    both = events[(events["ev"] & (EXCH_EVENT | LOCAL_EVENT)) == (EXCH_EVENT | LOCAL_EVENT)]
    if len(both) == 0:
        raise HftctlError("the data has no rows seen by both the exchange and the bot: no feed latency")
    bucket = both["local_ts"] // FEED_LATENCY_BUCKET_NS
    last = np.r_[np.nonzero(np.diff(bucket))[0], len(both) - 1]     # last row of each bucket
    local, exch = both["local_ts"][last], both["exch_ts"][last]
    lat = (mul * (local - exch).astype(np.float64)).astype(np.int64)
    out = np.zeros(len(last), dtype=ORDER_LATENCY_DTYPE)
    out["req_ts"] = local
    out["exch_ts"] = local + lat
    out["resp_ts"] = local + 2 * lat
    return out


def read_npz_array(p: Path, what: str, kind: str) -> np.ndarray:
    """The array of an ``.npz`` (key ``data``, or its only array); one-line errors naming ``what``."""
    if not p.is_file():
        raise HftctlError(f"{what} not found: {p}")
    try:
        with np.load(p, allow_pickle=False) as z:
            keys = list(z.keys())
            if not keys:
                raise HftctlError(f"{p}: no arrays in file")
            return z["data"] if "data" in keys else z[keys[0]]
    except HftctlError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise HftctlError(f"{p}: not a readable .npz {kind} ({exc})") from None


def load_order_latency(path: str | Path) -> np.ndarray:
    """An order-latency ``.npz`` (key ``data``, fields req_ts, exch_ts, resp_ts) with clear errors."""
    p = Path(path)
    data = read_npz_array(p, "order-latency file", "order-latency table")
    names = data.dtype.names or ()
    missing = [f for f in ("req_ts", "exch_ts", "resp_ts") if f not in names]
    if missing or data.ndim != 1 or len(data) == 0:
        raise HftctlError(f"{p}: not an order-latency table (needs rows of req_ts, exch_ts, resp_ts)")
    out = np.zeros(len(data), dtype=ORDER_LATENCY_DTYPE)
    for f in ("req_ts", "exch_ts", "resp_ts"):
        out[f] = data[f]
    if np.any(np.diff(out["req_ts"]) < 0):
        raise HftctlError(f"{p}: order-latency rows are not in request-time order")
    return out


def order_latency_table(model: ExecutionModel, events: np.ndarray) -> np.ndarray | None:
    """The interpolated-latency table ``model`` asks for, or None for constant latency."""
    if model.order_latency is None:
        return None
    if model.order_latency == "feed":
        return feed_order_latency(events, model.feed_latency_mul)
    return load_order_latency(model.order_latency)


def latency_model(model: ExecutionModel, table: np.ndarray | None):
    if table is None:
        return ConstantLatency(model.entry_latency_ns, model.response_latency_ns)
    return IntpLatency(table)
