"""The converter's C accelerator against its pure-Python path: same rows, same problems, exact floats.

The C scans only take the plain layout and hand anything else to the Python path, so the two must
agree on real recordings and on damaged ones alike; floats must equal ``float(text)`` bit for bit.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import random
import re
import struct

import numpy as np
import pytest

from hftctl.convert import ConvertOptions, accel, read_file
from hftctl.convert.lines import split_lines
from hftctl.convert.problems import ProblemLog
from tests.test_convert_bybit import messages as bybit_messages, write as bybit_write

RECORDINGS = ["recordings/usdm/btcusdt_20240808.gz", "recordings/usdm/ethusdt_20240808.gz",
              "recordings/cm/btcusd_perp_20240808.gz", "recordings/spot/btcusdt_20240808.gz",
              "recordings/spot/ethusdt_20240808.gz", "recordings/spot/btcusdt_20240809.gz"]


@pytest.fixture
def scan():
    """The built C module; CI must have built it (a compiler is part of the setup there)."""
    if accel.scan is None:
        if os.environ.get("CI") and importlib.util.find_spec("hftctl.convert._scan") is None:
            pytest.fail("the converter's C accelerator (hftctl/convert/_scan.c) was not built")
        pytest.skip("C accelerator not built or switched off (HFTCTL_PURE_PYTHON)")
    return accel.scan


def both_paths(monkeypatch, scan, fn):
    """``fn()`` with the accelerator, then without it."""
    fast = fn()
    monkeypatch.setattr(accel, "scan", None)
    slow = fn()
    monkeypatch.setattr(accel, "scan", scan)
    return fast, slow


def assert_same_read(fast, slow):
    assert fast.exchange == slow.exchange
    assert np.array_equal(fast.data, slow.data)
    assert fast.problems.skipped == slow.problems.skipped
    assert fast.problems.problems == slow.problems.problems


@pytest.mark.parametrize("rel", RECORDINGS)
def test_same_rows_on_real_recordings(shared_data, monkeypatch, scan, rel):
    opts = ConvertOptions(jobs=1)
    fast, slow = both_paths(monkeypatch, scan, lambda: read_file(str(shared_data / rel), opts))
    assert len(fast.data) > 10_000 and fast.problems.skipped == 0
    assert_same_read(fast, slow)


def _mutate(line: bytes, rng: random.Random) -> bytes:
    """One random edit of the kinds a damaged file shows: cut, dropped/extra/changed byte."""
    k = rng.randrange(len(line))
    what = rng.randrange(4)
    if what == 0:
        return line[:k]
    if what == 1:
        return line[:k] + line[k + 1:]
    junk = bytes([rng.choice(b'[]",.-:{}0123456789eE x')])
    if what == 2:
        return line[:k] + junk + line[k:]
    return line[:k] + junk + line[k + 1:]


def _damage_and_compare(lines: list[bytes], exchange: str, tmp_path, monkeypatch, scan,
                        rng: random.Random, rounds: int = 40) -> None:
    """Windows of ``lines`` with one line damaged each time: both paths keep the same rows and
    name the same lines. One damaged line among good ones, so the C scan has to either parse it
    exactly as Python's lenient path does or hand the chunk back."""
    path = tmp_path / "damaged.txt"
    opts = ConvertOptions(jobs=1, exchange=exchange)
    for _ in range(rounds):
        window = lines[rng.randrange(max(1, len(lines) - 30)):][:30]
        k = rng.randrange(len(window))
        window[k] = _mutate(window[k].rstrip(b"\n"), rng) + b"\n"
        path.write_bytes(b"".join(window))
        fast, slow = both_paths(monkeypatch, scan, lambda: read_file(str(path), opts))
        assert_same_read(fast, slow)


@pytest.mark.parametrize("seed", range(len(RECORDINGS)))
def test_same_rows_and_problems_on_damaged_lines(shared_data, tmp_path, monkeypatch, scan, seed):
    rel = RECORDINGS[seed]
    with gzip.open(shared_data / rel, "rb") as f:
        lines = [next(f) for _ in range(3000)]
    exchange = "binancespot" if "/spot/" in rel else "binancefuturescm" if "/cm/" in rel else "binancefutures"
    _damage_and_compare(lines, exchange, tmp_path, monkeypatch, scan, random.Random(seed))


def test_same_rows_and_problems_on_damaged_bybit_lines(tmp_path, monkeypatch, scan):
    lines = gzip.decompress(bybit_write(tmp_path / "bybit.gz", bybit_messages()).read_bytes())
    _damage_and_compare(lines.splitlines(keepends=True), "bybit", tmp_path, monkeypatch, scan,
                        random.Random(11), rounds=200)


def test_split_lines_edge_cases(monkeypatch, scan):
    ts = b"1723075200123456789"
    data = (ts + b' {"a":1}\r\n'            # CRLF
            + b"\n"                          # blank
            + ts + b" \n"                    # nothing after the space
            + b"9223372036854775808 {}\n"    # above 2^63 - 1
            + b"12345 {\"short\":1}\n"       # short timestamp: slow path, accepted
            + b"17230752001234567890 {}\n"   # 20 digits: beyond int64
            + b"x" * 30 + b"\n"
            + ts + b" " + b"{" + b"y" * 100 + b"}\n"      # longer than the head
            + ts + b' {"last":true}')        # no newline at the end
    def run():
        problems = ProblemLog("t")
        t = split_lines(data, 1, problems)
        return t, problems
    (a, pa), (b, pb) = both_paths(monkeypatch, scan, run)
    for name in ("line_no", "start", "end", "local_ts", "head"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert pa.problems == pb.problems
    assert a.line_no.tolist() == [1, 5, 8, 9]
    assert [a.message(i) for i in range(len(a))][:2] == [b'{"a":1}', b'{"short":1}']
    assert a.local_ts[1] == 12345
    assert {p.line for p in pa.problems} == {3, 4, 6, 7}


def _random_decimal(rng: random.Random) -> bytes:
    shape = rng.randrange(6)
    if shape == 0:                                           # exchange-like prices
        return f"{rng.uniform(0, 100000):.{rng.randrange(0, 9)}f}".encode()
    if shape == 1:                                           # long mantissas near 2^53
        return str(rng.randrange(2**52, 2**54)).encode()
    if shape == 2:                                           # many fraction digits
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 24)))
        return f"{rng.randrange(0, 1000)}.{digits}".encode()
    if shape == 3:
        return f"-{rng.randrange(0, 10**6)}.{rng.randrange(0, 10**6):06d}".encode()
    if shape == 4:                                           # leading zeros, tiny values
        return ("0." + "0" * rng.randrange(0, 15) + str(rng.randrange(1, 10**5))).encode()
    return str(rng.randrange(0, 10**19)).encode()


def test_decimals_equal_float_bit_for_bit(scan):
    rng = random.Random(7)
    texts = [_random_decimal(rng) for _ in range(50_000)]
    texts += [b"9007199254740992", b"0.000", b"-0.0", b"1e5", b"12345678901234567890", b"1.",
              b".5", b"", b"-", b"05.488", b"-00", b"0.1234567890123456789012", b"4.35", b"61800.20"]
    exact = 0
    for text in texts:
        got = scan.parse_decimals(text, 1)
        if got is None:
            # Only what plain division cannot do exactly, or what is not a plain decimal.
            plain = re.fullmatch(rb"-?(0|[1-9]\d*)(?:\.(\d+))?", text)
            digits = plain and plain[1] + (plain[2] or b"")
            assert (not plain or len(digits) > 19 or int(digits) > 2**53
                    or len(plain[2] or b"") > 22), text
            continue
        exact += 1
        assert struct.pack("<d", float(text)) == bytes(got), text
    assert exact > 25_000
    assert scan.parse_decimals(b"05.488", 1) is None      # not JSON, as orjson says
    # What exchanges write always takes the fast path.
    for price in (b"61800.20", b"0.001", b"2650.5", b"-0.00012", b"100000", b"0.00000001"):
        assert scan.parse_decimals(price, 1) is not None
    assert scan.parse_decimals(b"1.5,2,-3.25", 3) == bytearray(struct.pack("<3d", 1.5, 2, -3.25))
    for bad, n in ((b"1.5,2", 3), (b"1.5,2,3", 2), (b"1.5;2", 2), (b"1.5,,2", 3)):
        assert scan.parse_decimals(bad, n) is None


def test_depth_levels_never_trusts_offsets_or_bytes(scan):
    """Garbage in: a clean ValueError for bad offsets, no crash, no level read past a message."""
    data = b'{"T":5,"b":[["1","2"]],"a":[]}}'
    starts, ends = np.array([0], np.int64), np.array([len(data)], np.int64)
    ok, ts, nb, na, values = scan.depth_levels(data, starts, ends, b'"T":', b'"b":[', b'"a":[', b"}}")
    assert list(ok) == [1] and np.frombuffer(ts, np.int64)[0] == 5
    assert np.frombuffer(values, np.float64).tolist() == [1.0, 2.0]
    with pytest.raises(ValueError):
        scan.depth_levels(data, starts, ends + 1, b'"T":', b'"b":[', b'"a":[', b"}}")
    with pytest.raises(ValueError):
        scan.depth_levels(data, starts[:0], ends, b'"T":', b'"b":[', b'"a":[', b"}}")
    rng = random.Random(3)
    for _ in range(3000):
        blob = bytes(rng.choice(b'{}[]",:0123456789.-Tba') for _ in range(rng.randrange(1, 60)))
        cut = np.array(sorted(rng.randrange(len(blob) + 1) for _ in range(2)), np.int64)
        ok, ts, nb, na, values = scan.depth_levels(blob, cut[:1], cut[1:], b'"T":', b'"b":[',
                                                   b'"a":[', b"}")
        assert len(values) == 16 * (np.frombuffer(nb, np.int64) + np.frombuffer(na, np.int64)).sum()
        assert ok[0] or (len(values) == 0 and nb == bytearray(8))
