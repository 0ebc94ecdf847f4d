"""`hftctl collect`: record public market data to rotating compressed files, losing nothing.

- ``writer`` / ``codec``: per-symbol rotating .gz/.zst files, each flush one complete member.
- ``direct``: the collector's own websocket + REST snapshot client (exchange or sim).
- ``ipc_source``: the RawMessage events a running connector publishes (``--ipc``).
- ``sequence``: depth sequence tracking shared by both sources (gap marks).
- ``runner``: signals, the flush timer, progress and the health status file.
- ``options`` / ``main``: what the thin CLI command calls.
"""
