"""Write the event array as an ``.npz`` that ``np.load`` and hftbacktest read (key ``data``).

Written to a temporary name and renamed, so an interrupted conversion never leaves a file that
looks complete. ``level`` 0 stores the array uncompressed (fastest to write and to load);
1-9 deflate it like ``np.savez_compressed`` (which uses level 6).
"""

from __future__ import annotations

import os
import zipfile

import numpy as np

from hftctl.errors import HftctlError


def write_npz(path: str, data: np.ndarray, level: int = 6) -> None:
    if not 0 <= level <= 9:
        raise HftctlError(f"compression level must be 0-9, not {level}")
    tmp = f"{path}.partial-{os.getpid()}"
    try:
        mode = zipfile.ZIP_STORED if level == 0 else zipfile.ZIP_DEFLATED
        with zipfile.ZipFile(tmp, "w", compression=mode,
                             compresslevel=None if level == 0 else level, allowZip64=True) as zf:
            with zf.open("data.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.ascontiguousarray(data), allow_pickle=False)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise HftctlError(f"{path}: cannot write: {exc.strerror or exc}") from None
