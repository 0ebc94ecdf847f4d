"""Shared fixtures: where the real recordings live, and a guard that no test leaks shared memory.

Tests that need the shared recordings or hftbacktest skip without them, so the suite runs
anywhere; CI sets HFTCTL_REQUIRE_SHARED=1 and HFTCTL_REQUIRE_HFTBACKTEST=1 (.ci/run), which turn
those skips into failures: a CI run that silently skipped every end-to-end test must not pass.
"""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("HFTCTL_SHARED_DATA", ROOT.parent / "shared" / "data"))

# Collectors the tests start write one file per symbol: with the default hourly rotation, a test
# that runs across an hour boundary would find two (a CI run failed that way). Rotation itself is
# tested on RecordingWriter (test_collect_writer.py) and the variable in test_collect_cli.py.
os.environ.setdefault("HFTCTL_COLLECT_ROTATE", "never")


def skip_unless_required(variable: str, reason: str) -> None:
    """Skip (also at module level), or fail when ``variable`` is set to 1."""
    if os.environ.get(variable) == "1":
        pytest.fail(f"{reason}, and {variable}=1 makes that a failure", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def import_hftbacktest(module: str = "hftbacktest") -> ModuleType:
    """``pytest.importorskip`` for the reference implementation (see skip_unless_required)."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        skip_unless_required("HFTCTL_REQUIRE_HFTBACKTEST", f"cannot import {module} ({e})")
        raise  # not reached: skip/fail raise


def _hftctl_segments() -> set[str]:
    try:
        return {n for n in os.listdir("/dev/shm") if n.startswith(("hftctl.", "sem.hftctl."))}
    except FileNotFoundError:
        return set()


def _ours_or_orphaned(pid: int) -> bool:
    """True if ``pid`` is this pytest process or one of its descendants (a process a test forgot
    to stop), or unknown. Segments owned by unrelated live processes (another test run or a
    connector on the same machine) are not this run's leak."""
    me = os.getpid()
    while pid > 1:
        if pid == me:
            return True
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
            pid = int(stat[stat.rindex(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            return False
    return False


def _named_by_us(name: str) -> bool:
    """Tests name their channels with this run's pid (``t<pid>-…``, ``tb<pid>…``): a segment
    whose owner is gone is this run's leak only if it carries that name, not another run's
    (other checkouts run their suites on the same machine)."""
    return re.search(rf"(?<!\d){os.getpid()}(?!\d)", name) is not None


def _leaked(before: set[str]) -> list[str]:
    from hftctl.ipc.segments import list_segments

    new = _hftctl_segments() - before
    if not new:
        return []
    infos = {i.file: i for i in list_segments()}
    leaked = []
    for name in sorted(new):
        info = infos.get(name)
        if info is None:  # vanished meanwhile, or not ours to judge
            continue
        if _ours_or_orphaned(info.owner_pid) if info.owner_pid and not info.stale else _named_by_us(name):
            leaked.append(name)
    return leaked


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The read-only real exchange recordings (../shared/data); never copied into the repo."""
    if not (SHARED_DATA / "recordings").is_dir():
        skip_unless_required("HFTCTL_REQUIRE_SHARED", f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session", autouse=True)
def private_status_dir(tmp_path_factory):
    """Processes started by tests publish their hftctl.status files in a private directory, so a
    test run (SIGKILLed bots included) never shows up in, or litters, the user's `hftctl health`."""
    old = os.environ.get("HFTCTL_STATUS_DIR")
    os.environ["HFTCTL_STATUS_DIR"] = str(tmp_path_factory.mktemp("hftctl-status"))
    yield
    if old is None:
        os.environ.pop("HFTCTL_STATUS_DIR", None)
    else:
        os.environ["HFTCTL_STATUS_DIR"] = old


@pytest.fixture(scope="session", autouse=True)
def no_leaked_segments():
    """Fail the run if tests leave hftctl shared-memory segments or semaphores behind."""
    before = _hftctl_segments()
    yield
    leaked = _leaked(before)
    assert not leaked, f"tests leaked shared-memory segments: {leaked}"
