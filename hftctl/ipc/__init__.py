"""Inter-process transport between a connector and its bots (see docs/ipc.md).

``schema`` defines the typed messages; ``broadcast`` (connector -> bots) and ``request``
(bots -> connector) move their bytes over POSIX shared memory; ``endpoint`` pairs both
directions with schema encoding; ``segments`` lists and cleans hftctl's /dev/shm objects.
"""

from hftctl.ipc.broadcast import BroadcastReader, BroadcastWriter, ReaderInfo, inspect_readers
from hftctl.ipc.endpoint import BotEndpoint, ConnectorEndpoint
from hftctl.ipc.request import RequestReader, RequestWriter
from hftctl.ipc.ring import Overrun, Received, Request, WriterGone
from hftctl.ipc.segments import SegmentInfo, clean_stale, list_segments

__all__ = [
    "BroadcastReader", "BroadcastWriter", "BotEndpoint", "ConnectorEndpoint", "RequestReader",
    "RequestWriter", "Overrun", "Received", "Request", "WriterGone", "SegmentInfo", "clean_stale",
    "list_segments", "ReaderInfo", "inspect_readers",
]
