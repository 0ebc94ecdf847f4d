#!/usr/bin/env python3
"""Benchmark `hftctl convert` against hftbacktest 2.4.4's converter on the same recording.

Each tool runs in its own subprocess (so peak RSS is its own): imports are excluded from the
timing, each conversion runs RUNS times and the median counts (hftbacktest's first run includes
numba compilation, reported separately). Three cases: writing each tool's default .npz
(hftbacktest: np.savez_compressed = deflate 6; hftctl: deflate 1), writing the same deflate-6
file, and converting in memory without writing. Needs the `bench` extra (hftbacktest==2.4.4).

    .venv/bin/python scripts/bench_convert.py [RECORDING.gz] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
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
    from hftctl.convert import ConvertOptions, convert_files, finalize, read_file
    opts = ConvertOptions(compress_level=level, jobs=1)
    def run():
        if out:
            return convert_files([path], out, opts).outputs[0][1]
        return len(finalize(read_file(path, opts).data, opts))
times, rows = [], 0
for _ in range(runs):
    t = time.perf_counter()
    rows = run()
    times.append(time.perf_counter() - t)
print(json.dumps({"rows": rows, "first": times[0], "median": statistics.median(times),
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def measure(tool: str, path: str, out: str, runs: int, level: int) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, tool, path, out, str(runs), str(level)],
                          capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        sys.exit(f"{tool} failed:\n{proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("recording", nargs="?", default=DEFAULT_INPUT)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    path = os.path.abspath(args.recording)
    try:
        import hftbacktest  # noqa: F401
    except ImportError:
        sys.exit("hftbacktest is not installed: pip install -e '.[bench]' (hftbacktest==2.4.4)")

    print(f"input: {path} ({os.path.getsize(path) / 1e6:.1f} MB), {os.cpu_count()} cores, "
          f"median of {args.runs} runs each\n")
    with tempfile.TemporaryDirectory() as tmp:
        cases = [
            ("write .npz, each tool's default", os.path.join(tmp, "a.npz"), 1),
            ("write .npz, both deflate level 6", os.path.join(tmp, "b.npz"), 6),
            ("in memory, no file", "", 1),
        ]
        ref_cache: dict[bool, dict] = {}
        header = f"{'case':36} {'tool':12} {'rows':>9} {'median s':>9} {'rows/s':>11} {'peak RSS':>9} {'ratio':>6}"
        print(header)
        print("-" * len(header))
        for name, out, level in cases:
            writes = bool(out)
            if writes not in ref_cache:
                ref_cache[writes] = measure("hftbacktest", path, out, args.runs, 6)
            ref = ref_cache[writes]
            ours = measure("hftctl", path, out, args.runs, level)
            if ours["rows"] != ref["rows"]:
                sys.exit(f"row counts differ: hftctl {ours['rows']} vs hftbacktest {ref['rows']}")
            for tool, r in (("hftbacktest", ref), ("hftctl", ours)):
                rate = r["rows"] / r["median"]
                ratio = (ours["rows"] / ours["median"]) / (ref["rows"] / ref["median"])
                print(f"{name:36} {tool:12} {r['rows']:>9,} {r['median']:>9.3f} {rate:>11,.0f} "
                      f"{r['maxrss_kb'] / 1024:>7.0f}MB {ratio if tool == 'hftctl' else 1.0:>5.2f}x")
        print(f"\nhftbacktest first run (numba compile included): {ref_cache[True]['first']:.3f} s")


if __name__ == "__main__":
    main()
