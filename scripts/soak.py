"""Soak run (not in CI): sim + connector + 5 bots + 2 collectors for N minutes, every fault
switch cycling, then the figures that must be zero or flat.

The sim replays the real USD-M recording, timed to end a minute before the run does, so the
market is still when the bots' views are compared with the sim. Faults cycle: 25 s with every
switch on (websockets dropped every 4 s, depth gaps, 10% 429, 10% 503, 20 ms delays, unknown
order outcomes, a shifted clock, an expired listenKey every other cycle), then 35 s calm; the
last 90 s are calm. The sim's own rate limits are off (the injected 429s stay) so the final
per-order audit can ask about every order.

Reported (after the views are compared, the bots and the connector stop and must leave no
order open): RSS and open-fd slopes of every process (least squares over the calm-phase samples
of the second half of the run; judged for the connector and the collectors, the long-running
product processes: the test bots keep every order for the audit and the sim its last 50,000
final orders, so theirs grow by design), missed fills (bots' fills vs the sim, per order and in sum), orphan orders, books unequal
to the sim's, unreadable recordings, tracebacks in the logs.

    scripts/soak.sh [MINUTES]          # default 10
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import orjson  # noqa: E402
import zstandard  # noqa: E402

from hftctl.children import preexec  # noqa: E402
from hftctl.sim.process import start_sim  # noqa: E402
from tests.connector_procs import Proc as TestProc  # noqa: E402
from tests.test_sim_support import signed  # noqa: E402

SHARED = Path(os.environ.get("HFTCTL_SHARED_DATA", ROOT.parent / "shared" / "data"))
RECORDING = SHARED / "recordings/usdm/btcusdt_20240808.gz"
RECORDING_S = 345.0
BOTS, PREFIX = 5, "soak"
CYCLE_S, STORM_S, CALM_END_S = 60.0, 25.0, 90.0
SAMPLE_S = 10.0
STORM = {"drop_ws_every_s": 4, "gap_every": 500, "rest_429_rate": 0.1, "rest_5xx_rate": 0.1,
         "ws_delay_ms": 20, "rest_delay_ms": 20, "unknown_after_exec_rate": 0.02,
         "unknown_before_exec_rate": 0.02, "skip_depth_seq": 1}
CALM = {"drop_ws_every_s": 0, "gap_every": 0, "rest_429_rate": 0, "rest_5xx_rate": 0, "ws_delay_ms": 0,
        "rest_delay_ms": 0, "unknown_after_exec_rate": 0, "unknown_before_exec_rate": 0, "clock_shift_ms": 0}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Proc(TestProc):
    """A process of the run, with its RSS and open-fd samples."""

    def __init__(self, name: str, popen: subprocess.Popen, log: Path) -> None:
        super().__init__(popen, log)
        self.name = name
        self.samples: list[tuple[float, int, int]] = []     # (t, rss kB, open fds), calm phases only

    @classmethod
    def start(cls, name: str, cmd: list[str], logdir: Path, env: dict) -> "Proc":
        log = logdir / f"{name}.log"
        with open(log, "wb") as f:
            p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 cwd=ROOT, env=env, preexec_fn=preexec())
        return cls(name, p, log)

    @property
    def pid(self) -> int:
        return self.p.pid

    def sample(self, t: float) -> None:
        try:
            rss = next(int(ln.split()[1]) for ln in open(f"/proc/{self.pid}/status") if ln.startswith("VmRSS:"))
            fds = len(os.listdir(f"/proc/{self.pid}/fd"))
        except (OSError, StopIteration):
            return
        self.samples.append((t, rss, fds))


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope per minute."""
    if len(points) < 3:
        return 0.0
    n = len(points)
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    return 0.0 if var == 0 else sum((t - mx) * (v - my) for t, v in points) / var * 60.0


def http_json(url: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"},
                                 method="POST" if body is not None else "GET")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def bot_view(bot: Proc, out: Path, timeout: float = 15.0) -> dict | None:
    before = out.stat().st_mtime_ns if out.exists() else 0
    if bot.p.poll() is not None:
        return json.loads(out.read_text()) if out.exists() else None
    bot.p.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if out.exists() and out.stat().st_mtime_ns != before:
            try:
                return json.loads(out.read_text())
            except ValueError:
                pass
        time.sleep(0.1)
    return None


def levels(xs, n=20):
    return [(round(float(p), 1), round(float(q), 3)) for p, q in xs[:n]]


def compare(views: list[dict], state: dict) -> dict:
    acct = state["accounts"][0]
    sim_open = {o["client_order_id"]: o for o in acct["open_orders"] if o["client_order_id"].startswith(PREFIX + "-")}
    pos = next((float(p["qty"]) for p in acct["positions"] if p["symbol"] == "BTCUSDT"), 0.0)
    bot_open = {c for v in views for c in v["open_cids"]}
    book = state["book"]
    return {
        "orphan_orders": sorted(set(sim_open) - bot_open),
        "phantom_orders": sorted(bot_open - set(sim_open)),       # the bots believe them open
        "position_gap": round(sum(v["filled_signed"] for v in views) - pos, 9),
        "position_views_wrong": sum(abs(v["position"] - pos) > 1e-9 for v in views),
        "books_unequal": sum(not v["book_ok"] or levels(v["bids"]) != levels(book["bids"])
                             or levels(v["asks"]) != levels(book["asks"]) for v in views),
    }


async def audit_orders(sim, views: list[dict]) -> dict:
    """Every order a bot knows, against the sim's record of it (GET /fapi/v1/order)."""
    orders = [(v["bot_id"], o) for v in views for o in v["orders"].values()]
    missed = wrong_status = unknown = 0
    examples: list[str] = []
    status_map = {"NEW": "new", "PARTIALLY_FILLED": "partially_filled", "FILLED": "filled", "CANCELED": "canceled",
                  "EXPIRED": "expired", "EXPIRED_IN_MATCH": "expired", "REJECTED": "rejected"}
    sem = asyncio.Semaphore(32)
    async with aiohttp.ClientSession() as s:
        async def one(bot_id: int, o: dict) -> None:
            nonlocal missed, wrong_status, unknown
            async with sem:
                st, body, _ = await signed(s, "GET", sim.rest_url, "/fapi/v1/order",
                                           {"symbol": "BTCUSDT", "origClientOrderId": o["cid"]})
            if st != 200:
                if o["status"] != "rejected":
                    unknown += 1
                    examples.append(f"{o['cid']}: bot says {o['status']}, sim HTTP {st} {body}")
                return
            filled = float(body["executedQty"])
            if abs(filled - o["cum"]) > 1e-9:
                missed += 1
                examples.append(f"{o['cid']}: bot cum {o['cum']}, sim {filled}")
            if status_map.get(body["status"]) != o["status"]:
                wrong_status += 1
                examples.append(f"{o['cid']}: bot status {o['status']}, sim {body['status']}")
        await asyncio.gather(*(one(b, o) for b, o in orders))
    return {"orders_audited": len(orders), "fills_missed": missed, "status_wrong": wrong_status,
            "unknown_to_sim": unknown, "examples": examples[:10]}


def check_recording(path: Path) -> str | None:
    """None if every byte decompresses and every line is '<ns> <json>', else the problem."""
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(raw)
        elif path.suffix == ".zst":
            data = zstandard.ZstdDecompressor().decompressobj().decompress(raw)
        else:
            data = raw
        for n, line in enumerate(data.splitlines(), 1):
            ts, _, msg = line.partition(b" ")
            int(ts)
            orjson.loads(msg)
    except Exception as e:
        return f"{e.__class__.__name__}: {e}"
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description="hftctl soak run")
    ap.add_argument("minutes", nargs="?", type=float, default=10.0)
    args = ap.parse_args()
    total = args.minutes * 60
    if total < 4 * CYCLE_S:
        sys.exit("error: a soak needs at least 4 minutes")
    if not RECORDING.exists():
        sys.exit(f"error: {RECORDING} not found (HFTCTL_SHARED_DATA)")
    work = Path(tempfile.mkdtemp(prefix="hftctl-soak-"))
    env = {**os.environ, "HFTCTL_STATUS_DIR": str(work / "status"), "PYTHONUNBUFFERED": "1"}
    name = f"soak{os.getpid()}"
    py = sys.executable
    speed = RECORDING_S / (total - 60)
    log(f"soak {args.minutes:g} min in {work}; replay speed {speed:.3f}")
    procs: list[Proc] = []
    with start_sim(extra_args=["--replay", str(RECORDING), "--speed", f"{speed:.4f}", "--no-rate-limits"],
                   env={"HFTCTL_STATUS_DIR": env["HFTCTL_STATUS_DIR"]}) as sim:
        sim_proc = Proc("sim", sim.process, sim.log_path)
        cfg = work / "connector.toml"
        cfg.write_text(f'stream_url = "{sim.ws_url}"\napi_url = "{sim.rest_url}"\norder_prefix = "{PREFIX}"\n'
                       'api_key = "hftctl-sim-key"\nsecret = "hftctl-sim-secret"\n')
        conn = Proc.start("connector", [py, "-m", "hftctl", "connector", name, "binancefutures", str(cfg)], work, env)
        deadline = time.monotonic() + 60
        while "Listening for bot connections" not in conn.text():
            if conn.p.poll() is not None or time.monotonic() > deadline:
                print(conn.text()[-3000:])
                sys.exit("error: the connector did not start")
            time.sleep(0.2)
        flow = str(int(total - CALM_END_S))
        bots = [Proc.start(f"bot{i}", [py, str(ROOT / "tests/connector_bot.py"), "--name", name, "--out",
                                 str(work / f"bot{i}.json"), "--mode", "flow", "--flow-seconds", flow], work, env)
                for i in range(BOTS)]
        coll_ipc = Proc.start("collector-ipc", [py, "-m", "hftctl", "collect", name, "btcusdt", "--ipc", "--out",
                                          str(work / "rec-ipc"), "--rotate", "2m", "--no-progress"], work, env)
        coll_direct = Proc.start("collector-direct", [py, "-m", "hftctl", "collect", "binancefutures", "btcusdt",
                                                "--stream-url", sim.ws_url, "--rest-url", sim.rest_url, "--out",
                                                str(work / "rec-direct"), "--rotate", "2m", "--no-progress"], work, env)
        procs = [sim_proc, conn, *bots, coll_ipc, coll_direct]
        t0 = time.monotonic()
        next_sample = next_report = 0.0
        cycle = -1
        storming = False
        while (now := time.monotonic() - t0) < total:
            k = int(now // CYCLE_S)
            if now >= next_sample and now - k * CYCLE_S >= STORM_S + 10:
                # Steady state only: mid-storm, connections and buffers come and go.
                next_sample = now + SAMPLE_S
                for p in procs:
                    p.sample(now)
            in_storm = now - k * CYCLE_S < STORM_S and now < total - CALM_END_S and now > 20
            if in_storm and k != cycle:
                cycle = k
                faults = {**STORM, "clock_shift_ms": 3000 if k % 2 else -2000}
                if k % 2 == 0:
                    faults["expire_user_stream"] = True
                http_json(f"{sim.control_url}/fault", faults)
                storming = True
            elif storming and not in_storm:
                http_json(f"{sim.control_url}/fault", CALM)
                storming = False
            if now >= next_report:
                next_report = now + 60
                dead = [p.name for p in procs if p.p.poll() is not None]
                log(f"{now / 60:.1f} min: {'storm' if storming else 'calm'}; "
                    f"connector RSS {conn.samples[-1][1] / 1024 if conn.samples else 0:.0f} MB; dead: {dead or 'none'}")
            time.sleep(0.5)
        if storming:
            http_json(f"{sim.control_url}/fault", CALM)
        # The replay has ended (the market is still): the views must match the sim's.
        log("run over; comparing the bots' views with the sim")
        outs = [work / f"bot{i}.json" for i in range(BOTS)]
        result: dict = {}
        end = time.monotonic() + 90
        while True:
            views = [bot_view(b, o) for b, o in zip(bots, outs)]
            state = http_json(f"{sim.control_url}/state?symbol=BTCUSDT")
            if all(v is not None for v in views):
                result = compare(views, state)
                if not (result["orphan_orders"] or result["phantom_orders"] or result["position_gap"]
                        or result["books_unequal"] or result["position_views_wrong"]) or time.monotonic() > end:
                    break
            elif time.monotonic() > end:
                result = {"error": "a bot's view is unavailable"}
                break
            time.sleep(2)
        audit = asyncio.run(audit_orders(sim, [v for v in views if v])) if all(views) else {}
        counters = state.get("counters", {})
        # The audit spent this minute's request weight of the IP; let the window roll over, or
        # the connector's stop would (rightly) wait it out instead of cancelling.
        time.sleep(61 - time.time() % 60)
        for b in bots:
            b.stop()
        for c in (coll_ipc, coll_direct):
            c.stop(signal.SIGINT)
        conn.stop()
        # The connector's stop cancels every order it owns: nothing of ours stays open.
        left_open = [o["client_order_id"] for o in http_json(f"{sim.control_url}/state?symbol=BTCUSDT")
                     ["accounts"][0]["open_orders"] if o["client_order_id"].startswith(PREFIX + "-")]
    files = sorted(p for d in ("rec-ipc", "rec-direct") for p in (work / d).rglob("*") if p.is_file())
    unreadable = {str(f.relative_to(work)): err for f in files if (err := check_recording(f))}
    tracebacks = {p.name: p.text().count("Traceback") for p in procs if p.log.exists() and "Traceback" in p.text()}

    print()
    print(f"soak {args.minutes:g} min, {BOTS} bots; sim counters: fills {counters.get('fills')}, "
          f"orders {counters.get('orders_received')}, gaps injected {counters.get('gaps_injected')}")
    print(f"{'process':18} {'RSS start':>10} {'RSS end':>9} {'RSS slope':>12} {'fds':>9} {'fd slope':>10}"
          "   (slopes over the second half; bots and sim informative only)")
    leaks = []
    for p in procs:
        if not p.samples:
            continue
        half = [s for s in p.samples if s[0] >= p.samples[-1][0] / 2]
        rs = slope([(t, r) for t, r, _ in half])
        fs = slope([(t, f) for t, _, f in half])
        print(f"{p.name:18} {p.samples[0][1] / 1024:9.1f}M {p.samples[-1][1] / 1024:8.1f}M "
              f"{rs:9.1f}kB/m {p.samples[0][2]:4d}->{p.samples[-1][2]:<4d} {fs:7.2f}/m")
        # Flat: the second half grows by less than 2 MB (or 3%) and holds its fd count.
        judged = p.name == "connector" or p.name.startswith("collector")
        if judged and (rs * (p.samples[-1][0] / 2) / 60 > max(2048, 0.03 * p.samples[-1][1])
                       or fs * args.minutes / 2 >= 2):
            leaks.append(p.name)
    print(f"missed fills (per order): {audit.get('fills_missed')} of {audit.get('orders_audited')} orders; "
          f"status wrong: {audit.get('status_wrong')}; unknown to the sim: {audit.get('unknown_to_sim')}")
    print(f"position: sum of the bots' fills - sim position = {result.get('position_gap')}; "
          f"bots with a wrong position: {result.get('position_views_wrong')}")
    print(f"orphan orders (open at the sim, no bot knows them): {len(result.get('orphan_orders', []))}; "
          f"orders bots believe open that are not: {len(result.get('phantom_orders', []))}")
    print(f"books unequal to the sim's: {result.get('books_unequal')} of {BOTS}")
    print(f"orders left open after the bots and the connector stopped: {len(left_open)}")
    print(f"recordings: {len(files)} files, unreadable: {len(unreadable)} {unreadable or ''}")
    print(f"tracebacks in logs: {tracebacks or 0}; slopes not flat: {leaks or 'none'}")
    for e in audit.get("examples", []):
        print("  ", e)
    bad = (leaks or unreadable or tracebacks or audit.get("fills_missed") or audit.get("status_wrong")
           or audit.get("unknown_to_sim") or result.get("orphan_orders") or result.get("phantom_orders")
           or result.get("position_gap") or result.get("books_unequal") or "error" in result or left_open)
    print("VERDICT:", "FAIL" if bad else "PASS", f"(logs in {work})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
