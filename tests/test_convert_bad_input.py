"""hftctl convert on damaged input, through the real CLI: one clear line per problem naming file
and line, the rest converted, non-zero exit unless --skip-bad, never a traceback."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import zlib

import numpy as np
import pytest

from hftctl.convert import ConvertOptions, finalize, read_file

CM = "recordings/cm/btcusd_perp_20240808.gz"


def hftctl(*args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "hftctl", "convert", *args], capture_output=True,
                          text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


@pytest.fixture(scope="module")
def cm_lines(shared_data) -> list[bytes]:
    with gzip.open(shared_data / CM, "rb") as f:
        return f.read().splitlines(keepends=True)


def test_truncated_gzip(shared_data, tmp_path, cm_lines):
    raw = (shared_data / CM).read_bytes()
    cut = tmp_path / "cut.gz"
    cut.write_bytes(raw[: len(raw) // 2])
    out = tmp_path / "cut.npz"
    proc = hftctl(str(cut), str(out), "-q")
    assert proc.returncode == 1
    assert f"{cut}:" in proc.stderr and "truncated" in proc.stderr
    assert "--skip-bad" in proc.stderr
    data = np.load(out)["data"]                 # the readable half was converted and written
    # Whole lines before the cut convert exactly as the same lines from an intact file.
    d = zlib.decompressobj(wbits=31).decompress(raw[: len(raw) // 2])
    good = d[: d.rfind(b"\n") + 1]
    ok = tmp_path / "ok.gz"
    ok.write_bytes(gzip.compress(good, 1))
    opts = ConvertOptions()
    assert np.array_equal(data, finalize(read_file(str(ok), opts).data, opts))
    assert hftctl(str(cut), str(out), "-q", "--skip-bad").returncode == 0


def test_corrupt_gzip_middle(shared_data, tmp_path):
    raw = bytearray((shared_data / CM).read_bytes())
    mid = len(raw) // 2
    raw[mid:mid + 64] = bytes(64)
    bad = tmp_path / "corrupt.gz"
    bad.write_bytes(bytes(raw))
    proc = hftctl(str(bad), str(tmp_path / "c.npz"), "-q")
    assert proc.returncode == 1
    assert str(bad) in proc.stderr and ("corrupt" in proc.stderr or "malformed" in proc.stderr)
    assert len(np.load(tmp_path / "c.npz")["data"]) > 1000


def test_bad_lines_named_and_skipped(tmp_path, cm_lines):
    lines = list(cm_lines[:3000])
    lines.insert(100, b"1723161255030314667 this is not json\n")                      # line 101
    lines.insert(200, b'1723161255030314667 {"stream":"btcusd_perp@kline_1m","data":{}}\n')  # 201: known, ignored
    lines.insert(300, b'1723161255030314667 {"stream":"btcusd_perp@weird","data":{"e":"x"}}\n')  # 301
    lines.insert(400, b"garbage without timestamp\n")                                    # 401
    bad_depth = next(i for i in range(500, 3000) if b"@depth" in lines[i])
    lines[bad_depth] = lines[bad_depth][:200] + b"\n"                                    # cut-off JSON
    bad = tmp_path / "bad.gz"
    bad.write_bytes(gzip.compress(b"".join(lines), 1))
    out = tmp_path / "bad.npz"
    proc = hftctl(str(bad), str(out), "-q")
    assert proc.returncode == 1
    err = proc.stderr
    assert f"{bad}:101:" in err and f"{bad}:301:" in err and "unknown stream" in err
    assert f"{bad}:401:" in err and f"{bad}:{bad_depth + 1}:" in err
    assert f"{bad}:201:" not in err
    assert all(line.startswith(("warning: ", "error: ")) for line in err.strip().splitlines())
    # Everything else converted: equal to the file without the bad lines.
    clean = [l for i, l in enumerate(lines) if i not in (100, 200, 300, 400, bad_depth)]
    ok = tmp_path / "clean.gz"
    ok.write_bytes(gzip.compress(b"".join(clean), 1))
    opts = ConvertOptions()
    assert np.array_equal(np.load(out)["data"], finalize(read_file(str(ok), opts).data, opts))


def test_empty_inputs(tmp_path):
    empty = tmp_path / "empty.gz"
    empty.write_bytes(b"")
    proc = hftctl(str(empty), str(tmp_path / "e.npz"))
    assert proc.returncode == 1 and "empty" in proc.stderr and str(empty) in proc.stderr
    assert not (tmp_path / "e.npz").exists()
    gz_empty = tmp_path / "empty2.gz"
    gz_empty.write_bytes(gzip.compress(b""))
    proc = hftctl(str(gz_empty), str(tmp_path / "e.npz"))
    assert proc.returncode == 1 and "empty" in proc.stderr


def test_cli_usage_errors(tmp_path, shared_data):
    assert "no such file" in hftctl(str(tmp_path / "missing.gz"), str(tmp_path / "o.npz")).stderr
    proc = hftctl(str(shared_data / CM))
    assert proc.returncode == 1 and "output" in proc.stderr
    proc = hftctl(str(shared_data / CM), str(tmp_path / "o.npz"), "--exchange", "kraken")
    assert proc.returncode == 1 and "unknown exchange" in proc.stderr
    noise = tmp_path / "noise.txt"
    noise.write_bytes(b"hello\nworld\n")
    proc = hftctl(str(noise), str(tmp_path / "o.npz"))
    assert proc.returncode == 1 and "exchange" in proc.stderr


def test_cli_converts_quietly(shared_data, tmp_path):
    out = tmp_path / "cm.npz"
    proc = hftctl(str(shared_data / CM), str(out), "--quiet", "--compress-level", "0")
    assert proc.returncode == 0 and proc.stderr == "" and proc.stdout == ""
    opts = ConvertOptions()
    assert np.array_equal(np.load(out)["data"],
                          finalize(read_file(str(shared_data / CM), opts).data, opts))


def test_convert_data_script(shared_data, tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = tmp_path / "s.npz"
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    proc = subprocess.run(["bash", os.path.join(root, "scripts/convert_data.sh"),
                           str(shared_data / CM), str(out)], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert len(np.load(out)["data"]) > 100_000


def test_refuses_to_merge_different_symbols(shared_data, tmp_path):
    usdm = shared_data / "recordings/usdm"
    proc = hftctl(str(usdm), str(tmp_path / "both.npz"), "-q")
    assert proc.returncode == 1 and "different symbols" in proc.stderr and "btcusdt" in proc.stderr
    assert not (tmp_path / "both.npz").exists()


def test_truncated_zstd_and_exchange_error_lines(tmp_path, cm_lines):
    zstandard = pytest.importorskip("zstandard")
    lines = list(cm_lines[:4000])
    lines.insert(10, b'1723161255030314667 {"code":-1121,"msg":"Invalid symbol."}\n')     # line 11
    blob = zstandard.ZstdCompressor(level=1).compress(b"".join(lines))
    cut = tmp_path / "cut.zst"
    cut.write_bytes(blob[: len(blob) * 3 // 4])
    rows = read_file(str(cut), ConvertOptions())
    text = "\n".join(map(str, rows.problems.problems))
    assert f"{cut}:11: exchange error message" in text
    assert "zstd stream ends early" in text
    assert len(rows.data) > 10_000


def test_unreadable_file_among_several_is_reported(shared_data, tmp_path, cm_lines):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.gz").write_bytes(gzip.compress(b"".join(cm_lines[:3000]), 1))
    (folder / "b.txt").write_bytes(b"not a recording\n")
    out = tmp_path / "out"
    proc = hftctl(str(folder), str(out) + "/", "-q")
    assert proc.returncode == 1 and f"{folder / 'b.txt'}: cannot tell the exchange" in proc.stderr
    assert len(np.load(out / "a.npz")["data"]) > 1000
    assert hftctl(str(folder), str(out) + "/", "-q", "--skip-bad").returncode == 0
