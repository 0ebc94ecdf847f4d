"""Fuzz: random argv to every command; exit code 0, 1 or 2, never a traceback.

Each example runs the real ``hftctl`` entry point in a forked child (the parent has imported
the command machinery, so an example costs milliseconds, not an interpreter start), in a
scratch directory, with stdout/stderr to files. A command that is still running after a couple
of seconds was given valid options (a sim, a collector): it gets SIGTERM and must still exit
without a traceback. Anything that could leave this machine or touch another user's processes
is pinned: loopback URLs for the collector, port 0 for the sim, a fuzz-only connector name for
the bots and the demo, no `health --clean`, no `--host`.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import time
from pathlib import Path

import click
import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st

import hftctl.cli
from hftctl.cli import app
from hftctl.ipc.segments import clean_stale
from tests.fuzz import examples

ROOT = Path(__file__).resolve().parent.parent
NAMES = ["fzcli", "fzcli2"]                       # connector names the fuzz may create
GROUP = typer.main.get_group(app)
# Options never drawn: they would reach past this test (other users' connectors, the network,
# other users' leftovers) or are pinned below.
PINNED = {"--host", "--clean", "--connector", "--name", "--port", "--stream-url", "--rest-url"}
# Prepended to argv (a later random occurrence of the same option wins, except the pinned ones).
SAFE = {
    "sim": ["--port", "0"],
    "collect": ["--stream-url", "ws://127.0.0.1:1/ws", "--rest-url", "http://127.0.0.1:1", "--out", "out"],
    "mm": ["--connector", "fzcli"], "obi-mm": ["--connector", "fzcli"], "demo": ["--name", "fzcli"],
    "health": ["--connector", "fzcli"],
}


@pytest.fixture(scope="module")
def pool(tmp_path_factory, shared_data):
    d = tmp_path_factory.mktemp("fuzz-cli")
    (d / "garbage.gz").write_bytes(b"\x1f\x8b\x08garbage")
    (d / "lines.txt").write_text("1 {}\n2 not json\n")
    (d / "bad.toml").write_text("= =\n")
    (d / "conn.toml").write_text('stream_url = "ws://127.0.0.1:1/ws"\napi_url = "http://127.0.0.1:1"\n'
                                 'order_prefix = "fz"\napi_key = "k"\nsecret = "s"\n')
    (d / "mainnet.toml").write_text('stream_url = "wss://fstream.binance.com./ws"\napi_url = "https://fapi.binance.com"\n'
                                    'order_prefix = "fz"\napi_key = "k"\nsecret = "s"\n')
    (d / "dir").mkdir()
    values = ["", "-1", "0", "1", "2", "nan", "inf", "-inf", "1e400", "99999", "abc", "-", "--", "😀",
              "a" * 300, "/nonexistent/x.toml", "1h", "never", "-5", "1e9", "0.5", "gzip", "zstd", "lz4",
              "depth", "trades", "m", "t", "mt", "x", "debug", "loud", "binancefutures", "binancespot",
              "bybit", "kraken", "btcusdt", "BTC/USDT", "fzcli", "bad name", "hftctl", "ws://127.0.0.1:1/ws",
              "https://fapi.binance.com.", "hftbacktest", "builtin", "risk-averse", "prob", "feed",
              str(d / "garbage.gz"), str(d / "lines.txt"), str(d / "bad.toml"), str(d / "conn.toml"),
              str(d / "mainnet.toml"), str(d / "dir"), str(d / "out.npz"), str(d / "ready.json"),
              str(shared_data / "recordings/spot/ethusdt_20240808.gz"),
              str(shared_data / "reference/usdm_btcusdt_20240808.npz"), str(ROOT / "configs/mm.toml"),
              str(ROOT / "configs/obi_mm.toml")]
    return d, values


def argv_for(command: str, values: list[str]) -> st.SearchStrategy[list[str]]:
    cmd = GROUP.commands[command]
    options = [p for p in cmd.params if isinstance(p, click.Option)]
    positional = [p for p in cmd.params if isinstance(p, click.Argument)]
    value = st.sampled_from(values)
    parts = []
    for p in options:
        names = [n for n in p.opts + p.secondary_opts if n not in PINNED]
        if not names:
            continue
        if p.is_flag:
            parts.append(st.sampled_from(names).map(lambda n: [n]))
        else:
            parts.append(st.tuples(st.sampled_from(names), value).map(list))
    chosen = st.lists(st.one_of(*parts), max_size=5).map(lambda xs: [a for x in xs for a in x]) if parts else st.just([])
    n_pos = sum(max(1, p.nargs) if p.nargs > 0 else 2 for p in positional)
    args = st.lists(value, min_size=0, max_size=n_pos + 1)
    junk = st.lists(st.sampled_from(["--nope", "-z", "--", "---x"]), max_size=1)
    return st.builds(lambda o, a, j: [*SAFE.get(command, []), *o, *a, *j], chosen, args, junk)


def run_cli(argv: list[str], cwd: Path, wait_s: float = 2.5) -> tuple[int | None, str]:
    """(exit code, stderr) of ``hftctl *argv`` in a forked child; code None: it was still
    running after ``wait_s`` and was stopped with SIGTERM (then SIGKILL)."""
    err_path = cwd / "stderr.txt"
    pid = os.fork()
    if pid == 0:                                   # the child: never returns
        code = 99
        try:
            os.setpgrp()
            os.chdir(cwd)
            fd_out = os.open(os.devnull, os.O_WRONLY)
            fd_err = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(fd_out, 1)
            os.dup2(fd_err, 2)
            sys.stdout = open(1, "w", closefd=False)
            sys.stderr = open(2, "w", closefd=False)
            sys.stdin = open(os.devnull)
            sys.argv = ["hftctl", *argv]
            try:
                hftctl.cli.main()
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            try:
                sys.stderr.flush()
                sys.stdout.flush()
            finally:
                os._exit(code)
    deadline = time.monotonic() + wait_s
    code: int | None = None
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() > deadline:
            _stop(pid)
            break
        time.sleep(0.01)
    return code, err_path.read_text(errors="replace") if err_path.exists() else ""


def _stop(pid: int) -> None:
    for sig, wait in ((signal.SIGTERM, 8.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return
            time.sleep(0.02)


@pytest.fixture(scope="module", autouse=True)
def preload():
    """Import the commands' machinery once in the parent, so each forked example is cheap."""
    for module in ("hftctl.collector.main", "hftctl.connector.run", "hftctl.convert.run", "hftctl.sim.server"):
        importlib.import_module(module)
    yield
    clean_stale(NAMES)


@pytest.mark.parametrize("command", sorted(c for c in GROUP.commands if c != "tui"))
def test_random_argv_exits_cleanly(pool, command):
    scratch, values = pool

    @examples(8)
    @given(argv_for(command, values))
    def check(argv: list[str]) -> None:
        code, err = run_cli([command, *argv], scratch)
        clean_stale(NAMES)
        assert "Traceback" not in err, (argv, err[-3000:])
        if code is not None:
            assert code in (0, 1, 2), (argv, code, err[-2000:])
            if code == 1:
                lines = [ln for ln in err.splitlines() if ln.startswith("error: ")]
                assert lines or "Aborted" in err or err.strip() == "" or "WARNING" in err, (argv, err[-2000:])

    check()
