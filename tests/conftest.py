"""Shared fixtures: where the real recordings live, and a guard that no test leaks shared memory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("HFTCTL_SHARED_DATA", ROOT.parent / "shared" / "data"))


def _hftctl_segments() -> set[str]:
    try:
        return {n for n in os.listdir("/dev/shm") if n.startswith(("hftctl.", "sem.hftctl."))}
    except FileNotFoundError:
        return set()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only real exchange recordings (../shared/data); never copied into the repo."""
    if not (SHARED_DATA / "recordings").is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session", autouse=True)
def no_leaked_segments():
    """Fail the run if tests leave hftctl shared-memory segments or semaphores behind."""
    before = _hftctl_segments()
    yield
    leaked = _hftctl_segments() - before
    assert not leaked, f"tests leaked shared-memory segments: {sorted(leaked)}"
