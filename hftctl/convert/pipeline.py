"""Convert recordings: read, map to rows, correct, validate, write -- one file or many in parallel.

Several inputs and one output file make one merged, time-ordered event array (a recording split
over several files, e.g. rotated hourly, becomes one backtest input). An output directory makes
one ``.npz`` per input instead. Files are parsed in parallel worker processes (``jobs``); the
corrections run once over the merged rows, so the result equals converting the concatenation.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from hftctl import exchanges
from hftctl.children import die_with_parent, pool_initargs
from hftctl.convert import accel
from hftctl.convert import events as E
from hftctl.convert.correction import correct_event_order, correct_local_timestamp, validate_event_order
from hftctl.convert.gaps import place_gap_clears
from hftctl.convert.lines import split_lines
from hftctl.convert.mapper import MapOptions
from hftctl.convert.npzfile import write_npz
from hftctl.convert.problems import Problem, ProblemLog
from hftctl.convert.rows import RowBlock, assemble
from hftctl.convert.source import input_size, read_chunks, sample_text
from hftctl.errors import HftctlError

log = logging.getLogger(__name__)

ONLY_KINDS = {
    "depth": (E.DEPTH_EVENT, E.DEPTH_CLEAR_EVENT, E.DEPTH_SNAPSHOT_EVENT, E.DEPTH_BBO_EVENT,
              E.BEST_BID_EVENT, E.BEST_ASK_EVENT),
    "trades": (E.TRADE_EVENT,),
}


@dataclass(frozen=True)
class ConvertOptions:
    exchange: str | None = None          # None: detect from content
    opt: str = ""                        # hftbacktest's 'm' (markPrice) / 't' (bookTicker)
    base_latency: int = 0                # ns, added only when local_ts needs correcting
    correct_timestamps: bool = True
    correct_order: bool = True
    only: str | None = None              # 'depth' or 'trades'
    depth: int | None = None             # Bybit orderbook depth (None: deepest recorded)
    compress_level: int = 1               # ISA-L fast deflate; 6 = np.savez_compressed
    jobs: int = 0                        # 0: all cores


@dataclass
class FileRows:
    """One file parsed, before correction."""

    path: str
    exchange: str
    data: np.ndarray
    problems: ProblemLog
    symbols: frozenset[str] = frozenset()
    unconverted: Counter[str] = field(default_factory=Counter)    # see Mapper.unconverted


@dataclass
class Summary:
    outputs: list[tuple[str, int]] = field(default_factory=list)   # (path, rows)
    problems: list[Problem] = field(default_factory=list)
    skipped: int = 0
    exchanges: dict[str, str] = field(default_factory=dict)
    unconverted: Counter[str] = field(default_factory=Counter)    # lines by stream kind, all inputs


# Below this (compressed) one process parses the file. Forked CPython pays copy-on-write faults
# and result pickling; on the 3.6 MB usdm sample that cost more than the second core saved.
PARALLEL_MIN_BYTES = 64 << 20
SHARE_CHUNK = 4 << 20      # chunk size when processes share a file (even split of the work)


def read_file(path: str, options: ConvertOptions,
              progress: Callable[[int], None] | None = None) -> FileRows:
    """Parse one recording into rows in file order (no correction yet).

    Chunks of a large file are parsed by ``options.jobs`` worker processes when the exchange's
    mapper keeps no state between chunks; rows are put back in file order either way.
    """
    problems = ProblemLog(path)
    exchange = _exchange_of(path, options.exchange)
    if exchange is None:
        list(read_chunks(path, problems))      # reports why (empty, unreadable, corrupt)
        return FileRows(path, "unknown", assemble([]), problems)
    map_options = MapOptions(opt=options.opt, depth=options.depth)
    mapper = exchanges.get(exchange).mapper()(map_options)
    log.info("%s: %s recording, %s", path, exchange, accel.description)
    jobs = options.jobs or os.cpu_count() or 1
    if jobs > 1 and mapper.parallel_safe and input_size(path) >= PARALLEL_MIN_BYTES:
        blocks = _read_shared(path, exchange, map_options, min(jobs, 8), mapper, problems, progress)
    else:
        blocks = []
        for chunk in read_chunks(path, problems, progress):
            table = split_lines(chunk.data, chunk.first_line, problems)
            blocks.extend(mapper.map_chunk(table, problems))
    blocks.extend(mapper.finish(problems))
    data = assemble(blocks)
    if options.only:
        data = data[np.isin(data["ev"] & np.uint64(0xFF), np.array(ONLY_KINDS[options.only], np.uint64))]
    if mapper.gaps:
        log.warning("%s: %d gap mark(s): the recorder lost data there; the book is cleared and "
                    "restarts from the snapshot after each", path, mapper.gaps)
    if len(mapper.symbols) > 1:
        log.warning("%s: several symbols in one recording (%s); their events are mixed in one array",
                    path, ", ".join(sorted(mapper.symbols)))
    return FileRows(path, exchange, data, problems, frozenset(mapper.symbols), mapper.unconverted)


def _exchange_of(path: str, given: str | None) -> str | None:
    """The exchange whose recording ``path`` is: detected from the content, and a ``--exchange``
    that contradicts the content is an error (parsed with the wrong exchange's rules, a USD-M
    recording loses rows without a word). None: nothing readable to detect from."""
    sample = sample_text(path)
    detected = exchanges.detect(sample) if sample else None
    if given is not None:
        if detected is not None and detected != given:
            raise HftctlError(f"{path}: --exchange {given} contradicts the content, which is a "
                              f"{detected} recording; drop --exchange or pass --exchange {detected}")
        return given
    if not sample:
        return None
    if detected is None:
        raise HftctlError(f"{path}: cannot tell the exchange from the content (no market-data messages "
                          "of a known exchange in the first lines); pass --exchange")
    return detected


def _read_shared(path: str, exchange: str, map_options: MapOptions, jobs: int, mapper,
                 problems: ProblemLog, progress) -> list[RowBlock]:
    """Parse a file with ``jobs`` processes: process w maps chunks w, w+jobs, ...

    Every process decompresses the whole file itself (cheap with ISA-L) rather than receiving
    its chunks through a pipe, so only the rows travel. Workers are forked before this process
    starts its reader thread and report back through a pipe; any failure in a worker falls back
    to parsing its share here, so results never depend on the workers.
    """
    workers = []
    parent = os.getpid()
    for w in range(1, jobs):
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:                                  # worker: parse its share, send, exit
            code = 1
            try:
                die_with_parent(parent)
                os.close(rfd)
                share = _map_share(path, exchange, map_options, w, jobs, None)
                with os.fdopen(wfd, "wb") as f:
                    pickle.dump(share, f, protocol=pickle.HIGHEST_PROTOCOL)
                code = 0
            finally:
                os._exit(code)
        os.close(wfd)
        workers.append((w, pid, rfd))
    blocks, own_problems, _, _, _ = _map_share(path, exchange, map_options, 0, jobs, progress, problems, mapper)
    problems.merge(own_problems)
    for w, pid, rfd in workers:
        share = None
        try:
            with os.fdopen(rfd, "rb") as f:
                share = pickle.load(f)
        except (EOFError, pickle.UnpicklingError, OSError):
            share = None
        finally:
            _, status = os.waitpid(pid, 0)
        if share is None or status != 0:
            log.warning("%s: parse worker %d failed; parsing its share here", path, w)
            share = _map_share(path, exchange, map_options, w, jobs, None)
        w_blocks, w_problems, w_symbols, w_gaps, w_unconverted = share
        blocks.extend(w_blocks)
        problems.merge(w_problems)
        mapper.symbols |= w_symbols
        mapper.gaps += w_gaps
        mapper.unconverted += w_unconverted
    return blocks


def _map_share(path: str, exchange: str, map_options: MapOptions, w: int, jobs: int, progress,
               io_problems: ProblemLog | None = None, mapper=None):
    """Rows of chunks w, w+jobs, ... of a file; reading problems go to ``io_problems`` (only
    process 0 reports them, the others would repeat them). Process 0 maps with the caller's
    ``mapper``, so its counts (symbols, gaps, unconverted lines) land there."""
    problems = ProblemLog(path)
    mapper = mapper or exchanges.get(exchange).mapper()(map_options)
    io_log = io_problems if io_problems is not None else ProblemLog(path)
    blocks: list[RowBlock] = []
    for k, chunk in enumerate(read_chunks(path, io_log, progress, sizes=(SHARE_CHUNK, SHARE_CHUNK))):
        if k % jobs == w:
            table = split_lines(chunk.data, chunk.first_line, problems)
            blocks.extend(mapper.map_chunk(table, problems))
    return blocks, problems, mapper.symbols, mapper.gaps, mapper.unconverted


def finalize(data: np.ndarray, options: ConvertOptions) -> np.ndarray:
    """hftbacktest's corrections and validation over the rows of one output (file order)."""
    data = place_gap_clears(data)
    if options.correct_timestamps:
        correct_local_timestamp(data, options.base_latency)
    if options.correct_order:
        data = correct_event_order(data)
        validate_event_order(data)
    else:
        data = data.copy()
        data["ev"] |= np.uint64(E.EXCH_EVENT | E.LOCAL_EVENT)
    return data


def expand_inputs(inputs: list[str]) -> list[str]:
    """Files as given; a folder stands for the regular, non-hidden files in it (sorted)."""
    files: list[str] = []
    for item in inputs:
        if os.path.isdir(item):
            found = sorted(os.path.join(item, n) for n in os.listdir(item)
                           if not n.startswith(".") and os.path.isfile(os.path.join(item, n)))
            if not found:
                raise HftctlError(f"{item}: folder has no files to convert")
            files.extend(found)
        elif os.path.exists(item):
            files.append(item)
        else:
            raise HftctlError(f"{item}: no such file or folder")
    return files


def output_name(path: str, out_dir: str) -> str:
    base = os.path.basename(path)
    for suffix in (".gz", ".zst", ".zstd", ".txt", ".log", ".jsonl"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    return os.path.join(out_dir, base + ".npz")


def _read_or_report(path: str, options: ConvertOptions,
                    progress: Callable[[int], None] | None = None) -> FileRows:
    """One of several inputs: a file that cannot be read at all is reported, not fatal."""
    try:
        return read_file(path, options, progress)
    except HftctlError as exc:
        problems = ProblemLog(path)
        message = str(exc)
        problems.add(0, message[len(path) + 2:] if message.startswith(path + ": ") else message)
        return FileRows(path, "unknown", assemble([]), problems)


def _worker_read(path: str, options: ConvertOptions) -> FileRows:
    return _read_or_report(path, replace(options, jobs=1))   # files are the unit of parallelism


def _worker_convert_one(path: str, out: str, options: ConvertOptions) -> tuple[FileRows, int]:
    return _convert_one(path, out, replace(options, jobs=1))


def _convert_one(path: str, out: str, options: ConvertOptions,
                 progress: Callable[[int], None] | None = None) -> tuple[FileRows, int]:
    rows = _read_or_report(path, options, progress)
    n = _write(rows.data, out, options) if len(rows.data) else 0
    rows.data = rows.data[:0]          # written: nothing big to keep or send back
    return rows, n


def _in_processes(jobs: int, fn: Callable, calls: list[tuple],
                  progress: Callable[[int], None] | None) -> list:
    """``fn(*call)`` for every call in ``jobs`` processes, results in call order; ``call[0]`` is
    the input path, whose size is reported to ``progress`` as each call finishes."""
    with ProcessPoolExecutor(jobs, initializer=die_with_parent, initargs=pool_initargs()) as pool:
        futs = [pool.submit(fn, *call) for call in calls]
        results = []
        for call, fut in zip(calls, futs):
            results.append(fut.result())
            if progress:
                progress(input_size(call[0]))
    return results


def _write(data: np.ndarray, out: str, options: ConvertOptions) -> int:
    final = finalize(data, options)
    write_npz(out, final, options.compress_level, options.jobs)
    return len(final)


def convert_files(inputs: list[str], output: str, options: ConvertOptions,
                  progress: Callable[[int], None] | None = None) -> Summary:
    """Convert ``inputs`` to ``output`` (an .npz, or a folder for one .npz per input).

    ``progress`` receives byte counts of input consumed; call ``total_input_bytes`` for the total.
    """
    files = expand_inputs(inputs)
    per_file = os.path.isdir(output) or output.endswith(os.sep)
    if per_file:
        os.makedirs(output, exist_ok=True)
    elif os.path.dirname(output) and not os.path.isdir(os.path.dirname(output)):
        raise HftctlError(f"{output}: folder {os.path.dirname(output)} does not exist")
    jobs = options.jobs or os.cpu_count() or 1
    jobs = max(1, min(jobs, len(files)))
    summary = Summary()

    if per_file:
        outs = [output_name(p, output) for p in files]
        if len(set(outs)) != len(outs):
            raise HftctlError("two inputs would write the same output file; convert them separately")
        if jobs == 1:
            results = [_convert_one(p, o, options, progress) for p, o in zip(files, outs)]
        else:
            results = _in_processes(jobs, _worker_convert_one,
                                    [(p, o, options) for p, o in zip(files, outs)], progress)
        for (rows, n), out in zip(results, outs):
            _collect(summary, rows)
            if n:
                summary.outputs.append((out, n))
            else:
                summary.problems.append(Problem(rows.path, 0, "no events converted; no output written"))
        if not summary.outputs:
            raise HftctlError(_nothing_message(summary))
        return summary

    if jobs == 1:
        read = read_file if len(files) == 1 else _read_or_report
        parsed = [read(p, options, progress) for p in files]
    else:
        parsed = _in_processes(jobs, _worker_read, [(p, options) for p in files], progress)
    for rows in parsed:
        _collect(summary, rows)
    parsed = [r for r in parsed if len(r.data)]
    if not parsed:
        raise HftctlError(_nothing_message(summary))
    sources = {r.exchange for r in parsed}
    if len(sources) > 1:
        raise HftctlError(f"inputs are from different exchanges ({', '.join(sorted(sources))}); "
                          "convert them separately or into a folder")
    symbols = {r.symbols for r in parsed}
    if len(symbols) > 1:
        names = ", ".join(sorted({s for group in symbols for s in group}))
        raise HftctlError(f"inputs hold different symbols ({names}); merging them would mix two books "
                          "in one array. Give an output folder (OUT/) for one .npz per input")
    # Files in recording order (by their first local timestamp), rows in file order within each.
    parsed.sort(key=lambda r: int(r.data["local_ts"][0]))
    data = parsed[0].data if len(parsed) == 1 else np.concatenate([r.data for r in parsed])
    del parsed
    summary.outputs.append((output, _write(data, output, options)))
    return summary


def _collect(summary: Summary, rows: FileRows) -> None:
    summary.problems.extend(rows.problems.problems)
    summary.skipped += rows.problems.skipped
    summary.exchanges[rows.path] = rows.exchange
    summary.unconverted += rows.unconverted


def _nothing_message(summary: Summary) -> str:
    if not summary.problems:
        return "no events converted, nothing written"
    hint = "" if len(summary.exchanges) != 1 else " (wrong --exchange?)"
    return (f"no events converted, nothing written: {summary.skipped} line(s) skipped{hint}; "
            f"first problem: {min(summary.problems, key=lambda p: p.line)}")


def total_input_bytes(inputs: list[str]) -> int:
    return sum(input_size(p) for p in expand_inputs(inputs))
