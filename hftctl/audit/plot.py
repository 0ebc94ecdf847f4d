"""``hftctl audit --plot out.png``: messages per second and feed latency over each file, with
sequence breaks and gap marks as red lines and silences shaded. matplotlib is the ``plot`` extra
(also in ``test``), imported only here."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from hftctl.audit.scan import NS, BadInput, FileScan


def _when(ns: int | np.ndarray):
    return np.array([datetime.fromtimestamp(float(x) / NS, tz=timezone.utc) for x in np.atleast_1d(ns)])


def plot(scans: list[FileScan], path: str) -> None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise BadInput("--plot needs matplotlib: pip install 'hftctl[plot]'") from None
    if not scans:
        raise BadInput("--plot: no recording could be audited, nothing to plot")
    fig, axes = plt.subplots(2 * len(scans), 1, figsize=(11, 4.5 * len(scans)), squeeze=False, sharex=False)
    for k, scan in enumerate(scans):
        rate, lat = axes[2 * k][0], axes[2 * k + 1][0]
        origin = (scan.first_ts // NS) * NS
        seconds = origin + np.arange(len(scan.per_second)) * NS
        rate.plot(_when(seconds), scan.per_second, lw=0.8)
        rate.set_ylabel("messages / s")
        rate.set_title(f"{scan.path} ({scan.exchange})", fontsize=10, loc="left")
        t, med = scan.latency.per_second()
        if len(t):
            order = np.argsort(t, kind="stable")
            lat.plot(_when(t[order]), med[order], lw=0.8, color="tab:green")
        lat.set_ylabel("feed latency ms (median/s)")
        holes = [b["ts"] for b in scan.breaks] + [m["ts"] for m in scan.marks]
        for ax in (rate, lat):
            for x in _when(holes) if holes else ():
                ax.axvline(x, color="red", lw=0.8, alpha=0.7)
            for _, start, end in scan.silences:
                a, b = _when([start, end])
                ax.axvspan(a, b, color="orange", alpha=0.2)
            ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=100)
    except OSError as exc:
        raise BadInput(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
