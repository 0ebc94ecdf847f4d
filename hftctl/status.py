"""Small JSON status files that long-running hftctl processes publish for ``hftctl health``.

Why files and not the ring: health must see a process without joining its channels (a health
probe that attached as a reader would itself show up as a bot), and must still say something
useful about a process that died (its file stays behind, its pid is dead).

Each process owns one file ``<dir>/<kind>.<name>.<pid>.json``, rewritten atomically (temporary
file + rename, so a reader never sees half a file) at most about once a second, and removed on a
clean exit. ``<dir>`` is ``/dev/shm/hftctl-status`` (``HFTCTL_STATUS_DIR`` overrides it); it is
deliberately outside the ``/dev/shm/hftctl.*`` names of the rings, so segment listing and
cleanup never mistake a status file for a ring.

A process is identified by pid *and* its kernel start time (``/proc/<pid>/stat`` field 22), so a
recycled pid is never taken for the process that wrote the file.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hftctl.errors import HftctlError
from hftctl.ipc.segments import pid_alive

log = logging.getLogger(__name__)

DEFAULT_DIR = "/dev/shm/hftctl-status"
KINDS = ("connector", "collector", "bot")
WRITE_EVERY_S = 1.0
_SAFE = re.compile(r"[^A-Za-z0-9_-]")
_FILE_RE = re.compile(r"^(connector|collector|bot)\.([A-Za-z0-9_-]+)\.(\d+)\.json$")


def status_dir() -> Path:
    return Path(os.environ.get("HFTCTL_STATUS_DIR") or DEFAULT_DIR)


def proc_start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return int(stat[stat.rindex(b")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def same_process_alive(pid: int, start_ticks: int | None) -> bool:
    """True if ``pid`` runs and is the same process that recorded ``start_ticks``."""
    if not pid_alive(pid):
        return False
    if start_ticks is None:
        return True
    now = proc_start_ticks(pid)
    return now is None or now == start_ticks


class StatusFile:
    """The status file of this process. ``update`` merges fields and writes at most ~1/s."""

    def __init__(self, kind: str, name: str, every_s: float = WRITE_EVERY_S,
                 directory: str | Path | None = None) -> None:
        if kind not in KINDS:
            raise HftctlError(f"unknown status kind {kind!r} (use {', '.join(KINDS)})")
        self.kind = kind
        self.name = _SAFE.sub("_", name)[:64] or "_"
        self.pid = os.getpid()
        self.every_s = every_s
        self.dir = Path(directory) if directory is not None else status_dir()
        self.path = self.dir / f"{kind}.{self.name}.{self.pid}.json"
        self._tmp = self.dir / f".{kind}.{self.name}.{self.pid}.tmp"
        self.fields: dict[str, Any] = {
            "kind": kind, "name": name, "pid": self.pid, "start_ticks": proc_start_ticks(self.pid),
            "started": time.time(), "argv": sys.argv[1:],
        }
        self._last_write = 0.0
        self._closed = False
        self._failed = False

    def update(self, fields: dict[str, Any] | None = None, force: bool = False) -> bool:
        """Merge ``fields``; write if the last write is ``every_s`` old (or ``force``).

        Never raises: a status file is a courtesy to ``hftctl health``, it must not take down
        the process it describes. Returns True if the file was written.
        """
        if fields:
            self.fields.update(fields)
        if self._closed:
            return False
        now = time.monotonic()
        if not force and now - self._last_write < self.every_s:
            return False
        self._last_write = now
        self.fields["updated"] = time.time()
        try:
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            data = json.dumps(self.fields, default=_jsonable, separators=(",", ":"))
            with open(self._tmp, "w") as f:
                f.write(data)
            os.replace(self._tmp, self.path)
            self._failed = False
            return True
        except (OSError, TypeError, ValueError) as e:
            if not self._failed:
                log.warning("cannot write status file %s: %s", self.path, e)
                self._failed = True
            return False

    def close(self) -> None:
        """Remove the file: a process that exits cleanly leaves nothing behind."""
        if self._closed:
            return
        self._closed = True
        for p in (self.path, self._tmp):
            try:
                p.unlink()
            except OSError:
                pass

    def __enter__(self) -> "StatusFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if hasattr(obj, "__dataclass_fields__"):
        return {k: getattr(obj, k) for k in obj.__dataclass_fields__}
    return str(obj)


@dataclass
class StatusRecord:
    """One status file as read back, with whether its writer still runs."""
    kind: str
    name: str
    pid: int
    path: Path
    data: dict[str, Any] = field(default_factory=dict)
    alive: bool = False
    age: float | None = None          # seconds since the last update
    error: str = ""                   # unreadable file (reported, never raised)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "pid": self.pid, "path": str(self.path),
                "alive": self.alive, "age": None if self.age is None else round(self.age, 3),
                "error": self.error or None, "data": self.data}


def read_statuses(kind: str | None = None, directory: str | Path | None = None) -> list[StatusRecord]:
    """Every status file (of ``kind``), parsed, with its writer's liveness; never raises."""
    d = Path(directory) if directory is not None else status_dir()
    try:
        names = sorted(os.listdir(d))
    except OSError:
        return []
    out = []
    now = time.time()
    for fname in names:
        m = _FILE_RE.match(fname)
        if not m or (kind is not None and m.group(1) != kind):
            continue
        rec = StatusRecord(m.group(1), m.group(2), int(m.group(3)), d / fname)
        try:
            rec.data = json.loads((d / fname).read_text())
            if not isinstance(rec.data, dict):
                raise ValueError("not a JSON object")
        except FileNotFoundError:
            continue            # its writer exited between listdir and read
        except (OSError, ValueError) as e:
            rec.error = f"unreadable: {e}"
            rec.data = {}
        rec.name = str(rec.data.get("name", rec.name))
        start = rec.data.get("start_ticks")
        rec.alive = same_process_alive(rec.pid, start if isinstance(start, int) else None)
        upd = rec.data.get("updated")
        if isinstance(upd, (int, float)):
            rec.age = max(0.0, now - upd)
        out.append(rec)
    return out


def clean_dead_statuses(directory: str | Path | None = None,
                        only: Callable[[StatusRecord], bool] | None = None) -> list[str]:
    """Remove the status files of processes that are gone (and, given ``only``, that it accepts);
    returns the file names removed."""
    removed = []
    for rec in read_statuses(directory=directory):
        if rec.alive or (only is not None and not only(rec)):
            continue
        try:
            rec.path.unlink()
            removed.append(rec.path.name)
        except OSError:
            pass
    return removed
