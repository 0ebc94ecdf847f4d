#!/usr/bin/env python3
"""Benchmark `hftctl audit` against `hftctl convert` on the same recording, in one run.

Both read the file the same way (the converter's reader); the audit then builds its report and
the converter its event array. Alternating the tools over rounds (so a busy machine slows both
alike), it prints the median wall and CPU seconds of:
- convert: ``convert_files`` writing the .npz, as ``hftctl convert IN OUT.npz`` does;
- convert in memory: ``read_file`` + ``finalize`` (no file written);
- audit: ``scan_file`` + ``build``, as ``hftctl audit IN`` does;
- audit-py: the same with the C accelerators off (what an install without a compiler runs);
and the ratio audit / convert. A last pair times both commands end to end as subprocesses
(interpreter start-up and imports included). The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hftctl.audit import accel as audit_accel  # noqa: E402
from hftctl.audit.report import Thresholds, build  # noqa: E402
from hftctl.audit.scan import AuditOptions, scan_file  # noqa: E402
from hftctl.convert import accel as convert_accel  # noqa: E402
from hftctl.convert import ConvertOptions, convert_files, finalize, read_file  # noqa: E402

DEFAULT = ROOT.parent / "shared" / "data" / "recordings" / "usdm" / "btcusdt_20240808.gz"


def timed(fn) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", nargs="?", default=str(DEFAULT))
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    path = args.file
    if not Path(path).exists():
        raise SystemExit(f"recording not found: {path}")
    fast = audit_accel.fast, convert_accel.scan

    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        out = str(Path(tmp) / "out.npz")

        def pure(fn):
            def run():
                audit_accel.fast, convert_accel.scan = None, None
                try:
                    fn()
                finally:
                    audit_accel.fast, convert_accel.scan = fast
            return run

        cases = {
            "convert": lambda: convert_files([path], out, ConvertOptions()),
            "convert in memory": lambda: finalize(read_file(path, ConvertOptions()).data, ConvertOptions()),
            "audit": lambda: build(scan_file(path, AuditOptions()), Thresholds()),
            "audit-py": pure(lambda: build(scan_file(path, AuditOptions()), Thresholds())),
        }
        for fn in cases.values():          # warm-up: imports, page cache
            fn()
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in cases}
        for _ in range(args.rounds):
            for name, fn in cases.items():
                times[name].append(timed(fn))

        cli = {}
        for name, cmd in (("hftctl convert", ["convert", path, out, "-q"]),
                          ("hftctl audit", ["audit", path, "--json", "--no-progress"])):
            w = time.perf_counter()
            subprocess.run([sys.executable, "-m", "hftctl", *cmd], stdout=subprocess.DEVNULL, check=False, cwd=ROOT)
            cli[name] = time.perf_counter() - w

    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in times.items()}
    print(f"{path} ({Path(path).stat().st_size / 1e6:.1f} MB), {args.rounds} rounds, median:")
    for name, (w, c) in med.items():
        print(f"  {name:<18} wall {w:6.3f} s   CPU {c:6.3f} s")
    ratio = med["audit"][0] / med["convert"][0]
    ratio_mem = med["audit"][0] / med["convert in memory"][0]
    print(f"  audit / convert: {ratio:.2f}x wall (in memory: {ratio_mem:.2f}x); "
          f"audit-py / audit: {med['audit-py'][0] / med['audit'][0]:.2f}x")
    print(f"  end to end: hftctl convert {cli['hftctl convert']:.2f} s, hftctl audit {cli['hftctl audit']:.2f} s")
    print(json.dumps({"file": path, "rounds": args.rounds,
                      "median": {k: {"wall_s": round(w, 4), "cpu_s": round(c, 4)} for k, (w, c) in med.items()},
                      "audit_over_convert": round(ratio, 3), "audit_over_convert_in_memory": round(ratio_mem, 3),
                      "cli_s": {k: round(v, 3) for k, v in cli.items()}}))


if __name__ == "__main__":
    main()
