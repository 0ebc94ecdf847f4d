"""A real `hftctl collect` SIGKILLed and restarted within its rotation period: one file, both runs.

Against the sim replaying the real btcusdt recording, directly and through a real connector
(--ipc). The restart must append to the first run's file (never truncate or rewrite it), cut a
torn last member back first, mark the hole between the runs, and leave a file that gzip -t /
zstd -t accept and `hftctl convert` converts.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hftctl.collector.codec import make_codec, scan_members
from tests.collect_replay import decompress_all
from tests.conftest import ROOT
from tests.test_collect_sim import replay_args, source_args, stop, stop_killed, wait_for

SUMMARY = re.compile(r"closed: (\d+) messages .*?, (\d+) snapshots, (\d+) gaps")


def collect(args: list[str], out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "hftctl", "collect", *args, "--out", str(out), "--no-progress",
                             "--log-level", "info"], cwd=ROOT, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def complete_lines(path: Path) -> list[bytes]:
    """The lines of the file's complete members (what a reader gets after a kill)."""
    codec = make_codec(path.suffix[1:])
    end = scan_members(path, codec).complete
    data, out = path.read_bytes()[:end], []
    while data:
        member = codec.decoder()
        out.append(member.decompress(data))
        data = member.unused_data
    return b"".join(out).splitlines()


@pytest.mark.parametrize("mode,compress", [("direct", "gzip"), ("direct", "zstd"), ("ipc", "gzip")])
def test_sigkill_then_restart_appends_both_runs_to_one_file(tmp_path, shared_data, mode, compress):
    out = tmp_path / "data"
    with contextlib.ExitStack() as stack:
        from hftctl.sim.process import start_sim
        sim = stack.enter_context(start_sim(extra_args=replay_args(shared_data, "--loop", speed="10")))
        args = [*source_args(mode, sim, tmp_path, stack), "--compress", compress]

        first = collect(args, out)
        try:
            wait_for(lambda: out.exists() and any(p.stat().st_size > 100_000 for p in out.iterdir()), 60,
                     "the first run's recording")
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            stop_killed(first)
        (path,) = out.iterdir()
        before = complete_lines(path)
        # A kill that lands inside a write leaves the start of a member: stand in for that.
        member = make_codec(compress).member(before[-1] + b"\n" + before[-1] + b"\n")
        with open(path, "ab") as f:
            f.write(member[: len(member) // 2])

        second = collect(args, out)
        try:
            wait_for(lambda: len(complete_lines(path)) > len(before) + 2000, 60, "the second run's recording")
        finally:
            err = stop(second)
    assert second.returncode == 0, err
    assert "Traceback" not in err
    assert "cut it off" in err and f"appending to {path}" in err
    assert [p.name for p in out.iterdir()] == [path.name]          # the same file, nothing beside it

    lines = decompress_all(path).splitlines()                      # gzip -t / zstd -t and Python read it all
    assert lines[:len(before)] == before                           # the first run, untouched
    after = lines[len(before):]
    assert json.loads(after[0][20:])["data"] == {"e": "gap", "E": int(after[0][:19]) // 1_000_000, "s": "BTCUSDT",
                                                 "reason": "restart"}     # the hole between the runs
    messages, snapshots, gaps = map(int, SUMMARY.search(err).groups())
    assert len(after) == messages + snapshots + gaps               # every line the second run wrote
    assert all(ln[:19].isdigit() and ln[19:20] == b" " for ln in lines)

    npz = tmp_path / "converted.npz"
    conv = subprocess.run([sys.executable, "-m", "hftctl", "convert", str(path), str(npz)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT, stdin=subprocess.DEVNULL)
    assert conv.returncode == 0, conv.stderr
    assert "1 gap mark" in conv.stderr or "gap mark(s)" in conv.stderr
