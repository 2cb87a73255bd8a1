"""What every sandbox component shares: a state directory, processes tracked by pid, health.

A component is one backend (PostgreSQL primary + replica, Redis, Prometheus, ...). It installs what
it needs (Debian packages, cargo tools, Maven jars, cached under ~/.cache/nova-gate), starts its
processes on 127.0.0.1, reports health, and stops only the processes it started (by pid file).
"""

from __future__ import annotations

import atexit
import contextlib
import enum
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nova_gate.config import project_root

_CHILDREN: list[subprocess.Popen[bytes]] = []


@atexit.register
def _daemons_outlive_us() -> None:
    """The servers this process started run on by design (``sandbox down`` stops them): their Popen
    handles must not each print a ResourceWarning at shutdown (an error under pytest's filter, and a
    filter set here does not reach the interpreter's last collection). A handle whose child still runs
    is let go: ``Popen.__del__`` warns only while ``returncode`` is None."""
    for proc in _CHILDREN:
        if proc.poll() is None:  # poll also reaps the ones that ended (faults kill some)
            proc.returncode = 0
    _CHILDREN.clear()


class SandboxError(Exception):
    """A sandbox step failed; the message says which component and why."""


def state_dir() -> Path:
    """Where the sandbox keeps data, logs and pid files (git-ignored)."""
    return Path(os.environ.get("NOVA_GATE_SANDBOX_DIR") or project_root() / ".sandbox")


class Stage(enum.StrEnum):
    """A state of the sandbox's release (the steps between them: :mod:`nova_gate.sandbox.stages`)."""

    BASELINE = "baseline"
    MIGRATED = "migrated"
    CANARY = "canary"
    SCALED = "scaled"
    ROLLED_OUT = "rolled-out"
    ROLLED_BACK = "rolled-back"


def _stage_file() -> Path:
    return state_dir() / "release-stage"


def recorded_stage() -> Stage | None:
    """The recorded stage; ``baseline`` when none is recorded (``sandbox up`` starts there), None
    when the last advance failed half way (the state is unknown)."""
    try:
        text = _stage_file().read_text().strip()
    except OSError:
        return Stage.BASELINE
    try:
        return Stage(text)
    except ValueError:
        return None


def record_stage(stage: Stage | None) -> None:
    path = _stage_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{stage.value if stage else 'unknown'}\n")


def forget_stage() -> None:
    """The release's stage is unknown (a component was restarted): the next advance starts from
    the release's start."""
    record_stage(None)


def cache_dir() -> Path:
    """Heavy downloads and builds (cargo tools, Maven jars, Go binaries), outside the repo."""
    return Path(os.environ.get("NOVA_GATE_CACHE") or Path.home() / ".cache" / "nova-gate")


def sandbox_data_dir() -> Path:
    """The committed sandbox material: migrations, scenarios, configs."""
    return project_root() / "sandbox"


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.3) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise SandboxError(f"timed out after {timeout:.0f}s waiting for {what}")


def wait_port(port: int, what: str, timeout: float = 60) -> None:
    wait_for(lambda: port_open(port), f"{what} on port {port}", timeout)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as gone, unless only its main thread has exited and
    # other threads live on (a multi-threaded server then still holds its ports).
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return len(list(Path(f"/proc/{pid}/task").iterdir())) > 1
    return True


def proc_start_time(pid: int) -> int | None:
    """The process' start time (clock ticks after boot, /proc/PID/stat field 22); None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def read_pidfile(path: Path) -> tuple[int, int | None] | None:
    """``PID [START]`` from a pid file (older files hold only the pid); None if unreadable."""
    try:
        parts = path.read_text().split()
        return int(parts[0]), (int(parts[1]) if len(parts) > 1 else None)
    except (OSError, ValueError, IndexError):
        return None


def same_process(pid: int, start: int | None) -> bool:
    """False when the pid now belongs to another process (pid reuse): its start time differs."""
    if start is None:
        return True
    now = proc_start_time(pid)
    return now is None or now == start


def ours_alive(pid: int, start: int | None) -> bool:
    return pid_alive(pid) and same_process(pid, start)


def run(argv: Sequence[str], *, check: bool = True, timeout: float = 600, **kwargs: Any) -> str:
    """Run a command, return its stdout; raise SandboxError with its stderr tail on failure."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
    except FileNotFoundError as exc:
        raise SandboxError(f"{argv[0]}: not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise SandboxError(f"{' '.join(argv[:3])}: timed out after {timeout:.0f}s") from exc
    if check and proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise SandboxError(f"{' '.join(argv[:3])} exited {proc.returncode}: {' | '.join(tail)}")
    return str(proc.stdout)


def _elapsed(seconds: float) -> str:
    return f"{seconds:.0f}s" if seconds < 90 else f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


#: seconds between "still running" lines of a long build (NOVA_GATE_PROGRESS_S overrides)
PROGRESS_EVERY_S = 30.0


@contextlib.contextmanager
def progress(what: str, log: Path | None = None, every_s: float | None = None) -> Iterator[None]:
    """Show a long build or start: a line when it begins, one every 30 s, one when it ends.

    Each line has the elapsed time and the log path, so a silent minute is never a mystery.
    """
    every = every_s or float(os.environ.get("NOVA_GATE_PROGRESS_S") or PROGRESS_EVERY_S)
    where = f"; log {log}" if log else ""
    t0 = time.monotonic()
    print(f"sandbox: {what}: started{where}", file=sys.stderr, flush=True)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every):
            line = f"sandbox: {what}: still running, {_elapsed(time.monotonic() - t0)}{where}"
            print(line, file=sys.stderr, flush=True)

    ticker = threading.Thread(target=beat, name="sandbox-progress", daemon=True)
    ticker.start()
    try:
        yield
    except BaseException:
        print(f"sandbox: {what}: FAILED after {_elapsed(time.monotonic() - t0)}{where}", file=sys.stderr, flush=True)
        raise
    finally:
        stop.set()
        ticker.join()
    print(f"sandbox: {what}: done in {_elapsed(time.monotonic() - t0)}{where}", file=sys.stderr, flush=True)


def build_log(name: str) -> Path:
    path = state_dir() / "logs" / f"build-{name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def run_logged(argv: Sequence[str], what: str, log: Path, *, timeout: float = 3600, **kwargs: Any) -> None:
    """A long command (cargo install, mvn, go build) with its output in ``log`` and progress lines."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with progress(what, log), open(log, "ab") as out:
        out.write(f"\n$ {' '.join(argv)}\n".encode())
        out.flush()
        try:
            proc = subprocess.run(
                list(argv), stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False, **kwargs
            )
        except FileNotFoundError as exc:
            raise SandboxError(f"{argv[0]}: not installed") from exc
        except subprocess.TimeoutExpired as exc:
            raise SandboxError(f"{what}: timed out after {timeout:.0f}s; see {log}") from exc
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        raise SandboxError(f"{what} exited {proc.returncode} (log {log}): {' | '.join(tail)}")


def apt_install(*packages: str) -> None:
    """Install Debian packages that are missing (idempotent; apt-get update once per call)."""
    missing = [
        p
        for p in packages
        if subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True, check=False
        ).stdout.strip()
        != "install ok installed"
    ]
    if not missing:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with progress(f"apt-get install {' '.join(missing)}"):
        run(["apt-get", "update", "-qq"], env=env, timeout=600)
        run(["apt-get", "install", "-y", "-qq", *missing], env=env, timeout=1200)


def signal_and_wait(pid: int, sig: int, timeout: float, group: bool = False) -> bool:
    """Send ``sig`` to ``pid`` (its process group with ``group``), reap it, wait up to ``timeout``
    seconds for it to exit; return whether it did."""
    with contextlib.suppress(ProcessLookupError):
        (os.killpg if group else os.kill)(pid, sig)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    return not pid_alive(pid)


@dataclass
class Health:
    healthy: bool
    endpoint: str
    pids: list[int] = field(default_factory=list)
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"healthy": self.healthy, "endpoint": self.endpoint, "pids": self.pids, "detail": self.detail}


class Component:
    """One sandbox backend. Subclasses set ``name`` and implement install/start/health."""

    name: str = ""
    #: components that must be up first (by name)
    requires: tuple[str, ...] = ()

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or state_dir()
        self.dir = self.root / self.name
        self.logs = self.root / "logs"

    #: Debian packages it runs from, each as ``(file or command on PATH, package)``: ``install()``
    #: asks apt for the packages whose file is missing
    apt_packages: tuple[tuple[str, str], ...] = ()

    # -- lifecycle --------------------------------------------------------------------------
    def install(self) -> None:
        """Make sure binaries exist (no-op when they do); by default the missing ``apt_packages``."""
        missing = [
            package
            for binary, package in self.apt_packages
            if not (Path(binary).exists() if os.sep in binary else shutil.which(binary))
        ]
        if missing:
            apt_install(*dict.fromkeys(missing))

    def start(self) -> None:
        raise NotImplementedError

    def health(self) -> Health:
        raise NotImplementedError

    def stop(self) -> None:
        """Stop every process this component started, by pid file; leave data in place."""
        for pidfile in sorted(self.root.glob(f"pids/{self.name}*.pid")):
            self._stop_pidfile(pidfile)

    def reset(self) -> None:
        """Stop and remove the component's data so the next start is fresh."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- faults and the state they change --------------------------------------------------
    def faults(self) -> list[Fault]:
        """The real faults this component can inject, each with its undo."""
        return []

    def snapshot(self) -> dict[str, Any]:
        """Comparable facts about everything this component's faults can change (JSON-like).

        Values that legitimately move (counters, timestamps, pids, generated names) are left out;
        the undo proof (tests/proofs/test_fault_undo.py) compares a snapshot before a fault's
        inject with one after its undo. The base lists which of the component's recorded
        processes are alive (a fault's helper process left running is a difference).
        """
        alive = []
        for pidfile in sorted(self.root.glob(f"pids/{self.name}*.pid")):
            record = read_pidfile(pidfile)
            if record is not None and ours_alive(*record):
                alive.append(pidfile.stem)
        return {"processes": alive}

    # -- process helpers --------------------------------------------------------------------
    def spawn(
        self,
        proc_name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> int:
        """Start a daemon in its own session, log to logs/<proc_name>.log, record its pid."""
        self.logs.mkdir(parents=True, exist_ok=True)
        (self.root / "pids").mkdir(parents=True, exist_ok=True)
        existing = self.pid(proc_name)
        if existing and pid_alive(existing):
            return existing
        log = open(self.logs / f"{proc_name}.log", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )
        log.close()
        _CHILDREN.append(proc)  # daemons outlive this call; keep the handle (no ResourceWarning)
        start = proc_start_time(proc.pid)
        self.pidfile(proc_name).write_text(f"{proc.pid} {start}" if start is not None else str(proc.pid))
        return proc.pid

    def subdir(self, name: str) -> Path:
        """``self.dir / name``, made when missing."""
        path = self.dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def running(self, proc_name: str, port: int) -> bool:
        """Whether our ``proc_name`` runs; when it does not, ``port`` must be free (raise when a
        process this sandbox did not start holds it)."""
        pid = self.pid(proc_name)
        if pid and pid_alive(pid):
            return True
        if port_open(port):
            raise SandboxError(f"{self.name}: port {port} is taken by a process this sandbox did not start")
        return False

    def wait_started(
        self, proc_name: str, ready: Callable[[], bool], what: str, timeout: float, label: str | None = None
    ) -> None:
        """Wait until ``ready``; when it never is, fail with the last lines of ``proc_name``'s log."""
        try:
            wait_for(ready, what, timeout=timeout)
        except SandboxError:
            log = (self.logs / f"{proc_name}.log").read_text(errors="replace").strip().splitlines()[-5:]
            raise SandboxError(f"{label or proc_name} did not start: {' | '.join(log)}") from None

    def pidfile(self, proc_name: str) -> Path:
        return self.root / "pids" / f"{proc_name}.pid"

    def pid(self, proc_name: str) -> int | None:
        """The recorded pid, unless that pid now belongs to another process (pid reuse)."""
        record = read_pidfile(self.pidfile(proc_name))
        if record is None or not same_process(*record):
            return None
        return record[0]

    def _pids_where(self, keep: Callable[[int, int | None], bool]) -> list[int]:
        records = (read_pidfile(p) for p in sorted(self.root.glob(f"pids/{self.name}*.pid")))
        return [record[0] for record in records if record is not None and keep(*record)]

    def pids(self) -> list[int]:
        return self._pids_where(ours_alive)

    def recorded_pids(self) -> list[int]:
        """Every pid in this component's pid files, alive or not (process groups to kill), except
        a pid that another process has since been given (its start time differs)."""
        return self._pids_where(same_process)

    def stop_and_wait(self, listen_ports: Sequence[int], timeout: float = 20) -> None:
        """Stop by pid file, then wait until ``listen_ports`` are closed; SIGKILL the groups if not."""
        groups = self.recorded_pids()
        Component.stop(self)

        def closed() -> bool:
            return not any(port_open(p) for p in listen_ports)

        try:
            wait_for(closed, f"{self.name} ports to close", timeout)
        except SandboxError:
            for pgid in groups:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)
            wait_for(closed, f"{self.name} ports to close after SIGKILL", 10)

    def stop_process(self, proc_name: str, timeout: float = 20) -> None:

        self._stop_pidfile(self.pidfile(proc_name), timeout)

    def _stop_pidfile(self, pidfile: Path, timeout: float = 20) -> None:
        record = read_pidfile(pidfile)
        if record is None or not same_process(*record):
            pidfile.unlink(missing_ok=True)  # unreadable, or the pid was reused: not ours to signal
            return
        pid = record[0]
        if pid_alive(pid):
            signal_and_wait(pid, signal.SIGTERM, timeout, group=True)
            if pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
        pidfile.unlink(missing_ok=True)


@dataclass(frozen=True)
class Fault:
    """A real fault the sandbox can inject, and the checklist items that must catch it."""

    name: str
    breaks: str
    catches: tuple[str, ...]
    inject: Callable[[], object]
    undo: Callable[[], object]
    component: str = ""
    #: verdict the catching items must give (FAIL, or WARN for warn-only faults)
    expect: str = "FAIL"
    #: the release stage the catching items are judged at (:mod:`nova_gate.sandbox.stages`)
    stage: Stage = Stage.BASELINE
    #: a fault judged against history (the gate must have seen the healthy state first): the proof
    #: runs the items once, healthy, before injecting it
    seen_healthy_first: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "stage", Stage(self.stage))  # ValueError on an unknown stage name

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "breaks": self.breaks,
            "catches": list(self.catches),
            "component": self.component,
            "expect": self.expect,
            "stage": self.stage.value,
            "seen_healthy_first": self.seen_healthy_first,
        }


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True))
