"""Inter-process transport between a connector and its bots.

``hftctl.ipc.schema`` defines the typed messages; the ring transport moves their bytes over
POSIX shared memory. See docs/ipc.md for the API.
"""
