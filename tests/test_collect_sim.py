"""`hftctl collect` end to end against the real simulator replaying a real Binance recording."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import pty
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import pytest
import zstandard

import numpy as np

from hftctl.convert import ConvertOptions, read_file
from hftctl.sim.process import start_sim
from hftctl.status import status_dir
from tests.collect_replay import (assert_same_book, book_from_events, book_from_lines, decompress_all, stale_levels,
                                  recording_lines, sim_book)
from tests.conftest import ROOT

SPEED = "40"   # the 6-minute recording in about 9 s


def http_json(url: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def replay_args(shared_data: Path, *extra: str, speed: str = SPEED) -> list[str]:
    return ["--replay", str(shared_data / "recordings/usdm/btcusdt_20240808.gz"), "--speed", speed, *extra]


def start_collector(sim, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "hftctl", "collect", "binancefutures", "btcusdt", "--out", str(out),
         "--stream-url", sim.ws_root, "--rest-url", sim.rest_url, *extra],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def start_ipc_collector(connector_name: str, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "hftctl", "collect", "--ipc", connector_name, "btcusdt", "--out", str(out),
         "--no-progress"], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)


def stop(p: subprocess.Popen, sig: int = signal.SIGINT) -> str:
    if p.poll() is None:
        p.send_signal(sig)
    try:
        return p.communicate(timeout=15)[1]
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def stop_killed(p: subprocess.Popen) -> None:
    """``stop`` for a collector a test SIGKILLed: it leaves its `hftctl health` status file behind
    (that is the point of it: health reports the unclean death), but not after the test."""
    stop(p)
    for f in status_dir().glob(f"collector.*.{p.pid}.json"):
        f.unlink()


def wait_for(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def replay_finished(sim) -> bool:
    return all(r["finished"] for r in http_json(f"{sim.control_url}/state?symbol=BTCUSDT")["replay"])


def recording_started(out: Path) -> bool:
    """The first flush is on disk: the collector is connected and recording."""
    return any(p.stat().st_size > 0 for p in out.iterdir())


def last_recorded_update_id(out: Path) -> int:
    """``u`` of the last depth diff flushed so far (0 if none, or a member is being written)."""
    try:
        lines = recording_lines(out)
    except (OSError, EOFError, zlib.error):
        return 0
    for ln in reversed(lines):
        if b'"e":"depthUpdate"' in ln:
            return json.loads(ln[20:])["data"]["u"]
    return 0


def wait_recording_caught_up(out: Path, sim, timeout: float = 30) -> None:
    """Poll until the recording holds the sim's last depth update: the replay's last messages
    reached the collector and a flush (instead of sleeping and hoping they did)."""
    final = http_json(f"{sim.control_url}/state?symbol=BTCUSDT")["book"]["update_id"]
    wait_for(lambda: last_recorded_update_id(out) >= final, timeout, f"update {final} in the recording")


def assert_books_match(out: Path, sim) -> None:
    state = http_json(f"{sim.control_url}/state?symbol=BTCUSDT")
    lines = recording_lines(out)
    from_lines, snap = book_from_lines(lines)
    expected = sim_book(state["book"])
    assert_same_book(from_lines, expected, snap)
    # `hftctl convert` turns the recording into hftbacktest events that rebuild the same book
    (path,) = out.iterdir()
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "converted.npz"
        conv = subprocess.run([sys.executable, "-m", "hftctl", "convert", str(path), str(npz)], capture_output=True,
                              text=True, timeout=120, cwd=ROOT, stdin=subprocess.DEVNULL)
        assert conv.returncode == 0, conv.stderr
        events = np.load(npz)["data"]
    # Also after lost data: each gap mark clears the whole book before the next snapshot's rows,
    # so no level that changed unseen survives (docs/convert.md, hftctl/convert/gaps.py). Read in
    # file order, as hftbacktest's format is, a snapshot older than diffs recorded before it leaves
    # their levels stale: those few are not the converter's to know (collect_replay.stale_levels).
    assert_same_book(book_from_events(events), expected, snap, stale_levels(lines, from_lines))


def test_recording_reproduces_the_sims_book(tmp_path, shared_data):
    """USD-M's routes only (the sim's unrouted /ws is off): depth, trades and bookTicker come
    from /public into one file that converts to the sim's book."""
    with start_sim(extra_args=replay_args(shared_data)) as sim:
        with pytest.raises(urllib.error.HTTPError) as no_legacy:
            urllib.request.urlopen(f"{sim.rest_url}/stream", timeout=10)
        assert no_legacy.value.code == 404
        p = start_collector(sim, tmp_path)
        try:
            wait_for(lambda: replay_finished(sim), 60, "the replay to finish")
            wait_recording_caught_up(tmp_path, sim)
        finally:
            err = stop(p)
        assert p.returncode == 0, err
        assert "Traceback" not in err
        assert "msg/s" not in err  # not a terminal: no live display, only log lines
        (path,) = tmp_path.iterdir()
        assert path.name.startswith("btcusdt_") and path.suffix == ".gz"
        assert subprocess.run(["gzip", "-t", str(path)]).returncode == 0
        lines = recording_lines(tmp_path)
        # the line format: "<19-digit ns> <combined-stream envelope or raw REST snapshot body>"
        assert all(ln[:19].isdigit() and ln[19:20] == b" " for ln in lines)
        streams = {json.loads(ln[20:]).get("stream") for ln in lines}
        assert streams == {"btcusdt@depth@0ms", "btcusdt@trade", "btcusdt@bookTicker", None}
        assert sum(b'"lastUpdateId"' in ln[20:40] for ln in lines) == 1  # one snapshot, after the first diff
        assert_books_match(tmp_path, sim)


def snapshot_after_gap(out: Path) -> bool:
    try:
        lines = recording_lines(out)
    except (OSError, EOFError, zlib.error):
        return False
    gaps = [i for i, ln in enumerate(lines) if b'"e":"gap"' in ln]
    return bool(gaps) and any(b'"lastUpdateId"' in ln[20:40] for ln in lines[gaps[0]:])


def test_dropped_connection_and_sequence_gap_are_marked_and_followed_by_snapshots(tmp_path, shared_data):
    with start_sim(extra_args=replay_args(shared_data)) as sim:
        p = start_collector(sim, tmp_path)
        try:
            wait_for(lambda: recording_started(tmp_path), 30, "the collector to record")
            http_json(f"{sim.control_url}/fault", {"skip_depth_seq": 1})
            # the gap is recorded, and the snapshot after it, before the connection is dropped
            wait_for(lambda: snapshot_after_gap(tmp_path), 30, "the sequence gap and its snapshot")
            assert http_json(f"{sim.control_url}/fault", {"drop_ws": True})["dropped"] >= 1
            wait_for(lambda: replay_finished(sim), 60, "the replay to finish")
            wait_recording_caught_up(tmp_path, sim)
        finally:
            err = stop(p)
        assert p.returncode == 0, err
        lines = recording_lines(tmp_path)
        kinds = []
        for ln in lines:
            msg = json.loads(ln[20:])
            if "lastUpdateId" in msg:
                kinds.append("snapshot")
            elif msg["data"].get("e") == "gap":
                kinds.append(f"gap:{msg['data']['reason']}")
        # start snapshot, then each gap is followed by a fresh snapshot before anything else breaks
        assert kinds == ["snapshot", "gap:sequence", "snapshot", "gap:reconnect", "snapshot"], kinds
        assert "depth sequence gap" in err and "reconnecting" in err
        assert_books_match(tmp_path, sim)


@pytest.mark.parametrize("compress", ["gzip"])  # zstd: SIGKILL-tested on the writer (test_collect_writer)
def test_sigkill_mid_run_leaves_a_readable_recording(tmp_path, shared_data, compress):
    with start_sim(extra_args=replay_args(shared_data, "--loop")) as sim:
        p = start_collector(sim, tmp_path, "--compress", compress)
        try:
            def flushed() -> int:
                files = list(tmp_path.iterdir())
                return files[0].stat().st_size if files else 0
            wait_for(lambda: flushed() > 200_000, 30, "a few flushes")
            p.send_signal(signal.SIGKILL)
            p.wait(10)
        finally:
            stop_killed(p)
    (path,) = tmp_path.iterdir()
    if compress == "gzip":
        data = gzip.decompress(path.read_bytes())          # raises on a torn member
        assert subprocess.run(["gzip", "-t", str(path)]).returncode == 0
    else:
        if shutil.which("zstd"):
            assert subprocess.run(["zstd", "-t", "-q", str(path)]).returncode == 0
        with open(path, "rb") as f:
            data = zstandard.ZstdDecompressor().stream_reader(f, read_across_frames=True).read()
    assert data.endswith(b"\n")
    lines = data.splitlines()
    assert len(lines) > 1000
    assert all(json.loads(ln[20:]) for ln in lines)
    # and the converter takes it without a single problem
    rows = read_file(str(path), ConvertOptions())
    assert rows.problems.skipped == 0 and len(rows.data) > 1000


def source_args(mode: str, sim, tmp_path: Path, stack: contextlib.ExitStack) -> list[str]:
    """`hftctl collect` arguments for the sim's btcusdt: "direct" from its URLs, or "ipc" through
    a real connector that ``stack`` stops."""
    if mode == "direct":
        return ["binancefutures", "btcusdt", "--stream-url", sim.ws_root, "--rest-url", sim.rest_url]
    from tests.connector_procs import connector, write_config

    name = f"csrc{os.getpid()}"
    stack.enter_context(connector(name, write_config(tmp_path / "connector.toml", sim, prefix="c"), tmp_path))
    return ["--ipc", name, "btcusdt"]


SLOW_MARKET = '[synthetic]\ninterval_ms = 200\ntrades_per_s = 2\n'   # ~10 messages/s, ~3 kB/s


def recorded_span_s(out: Path) -> float:
    """Seconds between the first and last line flushed so far (0 before the first flush)."""
    try:
        lines = recording_lines(out)
    except (OSError, EOFError, zlib.error):   # nothing yet, or a member being written right now
        return 0.0
    return (int(lines[-1][:19]) - int(lines[0][:19])) / 1e9 if lines else 0.0


@pytest.mark.parametrize("mode", ["direct", "ipc"])
def test_sigkill_at_a_low_message_rate_loses_at_most_a_flush_interval(tmp_path, mode):
    """At ~3 kB/s the 4 MB buffer limit is never reached: only the 1 s flush timer puts lines on
    disk, so a SIGKILLed collector's last line is within ~1.5 s of the kill."""
    cfg = tmp_path / "sim.toml"
    cfg.write_text(SLOW_MARKET)
    out = tmp_path / "data"
    with start_sim(extra_args=["--config", str(cfg), "--symbol", "BTCUSDT"]) as sim, \
            contextlib.ExitStack() as stack:
        args = source_args(mode, sim, tmp_path, stack)
        p = subprocess.Popen([sys.executable, "-m", "hftctl", "collect", *args, "--out", str(out), "--no-progress"],
                             cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
        try:
            wait_for(lambda: out.exists() and recorded_span_s(out) >= 3.0, 30, "3 s of recording on disk")
            killed_at = time.time_ns()
            p.send_signal(signal.SIGKILL)
            p.wait(10)
        finally:
            stop_killed(p)
    (path,) = out.iterdir()
    data = decompress_all(path)
    assert len(data) < 1 << 20     # never near the 4 MB size-triggered flush
    last_ts = int(data.splitlines()[-1][:19])
    assert killed_at - last_ts <= 1.5e9, f"last line {(killed_at - last_ts) / 1e9:.2f} s before the kill"


def test_ipc_recording_through_a_real_connector_reproduces_the_sims_book(tmp_path, shared_data):
    from tests.connector_procs import connector, write_config

    name = f"ccol{os.getpid()}"
    # half the speed of the direct tests: two Python processes relay every message here, and a
    # collector lapped on a busy machine would record a gap (recovered, see the next test), which
    # this test counts as a failure
    with start_sim(extra_args=replay_args(shared_data, speed="20")) as sim:
        cfg = write_config(tmp_path / "connector.toml", sim, prefix="c")
        out = tmp_path / "data"
        with connector(name, cfg, tmp_path):
            p = start_ipc_collector(name, out)
            try:
                wait_for(lambda: replay_finished(sim), 60, "the replay to finish")
                wait_recording_caught_up(out, sim)
            finally:
                err = stop(p)
        assert p.returncode == 0, err
        assert "Traceback" not in err
        lines = recording_lines(out)
        gaps = [ln for ln in lines if b'"e":"gap"' in ln]
        assert not gaps, f"{gaps} {err[-2000:]}"
        assert sum(b'"lastUpdateId"' in ln[20:40] for ln in lines) >= 1  # the connector's snapshot, raw
        assert {json.loads(ln[20:]).get("stream") for ln in lines} == {
            "btcusdt@depth@0ms", "btcusdt@trade", "btcusdt@bookTicker", None}
        assert_books_match(out, sim)


def test_ipc_collector_lapped_by_the_connector_resyncs_from_a_fresh_snapshot(tmp_path, shared_data):
    """The collector stops (SIGSTOP) long enough for the connector's 8 MB ring to lap it: it marks
    the overrun, asks the connector for a snapshot, and the connector publishes a raw REST one, so
    the recording converts to the sim's exact final book again."""
    from tests.connector_procs import connector, write_config

    name = f"clap{os.getpid()}"
    with start_sim(extra_args=replay_args(shared_data, speed="20")) as sim:
        cfg = write_config(tmp_path / "connector.toml", sim, prefix="c")
        out = tmp_path / "data"
        with connector(name, cfg, tmp_path):
            p = start_ipc_collector(name, out)
            try:
                wait_for(lambda: out.exists() and recording_started(out), 20, "the first flush")
                time.sleep(1.0)
                p.send_signal(signal.SIGSTOP)
                time.sleep(6.0)                # ~20 MB of messages at 20x: far more than the ring
                p.send_signal(signal.SIGCONT)
                wait_for(lambda: replay_finished(sim), 60, "the replay to finish")
                wait_recording_caught_up(out, sim)
            finally:
                p.send_signal(signal.SIGCONT)
                err = stop(p)
        assert p.returncode == 0, err
        lines = recording_lines(out)
        gaps = [i for i, ln in enumerate(lines) if b'"e":"gap"' in ln]
        assert gaps and all(b'"reason":"overrun"' in lines[i] for i in gaps), err[-2000:]
        snaps = [i for i, ln in enumerate(lines) if b'"lastUpdateId"' in ln[20:40]]
        assert any(i > gaps[-1] for i in snaps), "no snapshot recorded after the overrun"
        assert_books_match(out, sim)


def _limit_file_size() -> None:
    # a file-size limit makes write(2) fail (EFBIG) part-way through a member, the way a full
    # disk fails (ENOSPC); unlike a tmpfs it needs no privileges
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2_000_000, 2_000_000))


@pytest.mark.parametrize("mode, compress", [("direct", "gzip"), ("direct", "zstd"), ("ipc", "gzip")])
def test_full_disk_stops_with_one_line_error_and_leaves_a_clean_recording(tmp_path, shared_data, mode, compress):
    """The collector stops with one line, and the file it leaves decompresses to its end with
    `gzip -t`/`zstd -t` and Python's decoders: the member torn by the failed write is cut off."""
    out = tmp_path / "data"
    with start_sim(extra_args=replay_args(shared_data, "--loop")) as sim, contextlib.ExitStack() as stack:
        args = source_args(mode, sim, tmp_path, stack)
        p = subprocess.Popen([sys.executable, "-m", "hftctl", "collect", *args, "--out", str(out),
                              "--compress", compress, "--no-progress"], cwd=ROOT, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_limit_file_size)
        try:
            _, err = p.communicate(timeout=90)
        finally:
            stop(p)
    assert p.returncode == 1, err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"error: cannot write {out}/btcusdt_") and last.endswith(": File too large"), last
    assert "Traceback" not in err
    (path,) = out.iterdir()
    data = decompress_all(path)
    assert data.endswith(b"\n")
    lines = data.splitlines()
    # what was flushed before the failure is all there: about 2 MB compressed, ~10x that raw
    assert len(data) > 5_000_000 and all(json.loads(ln[20:]) for ln in lines)
    rows = read_file(str(path), ConvertOptions())
    assert rows.problems.skipped == 0 and len(rows.data) > 1000


def test_progress_is_live_on_a_terminal_and_periodic_snapshots(tmp_path, shared_data):
    with start_sim(extra_args=replay_args(shared_data, "--loop")) as sim:
        master, slave = pty.openpty()
        args = [sys.executable, "-m", "hftctl", "collect", "binancefutures", "btcusdt", "--out", str(tmp_path / "a"),
                "--stream-url", sim.ws_url, "--rest-url", sim.rest_url, "--duration", "4", "--log-level", "warning",
                "--snapshot-interval", "1"]
        p = subprocess.Popen(args, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                             env={**os.environ, "TERM": "xterm", "COLUMNS": "160"})
        os.close(slave)
        shown = b""
        try:
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the collector exited and closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
            p.wait(30)
        finally:
            os.close(master)
            stop(p)
    assert p.returncode == 0
    text = shown.decode(errors="replace")
    assert "msg/s" in text and "btcusdt" in text and str(tmp_path / "a") in text
    # --snapshot-interval 1: periodic snapshots besides the one after the first diff
    assert sum(b'"lastUpdateId"' in ln[20:40] for ln in recording_lines(tmp_path / "a")) >= 3


def test_start_script_records_through_rest_errors_and_unknown_symbol_is_one_line(tmp_path):
    """scripts/start_collector.sh EXCHANGE OUTDIR SYMBOL... (the testnet guide's) against the sim."""
    with start_sim() as sim:
        urls = f"--stream-url {sim.ws_url} --rest-url {sim.rest_url}"
        out = subprocess.run([sys.executable, "-m", "hftctl", "collect", "binancefutures", "btcusdt", "nosuchusdt",
                              "--out", str(tmp_path / "bad"), *urls.split()],
                             capture_output=True, text=True, timeout=60, cwd=ROOT, stdin=subprocess.DEVNULL)
        # every REST call fails with 503 for a while: the collector records anyway and keeps
        # retrying the snapshots until they land
        http_json(f"{sim.control_url}/fault", {"rest_5xx_rate": 1.0})
        err_path = tmp_path / "script.err"
        with open(err_path, "wb") as err_file:
            script = subprocess.Popen([str(ROOT / "scripts/start_collector.sh"), "binancefutures",
                                       str(tmp_path / "ok"), "btcusdt", "ethusdt"], stdout=subprocess.DEVNULL,
                                      stderr=err_file, cwd=tmp_path, stdin=subprocess.DEVNULL,
                                      env={**os.environ, "HFTCTL_COLLECT_OPTS": f"{urls} --duration 7"})
        try:
            wait_for(lambda: (tmp_path / "ok").is_dir() and len(list((tmp_path / "ok").iterdir())) == 2, 30,
                     "both symbols recording")
            wait_for(lambda: "attempt 2 failed" in err_path.read_text(errors="replace"), 30,
                     "a retried snapshot to fail too")
            http_json(f"{sim.control_url}/fault", {"rest_5xx_rate": 0.0})
            script.wait(30)
        finally:
            stop(script)
        script_err = err_path.read_text(errors="replace")
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1].startswith("error: binancefutures rejected symbol NOSUCHUSDT: HTTP 400")
    assert "Traceback" not in out.stderr
    assert not any((tmp_path / "bad").iterdir())
    assert script.returncode == 0, script_err
    assert "could not check BTCUSDT (HTTP 503); recording anyway" in script_err
    assert "snapshot (first diff) attempt 2 failed: HTTP 503" in script_err
    names = sorted(p.name.split("_")[0] for p in (tmp_path / "ok").iterdir())
    assert names == ["btcusdt", "ethusdt"]  # the sim's synthetic market: one file per symbol
    for path in (tmp_path / "ok").iterdir():
        assert any(b'"lastUpdateId"' in ln[20:40] for ln in gzip.decompress(path.read_bytes()).splitlines()), path


@pytest.mark.parametrize("exchange", ["binancefutures", "binancespot", "bybit"])
def test_direct_unknown_symbol_is_one_line_and_records_nothing(tmp_path, exchange):
    with start_sim(exchange=exchange) as sim:
        out = subprocess.run([sys.executable, "-m", "hftctl", "collect", exchange, "btcusdt", "foousdt",
                              "--out", str(tmp_path), "--stream-url", sim.ws_url, "--rest-url", sim.rest_url,
                              "--duration", "30", "--no-progress"], capture_output=True, text=True, timeout=60,
                             cwd=ROOT, stdin=subprocess.DEVNULL)
    assert out.returncode == 1, out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "FOOUSDT" in last, out.stderr
    assert "Traceback" not in out.stderr
    assert not any(p.name.startswith("foousdt") for p in tmp_path.iterdir())


@pytest.mark.parametrize("symbols", [["foousdt"], ["btcusdt", "foousdt"]])
def test_ipc_symbol_the_connector_cannot_serve_is_one_line_error(tmp_path, symbols):
    """The connector tells the collector (an Error naming the symbol, as it tells a bot that
    registered it); the collector stops with one line instead of recording nothing, exit 0."""
    from tests.connector_procs import connector, write_config

    name = f"cunk{os.getpid()}"
    with start_sim() as sim:
        cfg = write_config(tmp_path / "connector.toml", sim, prefix="c")
        with connector(name, cfg, tmp_path):
            out = subprocess.run([sys.executable, "-m", "hftctl", "collect", "--ipc", name, *symbols,
                                  "--out", str(tmp_path / "data"), "--duration", "30", "--no-progress"],
                                 capture_output=True, text=True, timeout=60, cwd=ROOT, stdin=subprocess.DEVNULL)
    assert out.returncode == 1, out.stderr
    assert out.stderr.strip().splitlines()[-1] == (
        f"error: connector {name!r} cannot provide FOOUSDT: FOOUSDT: Invalid symbol. (code -1121)"), out.stderr
    assert "Traceback" not in out.stderr
    for path in (tmp_path / "data").iterdir():     # what was recorded of btcusdt is kept, whole
        assert path.name.startswith("btcusdt_") and decompress_all(path).endswith(b"\n")


def test_bybit_records_hftbacktests_topics_with_their_snapshots(tmp_path):
    """Bybit: subscribe by message; each orderbook topic starts with its own snapshot."""
    with start_sim(exchange="bybit") as sim:
        p = subprocess.Popen([sys.executable, "-m", "hftctl", "collect", "bybit", "btcusdt", "--out", str(tmp_path),
                              "--stream-url", sim.ws_url, "--rest-url", sim.rest_url, "--duration", "4"],
                             cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        try:
            _, err = p.communicate(timeout=60)
        finally:
            stop(p)
    assert p.returncode == 0, err
    (path,) = tmp_path.iterdir()
    assert path.name.startswith("btcusdt_")
    first_type: dict[str, str] = {}
    for ln in recording_lines(tmp_path):
        msg = json.loads(ln[20:])
        first_type.setdefault(msg["topic"], msg.get("type", "-"))
    books = ("orderbook.1.BTCUSDT", "orderbook.50.BTCUSDT", "orderbook.1000.BTCUSDT")
    assert {t: first_type.get(t) for t in books} == dict.fromkeys(books, "snapshot")
    assert set(first_type) <= {*books, "publicTrade.BTCUSDT"}
