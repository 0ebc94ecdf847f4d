"""`hftctl collect`: record public market data to rotating compressed files, losing nothing.

- ``writer``: per-symbol rotating .gz/.zst files, flushed as complete compressed members.
- ``direct``: websocket + REST snapshot client talking to the exchange (or the sim) itself.
- ``ipc_source``: reads the RawMessage events a running connector publishes.
- ``progress``: live terminal display.
"""
