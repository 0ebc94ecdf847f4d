"""`hftctl audit` around the scan: inputs, progress, the JSON document and the exit status.

Exit status: 0 every file passed every threshold; 1 some file crossed one; 2 some input could not
be audited (missing, unreadable, truncated, corrupt, not a recording) -- the other files are still
audited and reported.
"""

from __future__ import annotations

import os
import sys
from dataclasses import asdict, dataclass, field

from hftctl.audit.report import SCHEMA, Thresholds, build
from hftctl.audit.scan import AuditOptions, BadInput, FileScan, scan_file


@dataclass
class AuditRun:
    reports: list[dict] = field(default_factory=list)
    scans: list[FileScan] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)     # (path, one-line message)

    @property
    def exit_code(self) -> int:
        if self.errors:
            return 2
        return 0 if all(r["verdict"]["ok"] for r in self.reports) else 1

    def as_dict(self, thresholds: Thresholds, options: AuditOptions) -> dict:
        return {"schema": SCHEMA, "ok": self.exit_code == 0, "exit_code": self.exit_code,
                "thresholds": asdict(thresholds),
                "options": {"silence_s": options.silence_s, "trade_tolerance_bps": options.trade_tolerance_bps},
                "files": self.reports,
                "errors": [{"path": p, "error": e} for p, e in self.errors]}


def expand(inputs: list[str]) -> list[str]:
    """Files as given; a folder stands for the non-hidden files in it (sorted)."""
    files: list[str] = []
    for item in inputs:
        if os.path.isdir(item):
            files.extend(sorted(os.path.join(item, n) for n in os.listdir(item)
                                if not n.startswith(".") and os.path.isfile(os.path.join(item, n))))
        else:
            files.append(item)
    return files


def audit_files(inputs: list[str], options: AuditOptions, thresholds: Thresholds,
                progress: bool | None = None) -> AuditRun:
    run = AuditRun()
    files = expand(inputs)
    show = sys.stderr.isatty() if progress is None else progress
    for path in files:
        try:
            if not os.path.exists(path):
                raise BadInput(f"{path}: no such file")
            scan = _with_progress(path, options) if show else scan_file(path, options)
        except BadInput as exc:
            run.errors.append((path, str(exc)))
            continue
        run.scans.append(scan)
        run.reports.append(build(scan, thresholds))
    if not files:
        run.errors.append(("", f"no recordings in {', '.join(inputs)}"))
    return run


def _with_progress(path: str, options: AuditOptions) -> FileScan:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn(f"auditing {os.path.basename(path)}"), BarColumn(), DownloadColumn(),
                  TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task("audit", total=os.path.getsize(path) or None)
        return scan_file(path, options, progress=lambda n: bar.advance(task, n))
