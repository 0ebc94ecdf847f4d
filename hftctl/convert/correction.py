"""hftbacktest's timestamp and event-order correction, vectorised, with identical results.

``correct_local_timestamp`` and ``correct_event_order`` follow hftbacktest 2.4.4
(``hftbacktest/data/validation.py``) exactly; its numba loops are replaced by numpy so the
converter does not need numba (and its compile time). The event-order merge is solved in closed
form for the shape every real recording has (see ``_merge_groups``); anything else falls back to
a literal port of hftbacktest's loop, so results are identical either way.
"""

from __future__ import annotations

import logging

import numpy as np

from hftctl.convert.events import EXCH_EVENT, LOCAL_EVENT, take_rows
from hftctl.errors import HftctlError

log = logging.getLogger(__name__)


def correct_local_timestamp(data: np.ndarray, base_latency: int = 0) -> int:
    """Shift local_ts in place so no row arrives before it was sent; returns the shift (ns).

    As in hftbacktest: only when the smallest feed latency (local_ts - exch_ts) is negative, every
    local_ts moves by -min_latency + base_latency; otherwise nothing changes (base_latency too).
    """
    if len(data) == 0:
        return 0
    latency = int(np.min(data["local_ts"] - data["exch_ts"]))
    if latency >= 0:
        return 0
    offset = -latency + int(base_latency)
    log.info("local_ts is behind exch_ts by %d ns; shifting local_ts by %d ns", -latency, offset)
    data["local_ts"] += offset
    return offset


def correct_event_order(data: np.ndarray) -> np.ndarray:
    """Split rows so exchange-side events are in exch_ts order and local-side in local_ts order.

    Same output as hftbacktest's ``correct_event_order(data, argsort(exch_ts, mergesort),
    argsort(local_ts, mergesort))``: rows whose position agrees in both orders appear once with
    both EXCH_EVENT and LOCAL_EVENT, the others twice (once per side).
    """
    n = len(data)
    if n == 0:
        return data.copy()
    exch = data["exch_ts"]
    local = data["local_ts"]
    # Groups: runs of consecutive rows with the same (exch_ts, local_ts) -- one message's rows.
    boundary = np.empty(n, bool)
    boundary[0] = True
    np.not_equal(exch[1:], exch[:-1], out=boundary[1:])
    boundary[1:] |= local[1:] != local[:-1]
    g_start = np.flatnonzero(boundary)
    g_exch = exch[g_start]
    g_local = local[g_start]
    g_size = np.diff(np.append(g_start, n))

    e_order = np.argsort(g_exch, kind="stable")
    l_order = np.argsort(g_local, kind="stable")
    ke, kl = g_exch[e_order], g_local[e_order]
    # Closed form needs the exchange order to be strictly increasing in (exch_ts, local_ts).
    if len(ke) > 1 and not np.all((ke[1:] > ke[:-1]) | ((ke[1:] == ke[:-1]) & (kl[1:] > kl[:-1]))):
        log.debug("event order: irregular input, using the row-by-row merge")
        return _merge_rows(data)
    emissions, flags = _merge_groups(e_order, l_order)
    sizes = g_size[emissions]
    total = int(sizes.sum())
    # Row indices of each emitted group, expanded: start of group + 0..size-1.
    first_out = np.cumsum(sizes) - sizes
    idx = np.arange(total, dtype=np.int64) + np.repeat(g_start[emissions] - first_out, sizes)
    out = take_rows(data, idx)
    out["ev"] |= np.repeat(flags, sizes)
    return out


def _merge_groups(e_order: np.ndarray, l_order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """hftbacktest's merge of the exchange order E and the local order L, on message groups.

    With E strictly increasing in (exch_ts, local_ts) and keys unique per group, hftbacktest's
    loop, at local group L[j], first emits (exchange-only) every pending E group ranked below it,
    then emits L[j] once with both flags if the E pointer sits exactly on it, or local-only if it
    was already passed. With c_j = rank of L[j] in E, the pointer before L[j] is
    P_j = max(c_j, max_{i<j} c_i + 1), and L[j] is emitted with both flags iff c_j > max_{i<j} c_i.
    """
    g = len(e_order)
    rank = np.empty(g, np.int64)
    rank[e_order] = np.arange(g)
    c = rank[l_order]
    prev_max = np.empty(g, np.int64)
    prev_max[0] = -1
    np.maximum.accumulate(c[:-1], out=prev_max[1:])
    both = c > prev_max
    pointer = np.maximum(c, prev_max + 1)           # P_j, non-decreasing

    e_only = np.ones(g, bool)
    e_only[c[both]] = False
    e_only_pos = np.flatnonzero(e_only)             # E ranks emitted exchange-only, in order
    slot = np.searchsorted(pointer, e_only_pos, side="right")   # emitted just before L[slot]
    n_out = g + len(e_only_pos)
    # Output position: L[j] comes after j earlier L emissions and every E-only emission with slot <= j.
    l_pos = np.arange(g) + np.searchsorted(slot, np.arange(g), side="right")
    e_pos = np.arange(len(e_only_pos)) + slot
    emissions = np.empty(n_out, np.int64)
    flags = np.empty(n_out, np.uint64)
    emissions[l_pos] = l_order
    flags[l_pos] = np.where(both, EXCH_EVENT | LOCAL_EVENT, LOCAL_EVENT).astype(np.uint64)
    emissions[e_pos] = e_order[e_only_pos]
    flags[e_pos] = EXCH_EVENT
    return emissions, flags


def _merge_rows(data: np.ndarray) -> np.ndarray:
    """Literal port of hftbacktest's row-by-row merge, for inputs the closed form does not cover."""
    n = len(data)
    exch = data["exch_ts"].tolist()
    local = data["local_ts"].tolist()
    se = np.argsort(data["exch_ts"], kind="mergesort").tolist()
    sl = np.argsort(data["local_ts"], kind="mergesort").tolist()
    idx: list[int] = []
    flags: list[int] = []
    i = j = 0
    while i < n or j < n:
        if i < n and j < n:
            a, b = se[i], sl[j]
            ka, kb = (exch[a], local[a]), (exch[b], local[b])
            if ka == kb:
                idx.append(a)
                flags.append(EXCH_EVENT | LOCAL_EVENT)
                i += 1
                j += 1
            elif ka < kb:
                idx.append(a)
                flags.append(EXCH_EVENT)
                i += 1
            else:
                idx.append(b)
                flags.append(LOCAL_EVENT)
                j += 1
        elif j < n:
            idx.append(sl[j])
            flags.append(LOCAL_EVENT)
            j += 1
        else:
            idx.append(se[i])
            flags.append(EXCH_EVENT)
            i += 1
    out = take_rows(data, np.array(idx, np.int64))
    out["ev"] |= np.array(flags, np.uint64)
    return out


def validate_event_order(data: np.ndarray) -> None:
    """Raise if exchange events are not in exch_ts order or local events not in local_ts order."""
    ev = data["ev"]
    exch_ev = (ev & np.uint64(EXCH_EVENT)) != 0
    local_ev = (ev & np.uint64(LOCAL_EVENT)) != 0
    if np.any(np.diff(data["exch_ts"][exch_ev]) < 0):
        raise HftctlError("exchange events are out of order after correction (converter bug)")
    if np.any(np.diff(data["local_ts"][local_ev]) < 0):
        raise HftctlError("local events are out of order after correction (converter bug)")
