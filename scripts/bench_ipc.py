#!/usr/bin/env python3
"""Benchmark hftctl's shared-memory ring against multiprocessing.Pipe and a Unix domain socket.

Everything runs in one invocation on the same machine so the ratios are meaningful:
- round-trip latency (p50/p99) for 64 B and 1 KiB payloads between two processes; the ring
  path is the real one (bot -> request channel -> connector -> broadcast channel -> bot);
- one-way throughput of 64 B messages (1M by default) from one process to another;
- the CPU a parked reader uses while nothing arrives (10 s of idle).

The ring runs in its three read modes: ``ring_default`` (spin_us=None: adaptive spin, then
park; what bots and the connector use), ``ring_block`` (spin_us=0: park at once; the default
before the adaptive mode) and ``ring_spin`` (busy-poll). Prints a table, the ratios against the
targets (default mode RTT p50 <= 0.5x UDS, unbatched throughput >= 2x Pipe, idle CPU ~ 0),
the same ratios for ring_block (the "before"), and a final JSON line. ``--quick`` uses 10x
fewer messages and 2 s of idle.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from hftctl.ipc import BroadcastReader, BroadcastWriter, Overrun, RequestReader, RequestWriter  # noqa: E402
from hftctl.ipc import ring as R  # noqa: E402

CTX = mp.get_context("fork")
SPIN_FOREVER = 5e6  # µs: "busy-poll", the sleeping path is only a safety net
MODES = {"ring_default": None, "ring_block": 0.0, "ring_spin": SPIN_FOREVER}   # spin_us per mode
STOP = b"\x00stop"


def cpu_s() -> float:
    """User + system CPU seconds of this process (load-independent cost measure)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def percentile(sorted_ns: list[int], q: float) -> float:
    return sorted_ns[min(len(sorted_ns) - 1, int(q * len(sorted_ns)))] / 1000.0


def summarise(samples: list[int]) -> dict:
    samples.sort()
    return {"p50_us": percentile(samples, 0.50), "p99_us": percentile(samples, 0.99),
            "mean_us": sum(samples) / len(samples) / 1000.0}


# --- ring -------------------------------------------------------------------------------------

def ring_echo(name: str, spin_us: float | None, ready) -> None:
    events = BroadcastWriter.create(name)
    requests = RequestReader.create(name, spin_us=spin_us)
    ready.put(1)
    try:
        while True:
            m = requests.recv(timeout=None)
            if m.payload == STOP:
                break
            events.publish(m.payload, m.sender)
    finally:
        requests.close()
        events.close()


def ring_rtt(size: int, n: int, spin_us: float | None, parks: dict | None = None) -> list[int]:
    """Round trips through the ring; ``parks`` (if given) adds up how often the bot's reader
    parked and how often a writer's wake-up ended the park."""
    name = f"bench-{os.getpid()}"
    ready = CTX.Queue()
    p = CTX.Process(target=ring_echo, args=(name, spin_us, ready), daemon=True)
    p.start()
    ready.get(timeout=10)
    rd = BroadcastReader.attach(name, timeout=5, spin_us=spin_us)
    wr = RequestWriter.attach(name, sender=rd.bot_id)
    payload = b"p" * size
    out = []
    clock = time.perf_counter_ns
    send, recv = wr.send, rd.recv
    try:
        for i in range(n + n // 10):
            t0 = clock()
            send(payload)
            m = recv(5.0)
            t1 = clock()
            if m is None or m.payload != payload:
                raise RuntimeError(f"ring echo failed: {m!r}")
            if i >= n // 10:  # first 10% warm-up
                out.append(t1 - t0)
        wr.send(STOP)
        if parks is not None:
            parks["parks"] = parks.get("parks", 0) + rd.waiter.parks
            parks["wakeups"] = parks.get("wakeups", 0) + rd.waiter.wakeups
            parks["round_trips"] = parks.get("round_trips", 0) + n + n // 10
    finally:
        rd.close()
        wr.close()
        p.join(10)
        if p.is_alive():
            p.kill()
    return out


def ring_sink(name: str, n: int, spin_us: float | None, batched: bool, result) -> None:
    rd = BroadcastReader.attach(name, timeout=10, spin_us=spin_us)
    result.put("ready")
    got = lost = 0
    t0 = None
    c0 = cpu_s()
    if batched:
        recv_many = rd.recv_many
        while got + lost < n:
            ms = recv_many(5.0)
            if not ms:
                break
            if t0 is None:
                t0 = time.perf_counter()
            if type(ms[-1]) is Overrun:
                lost += ms.pop().lost
            got += len(ms)
    else:
        recv = rd.recv
        while got + lost < n:
            m = recv(5.0)
            if m is None:
                break
            if t0 is None:
                t0 = time.perf_counter()
            if type(m) is Overrun:
                lost += m.lost
            else:
                got += 1
    result.put((got, lost, time.perf_counter() - t0, cpu_s() - c0, rd.waiter.parks))
    rd.close()


def ring_throughput(n: int, spin_us: float | None, batch: int = 0, batch_check: int = 4096) -> dict:
    """``batch`` > 0: the producer uses publish_many(batch) and the consumer recv_many."""
    name = f"bench-tp-{os.getpid()}"
    w = BroadcastWriter.create(name)
    result = CTX.Queue()
    p = CTX.Process(target=ring_sink, args=(name, n, spin_us, batch > 0, result), daemon=True)
    p.start()
    try:
        result.get(timeout=10)
        payload = b"t" * 64
        # Flow control for the benchmark only: the channel never waits for readers (a slow bot
        # must not stall the others), so keep the producer within half a ring of the consumer to
        # measure delivered throughput rather than overruns.
        slot_seq = memoryview(w._seg.mm)[R.SLOTS_OFF:R.SLOTS_OFF + 32].cast("Q")
        window = (w._cap // R.rec_size(64)) // 2
        t0 = time.perf_counter()
        c0 = cpu_s()
        if batch:
            chunk = [payload] * batch
            publish_many = w.publish_many
            for i in range(0, n, batch):
                if i % batch_check < batch:
                    while i - slot_seq[R.S_SEQ] > window:
                        time.sleep(0.0001)  # leave the CPU to the consumer
                publish_many(chunk if i + batch <= n else chunk[:n - i])
        else:
            publish = w.publish
            for i in range(n):
                if i % batch_check == 0:
                    while i - slot_seq[R.S_SEQ] > window:
                        time.sleep(0.0001)  # leave the CPU to the consumer
                publish(payload)
        t_send = time.perf_counter() - t0
        c_send = cpu_s() - c0
        got, lost, t_recv, c_recv, parks = result.get(timeout=120)
        wakeups = w.wakeups
        slot_seq.release()
    finally:
        w.close()
        p.join(10)
        if p.is_alive():
            p.kill()
    return {"msgs_per_s": got / t_recv, "received": got, "lost": lost, "send_s": t_send, "recv_s": t_recv,
            "cpu_us_per_msg": (c_send + c_recv) / n * 1e6, "reader_parks": parks, "writer_wakeups": wakeups}


# --- multiprocessing.Pipe ----------------------------------------------------------------------

def pipe_echo(conn) -> None:
    while True:
        b = conn.recv_bytes()
        if b == STOP:
            return
        conn.send_bytes(b)


def pipe_rtt(size: int, n: int) -> list[int]:
    a, b = CTX.Pipe()
    p = CTX.Process(target=pipe_echo, args=(b,), daemon=True)
    p.start()
    payload = b"p" * size
    out = []
    clock = time.perf_counter_ns
    for i in range(n + n // 10):
        t0 = clock()
        a.send_bytes(payload)
        r = a.recv_bytes()
        t1 = clock()
        assert r == payload
        if i >= n // 10:
            out.append(t1 - t0)
    a.send_bytes(STOP)
    p.join(10)
    return out


def pipe_sink(conn, n, result) -> None:
    conn.recv_bytes()
    t0 = time.perf_counter()
    c0 = cpu_s()
    recv = conn.recv_bytes
    for _ in range(n):
        recv()
    result.put((time.perf_counter() - t0, cpu_s() - c0))


def pipe_throughput(n: int) -> dict:
    a, b = CTX.Pipe(duplex=False)
    result = CTX.Queue()
    p = CTX.Process(target=pipe_sink, args=(a, n, result), daemon=True)
    p.start()
    send = b.send_bytes
    send(b"go")
    payload = b"t" * 64
    c0 = cpu_s()
    for _ in range(n):
        send(payload)
    c_send = cpu_s() - c0
    t, c_recv = result.get(timeout=300)
    p.join(10)
    return {"msgs_per_s": n / t, "received": n, "lost": 0, "cpu_us_per_msg": (c_send + c_recv) / n * 1e6}


# --- Unix domain socket ----------------------------------------------------------------------

def recv_exact(sock: socket.socket, buf: bytearray, size: int) -> None:
    view = memoryview(buf)
    got = 0
    while got < size:
        k = sock.recv_into(view[got:size])
        if k == 0:
            raise EOFError
        got += k


def uds_echo(sock: socket.socket, size: int) -> None:
    buf = bytearray(size)
    try:
        while True:
            recv_exact(sock, buf, size)
            sock.sendall(buf)
    except (EOFError, ConnectionError):
        return


def uds_rtt(size: int, n: int) -> list[int]:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    p = CTX.Process(target=uds_echo, args=(b, size), daemon=True)
    p.start()
    b.close()
    payload = b"p" * size
    buf = bytearray(size)
    out = []
    clock = time.perf_counter_ns
    for i in range(n + n // 10):
        t0 = clock()
        a.sendall(payload)
        recv_exact(a, buf, size)
        t1 = clock()
        if i >= n // 10:
            out.append(t1 - t0)
    a.close()
    p.join(10)
    return out


def uds_sink(sock, n, result) -> None:
    buf = bytearray(64)
    recv_exact(sock, buf, 64)
    t0 = time.perf_counter()
    c0 = cpu_s()
    for _ in range(n):
        recv_exact(sock, buf, 64)
    result.put((time.perf_counter() - t0, cpu_s() - c0))


def uds_throughput(n: int) -> dict:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    result = CTX.Queue()
    p = CTX.Process(target=uds_sink, args=(b, n, result), daemon=True)
    p.start()
    payload = b"t" * 64
    send = a.sendall
    send(payload)
    c0 = cpu_s()
    for _ in range(n):
        send(payload)
    c_send = cpu_s() - c0
    t, c_recv = result.get(timeout=300)
    p.join(10)
    a.close()
    return {"msgs_per_s": n / t, "received": n, "lost": 0, "cpu_us_per_msg": (c_send + c_recv) / n * 1e6}


# --- idle: what a parked reader costs ---------------------------------------------------------

def idle_reader(kind: str, name: str, spin_us: float | None, seconds: float, result) -> None:
    """Wait ``seconds`` for messages that never come; report the CPU this process used."""
    if kind == "broadcast":
        end = BroadcastReader.attach(name, timeout=10, spin_us=spin_us)
    else:
        end = RequestReader.create(name, spin_us=spin_us)
    result.put("ready")
    got = int(end.recv(timeout=0.5) is not None)   # settle: the queue's feeder thread, first faults
    c0, t0 = cpu_s(), time.monotonic()
    while (left := seconds - (time.monotonic() - t0)) > 0:
        if end.recv(timeout=left) is not None:
            got += 1
    result.put((kind, cpu_s() - c0, time.monotonic() - t0, got, end.waiter.parks))
    end.close()


def idle_cpu(seconds: float, spin_us: float | None) -> dict:
    """CPU seconds a broadcast reader (bot) and a request reader (connector) use while idle.

    The broadcast writer stamps its heartbeat every 0.5 s, as a connector does; no messages.
    """
    name = f"bench-idle-{os.getpid()}"
    w = BroadcastWriter.create(name)
    result = CTX.Queue()
    ps = [CTX.Process(target=idle_reader, args=(kind, name, spin_us, seconds, result), daemon=True)
          for kind in ("broadcast", "request")]
    for p in ps:
        p.start()
    out = {}
    try:
        for _ in ps:
            result.get(timeout=10)
        end = time.monotonic() + seconds + 1.0     # (the readers settle for 0.5 s first)
        while time.monotonic() < end:
            w.heartbeat()
            time.sleep(0.5)
        for _ in ps:
            kind, cpu, wall, got, parks = result.get(timeout=30)
            out[kind] = {"cpu_s": cpu, "wall_s": wall, "cpu_fraction": cpu / wall, "messages": got,
                         "parks": parks}
    finally:
        w.close()
        for p in ps:
            p.join(10)
            if p.is_alive():
                p.kill()
    return out


# --- main --------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10k round trips, 100k throughput messages, 2 s idle")
    ap.add_argument("--rtt", type=int, default=None, help="round trips per size (default 100000)")
    ap.add_argument("--messages", type=int, default=None, help="throughput messages (default 1000000)")
    ap.add_argument("--idle", type=float, default=None, help="seconds of idle for the CPU measurement (default 10)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds the counts are split over")
    args = ap.parse_args()
    n_rtt = args.rtt or (10_000 if args.quick else 100_000)
    n_tp = args.messages or (100_000 if args.quick else 1_000_000)
    idle_s = args.idle or (2.0 if args.quick else 10.0)

    rounds = args.rounds
    # Interleave transports over several rounds so a noisy neighbour on this machine hurts all of
    # them alike; RTT samples are pooled, throughput is the median of the rounds.
    samples: dict[str, list[int]] = {}
    parks: dict[str, dict] = {}
    tps: dict[str, list[dict]] = {}
    per_round_rtt = max(1, -(-n_rtt // rounds))   # ceil: at least the requested count
    per_round_tp = max(1, -(-n_tp // rounds))
    for _ in range(rounds):
        for size in (64, 1024):
            for mode, spin_us in MODES.items():
                samples.setdefault(f"{mode}/{size}", []).extend(
                    ring_rtt(size, per_round_rtt, spin_us, parks.setdefault(f"{mode}/{size}", {})))
            samples.setdefault(f"pipe/{size}", []).extend(pipe_rtt(size, per_round_rtt))
            samples.setdefault(f"uds/{size}", []).extend(uds_rtt(size, per_round_rtt))
        for mode, spin_us in MODES.items():
            tps.setdefault(mode, []).append(ring_throughput(per_round_tp, spin_us))
        for mode in ("ring_default", "ring_block"):
            tps.setdefault(f"{mode}_batch64", []).append(ring_throughput(per_round_tp, MODES[mode], batch=64))
        tps.setdefault("pipe", []).append(pipe_throughput(per_round_tp))
        tps.setdefault("uds", []).append(uds_throughput(per_round_tp))
    idle = {mode: idle_cpu(idle_s, MODES[mode]) for mode in ("ring_default", "ring_block")}
    rtt = {k: summarise(v) for k, v in samples.items()}
    for k, v in parks.items():
        rtt[k]["parks_per_1k"] = 1000 * v["parks"] / v["round_trips"]
        rtt[k]["woken_per_1k"] = 1000 * v["wakeups"] / v["round_trips"]
    tp = {}
    for k, runs in tps.items():
        runs.sort(key=lambda r: r["msgs_per_s"])
        med = dict(runs[len(runs) // 2])
        med["rounds_msgs_per_s"] = [round(r["msgs_per_s"]) for r in runs]
        med["lost"] = sum(r["lost"] for r in runs)
        tp[k] = med
    n_rtt, n_tp = per_round_rtt * rounds, per_round_tp * rounds

    print(f"round trip, {n_rtt} per size (µs); parks/woken: the bot's reader, per 1000 round trips")
    print(f"{'transport':<13} {'size':>5} {'p50':>8} {'p99':>8} {'mean':>8} {'parks':>7} {'woken':>7}")
    for key, v in rtt.items():
        kind, size = key.split("/")
        extra = f" {v['parks_per_1k']:>7.1f} {v['woken_per_1k']:>7.1f}" if "parks_per_1k" in v else ""
        print(f"{kind:<13} {size:>5} {v['p50_us']:>8.2f} {v['p99_us']:>8.2f} {v['mean_us']:>8.2f}{extra}")
    print(f"\none-way throughput, {n_tp} x 64 B (median of {rounds} rounds; parks: the reader's, wakes: the "
          "writer's wake syscalls, in that round)")
    print(f"{'transport':<20} {'msg/s':>12} {'lost':>6} {'cpu µs/msg':>11} {'parks':>6} {'wakes':>6}  rounds (msg/s)")
    for kind, v in tp.items():
        pw = f" {v['reader_parks']:>6} {v['writer_wakeups']:>6}" if "reader_parks" in v else f" {'':>6} {'':>6}"
        print(f"{kind:<20} {v['msgs_per_s']:>12,.0f} {v['lost']:>6} {v['cpu_us_per_msg']:>11.2f}{pw}  {v['rounds_msgs_per_s']}")
    print(f"\nidle: CPU used by a reader waiting {idle_s:.1f} s for nothing (writer heartbeating)")
    print(f"{'mode':<13} {'reader':<10} {'cpu s':>9} {'% of a core':>12} {'parks':>6}")
    for mode, kinds in idle.items():
        for kind, v in kinds.items():
            print(f"{mode:<13} {kind:<10} {v['cpu_s']:>9.4f} {100 * v['cpu_fraction']:>11.3f}% {v['parks']:>6}")

    ratios = {}
    for mode in ("ring_default", "ring_block", "ring_spin"):
        for size in (64, 1024):
            ratios[f"rtt_p50_{mode}_over_uds/{size}"] = rtt[f"{mode}/{size}"]["p50_us"] / rtt[f"uds/{size}"]["p50_us"]
    for mode in ("ring_default", "ring_block", "ring_spin", "ring_default_batch64", "ring_block_batch64"):
        ratios[f"throughput_{mode}_over_pipe"] = tp[mode]["msgs_per_s"] / tp["pipe"]["msgs_per_s"]
    for mode in ("ring_default", "ring_block"):
        for kind in ("broadcast", "request"):
            ratios[f"idle_cpu_{mode}_{kind}_over_wall"] = idle[mode][kind]["cpu_fraction"]
    for mode in ("ring_default", "ring_block"):
        ratios[f"cpu_per_msg_pipe_over_{mode}"] = tp["pipe"]["cpu_us_per_msg"] / tp[mode]["cpu_us_per_msg"]
    print("\nratios (targets for ring_default, the mode bots and the connector use: RTT p50 ring/UDS <= 0.5,\n"
          "unbatched throughput ring/Pipe >= 2.0, idle CPU/wall ~ 0 (< 0.002: its 4 liveness checks a\n"
          "second); ring_block is the before)")
    for k, v in ratios.items():
        if k.startswith("cpu"):
            print(f"  {k:<48} {v:6.2f}  (informational: CPU cost, insensitive to machine load)")
            continue
        if k.startswith("idle"):
            print(f"  {k:<48} {v:8.5f}  {'meets target' if v < 0.002 else 'MISSES target'}")
            continue
        target_ok = v <= 0.5 if k.startswith("rtt") else v >= 2.0
        note = "" if "batch64" in k or "spin" in k else ("  meets target" if target_ok else "  MISSES target")
        print(f"  {k:<48} {v:6.2f}{note}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(json.dumps({"bench": "ipc", "rounds": rounds, "loadavg": os.getloadavg()[0], "rtt_n": n_rtt,
                      "throughput_n": n_tp, "idle_s": idle_s, "cpus": os.cpu_count(), "rtt": rtt,
                      "throughput": tp, "idle": idle, "ratios": ratios}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
