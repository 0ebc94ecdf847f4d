#!/usr/bin/env python3
"""Benchmark `hftctl convert` against hftbacktest 2.4.4's converter on the same recording.

Each tool runs in its own subprocesses (so peak RSS is its own), alternating tool by tool for
ROUNDS rounds so machine load hits both alike; in each, imports and one warm-up run (numba
compilation for hftbacktest) are untimed, then RUNS conversions are timed. Reported: the median
and the best wall time over all timed runs, rows/s from the median, and the ratio; also the
median CPU time (user+sys) per conversion and its ratio, which a busy machine distorts less.
hftctl runs with the CLI's defaults (--jobs 0: the .npz is deflated on all cores; a file this
small is parsed by one process), so wall and CPU ratios differ when the write uses two cores. Three cases: writing each tool's default .npz
(hftbacktest: np.savez_compressed = deflate 6; hftctl: deflate 1), writing the same deflate-6
file, and converting in memory without writing. hftctl runs twice: with its C accelerator (the
normal install) and as "hftctl-py" with HFTCTL_PURE_PYTHON=1, the path taken where no C compiler
was available at install time. Needs the `bench` extra (hftbacktest==2.4.4).

    .venv/bin/python scripts/bench_convert.py [RECORDING.gz] [--runs 3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_INPUT = os.path.join(ROOT, "..", "shared", "data", "recordings", "usdm", "btcusdt_20240808.gz")

CHILD = r"""
import contextlib, io, json, resource, statistics, sys, time
tool, path, out, runs, level = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
out = out or None
if tool == "hftbacktest":
    from hftbacktest.data.utils import binancefutures
    def run():
        with contextlib.redirect_stdout(io.StringIO()):
            return len(binancefutures.convert(path, output_filename=out))
else:
    from hftctl.convert import ConvertOptions, accel, convert_files, finalize, read_file
    opts = ConvertOptions(compress_level=level)     # the CLI defaults: --jobs 0 (all cores)
    def run():
        if out:
            return convert_files([path], out, opts).outputs[0][1]
        return len(finalize(read_file(path, opts).data, opts))
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
rows = run()                       # warm-up: numba compile, page cache
times, cpus = [], []
for _ in range(runs):
    t, c = time.perf_counter(), cpu()
    rows = run()
    times.append(time.perf_counter() - t)
    cpus.append(cpu() - c)
accelerated = tool != "hftbacktest" and accel.scan is not None
print(json.dumps({"rows": rows, "times": times, "cpus": cpus, "accelerated": accelerated,
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


TOOLS = ("hftbacktest", "hftctl", "hftctl-py")


def measure(tool: str, path: str, out: str, runs: int, level: int) -> dict:
    env = dict(os.environ, HFTCTL_PURE_PYTHON="1" if tool == "hftctl-py" else "")
    proc = subprocess.run([sys.executable, "-c", CHILD, tool.removesuffix("-py"), path, out, str(runs),
                           str(level)], capture_output=True, text=True, cwd=ROOT, env=env)
    if proc.returncode != 0:
        sys.exit(f"{tool} failed:\n{proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("recording", nargs="?", default=DEFAULT_INPUT)
    ap.add_argument("--runs", type=int, default=3, help="timed conversions per subprocess")
    ap.add_argument("--rounds", type=int, default=3, help="alternating subprocess rounds per tool")
    args = ap.parse_args()
    path = os.path.abspath(args.recording)
    try:
        import hftbacktest  # noqa: F401
    except ImportError:
        sys.exit("hftbacktest is not installed: pip install -e '.[bench]' (hftbacktest==2.4.4)")

    load = os.getloadavg()[0]
    print(f"input: {path} ({os.path.getsize(path) / 1e6:.1f} MB), {os.cpu_count()} cores, "
          f"load {load:.2f}, {args.rounds} rounds x {args.runs} timed runs per tool and case\n")
    with tempfile.TemporaryDirectory() as tmp:
        cases = [
            ("write .npz, each tool's default", os.path.join(tmp, "a.npz"), 1),
            ("write .npz, both deflate level 6", os.path.join(tmp, "b.npz"), 6),
            ("in memory, no file", "", 1),
        ]
        header = (f"{'case':34} {'tool':12} {'rows':>9} {'median s':>9} {'best s':>7} "
                  f"{'rows/s':>11} {'ratio':>6} {'cpu s':>6} {'cpu ratio':>9} {'peak RSS':>9}")
        print(header)
        print("-" * len(header))
        ref_by_out: dict[bool, dict] = {}
        for name, out, level in cases:
            results: dict[str, dict] = {t: {"times": [], "cpus": [], "maxrss_kb": 0} for t in TOOLS}
            reuse = bool(out) in ref_by_out           # hftbacktest always writes deflate 6
            for _ in range(args.rounds):
                tools = TOOLS[1:] if reuse else TOOLS
                for tool in tools:
                    r = measure(tool, path, out, args.runs, level)
                    if tool == "hftctl" and not r["accelerated"]:
                        sys.exit("hftctl's C accelerator is not built (pip install -e . with a C compiler)")
                    results[tool]["rows"] = r["rows"]
                    results[tool]["times"] += r["times"]
                    results[tool]["cpus"] += r["cpus"]
                    results[tool]["maxrss_kb"] = max(results[tool]["maxrss_kb"], r["maxrss_kb"])
            if reuse:
                results["hftbacktest"] = ref_by_out[bool(out)]
            ref_by_out[bool(out)] = results["hftbacktest"]
            ref = results["hftbacktest"]
            for tool in TOOLS[1:]:
                if results[tool]["rows"] != ref["rows"]:
                    sys.exit(f"row counts differ: {tool} {results[tool]['rows']} vs hftbacktest {ref['rows']}")
            rate = {t: r["rows"] / statistics.median(r["times"]) for t, r in results.items()}
            cpu = {t: statistics.median(r["cpus"]) for t, r in results.items()}
            for tool, r in results.items():
                ratio = rate[tool] / rate["hftbacktest"]
                cpu_ratio = cpu["hftbacktest"] / cpu[tool]
                print(f"{name:34} {tool:12} {r['rows']:>9,} {statistics.median(r['times']):>9.3f} "
                      f"{min(r['times']):>7.3f} {rate[tool]:>11,.0f} {ratio:>5.2f}x {cpu[tool]:>6.3f} "
                      f"{cpu_ratio:>8.2f}x {r['maxrss_kb'] / 1024:>7.0f}MB")
        print(f"\nload average at the end: {os.getloadavg()[0]:.2f} (figures are wall time; "
              "compare on an idle machine)")


if __name__ == "__main__":
    main()
