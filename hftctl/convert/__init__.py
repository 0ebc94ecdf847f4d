"""Recordings to hftbacktest's event array: the generic half of ``hftctl convert``.

Reading (gzip/zstd/plain), line splitting, bad-input reporting, row assembly, hftbacktest's
timestamp and event-order correction, validation and ``.npz`` writing live here; what each
exchange's messages mean lives in ``hftctl/exchanges/<exchange>/convert.py``.
"""

from hftctl.convert.pipeline import ConvertOptions, Summary, convert_files, finalize, read_file

__all__ = ["ConvertOptions", "Summary", "convert_files", "finalize", "read_file"]
