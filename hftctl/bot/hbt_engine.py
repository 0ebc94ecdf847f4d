"""The bot API on hftbacktest's own engine (the optional ``backtest`` extra, hftbacktest 2.4.4).

The same strategy objects run on ``HashMapMarketDepthBacktest`` (its Rust event loop,
exchange models and local state) with every model it offers: risk-averse or probabilistic
queue, constant or interpolated order latency, partial fills, trading-value fees.

Why ctypes and not hftbacktest's numba classes: those are meant to be called from @njit code;
called from Python every method boxes and unboxes through numba's dispatcher (tens of µs).
The C functions behind them (``hashmapbt_*``, exported by hftbacktest's extension module, the
same ones its numba classes call) cost well under a µs through ctypes. The extension module is
loaded on its own, so a backtest does not pay for importing numba either (~0.5 s).

Per clock step (``elapse``/``wait_next``) the bot reads the best bid/ask and the state values,
and re-reads only the orders that can have changed: those with a request in flight, or all of
them when the fill count moved. Strategies see the same ``Order`` objects and account as on
the built-in engine.
"""

from __future__ import annotations

import ctypes
import importlib.machinery
import importlib.util
import logging
import sys
from pathlib import Path

import numpy as np

from hftctl.book import NO_ASK, NO_BID, OrderBook
from hftctl.bot.api import MAX_TRADES
from hftctl.bot.backtest import BUY_EVENT, ReplayBot
from hftctl.bot.models import ExecutionModel, order_latency_table
from hftctl.bot.types import BUY, FOK, GTC, GTX, IOC, LIMIT, MARKET, Account, Instrument, Order, TradeTick
from hftctl.errors import HftctlError

log = logging.getLogger(__name__)

HFTBACKTEST_VERSION = "2.4.4"
INSTALL_HINT = "pip install 'hftctl[backtest]'"

_ERRORS = {10: "OrderIdExist", 11: "OrderRequestInProcess", 12: "OrderNotFound", 13: "InvalidOrderRequest",
           14: "InvalidOrderStatus", 15: "EndOfData", 100: "DataError"}
_STATUS = ("none", "new", "expired", "filled", "canceled", "partially_filled", "rejected")
_TIF = {GTC: 0, GTX: 1, FOK: 2, IOC: 3}
_TYPE = {LIMIT: 0, MARKET: 1}
INVALID_MIN = -(1 << 63)
INVALID_MAX = (1 << 63) - 1
EVENT_DTYPE = np.dtype([("ev", "<u8"), ("exch_ts", "<i8"), ("local_ts", "<i8"), ("px", "<f8"), ("qty", "<f8"),
                        ("order_id", "<u8"), ("ival", "<i8"), ("fval", "<f8")], align=True)


class _Order(ctypes.Structure):
    """hftbacktest's ``Order`` (#[repr(C)]; hftbacktest.types.order_dtype)."""

    _fields_ = [("qty", ctypes.c_double), ("leaves_qty", ctypes.c_double), ("exec_qty", ctypes.c_double),
                ("exec_price_tick", ctypes.c_int64), ("price_tick", ctypes.c_int64),
                ("tick_size", ctypes.c_double), ("exch_timestamp", ctypes.c_int64),
                ("local_timestamp", ctypes.c_int64), ("order_id", ctypes.c_uint64),
                ("_q1", ctypes.c_uint64), ("_q2", ctypes.c_uint64), ("maker", ctypes.c_bool),
                ("order_type", ctypes.c_uint8), ("req", ctypes.c_uint8), ("status", ctypes.c_uint8),
                ("side", ctypes.c_int8), ("time_in_force", ctypes.c_uint8)]


class _State(ctypes.Structure):
    """hftbacktest's ``StateValues`` (hftbacktest.types.state_values_dtype)."""

    _fields_ = [("position", ctypes.c_double), ("balance", ctypes.c_double), ("fee", ctypes.c_double),
                ("num_trades", ctypes.c_int64), ("trading_volume", ctypes.c_double),
                ("trading_value", ctypes.c_double)]


_PROTOTYPES = {
    # name: (restype, argtypes)
    "hashmapbt_elapse": (ctypes.c_int64, [ctypes.c_void_p, ctypes.c_int64]),
    "hashmapbt_wait_next_feed": (ctypes.c_int64, [ctypes.c_void_p, ctypes.c_bool, ctypes.c_int64]),
    "hashmapbt_current_timestamp": (ctypes.c_int64, [ctypes.c_void_p]),
    "hashmapbt_depth": (ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_size_t]),
    "hashmapbt_state_values": (ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_size_t]),
    "hashmapbt_orders": (ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_size_t]),
    "hashmapbt_submit_buy_order": (ctypes.c_int64, [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint64,
                                                    ctypes.c_double, ctypes.c_double, ctypes.c_uint8,
                                                    ctypes.c_uint8, ctypes.c_bool]),
    "hashmapbt_submit_sell_order": (ctypes.c_int64, [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint64,
                                                     ctypes.c_double, ctypes.c_double, ctypes.c_uint8,
                                                     ctypes.c_uint8, ctypes.c_bool]),
    "hashmapbt_cancel": (ctypes.c_int64, [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint64, ctypes.c_bool]),
    "hashmapbt_modify": (ctypes.c_int64, [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint64, ctypes.c_double,
                                          ctypes.c_double, ctypes.c_bool]),
    "hashmapbt_clear_inactive_orders": (None, [ctypes.c_void_p, ctypes.c_size_t]),
    "hashmapbt_last_trades": (ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]),
    "hashmapbt_clear_last_trades": (None, [ctypes.c_void_p, ctypes.c_size_t]),
    "hashmapbt_close": (ctypes.c_int64, [ctypes.c_void_p]),
    "hashmapdepth_best_bid_tick": (ctypes.c_int64, [ctypes.c_void_p]),
    "hashmapdepth_best_ask_tick": (ctypes.c_int64, [ctypes.c_void_p]),
    "hashmapdepth_bid_qty_at_tick": (ctypes.c_double, [ctypes.c_void_p, ctypes.c_int64]),
    "hashmapdepth_ask_qty_at_tick": (ctypes.c_double, [ctypes.c_void_p, ctypes.c_int64]),
    "hashmapdepth_snapshot": (ctypes.c_void_p, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint64)]),
    "hashmapdepth_snapshot_free": (None, [ctypes.c_void_p, ctypes.c_uint64]),
    "orders_get": (ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_uint64]),
}

_loaded: tuple | None = None


def available() -> bool:
    """Whether hftbacktest (the ``backtest`` extra) can be loaded."""
    try:
        _load()
    except HftctlError:
        return False
    return True


def _load():
    """hftbacktest's extension module and its C functions, without importing the package (numba)."""
    global _loaded
    if _loaded is not None:
        return _loaded
    name = "hftbacktest._hftbacktest"
    try:
        mod = sys.modules.get(name)
        if mod is None:
            spec = importlib.util.find_spec("hftbacktest")
            if spec is None or not spec.submodule_search_locations:
                raise ImportError("hftbacktest is not installed")
            folder = Path(spec.submodule_search_locations[0])
            so = next((p for p in folder.glob("_hftbacktest*") if p.suffix in (".so", ".pyd")), None)
            if so is None:
                raise ImportError(f"no extension module in {folder}")
            from importlib.metadata import version
            if version("hftbacktest") != HFTBACKTEST_VERSION:
                raise ImportError(f"hftbacktest {version('hftbacktest')} is installed; hftctl drives "
                                  f"{HFTBACKTEST_VERSION}'s C functions")
            loader = importlib.machinery.ExtensionFileLoader(name, str(so))
            mod = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader))
            loader.exec_module(mod)
            sys.modules[name] = mod       # a later `import hftbacktest` reuses it
        lib = ctypes.CDLL(mod.__file__)
        fns = {}
        for fn, (restype, argtypes) in _PROTOTYPES.items():
            f = getattr(lib, fn)
            f.restype, f.argtypes = restype, argtypes
            fns[fn] = f
    except (ImportError, OSError, AttributeError) as exc:
        raise HftctlError(f"hftbacktest's engine is not available ({exc}): {INSTALL_HINT}") from None
    _loaded = (mod, fns)
    return _loaded


class HbtDepth(OrderBook):
    """hftbacktest's depth behind the OrderBook API strategies use.

    Best ticks are refreshed by the bot after each clock step; level quantities are asked of
    hftbacktest when needed (tick by tick for narrow bands, one snapshot for wide ones).
    """

    __slots__ = ("_ptr", "_f", "_snap")

    def __init__(self, tick_size: float, lot_size: float, ptr: int, fns: dict) -> None:
        super().__init__(tick_size, lot_size)
        self._ptr, self._f, self._snap = ptr, fns, None

    def refresh(self) -> None:
        f, p = self._f, self._ptr
        self._snap = None
        b, a = f["hashmapdepth_best_bid_tick"](p), f["hashmapdepth_best_ask_tick"](p)
        self.best_bid_tick = NO_BID if b == INVALID_MIN else b
        self.best_ask_tick = NO_ASK if a == INVALID_MAX else a

    def bid_qty_at_tick(self, tick: int) -> float:
        return self._f["hashmapdepth_bid_qty_at_tick"](self._ptr, tick)

    def ask_qty_at_tick(self, tick: int) -> float:
        return self._f["hashmapdepth_ask_qty_at_tick"](self._ptr, tick)

    def bid_qty(self, px: float) -> float:
        return self.bid_qty_at_tick(self.to_tick(px))

    def ask_qty(self, px: float) -> float:
        return self.ask_qty_at_tick(self.to_tick(px))

    @property
    def best_bid_qty(self) -> float:
        return self.bid_qty_at_tick(self.best_bid_tick) if self.has_bid else 0.0

    @property
    def best_ask_qty(self) -> float:
        return self.ask_qty_at_tick(self.best_ask_tick) if self.has_ask else 0.0

    def _levels(self, side: int) -> tuple[np.ndarray, np.ndarray]:
        """(ticks, qtys) of one side's live levels from one depth snapshot per clock step
        (levels hftbacktest keeps past the best after a crossing update are stale: dropped)."""
        if self._snap is None:
            n = ctypes.c_uint64(0)
            ptr = self._f["hashmapdepth_snapshot"](self._ptr, ctypes.byref(n))
            try:
                rows = np.zeros(0, dtype=EVENT_DTYPE)
                if ptr and n.value:
                    buf = (ctypes.c_char * (n.value * EVENT_DTYPE.itemsize)).from_address(ptr)
                    rows = np.frombuffer(buf, dtype=EVENT_DTYPE).copy()
            finally:
                if ptr:
                    self._f["hashmapdepth_snapshot_free"](ptr, n.value)
            rows = rows[rows["qty"] > 0]
            ticks = np.round(rows["px"] / self.tick_size).astype(np.int64)
            bid = (rows["ev"] & BUY_EVENT) != 0
            keep_b, keep_a = bid & (ticks <= self.best_bid_tick), ~bid & (ticks >= self.best_ask_tick)
            self._snap = ((ticks[keep_b], rows["qty"][keep_b]), (ticks[keep_a], rows["qty"][keep_a]))
        return self._snap[0 if side > 0 else 1]

    def _side(self, side: int) -> dict[int, float]:
        ticks, qtys = self._levels(side)
        return dict(zip(ticks.tolist(), qtys.tolist()))

    # OrderBook keeps levels in the slots ``bids``/``asks`` (its __init__ sets them to {});
    # here they are read from hftbacktest on demand, and assignments are ignored.
    bids = property(lambda self: self._side(1), lambda self, _value: None)
    asks = property(lambda self: self._side(-1), lambda self, _value: None)

    def qty_between_ticks(self, side: int, lo: int, hi: int) -> float:
        if side > 0:
            hi = min(hi, self.best_bid_tick)
        else:
            lo = max(lo, self.best_ask_tick)
        if hi < lo:
            return 0.0
        if hi - lo < 64:
            get = self.bid_qty_at_tick if side > 0 else self.ask_qty_at_tick
            return sum(get(t) for t in range(lo, hi + 1))
        ticks, qtys = self._levels(side)
        return float(qtys[(ticks >= lo) & (ticks <= hi)].sum())



class HbtBot(ReplayBot):
    """The bot API over hftbacktest's ``HashMapMarketDepthBacktest``."""

    engine = f"hftbacktest {HFTBACKTEST_VERSION}"

    def __init__(self, data: np.ndarray | str | Path, instrument: Instrument,
                 model: ExecutionModel | None = None, *, duration_ns: int | None = None,
                 record_interval_ns: int = 1_000_000_000) -> None:
        mod, fns = _load()
        super().__init__(data, instrument, model, duration_ns, record_interval_ns)
        data, model = self.data, self.model
        self._f = fns
        # hftbacktest reads the rows in place: they must stay alive as long as the engine.
        self._rows = np.ascontiguousarray(data.astype(EVENT_DTYPE, copy=False))
        self._latency = order_latency_table(model, data)
        asset = mod.BacktestAsset()
        asset._add_data_ndarray(self._rows.ctypes.data, len(self._rows))
        asset.linear_asset(1.0)
        if self._latency is None:
            asset.constant_order_latency(model.entry_latency_ns, model.response_latency_ns)
        else:
            asset._intp_order_latency_ndarray(self._latency.ctypes.data, len(self._latency), 0)
        q, n = model.queue_model, model.queue_power
        {"risk-averse": lambda: asset.risk_adverse_queue_model(),
         "power": lambda: asset.power_prob_queue_model(n),
         "power2": lambda: asset.power_prob_queue_model2(n),
         "power3": lambda: asset.power_prob_queue_model3(n),
         "log": lambda: asset.log_prob_queue_model(),
         "log2": lambda: asset.log_prob_queue_model2()}[q]()
        if model.partial_fills:
            asset.partial_fill_exchange()
        else:
            asset.no_partial_fill_exchange()
        asset.trading_value_fee_model(model.maker_fee, model.taker_fee)
        asset.tick_size(instrument.tick_size)
        asset.lot_size(instrument.lot_size)
        asset.last_trades_capacity(MAX_TRADES)
        self._ptr = mod.build_hashmap_backtest([asset])
        self._depth = HbtDepth(instrument.tick_size, instrument.lot_size,
                               fns["hashmapbt_depth"](self._ptr, 0), fns)
        self._books[0] = self._depth
        self._state = _State.from_address(fns["hashmapbt_state_values"](self._ptr, 0))
        self._orders_ptr = fns["hashmapbt_orders"](self._ptr, 0)
        self._elapse = fns["hashmapbt_elapse"]
        self._now = fns["hashmapbt_current_timestamp"]
        self._get = fns["orders_get"]
        # hftbacktest 2.4.4's local state applies a fill only on a Filled response
        # (proc/local.rs), so with partial fills it misses every partial execution: the
        # account is then kept here from the orders' executed quantities instead.
        self._own: Account | None = Account() if model.partial_fills else None
        self._inflight: dict[int, Order] = {}
        self._fills = 0
        self._seqno = 0
        self._trades_len = ctypes.c_size_t(0)
        self._closed = False
        self._started = False

    def progress(self) -> tuple[int, int]:
        span = max(self.end_timestamp - self.start_timestamp, 1)
        return min(self.current_timestamp - self.start_timestamp, span), span

    # --- clock --------------------------------------------------------------------------------

    def elapse(self, duration_ns: int) -> bool:
        before = self.current_timestamp
        rc = self._elapse(self._ptr, duration_ns)
        # Elapsing to a target leaves hftbacktest's clock exactly there (one call fewer).
        self._after_step(before + duration_ns if rc == 0 and self._started else None)
        self.sample_equity()
        return self._alive(rc)

    def wait_next(self, timeout_ns: int) -> bool:
        rc = self._f["hashmapbt_wait_next_feed"](self._ptr, True, timeout_ns)
        self._after_step()
        self.sample_equity()
        return self._alive(rc)

    def _alive(self, rc: int) -> bool:
        if rc in (0, 2, 3):
            return True
        if rc == 1:
            self.finished = True
            return False
        msg = f"hftbacktest's engine failed: {_ERRORS.get(rc, 'unknown error')} (code {rc})"
        if rc == 14 and self.model.partial_fills:
            # PartialFillExchange (2.4.4 and later) marks an order Filled when the queue model's
            # executable quantity equals what is left, but only removes it when it exceeds it.
            msg += ("; a known hftbacktest bug of its partial-fill exchange (an exactly filled "
                    "order stays in its book): run without --partial-fills")
        raise HftctlError(msg)

    def _after_step(self, now: int | None = None) -> None:
        """Read what the step changed: clock, best prices, orders (state values: on demand)."""
        if now is None:
            now = self._now(self._ptr)
            if now == INVALID_MAX:        # before the first step hftbacktest has no time yet
                return
        self._started = True
        self.current_timestamp = now
        self._depth.refresh()
        trades = self._state.num_trades
        if trades != self._fills or self.model.partial_fills:
            # a fill can reach any resting order; with partial fills, without a Filled status
            self._fills = trades
            self._sync(list(self._orders[0].values()))
        elif self._inflight:
            self._sync(list(self._inflight.values()))

    def position(self, i: int = 0) -> float:
        return self._state.position if self._own is None else self._own.position

    def account(self, i: int = 0) -> Account:
        """hftbacktest's state values, as the Account the report and strategies read; with
        partial fills, the fills the orders report (see ``__init__``)."""
        if self._own is not None:
            return self._own
        st, acc = self._state, self._accounts[0]
        acc.position, acc.balance, acc.fee, acc.num_trades = st.position, st.balance, st.fee, st.num_trades
        acc.trading_volume, acc.trading_value = st.trading_volume, st.trading_value
        return acc

    def order_seq(self, i: int = 0) -> int:
        return self._seqno

    def _sync(self, orders: list[Order]) -> None:
        get, optr = self._get, self._orders_ptr
        for o in orders:
            if not o.active and o.req is None:
                continue
            p = get(optr, o.order_id)
            if not p:
                continue
            h = _Order.from_address(p)
            status = _STATUS[h.status] if h.status < len(_STATUS) else "none"
            req = o.req if h.req else None
            exec_qty = h.exec_qty
            # executed so far: hftbacktest keeps qty and what is left (after a cancel too)
            filled = round(h.qty - h.leaves_qty, 12) if status not in ("none", "rejected") else o.cum_qty
            if status == o.status and req == o.req and h.leaves_qty == o.leaves_qty and filled == o.cum_qty:
                continue
            self._seqno += 1
            if req is None:
                self._inflight.pop(o.order_id, None)
            o.status, o.req, o.leaves_qty = status, req, h.leaves_qty
            o.px = self._depth.to_price(h.price_tick)
            o.qty = h.qty
            if h.exch_timestamp > 0:
                o.exch_ts = h.exch_timestamp
            if filled > o.cum_qty:
                o.exec_qty = exec_qty
                o.exec_px = self._depth.to_price(h.exec_price_tick)
                if self._own is not None:
                    rate = self.model.maker_fee if h.maker else self.model.taker_fee
                    self._own.fill(o.side, o.exec_px, filled - o.cum_qty, rate)
                o.cum_qty = filled
            if status == "expired" and o.reason is None:
                o.reason = "post-only order would cross" if o.time_in_force == GTX else "nothing to take"

    # --- market data --------------------------------------------------------------------------

    def depth(self, i: int = 0) -> HbtDepth:
        return self._depth

    def last_trades(self, i: int = 0) -> list[TradeTick]:
        ptr = self._f["hashmapbt_last_trades"](self._ptr, 0, ctypes.byref(self._trades_len))
        n = self._trades_len.value
        if not ptr or n == 0:
            return []
        buf = (ctypes.c_char * (n * EVENT_DTYPE.itemsize)).from_address(ptr)
        rows = np.frombuffer(buf, dtype=EVENT_DTYPE)[:MAX_TRADES]
        side = np.where((rows["ev"] & BUY_EVENT) != 0, 1, np.where((rows["ev"] & (1 << 28)) != 0, -1, 0))
        return [TradeTick(lt, et, s, px, q) for lt, et, s, px, q in
                zip(rows["local_ts"].tolist(), rows["exch_ts"].tolist(), side.tolist(),
                    rows["px"].tolist(), rows["qty"].tolist())]

    def clear_last_trades(self, i: int | None = None) -> None:
        self._f["hashmapbt_clear_last_trades"](self._ptr, 0)

    # --- requests -----------------------------------------------------------------------------

    def clear_inactive_orders(self, i: int | None = None) -> None:
        super().clear_inactive_orders(i)
        self._f["hashmapbt_clear_inactive_orders"](self._ptr, 0)

    def _check(self, rc: int, what: str, o: Order) -> None:
        if rc != 0:
            raise HftctlError(f"hftbacktest refused {what} of order {o.order_id}: "
                              f"{_ERRORS.get(rc, 'unknown error')} (code {rc})")

    def _send_new(self, i: int, order: Order) -> None:
        f = self._f["hashmapbt_submit_buy_order" if order.side == BUY else "hashmapbt_submit_sell_order"]
        args = (self._ptr, 0, order.order_id, order.px, order.qty, _TIF[order.time_in_force],
                _TYPE[order.order_type], False)
        rc = f(*args)
        if rc == 10:             # the id's previous, finished order is still in its dict
            self._f["hashmapbt_clear_inactive_orders"](self._ptr, 0)
            rc = f(*args)
        self._check(rc, "the submission", order)
        self._inflight[order.order_id] = order

    def _send_cancel(self, i: int, order: Order) -> None:
        self._check(self._f["hashmapbt_cancel"](self._ptr, 0, order.order_id, False), "the cancel", order)
        self._inflight[order.order_id] = order

    def _send_modify(self, i: int, order: Order, px: float, qty: float) -> None:
        self._check(self._f["hashmapbt_modify"](self._ptr, 0, order.order_id, px, qty, False),
                    "the modify", order)
        self._inflight[order.order_id] = order

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._f["hashmapbt_close"](self._ptr)

    def __del__(self) -> None:
        if getattr(self, "_closed", True) is False:
            self.close()


__all__ = ["HbtBot", "HbtDepth", "available", "HFTBACKTEST_VERSION", "INSTALL_HINT"]
