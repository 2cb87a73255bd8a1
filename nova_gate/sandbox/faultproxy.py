"""Local TCP fault proxies on 127.0.0.1 for the fault matrix and the black-hole benchmark.

Modes (protocol-agnostic, so one proxy serves HTTP, PostgreSQL, Redis, Kafka, TLS alike):

- ``refused``: a port nobody listens on (bound once, then closed).
- ``blackhole``: accepts and reads, never answers (a partition or an overloaded server).
- ``empty``: accepts and closes at once (an empty answer).
- ``html``: answers anything with an HTML 502 error page (a proxy or load balancer in the way).
- ``slow``: forwards to the real server but holds its answer back ``delay_s`` (slower than timeout).
- ``truncate``: forwards, but cuts the server's first answer short and closes (a truncated body).

Every socket is closed on ``close()`` (the self-tests run with ResourceWarning as an error).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

MODES = ("refused", "blackhole", "empty", "html", "slow", "truncate")
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>502 Bad Gateway</h1><p>upstream connect error</p></body></html>"
)


def free_port() -> int:
    """A port that is free now (bound then released): connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FaultProxy:
    """One listening port on 127.0.0.1 with one fault ``mode`` (in front of ``upstream`` if any)."""

    def __init__(self, mode: str, upstream: tuple[str, int] | None = None, *, delay_s: float = 30.0) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown fault mode {mode!r}")
        if mode in ("slow", "truncate") and upstream is None:
            raise ValueError(f"mode {mode} needs an upstream")
        self.mode, self.upstream, self.delay_s = mode, upstream, delay_s
        self._stop = threading.Event()
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.connections = 0
        if mode == "refused":
            self.port = free_port()
            self._listener: socket.socket | None = None
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(256)
        listener.settimeout(0.2)
        self._listener = listener
        self.port = int(listener.getsockname()[1])
        self._spawn(self._accept_loop)

    # -- plumbing -----------------------------------------------------------------------------
    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name=f"fault-{self.mode}")
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.append(sock)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            self._track(conn)
            self._spawn(self._handle, conn)

    def _handle(self, conn: socket.socket) -> None:
        try:
            if self.mode == "empty":
                conn.close()
            elif self.mode == "blackhole":
                conn.settimeout(0.5)
                while not self._stop.is_set():
                    try:
                        if not conn.recv(65536):
                            break
                    except TimeoutError:
                        continue
            elif self.mode == "html":
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    conn.recv(65536)
                    head = (
                        b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\n"
                        + f"Content-Length: {len(HTML_PAGE)}\r\nConnection: close\r\n\r\n".encode()
                    )
                    conn.sendall(head + HTML_PAGE)
                conn.close()
            else:
                self._forward(conn)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def _forward(self, conn: socket.socket) -> None:
        assert self.upstream is not None
        try:
            up = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            conn.close()
            return
        self._track(up)
        self._spawn(self._pump, conn, up, False)
        self._pump(up, conn, True)

    def _pump(self, src: socket.socket, dst: socket.socket, from_server: bool) -> None:
        src.settimeout(0.5)
        first = True
        try:
            while not self._stop.is_set():
                try:
                    data = src.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                if from_server and first and self.mode == "slow":
                    deadline = time.monotonic() + self.delay_s
                    while time.monotonic() < deadline and not self._stop.is_set():
                        time.sleep(0.1)
                if from_server and self.mode == "truncate":
                    cut = data.find(b"\r\n\r\n")
                    keep = cut + 4 + 8 if cut >= 0 else max(1, min(len(data) // 2, 8))
                    dst.sendall(data[: min(keep, max(len(data) - 1, 1))])
                    break
                first = False
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()

    def close(self) -> None:
        self._stop.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
        with self._lock:
            socks, threads = list(self._socks), list(self._threads)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.close()
        for thread in threads:
            thread.join(timeout=2)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FaultedEnvironment:
    """A copy of an environment document with every backend endpoint behind a FaultProxy."""

    def __init__(self, doc: dict[str, Any], mode: str, workdir: Any, *, delay_s: float = 30.0) -> None:
        import copy
        from pathlib import Path

        self.mode, self.delay_s = mode, delay_s
        self.proxies: dict[tuple[str, int], FaultProxy] = {}
        self.doc = copy.deepcopy(doc)
        self.workdir = Path(workdir)
        self._rewrite()

    def port(self, host: str, port: int) -> int:
        key = (host, int(port))
        if key not in self.proxies:
            upstream = key if self.mode in ("slow", "truncate") else None
            self.proxies[key] = FaultProxy(self.mode, upstream, delay_s=self.delay_s)
        return self.proxies[key].port

    def _url(self, url: str) -> str:
        import re

        def sub(match: re.Match[str]) -> str:
            return f"{match.group(1)}127.0.0.1:{self.port(match.group(2), int(match.group(3)))}"

        return re.sub(r"(^|//|@)(127\.0\.0\.1|localhost):(\d+)", sub, url)

    def _rewrite(self) -> None:
        d = self.doc
        release = d["release"]
        for service in release.get("services", []):
            service["port"] = self.port("127.0.0.1", service["port"])
        b = d.get("backends", {})
        for name in ("postgres", "postgres_staging", "clickhouse"):
            cfg = b.get(name)
            if cfg:
                cfg["port"] = self.port(cfg["host"], cfg.get("port", 5432))
                cfg["host"] = "127.0.0.1"
                for replica in cfg.get("replicas", []):
                    replica["port"] = self.port(replica["host"], replica["port"])
        if b.get("redis"):
            b["redis"]["url"] = self._url(b["redis"]["url"])
            b["redis"]["cluster_nodes"] = [self._url(n) for n in b["redis"].get("cluster_nodes", [])]
        if b.get("kafka"):
            b["kafka"]["bootstrap_servers"] = [self._url(n) for n in b["kafka"]["bootstrap_servers"]]
        for name in ("search", "prometheus", "alertmanager", "registry", "grafana", "vault", "pagerduty", "jwks"):
            if b.get(name):
                b[name]["url"] = self._url(b[name]["url"])
        for name in ("s3", "secretsmanager"):
            if b.get(name):
                b[name]["endpoint"] = self._url(b[name]["endpoint"])
        kube = b.get("kubernetes")
        if kube and kube.get("kubeconfig"):
            from pathlib import Path

            import yaml

            source = Path(kube["kubeconfig"])
            if source.is_file():
                conf = yaml.safe_load(source.read_text())
                for cluster in conf.get("clusters", []):
                    cluster["cluster"]["server"] = self._url(cluster["cluster"]["server"])
                    ca = cluster["cluster"].get("certificate-authority")
                    if ca and not Path(ca).is_absolute():
                        cluster["cluster"]["certificate-authority"] = str((source.parent / ca).resolve())
                for user in conf.get("users", []):
                    for key in ("client-certificate", "client-key"):
                        value = user.get("user", {}).get(key)
                        if value and not Path(value).is_absolute():
                            user["user"][key] = str((source.parent / value).resolve())
                target = self.workdir / f"kubeconfig-{self.mode}"
                target.write_text(yaml.safe_dump(conf))
                kube["kubeconfig"] = str(target)

    def write(self, name: str = "env.yaml") -> Any:
        import yaml

        path = self.workdir / name
        path.write_text(yaml.safe_dump(self.doc))
        return path

    def close(self) -> None:
        for proxy in self.proxies.values():
            proxy.close()

    def __enter__(self) -> FaultedEnvironment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
