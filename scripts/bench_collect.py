#!/usr/bin/env python3
"""Benchmark `hftctl collect` against the sim replaying the real btcusdt recording.

One invocation, same machine, same stream, same time window, so the ratios mean something:
- baseline: a bare aiohttp client on the same combined-stream connections (USD-M: /public and
  /market) that only counts messages (the floor any Python websocket recorder pays to receive);
- collect: `hftctl collect binancefutures btcusdt` (parse + sequence check + write + gzip);
- ipc (third phase): `hftctl collect --ipc` behind a real `hftctl connector` on the same sim.
Both run side by side against one `hftctl sim --replay ... --speed 10 --loop`. Costs are taken
over a steady-state window (after a warm-up, so interpreter start-up and imports do not count):
each process's CPU time from /proc/<pid>/stat at the window's edges, and the messages it received
inside the window by their local receive time (the collector's from its recording). A second
phase (``--max-speed``, default 100x) shows how far the collector keeps up when the sim sends as fast as it can.

``--symbols N`` (N > 1) runs the scale phases instead: one collector recording N symbols from one
sim that replays the real btcusdt recording once per symbol (renamed to the sim's test instruments
TEST01USDT...), at each of ``--scale-speeds``. Each phase prints the replay rate the sim achieved
(lines it sent per second, and its achieved speed), the messages per second the collector recorded,
its CPU seconds per 10,000 messages and share of a core, and the gap marks it had to write.

Prints messages/s sustained, CPU seconds per 10,000 messages, the ratio to the baseline and
whether the collector recorded everything the baseline saw; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hftctl.sim.process import start_sim  # noqa: E402
from hftctl import exchanges  # noqa: E402
from hftctl.exchanges.venues import Venue  # noqa: E402

RECORDING = ROOT.parent / "shared" / "data" / "recordings" / "usdm" / "btcusdt_20240808.gz"

BASELINE = r"""
import array, asyncio, json, sys, time, aiohttp
async def receive(s, conn, stamps, window, ready):
    async with s.ws_connect(conn["url"], max_msg_size=0) as ws:
        for m in conn["messages"]:
            await ws.send_str(m)
            await asyncio.sleep(0.2)           # the exchange's message limit
        ready.release()
        while not window.done():
            try:
                msg = await ws.receive(timeout=0.2)
            except asyncio.TimeoutError:
                continue
            if msg.type == aiohttp.WSMsgType.TEXT and msg.data.startswith('{"stream"'):
                stamps.append(time.time_ns())
            elif msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                break
async def main(conns):
    stamps = array.array("q")
    loop = asyncio.get_running_loop()
    window = loop.run_in_executor(None, sys.stdin.readline)   # "t0 t1" once the window is over
    ready = asyncio.Semaphore(0)
    async with aiohttp.ClientSession() as s:
        tasks = [asyncio.create_task(receive(s, c, stamps, window, ready)) for c in conns]
        for _ in conns:
            await ready.acquire()
        print("connected", flush=True)
        await asyncio.gather(*tasks)
    t0, t1 = map(int, (await window).split())
    print(sum(1 for t in stamps if t0 <= t < t1))
asyncio.run(main(json.loads(sys.argv[1])))
"""
SETTLE_S = 2.0   # after both clients receive, before the window opens
TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a live process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def count_messages(out: Path, t0: int, t1: int) -> tuple[int, int, int]:
    """(market data lines in [t0, t1), all market data lines, snapshot + gap lines)."""
    import gzip
    window, data, other = 0, 0, 0
    for path in out.iterdir():
        ls = gzip.decompress(path.read_bytes()).splitlines()
        for line in ls:
            if line[20:40].startswith(b'{"stream"') and b'"e":"gap"' not in line:
                data += 1
                window += t0 <= int(line[:19]) < t1
            else:
                other += 1
    return window, data, other


@contextmanager
def running_connector(sim, tmp: Path):
    """A real `hftctl connector` on the sim, for the --ipc phase; always stopped."""
    name = f"benchcol{os.getpid()}"
    cfg = tmp / "connector.toml"
    urls = "".join(f'{k} = "{v}"\n' for k, v in sim.connector_config.items())
    cfg.write_text(f'{urls}order_prefix = "b"\napi_key = "hftctl-sim-key"\nsecret = "hftctl-sim-secret"\n')
    log = tmp / "connector.log"
    with open(log, "wb") as f:
        p = subprocess.Popen([sys.executable, "-m", "hftctl", "connector", name, "binancefutures", str(cfg)],
                             stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while "Listening for bot connections" not in log.read_text(errors="replace"):
            if p.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"connector did not start: {log.read_text(errors='replace')[-500:]}")
            time.sleep(0.1)
        yield name
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def run_phase(speed: float, seconds: float, ipc: bool = False) -> dict:
    with start_sim(extra_args=["--replay", str(RECORDING), "--speed", str(speed), "--loop",
                               "--log-level", "warning"]) as sim, \
            tempfile.TemporaryDirectory(prefix="bench-collect-") as tmp, ExitStack() as stack:
        protocol = exchanges.get("binancefutures").collector()
        local = protocol.with_stream_url(Venue("sim", rest=sim.rest_url, ws={}, real_money=False, source="",
                                               checked=""), sim.ws_root)
        conns = json.dumps([{"url": c.url, "messages": list(c.messages)}
                            for c in protocol.connections(local, ["BTCUSDT"])])
        out = Path(tmp) / "data"
        out.mkdir()
        if ipc:
            name = stack.enter_context(running_connector(sim, Path(tmp)))
            source = ["--ipc", name, "btcusdt"]
        else:
            source = ["binancefutures", "btcusdt", "--stream-url", sim.ws_root, "--rest-url", sim.rest_url]
        collector = subprocess.Popen(
            [sys.executable, "-m", "hftctl", "collect", *source, "--out", str(out), "--no-progress",
             "--log-level", "warning"],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        baseline = subprocess.Popen([sys.executable, "-c", BASELINE, conns], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True)
        try:
            # the window opens once both are receiving (start-up and imports are not measured)
            assert baseline.stdout.readline().strip() == "connected"
            deadline = time.monotonic() + 60
            while not any(p.stat().st_size for p in out.iterdir()):
                if time.monotonic() > deadline or collector.poll() is not None:
                    raise SystemExit(f"collector did not start: {collector.stderr.read().decode()[-500:]}")
                time.sleep(0.1)
            time.sleep(SETTLE_S)
            t0 = time.time_ns()
            cpu0 = cpu_of(collector.pid), cpu_of(baseline.pid)
            time.sleep(seconds)
            cpu1 = cpu_of(collector.pid), cpu_of(baseline.pid)
            t1 = time.time_ns()
            time.sleep(1.5)  # messages received before t1 reach the collector's file
            collector.send_signal(signal.SIGINT)
            base_out, _ = baseline.communicate(f"{t0} {t1}\n", timeout=30)
            _, err = collector.communicate(timeout=30)
        finally:
            for p in (collector, baseline):
                if p.poll() is None:
                    p.send_signal(signal.SIGKILL)
                    p.wait()
        if collector.returncode != 0:
            raise SystemExit(f"collector failed: {err.decode()[-500:]}")
        window, total, other = count_messages(out, t0, t1)
        base_n = int(base_out.strip() or 0)
        c_cpu, b_cpu = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
        result = {"mode": "ipc" if ipc else "direct", "speed": speed, "seconds": seconds, "messages": window, "messages_total": total,
                  "snapshot_or_gap_lines": other, "msgs_per_s": window / seconds,
                  "collect_cpu_s": c_cpu, "collect_cpu_per_10k": c_cpu / window * 10_000 if window else float("nan"),
                  "collect_cpu_share": c_cpu / seconds,
                  "baseline_messages": base_n, "baseline_cpu_s": b_cpu,
                  "baseline_cpu_per_10k": b_cpu / base_n * 10_000 if base_n else float("nan")}
        result["cpu_ratio_vs_baseline"] = result["collect_cpu_per_10k"] / result["baseline_cpu_per_10k"]
        return result


def renamed_recordings(n: int, tmp: Path) -> list[Path]:
    """The real btcusdt recording once per test instrument (the sim replays one file per symbol)."""
    import gzip
    from hftctl.exchanges.binance.futures.sim_instruments import TEST_SYMBOLS
    text = gzip.decompress(RECORDING.read_bytes())
    out = []
    for sym in TEST_SYMBOLS[:n]:
        path = tmp / f"{sym.lower()}.gz"
        path.write_bytes(gzip.compress(text.replace(b"btcusdt", sym.lower().encode())
                                       .replace(b"BTCUSDT", sym.encode()), compresslevel=1))
        out.append(path)
    return out


def replay_lines(sim) -> int:
    import urllib.request
    with urllib.request.urlopen(f"{sim.control_url}/state", timeout=10) as r:
        return sum(x["lines_emitted"] for x in json.loads(r.read())["replay"])


def run_scale(files: list[Path], speed: float, seconds: float) -> dict:
    """One collector, len(files) symbols, the sim replaying every file at ``speed``."""
    symbols = [f.name.split(".")[0] for f in files]
    replays = [a for f in files for a in ("--replay", str(f))]
    with start_sim(extra_args=[*replays, "--speed", str(speed), "--loop", "--log-level", "warning"]) as sim, \
            tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        out = Path(tmp) / "data"
        out.mkdir()
        collector = subprocess.Popen(
            [sys.executable, "-m", "hftctl", "collect", "binancefutures", *symbols, "--out", str(out),
             "--stream-url", sim.ws_url, "--rest-url", sim.rest_url, "--no-progress", "--log-level", "warning"],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 90
            while len([p for p in out.iterdir() if p.stat().st_size]) < len(files):
                if time.monotonic() > deadline or collector.poll() is not None:
                    raise SystemExit(f"collector did not start: {collector.stderr.read().decode()[-500:]}")
                time.sleep(0.2)
            time.sleep(SETTLE_S)
            t0, sent0, cpu0 = time.time_ns(), replay_lines(sim), cpu_of(collector.pid)
            time.sleep(seconds)
            cpu1, sent1, t1 = cpu_of(collector.pid), replay_lines(sim), time.time_ns()
            time.sleep(1.5)
            collector.send_signal(signal.SIGINT)
            _, err = collector.communicate(timeout=60)
        finally:
            if collector.poll() is None:
                collector.send_signal(signal.SIGKILL)
                collector.wait()
        if collector.returncode != 0:
            raise SystemExit(f"collector failed: {err.decode()[-500:]}")
        import gzip
        gaps = sum(ln.count(b'"e":"gap"') for p in out.iterdir() for ln in [gzip.decompress(p.read_bytes())])
        window, total, _ = count_messages(out, t0, t1)
    cpu = cpu1 - cpu0
    elapsed = (t1 - t0) / 1e9
    recorded_per_s = 93954 / 345.0 * len(files)            # the recording's own rate, all symbols
    return {"mode": "scale", "symbols": len(files), "speed": speed, "seconds": elapsed,
            "sim_lines_per_s": (sent1 - sent0) / elapsed, "requested_lines_per_s": recorded_per_s * speed,
            "achieved_speed": (sent1 - sent0) / elapsed / recorded_per_s,
            "messages": window, "msgs_per_s": window / elapsed, "gap_marks": gaps,
            "collect_cpu_s": cpu, "collect_cpu_per_10k": cpu / window * 10_000 if window else float("nan"),
            "collect_cpu_share": cpu / elapsed}


def report_scale(r: dict) -> None:
    print(f"{r['symbols']} symbols, sim replay at {r['speed']:g}x ({r['requested_lines_per_s']:,.0f} lines/s "
          f"requested), {r['seconds']:.0f} s window:")
    print(f"  sim sent  : {r['sim_lines_per_s']:>8,.0f} lines/s (achieved {r['achieved_speed']:.2f}x)")
    print(f"  collect   : {r['msgs_per_s']:>8,.0f} msg/s  {r['collect_cpu_per_10k']:.3f} CPU s / 10k msgs  "
          f"({100 * r['collect_cpu_share']:.0f}% of a core), {r['gap_marks']} gap marks")


def report(title: str, r: dict) -> None:
    print(title)
    print(f"  collect : {r['messages']:>8} messages  {r['msgs_per_s']:>8.0f} msg/s  "
          f"{r['collect_cpu_per_10k']:.3f} CPU s / 10k msgs  ({100 * r['collect_cpu_share']:.0f}% of a core)")
    print(f"  baseline: {r['baseline_messages']:>8} messages  {r['baseline_messages'] / r['seconds']:>8.0f} msg/s  "
          f"{r['baseline_cpu_per_10k']:.3f} CPU s / 10k msgs  (receive-only client)")
    print(f"  collect CPU per message / baseline: {r['cpu_ratio_vs_baseline']:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    ap.add_argument("--speed", type=float, default=10.0, help="replay speed of the main phase")
    ap.add_argument("--max-speed", type=float, default=100.0, help="replay speed of the stress phase (0: skip)")
    ap.add_argument("--no-ipc", action="store_true", help="skip the --ipc phase (through a real connector)")
    ap.add_argument("--symbols", type=int, default=1, help="N > 1: the scale phases, N symbols (at most 20)")
    ap.add_argument("--scale-speeds", default="1,2,10", help="replay speeds of the scale phases")
    args = ap.parse_args()
    if not RECORDING.exists():
        raise SystemExit(f"recording not found: {RECORDING}")
    if args.symbols > 1:
        with tempfile.TemporaryDirectory(prefix="bench-scale-rec-") as tmp:
            files = renamed_recordings(min(args.symbols, 20), Path(tmp))
            results = []
            for speed in (float(x) for x in args.scale_speeds.split(",")):
                results.append(run_scale(files, speed, args.seconds))
                report_scale(results[-1])
        print(json.dumps({"scale": results}))
        return

    main_phase = run_phase(args.speed, args.seconds)
    report(f"sim replay at {args.speed:g}x, {args.seconds:g} s steady-state window:", main_phase)
    result = {"main": main_phase}
    if args.max_speed > 0:
        stress = run_phase(args.max_speed, args.seconds)
        report(f"sim replay at {args.max_speed:g}x (as fast as the sim sends), {args.seconds:g} s window:", stress)
        result["stress"] = stress
    if not args.no_ipc:
        ipc = run_phase(args.speed, args.seconds, ipc=True)
        report(f"--ipc through a real connector, sim at {args.speed:g}x, {args.seconds:g} s window "
               "(baseline: receive-only client on the sim directly):", ipc)
        result["ipc"] = ipc
    print(json.dumps(result))


if __name__ == "__main__":
    main()
