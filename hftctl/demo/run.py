"""``hftctl demo``: the whole stack offline for a bounded time, then a clean stop, a conversion
of what was recorded, and a summary of the files written.

Whatever happens (an error, Ctrl-C, SIGTERM, a component dying), the ``finally`` stops every
child in order and removes any shared memory a killed connector could have left behind.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console
from rich.live import Live

from hftctl.children import preexec
from hftctl.demo.live import Monitor
from hftctl.demo.stack import DemoOptions, Stack
from hftctl.errors import HftctlError
from hftctl.health import check

log = logging.getLogger(__name__)

REFRESH_S = 0.5
PLAIN_EVERY_S = 5.0


class Stopped(Exception):
    """SIGTERM or Ctrl-C: stop early, still clean up and summarise."""


@dataclass
class DemoResult:
    run_dir: Path
    recordings: list[Path] = field(default_factory=list)
    npz: Path | None = None
    npz_rows: int = 0
    exit_codes: dict[str, int | None] = field(default_factory=dict)
    killed: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    interrupted: bool = False
    fills: int = 0
    position: float = 0.0
    pnl: float | None = None
    orders: int = 0
    recorded_lines: int = 0
    health: str = ""                    # `hftctl health --connector NAME` verdict just before the stop
    health_problems: list[str] = field(default_factory=list)


def _raise_stopped(signum, frame):
    raise Stopped(signal.Signals(signum).name)


def run_demo(opts: DemoOptions, console: Console | None = None) -> DemoResult:
    con = console or Console(highlight=False)
    if not con.is_terminal:
        con.soft_wrap = True      # logs and CI: whole lines, no wrapping at 80 columns
    live_display = con.is_terminal if opts.live is None else opts.live
    if opts.seconds <= 0:
        raise HftctlError("--seconds must be > 0")
    if opts.replay is not None and not opts.replay.is_file():
        raise HftctlError(f"replay file not found: {opts.replay}")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d_%H%M%S")
    run_dir = (opts.out / stamp).resolve()
    try:
        run_dir.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        run_dir = (opts.out / f"{stamp}_{time.time_ns() % 1000000}").resolve()
        run_dir.mkdir(parents=True)
    except OSError as e:
        raise HftctlError(f"cannot create {opts.out}: {e.strerror or e}") from None
    result = DemoResult(run_dir)
    stack = Stack(opts, run_dir)
    monitor = Monitor(stack)
    old_term = signal.signal(signal.SIGTERM, _raise_stopped)
    try:
        try:
            stack.start(progress=lambda msg: con.print(f"[dim]{msg}...[/]"))
            con.print(f"stack up: sim :{stack.sim_info['port']}, connector {opts.name}, collector, mm "
                      f"- running {opts.seconds:g}s")
            _watch(stack, monitor, opts.seconds, con, live_display)
            report = check(opts.name)
            result.health, result.health_problems = report.verdict, report.problems
        except (KeyboardInterrupt, Stopped):
            result.interrupted = True
            con.print("[yellow]interrupted: stopping everything cleanly[/]")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            if stack.children:
                con.print("[dim]stopping mm, collector, connector, sim...[/]")
            stack.stop()
        finally:
            signal.signal(signal.SIGTERM, old_term)
    for c in stack.children:
        result.exit_codes[c.label] = c.returncode
        if c.killed:
            result.killed.append(c.label)
    result.leftovers = stack.leftover_segments()
    last = monitor.last
    if last is not None:
        result.fills, result.position, result.pnl = monitor.fills(), last.position, monitor.pnl()
        if monitor.first is not None:
            result.orders = last.counters.get("orders_received", 0) - monitor.first.counters.get("orders_received", 0)
    result.recordings = sorted(p for p in stack.data.glob("*") if p.suffix in (".gz", ".zst")) \
        if stack.data.exists() else []
    if result.recordings:
        _convert(stack, result, con)
    _summary(stack, result, con)
    return result


def _watch(stack: Stack, monitor: Monitor, seconds: float, con: Console, live_display: bool) -> None:
    end = time.monotonic() + seconds
    next_plain = 0.0

    def check_children():
        for c in stack.children:
            if not c.alive():
                raise HftctlError(f"{c.label} exited early with code {c.popen.returncode}: {c.log_tail()} "
                                  f"(log: {c.log_path})")

    if live_display:
        with Live(monitor.render(seconds), console=con, refresh_per_second=4, transient=False) as live:
            while (remaining := end - time.monotonic()) > 0:
                check_children()
                monitor.snapshot()
                live.update(monitor.render(remaining))
                time.sleep(min(REFRESH_S, max(remaining, 0)))
        return
    while (remaining := end - time.monotonic()) > 0:
        check_children()
        monitor.snapshot()
        if time.monotonic() >= next_plain:
            next_plain = time.monotonic() + PLAIN_EVERY_S
            con.print(monitor.line(remaining))
        time.sleep(min(REFRESH_S, max(remaining, 0)))
    monitor.snapshot()


def _convert(stack: Stack, result: DemoResult, con: Console) -> None:
    out = stack.dir / f"{stack.symbol.lower()}.npz"
    cmd = [sys.executable, "-m", "hftctl", "convert", *map(str, result.recordings), str(out),
           "--exchange", stack.opts.exchange, "--quiet"]
    con.print("[dim]converting the recording with hftctl convert...[/]")
    log_path = stack.logs / "convert.log"
    with open(log_path, "wb") as f:
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, timeout=300,
                           preexec_fn=preexec())
    if r.returncode != 0 or not out.exists():
        tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
        raise HftctlError(f"hftctl convert failed (exit {r.returncode}): {tail[0]} (log: {log_path})")
    result.npz = out
    try:
        import numpy as np
        with np.load(out) as z:
            result.npz_rows = sum(len(z[k]) for k in z.files)
    except Exception as e:   # a conversion we cannot read back is a failure, not a footnote
        raise HftctlError(f"cannot read back {out}: {e}") from None
    for p in result.recordings:
        result.recorded_lines += _count_lines(p)


def _count_lines(path: Path) -> int:
    import gzip
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return sum(1 for _ in f)
        import zstandard
        with open(path, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True) as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    except (OSError, EOFError, ValueError):
        return 0


def _size(p: Path) -> str:
    n = p.stat().st_size
    return f"{n / 1024:.1f} KiB" if n < 1 << 20 else f"{n / (1 << 20):.1f} MiB"


def _summary(stack: Stack, result: DemoResult, con: Console) -> None:
    con.print()
    con.print("[bold]hftctl demo summary[/]" + (" (stopped early)" if result.interrupted else ""))
    con.print("files written:")
    for p in result.recordings:
        con.print(f"  {p}  ({_size(p)}, {result.recorded_lines} lines; recording by hftctl collect --ipc)")
    if result.npz is not None:
        con.print(f"  {result.npz}  ({_size(result.npz)}, {result.npz_rows} event rows; hftctl convert)")
    con.print(f"  {stack.dir / 'connector.toml'}  (generated connector config for the sim)")
    con.print(f"  {stack.logs}/  (logs: {', '.join(sorted(p.name for p in stack.logs.glob('*.log')))})")
    pnl = "-" if result.pnl is None else f"{result.pnl:+.4f} USDT"
    con.print(f"trading: {result.orders} orders sent, {result.fills} fills, final position {result.position:g} "
              f"{stack.symbol}, PnL {pnl}")
    if result.health:
        con.print(f"hftctl health --connector {stack.opts.name} before the stop: {result.health}"
                  + "".join(f"\n  - {p}" for p in result.health_problems))
    codes = ", ".join(f"{k} {v}" for k, v in result.exit_codes.items())
    con.print(f"processes stopped: {codes}" + (f" (killed after timeout: {', '.join(result.killed)})" if result.killed else ""))
    if result.leftovers:
        con.print(f"[red]shared memory left behind: {', '.join(result.leftovers)}[/]")
    else:
        con.print("shared memory: nothing left behind"
                  + (f" (removed after a killed connector: {', '.join(stack.leftovers_removed)})"
                     if stack.leftovers_removed else ""))
    if result.npz is not None:
        m = stack.market
        inst = f" --symbol {m.symbol.lower()} --tick-size {m.tick:g} --lot-size {m.lot:g}" if m else ""
        con.print(f"next: hftctl mm --backtest {result.npz}{inst} --plot equity.png")
