"""`hftctl convert`: recordings (gzip/zstd/plain, any exchange hftctl records) to hftbacktest .npz."""

from __future__ import annotations

from typing import Optional

import typer

from hftctl import exchanges
from hftctl.errors import HftctlError
from hftctl.log import setup_logging


def command(
    paths: list[str] = typer.Argument(..., metavar="IN... OUT",
                                      help="Recordings or folders of them, then the output .npz "
                                           "(several inputs are merged) or a folder (one .npz per input)."),
    exchange: Optional[str] = typer.Option(None, "--exchange", "-e",
                                           help=f"{', '.join(exchanges.NAMES)} (default: detected from the content)."),
    base_latency: int = typer.Option(0, "--base-latency", help="ns added to the feed latency when local timestamps are corrected (hftbacktest's base_latency)."),
    opt: str = typer.Option("", "--opt", help="hftbacktest's opt: 'm' adds markPrice rows (ids 100-102), 't' adds bookTicker rows (ids 103/104)."),
    book_ticker: bool = typer.Option(False, "--book-ticker", help="Same as --opt t."),
    mark_price: bool = typer.Option(False, "--mark-price", help="Same as --opt m."),
    only: Optional[str] = typer.Option(None, "--only", help="Keep only 'depth' (book) or 'trades' rows."),
    depth: Optional[int] = typer.Option(None, "--depth", help="Book depth to use when a recording holds several (default: the deepest)."),
    timestamp_correction: bool = typer.Option(True, "--timestamp-correction/--no-timestamp-correction",
                                              help="Shift local timestamps so no event arrives before the exchange sent it."),
    order_correction: bool = typer.Option(True, "--order-correction/--no-order-correction",
                                          help="Split events so exchange/local sides are each in time order (hftbacktest's correct_event_order)."),
    compress_level: int = typer.Option(1, "--compress-level", help="Deflate level of the .npz, 0 (none) to 9; 6 is np.savez_compressed's."),
    jobs: int = typer.Option(0, "--jobs", "-j", help="Files converted in parallel (default: all cores)."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Exit 0 even if bad input lines were skipped."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar or summary (warnings still go to stderr)."),
    log_level: Optional[str] = typer.Option(None, "--log-level", help="debug, info, warning, error."),
) -> None:
    from hftctl.convert.pipeline import ConvertOptions
    from hftctl.convert.run import run_convert
    setup_logging(log_level or "warning", "convert")
    opt = "".join(sorted(set(opt + ("t" if book_ticker else "") + ("m" if mark_price else ""))))
    if set(opt) - {"m", "t"}:
        raise HftctlError(f"--opt takes the letters m and t, not {opt!r}")
    if only not in (None, "depth", "trades"):
        raise HftctlError(f"--only takes 'depth' or 'trades', not {only!r}")
    if exchange is not None:
        exchanges.get(exchange)          # one-line error for an unknown name
    if jobs < 0:
        raise HftctlError("--jobs must be 0 (all cores) or more")
    options = ConvertOptions(exchange=exchange, opt=opt, base_latency=base_latency,
                             correct_timestamps=timestamp_correction, correct_order=order_correction,
                             only=only, depth=depth, compress_level=compress_level, jobs=jobs)
    run_convert(paths, options, quiet=quiet, skip_bad=skip_bad)
