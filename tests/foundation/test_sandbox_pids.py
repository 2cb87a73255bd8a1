"""The sandbox stops only its own processes: a recorded pid that now belongs to another process
(pid reuse, told by its start time) is never signalled."""

from __future__ import annotations

import subprocess
import time

from nova_gate.sandbox.base import Component, pid_alive, proc_start_time, read_pidfile


class _Toy(Component):
    name = "toy"


def test_spawn_records_start_time_and_stop_stops_it(tmp_path):
    toy = _Toy(tmp_path)
    pid = toy.spawn("toy-sleep", ["sleep", "60"])
    record = read_pidfile(toy.pidfile("toy-sleep"))
    assert record == (pid, proc_start_time(pid))
    assert toy.pids() == [pid] and toy.pid("toy-sleep") == pid
    toy.stop()
    deadline = time.monotonic() + 5
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(pid)


def test_a_reused_pid_is_not_signalled(tmp_path):
    # a process that is not ours, in its own group, whose pid the pid file claims with another start
    victim = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        toy = _Toy(tmp_path)
        (tmp_path / "pids").mkdir()
        start = proc_start_time(victim.pid)
        assert start is not None
        toy.pidfile("toy-old").write_text(f"{victim.pid} {start - 1}")
        assert toy.pid("toy-old") is None and toy.pids() == [] and toy.recorded_pids() == []
        toy.stop()
        time.sleep(0.2)
        assert victim.poll() is None, "the sandbox killed a process that was not its own"
        assert not toy.pidfile("toy-old").exists()
    finally:
        victim.kill()
        victim.wait()


def test_old_pid_files_without_start_time_still_work(tmp_path):
    toy = _Toy(tmp_path)
    (tmp_path / "pids").mkdir()
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        toy.pidfile("toy-legacy").write_text(str(proc.pid))
        assert toy.pid("toy-legacy") == proc.pid
        toy.stop()
        proc.wait(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
