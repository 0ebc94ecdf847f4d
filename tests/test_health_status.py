"""hftctl.status: the files processes publish for hftctl health."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from hftctl.status import StatusFile, clean_dead_statuses, proc_start_ticks, read_statuses


def test_write_throttle_read_and_close(tmp_path):
    st = StatusFile("bot", "mm/1", every_s=60, directory=tmp_path)
    assert st.update({"connector": "bf", "position": 0.5}) is True
    assert st.update({"position": 0.7}) is False          # throttled, but merged
    assert st.update(force=True) is True
    assert st.path.name == f"bot.mm_1.{os.getpid()}.json"
    assert [p.name for p in tmp_path.iterdir()] == [st.path.name]   # no temporary file left
    (rec,) = read_statuses(directory=tmp_path)
    assert rec.kind == "bot" and rec.name == "mm/1" and rec.pid == os.getpid() and rec.alive
    assert rec.data["position"] == 0.7 and rec.data["connector"] == "bf" and rec.age < 5
    assert read_statuses("connector", directory=tmp_path) == []
    st.close()
    assert list(tmp_path.iterdir()) == []
    assert st.update({"x": 1}, force=True) is False        # closed: never recreated


def test_dead_writer_and_recycled_pid_are_flagged(tmp_path):
    p = subprocess.run([sys.executable, "-c",
                        "import os,sys; from hftctl.status import StatusFile; "
                        "StatusFile('collector', 'c', directory=sys.argv[1]).update({'messages': 3}); "
                        "os._exit(0)", str(tmp_path)], check=True)
    assert p.returncode == 0
    # A file claiming our pid but a different start time: the pid was recycled.
    fake = tmp_path / f"connector.bf.{os.getpid()}.json"
    fake.write_text(json.dumps({"name": "bf", "pid": os.getpid(), "start_ticks": proc_start_ticks(os.getpid()) - 1}))
    (tmp_path / "bot.broken.1.json").write_text("{not json")
    recs = {r.kind: r for r in read_statuses(directory=tmp_path)}
    assert not recs["collector"].alive and recs["collector"].data["messages"] == 3
    assert not recs["connector"].alive
    assert recs["bot"].error.startswith("unreadable") and recs["bot"].data == {}   # reported, not raised
    removed = clean_dead_statuses(directory=tmp_path)
    assert fake.name in removed and any(f.startswith("collector.c.") for f in removed)


def test_unwritable_dir_never_raises(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    st = StatusFile("connector", "x", directory=blocker / "sub")
    assert st.update({"a": 1}, force=True) is False
    st.close()
