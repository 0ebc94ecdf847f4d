"""Child processes die with their parent: every process hftctl forks or spawns asks the kernel for
a signal when its parent dies (Linux ``prctl(PR_SET_PDEATHSIG)``).

Without it a SIGKILLed ``hftctl convert`` left its pool workers blocked on their task queue for
ever (reparented to pid 1, ~100 MB each), and a killed test run or demo left simulators behind.
Cleanup code in the parent cannot help: SIGKILL runs none of it.

Use ``preexec()`` as ``subprocess.Popen(preexec_fn=...)``, ``die_with_parent`` with
``pool_initargs()`` as a process pool's initializer, and ``die_with_parent(parent)`` first thing
in an ``os.fork()`` child. The kernel sends the signal when the *thread* that forked exits, so
fork from a thread that lives as long as the child is needed (hftctl forks from main threads).
Elsewhere than Linux these are no-ops.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def _load_prctl():
    # Resolved once in the parent: loading a library between fork and exec is not async-signal-safe.
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)
    prctl.restype = ctypes.c_int
    return prctl


_prctl = _load_prctl()


def die_with_parent(parent_pid: int, sig: int = signal.SIGKILL) -> None:
    """Call in the child: ``sig`` arrives when the parent dies. ``parent_pid`` is the parent's pid
    as the parent saw it before forking: if the parent died before the request was made, nobody
    will send the signal, so the child exits at once instead."""
    if _prctl is None:
        return
    if _prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_PDEATHSIG): {os.strerror(err)}")
    if os.getppid() != parent_pid:
        os._exit(128 + int(sig))


def preexec(sig: int = signal.SIGKILL) -> Callable[[], None]:
    """A ``preexec_fn`` for ``subprocess.Popen``: the spawned program gets ``sig`` when the calling
    process dies (the request survives ``exec``)."""
    return functools.partial(die_with_parent, os.getpid(), sig)


def pool_initargs(sig: int = signal.SIGKILL) -> tuple[int, int]:
    """``initargs`` for a process pool whose ``initializer`` is ``die_with_parent``."""
    return (os.getpid(), sig)
