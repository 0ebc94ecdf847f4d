"""Child processes die with their parent (hftctl.children): a killed `hftctl convert` takes its
pool workers down, a killed process that started a sim takes the sim down, and a child whose
parent died before it asked for the signal exits at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tests.conftest import ROOT


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat[stat.rindex(b")") + 2:].split()[1]) == pid:
            found.append(int(entry))
    return found


def alive(pid: int) -> bool:
    """Running (not a zombie waiting for its new parent to reap it)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3] != b"Z"


def wait_for(pred, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while not (v := pred()):
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(interval)
    return v


def assert_all_die(pids: list[int], timeout: float = 10.0) -> None:
    """Every pid dies within ``timeout``; survivors are killed (never left running) and reported."""
    deadline = time.monotonic() + timeout
    while (survivors := [p for p in pids if alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"processes outlived their killed parent: {survivors}"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_convert_takes_its_workers_down(shared_data, tmp_path, sig):
    # one recording 16 times, merged: several seconds of work for two workers
    inputs = [str(shared_data / "recordings/usdm/btcusdt_20240808.gz")] * 16
    p = subprocess.Popen([sys.executable, "-m", "hftctl", "convert", *inputs, str(tmp_path / "out.npz"),
                          "--jobs", "2", "--quiet"], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    try:
        workers = wait_for(lambda: len(w := children_of(p.pid)) >= 2 and w, 30, "two convert workers",
                           interval=0.005)
        assert p.poll() is None, "convert finished before it could be killed"
        p.send_signal(sig)
        assert p.wait(10) == -sig
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert_all_die(workers)


SIM_PARENT = textwrap.dedent("""
    import sys, time
    from hftctl.sim.process import start_sim
    with start_sim() as sim:
        print(sim.pid, flush=True)
        time.sleep(120)
""")


def test_killed_parent_takes_its_sim_down():
    """start_sim (the tests' and the demo's way to run a sim) ties the sim's life to its caller."""
    p = subprocess.Popen([sys.executable, "-c", SIM_PARENT], cwd=ROOT, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, text=True)
    try:
        sim_pid = int(p.stdout.readline())
        p.kill()
        p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert_all_die([sim_pid])


RACE = textwrap.dedent("""
    import os, sys
    from hftctl.children import die_with_parent
    die_with_parent(int(sys.argv[1]))
    print("still running", flush=True)
""")


def test_child_whose_parent_died_before_asking_exits_at_once():
    """The parent may die between fork and prctl; then no signal would ever come. Told a parent
    pid that is not its parent (as it would be after reparenting), the child exits at once."""
    out = subprocess.run([sys.executable, "-c", RACE, str(os.getppid())], cwd=ROOT, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 128 + signal.SIGKILL and "still running" not in out.stdout, out
    ok = subprocess.run([sys.executable, "-c", RACE.replace("int(sys.argv[1])", "os.getppid()")], cwd=ROOT,
                        capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0 and ok.stdout == "still running\n", ok
