"""Feed latency (local receive time minus the exchange's event time) and clock drift, in bounded
memory for files of any length.

Latency is kept as a histogram of whole milliseconds (exchange times are milliseconds, so nothing
finer exists), which gives exact percentiles; drift is the slope of a Theil-Sen fit (the median of
pairwise slopes, robust to the bursts of queueing delay a feed has) through the median latency of
each second, thinned to at most ``FIT_POINTS`` bins. A slope says how far the recorder's clock
walked against the exchange's over the file (or how the path's delay changed): ms per hour.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FIT_POINTS = 200


@dataclass
class LatencyStats:
    values: list[np.ndarray] = field(default_factory=list)     # distinct ms values per chunk
    counts: list[np.ndarray] = field(default_factory=list)
    sec_t: list[np.ndarray] = field(default_factory=list)      # second (ns since epoch, floored)
    sec_median: list[np.ndarray] = field(default_factory=list) # median latency in that second, ms

    def add(self, local_ns: np.ndarray, latency_ms: np.ndarray) -> None:
        if not len(latency_ms):
            return
        v, c = np.unique(latency_ms, return_counts=True)
        self.values.append(v)
        self.counts.append(c)
        sec = local_ns // 1_000_000_000
        order = np.lexsort((latency_ms, sec))
        sec, lat = sec[order], latency_ms[order]
        first = np.flatnonzero(np.r_[True, sec[1:] != sec[:-1]])
        size = np.diff(np.r_[first, len(sec)])
        self.sec_t.append(sec[first] * 1_000_000_000)
        self.sec_median.append(lat[first + size // 2])

    def summary(self) -> dict:
        if not self.values:
            return {"samples": 0}
        v = np.concatenate(self.values)
        c = np.concatenate(self.counts)
        values, inverse = np.unique(v, return_inverse=True)
        counts = np.bincount(inverse, weights=c).astype(np.int64)
        cum = np.cumsum(counts)
        total = int(cum[-1])

        def pct(q: float) -> float:
            return float(values[np.searchsorted(cum, q * total, side="left")])

        t, med = self.per_second()
        return {"samples": total, "min": float(values[0]), "p50": pct(0.5), "p99": pct(0.99),
                "max": float(values[-1]), "drift_ms_per_hour": drift_ms_per_hour(t, med)}

    def per_second(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.sec_t:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(self.sec_t), np.concatenate(self.sec_median)


def drift_ms_per_hour(t_ns: np.ndarray, latency_ms: np.ndarray) -> float | None:
    """Theil-Sen slope of latency over time in ms per hour; None with under a minute of data."""
    if len(t_ns) < 2 or int(t_ns.max() - t_ns.min()) < 60 * 10**9:
        return None
    order = np.argsort(t_ns, kind="stable")
    t, y = t_ns[order].astype(np.float64) / 3.6e12, latency_ms[order].astype(np.float64)   # hours, ms
    if len(t) > FIT_POINTS:
        edges = np.searchsorted(t, np.linspace(t[0], t[-1], FIT_POINTS + 1)[1:-1])
        groups = [g for g in zip(np.split(t, edges), np.split(y, edges)) if len(g[0])]
        t = np.array([np.median(g[0]) for g in groups])
        y = np.array([np.median(g[1]) for g in groups])
    i, j = np.triu_indices(len(t), 1)
    dt = t[j] - t[i]
    ok = dt > 0
    return round(float(np.median((y[j] - y[i])[ok] / dt[ok])), 1) if ok.any() else None
