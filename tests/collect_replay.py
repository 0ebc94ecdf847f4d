"""Test helpers: rebuild a Binance book from a recording, two independent ways, and compare it
with the simulator's book.

- ``book_from_events``: from ``hftctl convert``'s hftbacktest event rows (clear/snapshot/depth).
- ``book_from_lines``: from the raw lines, following Binance's documented procedure (snapshot,
  then diffs with ``u`` >= lastUpdateId, those recorded before it included; a gap mark drops the
  book until the next snapshot).

``decompress_all`` reads a recording strictly (standard tools too): any torn member fails.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import numpy as np
import orjson
import zstandard

from hftctl.convert import events as E


def decompress_all(path: Path) -> bytes:
    """Every member/frame of a recording, with the standard tools as well as Python's decoders."""
    if path.suffix == ".gz":
        assert subprocess.run(["gzip", "-t", str(path)]).returncode == 0, "gzip -t rejects the file"
        return gzip.decompress(path.read_bytes())       # raises on a torn member
    if shutil.which("zstd"):
        assert subprocess.run(["zstd", "-t", "-q", str(path)]).returncode == 0, "zstd -t rejects the file"
    dctx = zstandard.ZstdDecompressor()
    raw, out = path.read_bytes(), []
    while raw:  # frame by frame: stream_reader would stop quietly at a torn frame
        obj = dctx.decompressobj()
        out.append(obj.decompress(raw))
        assert obj.eof, "torn zstd frame at the end"
        raw = obj.unused_data
    return b"".join(out)


Book = tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]   # bids, asks: price -> qty


def recording_lines(out: Path) -> list[bytes]:
    lines: list[bytes] = []
    for path in sorted(out.iterdir()):
        lines += gzip.decompress(path.read_bytes()).splitlines()
    return lines


def book_from_lines(lines: list[bytes], *, file_order: bool = False) -> tuple[Book, dict]:
    """Returns the book and the last snapshot's body (for its price coverage).

    By default a client's procedure (Binance's "manage a local order book"): a snapshot is applied
    with every diff newer than it, also the ones recorded *before* it. A snapshot is fetched while
    diffs keep coming, so those are common on a fast market: the recording holds them all, in the
    order they arrived. ``file_order=True`` reads line by line as hftbacktest's converter (and
    ``hftctl convert``) does: the snapshot then overwrites those newer diffs' levels, which stay
    stale until a later diff touches them (`stale_levels`)."""
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    synced, last_id, snap = False, 0, None
    since_gap: list[dict] = []          # diffs of the current unbroken stretch, in arrival order

    def apply(data: dict) -> None:
        for side, levels in ((bids, data["b"]), (asks, data["a"])):
            for p, q in levels:
                if Decimal(q) == 0:
                    side.pop(Decimal(p), None)
                else:
                    side[Decimal(p)] = Decimal(q)

    for line in lines:
        msg = orjson.loads(line.split(b" ", 1)[1])
        if "lastUpdateId" in msg:
            bids = {Decimal(p): Decimal(q) for p, q in msg["bids"]}
            asks = {Decimal(p): Decimal(q) for p, q in msg["asks"]}
            synced, last_id, snap = True, msg["lastUpdateId"], msg
            if not file_order:
                newer = []
                for data in reversed(since_gap):
                    if data["u"] < last_id:
                        break
                    newer.append(data)
                for data in reversed(newer):
                    apply(data)
            continue
        data = msg["data"]
        if data.get("e") == "gap":
            synced = False
            since_gap.clear()
        elif data.get("e") == "depthUpdate":
            if not file_order:
                since_gap.append(data)
            if synced and data["u"] >= last_id:
                apply(data)
    assert snap is not None, "no snapshot in the recording"
    return (bids, asks), snap


def stale_levels(lines: list[bytes], client: Book) -> tuple[set[Decimal], set[Decimal]]:
    """Bid and ask prices where reading the recording in file order (hftbacktest's converter)
    ends differently from a client's procedure (``client``: ``book_from_lines(lines)``'s book,
    which the caller has already built): levels of diffs recorded before a snapshot that is
    older than them, untouched since. hftbacktest's format has no way to say so."""
    in_file_order, _ = book_from_lines(lines, file_order=True)
    (cb, ca), (fb, fa) = normalise(client), normalise(in_file_order)
    return ({p for p in cb.keys() | fb.keys() if cb.get(p) != fb.get(p)},
            {p for p in ca.keys() | fa.keys() if ca.get(p) != fa.get(p)})


def book_from_events(data: np.ndarray) -> Book:
    """Apply hftbacktest event rows in exchange order, as its market depth would."""
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    rows = data[(data["ev"] & np.uint64(E.EXCH_EVENT)) != 0]
    for ev, px, qty in zip(rows["ev"].tolist(), rows["px"].tolist(), rows["qty"].tolist()):
        kind = ev & 0xFF
        side = bids if ev & E.BUY_EVENT else asks
        p, q = Decimal(repr(px)), Decimal(repr(qty))
        if kind == E.DEPTH_CLEAR_EVENT:
            if not ev & (E.BUY_EVENT | E.SELL_EVENT):       # no side: the whole book
                bids.clear()
                asks.clear()
            elif side is bids:
                for k in [k for k in bids if k >= p]:
                    del bids[k]
            else:
                for k in [k for k in asks if k <= p]:
                    del asks[k]
        elif kind in (E.DEPTH_EVENT, E.DEPTH_SNAPSHOT_EVENT):
            if q == 0:
                side.pop(p, None)
            else:
                side[p] = q
    return bids, asks


def sim_book(state_book: dict) -> Book:
    return ({Decimal(p): Decimal(q) for p, q in state_book["bids"]},
            {Decimal(p): Decimal(q) for p, q in state_book["asks"]})


def assert_same_book(rebuilt: Book, sim: Book, snap: dict,
                     unknowable: tuple[set[Decimal], set[Decimal]] = (set(), set())) -> None:
    """A client can know every level inside the last snapshot's price range and every level a
    diff touched since; levels deeper than the snapshot's 1000 that nothing touched are invisible
    to any client. So: every rebuilt level equals the sim's, and every sim level inside the
    snapshot's range is rebuilt. ``unknowable`` (bid and ask prices) are left out of the
    comparison: see `stale_levels`."""
    lo_bid = min(Decimal(p) for p, _ in snap["bids"])
    hi_ask = max(Decimal(p) for p, _ in snap["asks"])
    (rb, ra), (sb, sa) = normalise(rebuilt), normalise(sim)
    for book, skip in ((rb, unknowable[0]), (sb, unknowable[0]), (ra, unknowable[1]), (sa, unknowable[1])):
        for p in skip:
            book.pop(p, None)
    assert len(rb) + len(ra) > 100, "a real comparison, not two empty books"
    assert {p: q for p, q in rb.items() if sb.get(p) != q} == {}, "bid levels that differ from the sim's"
    assert {p: q for p, q in ra.items() if sa.get(p) != q} == {}, "ask levels that differ from the sim's"
    assert {p: q for p, q in sb.items() if p >= lo_bid and p not in rb} == {}, "sim bids missing"
    assert {p: q for p, q in sa.items() if p <= hi_ask and p not in ra} == {}, "sim asks missing"
    if rb and ra:
        assert max(rb) == max(sb) and min(ra) == min(sa)


def normalise(book: Book) -> Book:
    """Compare numbers, not spellings ("0.010" == "0.01")."""
    bids, asks = book
    return ({p.normalize(): q.normalize() for p, q in bids.items()},
            {p.normalize(): q.normalize() for p, q in asks.items()})
