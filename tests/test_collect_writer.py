"""RecordingWriter on real files: names, rotation, members, compression, SIGKILL survival, errors."""

from __future__ import annotations

import gzip
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import zstandard

from hftctl.collector.codec import GzipCodec, make_codec
from hftctl.collector.writer import RecordingWriter, file_name
from hftctl.errors import HftctlError
from tests.collect_replay import decompress_all
from tests.conftest import ROOT

T0 = 1723161255030314667  # 2024-08-08 23:54:15 UTC, the first line of the real btcusdt recording


def read_zst(path: Path) -> bytes:
    with open(path, "rb") as f:
        return zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True).read()


def test_file_name_is_lowercase_symbol_and_utc_start():
    assert file_name("BTCUSDT", T0, ".gz") == "btcusdt_20240808_235415.gz"


def test_lines_are_ts_space_raw_and_each_flush_is_a_gzip_member(tmp_path):
    w = RecordingWriter(tmp_path, GzipCodec(), rotate_s=3600)
    w.write("BTCUSDT", T0, b'{"stream":"btcusdt@trade","data":{}}')
    w.flush()
    w.write("BTCUSDT", T0 + 1, b'{"lastUpdateId":1,"bids":[],"asks":[]}')
    w.write("ethusdt", T0 + 2, b'{"x":1}')
    w.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["btcusdt_20240808_235415.gz", "ethusdt_20240808_235415.gz"]
    data = (tmp_path / files[0]).read_bytes()
    assert data.count(b"\x1f\x8b\x08") == 2  # two flushes, two members
    assert gzip.decompress(data) == (
        b'%d {"stream":"btcusdt@trade","data":{}}\n%d {"lastUpdateId":1,"bids":[],"asks":[]}\n' % (T0, T0 + 1))
    assert w.stats.lines == {"btcusdt": 2, "ethusdt": 1}


def test_rotation_starts_new_files_on_the_boundary(tmp_path):
    w = RecordingWriter(tmp_path, GzipCodec(), rotate_s=3600)
    hour = 3600 * 10**9
    next_hour = (T0 // hour + 1) * hour
    w.write("btcusdt", T0, b"a")
    w.write("btcusdt", next_hour - 1, b"b")
    w.write("btcusdt", next_hour, b"c")
    w.write("btcusdt", next_hour - 5, b"d")  # clock stepped back: stays in the current file
    w.close()
    files = sorted(tmp_path.iterdir())
    assert [p.name for p in files] == ["btcusdt_20240808_235415.gz", "btcusdt_20240809_000000.gz"]
    assert gzip.decompress(files[0].read_bytes()).split(b"\n")[:-1] == [b"%d a" % T0, b"%d b" % (next_hour - 1)]
    assert gzip.decompress(files[1].read_bytes()).split(b"\n")[:-1] == [b"%d c" % next_hour, b"%d d" % (next_hour - 5)]


def test_zstd_writes_zst_frames(tmp_path):
    w = RecordingWriter(tmp_path, make_codec("zstd"), rotate_s=0)
    for i in range(3):
        w.write("btcusdt", T0 + i, b"msg%d" % i)
        w.flush()
    w.close()
    (path,) = tmp_path.iterdir()
    assert path.suffix == ".zst"
    assert read_zst(path) == b"".join(b"%d msg%d\n" % (T0 + i, i) for i in range(3))


def test_restart_in_the_same_second_appends_instead_of_overwriting(tmp_path):
    for text in (b"first", b"second"):
        w = RecordingWriter(tmp_path, GzipCodec())
        w.write("btcusdt", T0, text)
        w.close()
    (path,) = tmp_path.iterdir()
    assert gzip.decompress(path.read_bytes()) == b"%d first\n%d second\n" % (T0, T0)


def write_run(out: Path, compress: str, lines: list[tuple[int, bytes]], rotate_s: float = 3600) -> None:
    """One collector run: a writer that writes ``lines`` (one flush each) and closes."""
    w = RecordingWriter(out, make_codec(compress), rotate_s=rotate_s)
    for ts, text in lines:
        w.write("btcusdt", ts, text)
        w.flush()
    w.close()


@pytest.mark.parametrize("compress", ["gzip", "zstd"])
def test_restart_within_the_rotation_period_appends_to_that_periods_file(tmp_path, compress):
    """A restart minutes later (same hour) goes on with the file the first run named; the next
    hour's lines still go to a new file, and a restart in that hour appends there."""
    hour = 3600 * 10**9
    next_hour = (T0 // hour + 1) * hour
    write_run(tmp_path, compress, [(T0, b"a"), (T0 + 1, b"b")])
    write_run(tmp_path, compress, [(T0 + 200 * 10**9, b"c"), (next_hour + 5, b"d")])
    write_run(tmp_path, compress, [(next_hour + 600 * 10**9, b"e")])
    first, second = sorted(tmp_path.iterdir())
    assert (first.name, second.name) == (file_name("btcusdt", T0, first.suffix),
                                         file_name("btcusdt", next_hour, first.suffix))
    assert decompress_all(first) == b"%d a\n%d b\n%d c\n" % (T0, T0 + 1, T0 + 200 * 10**9)
    assert decompress_all(second) == b"%d d\n%d e\n" % (next_hour + 5, next_hour + 600 * 10**9)


def test_a_resumed_file_gets_the_restart_mark_first(tmp_path):
    """The collector passes its gap mark: the hole between the two runs is marked in the file."""
    write_run(tmp_path, "gzip", [(T0, b"a")])
    w = RecordingWriter(tmp_path, GzipCodec(), resume_mark=lambda sym, ts: b"restart %s %d" % (sym.encode(), ts))
    w.write("BTCUSDT", T0 + 5, b"b")
    w.write("BTCUSDT", T0 + 6, b"c")
    w.close()
    (path,) = tmp_path.iterdir()
    assert decompress_all(path) == b"%d a\n%d restart btcusdt %d\n%d b\n%d c\n" % (T0, T0 + 5, T0 + 5, T0 + 5, T0 + 6)


def test_without_rotation_a_restart_appends_to_the_newest_file(tmp_path):
    write_run(tmp_path, "gzip", [(T0, b"a")], rotate_s=0)
    write_run(tmp_path, "gzip", [(T0 + 86400 * 10**9, b"b")], rotate_s=0)
    (path,) = tmp_path.iterdir()
    assert decompress_all(path) == b"%d a\n%d b\n" % (T0, T0 + 86400 * 10**9)


@pytest.mark.parametrize("compress", ["gzip", "zstd"])
@pytest.mark.parametrize("tail", ["torn member", "nul bytes"])
def test_restart_cuts_a_torn_last_member_before_appending(tmp_path, compress, tail):
    """What a SIGKILL mid-write (or a crash before the data reached the disk) leaves: a member cut
    short, or NUL bytes. The restart cuts back to the last complete member and appends there, so
    the file decodes to the end with every standard tool and holds every complete line."""
    write_run(tmp_path, compress, [(T0, b"a"), (T0 + 1, b"b")])
    (path,) = tmp_path.iterdir()
    whole = path.stat().st_size
    member = make_codec(compress).member(b"%d lost\n" % (T0 + 2) * 50)
    with open(path, "ab") as f:
        f.write(member[: len(member) // 2] if tail == "torn member" else bytes(4096))
    write_run(tmp_path, compress, [(T0 + 3, b"c")])
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert decompress_all(path) == b"%d a\n%d b\n%d c\n" % (T0, T0 + 1, T0 + 3)
    assert path.stat().st_size > whole


def test_a_file_that_does_not_decode_is_left_alone_and_a_new_one_started(tmp_path):
    """Bytes the writer cannot explain (damage inside the file, another program's data) are never
    cut or appended to: the restart records into a new file next to it."""
    write_run(tmp_path, "gzip", [(T0, b"a")])
    (path,) = tmp_path.iterdir()
    damaged = path.read_bytes() + b"\x1f\x8b\x08garbage, then more" + GzipCodec().member(b"%d x\n" % T0)
    path.write_bytes(damaged)
    write_run(tmp_path, "gzip", [(T0 + 1, b"b")])
    assert path.read_bytes() == damaged
    (new,) = [p for p in tmp_path.iterdir() if p != path]
    assert new.name == file_name("btcusdt", T0 + 10**9, ".gz")  # T0's name is taken: the next second
    assert decompress_all(new) == b"%d b\n" % (T0 + 1)


def test_unknown_compression_is_a_clear_error():
    with pytest.raises(HftctlError, match="unknown compression 'lz4'"):
        make_codec("lz4")


def test_unwritable_output_directory_fails_at_start(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(HftctlError, match="cannot create output directory"):
        RecordingWriter(blocker / "sub", GzipCodec())
    # /proc exists and refuses new files even to root (permission bits would not stop root)
    with pytest.raises(HftctlError, match="output directory /proc is not writable"):
        RecordingWriter("/proc", GzipCodec())


@pytest.mark.parametrize("compress", ["gzip", "zstd"])
def test_write_error_is_one_line_and_leaves_only_complete_members(tmp_path, compress):
    """A file-size limit makes write(2) fail (EFBIG, part-way through a member) the way a full disk
    fails with ENOSPC: the error is one line and the torn member is cut off again, so the file
    holds exactly the lines of every flush that succeeded and decompresses with standard tools."""
    script = textwrap.dedent(f"""
        import os, resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
        from hftctl.collector.codec import make_codec
        from hftctl.collector.writer import RecordingWriter
        from hftctl.errors import HftctlError
        w = RecordingWriter(sys.argv[1], make_codec({compress!r}), rotate_s=0)
        for i in range(2000):
            w.write("btcusdt", {T0} + i, os.urandom(64).hex().encode())
            try:
                w.flush()
            except HftctlError as e:
                w.close()
                print(i, "error:", e)
                sys.exit(3)
    """)
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True,
                         cwd=ROOT, timeout=60)
    assert out.returncode == 3, out.stderr
    flushed, message = out.stdout.split(" ", 1)
    assert message.startswith("error: cannot write ") and "File too large" in message
    assert "Traceback" not in out.stderr
    (path,) = tmp_path.iterdir()
    lines = decompress_all(path).split(b"\n")
    assert path.stat().st_size < 20000
    assert lines.pop() == b""
    assert len(lines) == int(flushed) > 10
    assert [int(ln.split()[0]) for ln in lines] == list(range(T0, T0 + int(flushed)))
    assert all(len(ln.split()[1]) == 128 for ln in lines)


@pytest.mark.parametrize("compress", ["gzip", "zstd"])
def test_sigkill_leaves_a_file_that_decompresses_cleanly(tmp_path, compress):
    """A writer flushing every 50 ms is SIGKILLed; every decoder reads the file to its last flush."""
    script = textwrap.dedent(f"""
        import sys, time
        from hftctl.collector.codec import make_codec
        from hftctl.collector.writer import RecordingWriter
        w = RecordingWriter(sys.argv[1], make_codec({compress!r}), rotate_s=0)
        i = 0
        while True:
            for _ in range(100):
                w.write("btcusdt", {T0} + i, b'{{"stream":"btcusdt@trade","data":{{"t":%d}}}}' % i)
                i += 1
            w.flush()
            print(i, flush=True)
            time.sleep(0.05)
    """)
    p = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        flushed = 0
        while flushed < 1000:
            flushed = int(p.stdout.readline())
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=10)
        # anything printed after our last read was flushed too
        flushed = max([flushed] + [int(x) for x in p.stdout.read().split()])
    finally:
        p.kill()
        p.wait()
    (path,) = tmp_path.iterdir()
    if compress == "gzip":
        data = gzip.decompress(path.read_bytes())  # raises on any truncation
        assert subprocess.run(["gzip", "-t", str(path)]).returncode == 0
    else:
        data = read_zst(path)
    lines = data.split(b"\n")
    assert lines[-1] == b""  # ends on a whole line
    assert len(lines) - 1 >= flushed
    assert lines[flushed - 1] == b'%d {"stream":"btcusdt@trade","data":{"t":%d}}' % (T0 + flushed - 1, flushed - 1)
