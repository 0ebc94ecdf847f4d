"""What ``hftctl convert`` does around the conversion: progress display and the bad-input verdict.

Problems are printed one line each (``warning: FILE:LINE: ...``); whatever could be converted is
written; the exit is non-zero when anything was skipped, unless the user accepted that with
``--skip-bad`` -- scripts must not mistake a damaged recording for a complete one.
"""

from __future__ import annotations

import sys
import time
from collections import Counter

from hftctl.convert.pipeline import ConvertOptions, Summary, convert_files, total_input_bytes
from hftctl.errors import HftctlError


def run_convert(paths: list[str], options: ConvertOptions, quiet: bool = False,
                skip_bad: bool = False, progress: bool | None = None) -> Summary:
    if len(paths) < 2:
        raise HftctlError("give at least one input and the output: hftctl convert IN [IN ...] OUT.npz")
    *inputs, output = paths
    if output.endswith((".gz", ".zst")):
        raise HftctlError(f"the last argument is the output .npz (or a folder), not {output!r}")
    show = (not quiet) and (sys.stderr.isatty() if progress is None else progress)
    t0 = time.perf_counter()
    if show:
        summary = _with_progress(inputs, output, options)
    else:
        summary = convert_files(inputs, output, options)
    elapsed = time.perf_counter() - t0

    for problem in sorted(summary.problems, key=lambda p: (p.path, p.line)):
        print(f"warning: {problem}", file=sys.stderr)
    if summary.skipped > len(summary.problems):
        print(f"warning: {summary.skipped - len(summary.problems)} more skipped lines not listed",
              file=sys.stderr)
    if not quiet:
        for path, rows in summary.outputs:
            print(f"wrote {path}: {rows:,} events ({', '.join(sorted(set(summary.exchanges.values())))}, "
                  f"{elapsed:.2f} s)", file=sys.stderr)
        if summary.unconverted:
            print(unconverted_line(summary.unconverted, options.opt), file=sys.stderr)
    if (summary.skipped or summary.problems) and not skip_bad:
        what = f"{summary.skipped} input line(s)" if summary.skipped else "some input"
        raise HftctlError(f"{what} could not be converted (see warnings); the rest was written. "
                          "Pass --skip-bad to accept this and exit 0")
    return summary


def unconverted_line(counts: Counter[str], opt: str) -> str:
    """One line for the streams skipped as hftbacktest skips them (no event type for them)."""
    kinds = ", ".join(f"{kind} {n:,}" for kind, n in sorted(counts.items()))
    hints = [f"--opt {letter} converts {kind}" for letter, kind in (("t", "bookTicker"), ("m", "markPrice"))
             if kind in counts and letter not in opt]
    return (f"not converted (no hftbacktest event for them), lines: {kinds}"
            + (f" ({'; '.join(hints)})" if hints else ""))


def _with_progress(inputs: list[str], output: str, options: ConvertOptions) -> Summary:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    total = total_input_bytes(inputs)
    with Progress(TextColumn("converting"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                  transient=True) as bar:
        task = bar.add_task("convert", total=total or None)
        return convert_files(inputs, output, options, progress=lambda n: bar.advance(task, n))
