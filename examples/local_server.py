"""Start ``sardonyx-serve`` as a child process on free ports, and always stop it.

Used by the examples that need a server of their own; in production you run ``sardonyx-serve`` yourself.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

HOST = "127.0.0.1"
READY = "sardonyx-serve ready:"


@dataclass
class LocalServer:
    process: subprocess.Popen
    grpc_port: int
    metrics_port: int
    log: list[str]  # its output so far

    @property
    def url(self) -> str:
        return f"{HOST}:{self.grpc_port}"


@contextlib.contextmanager
def sardonyx_serve(repository, *args: str, ready_timeout: float = 60.0):
    """Yield a ``LocalServer`` serving ``repository``; on leaving, however that happens (an exception, Ctrl-C),
    ask the server to finish (SIGTERM), wait for it, and kill it if it will not go."""
    # -m rather than the console script: it works without the virtualenv's bin/ on PATH (make demo).
    command = [sys.executable, "-m", "serving.server.cli", "--model-repository", str(repository),
               "--grpc-address", HOST, "--grpc-port", "0", "--http-address", HOST, "--http-port", "0",
               "--metrics-port", "0", "--log-level", "WARNING", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log, ready = [], threading.Event()
    # Read its output all along, so the server never blocks on a full pipe and a silent hang times out here.
    threading.Thread(target=_read, args=(process, log, ready), daemon=True).start()
    try:
        deadline = time.monotonic() + ready_timeout
        while not ready.wait(0.1):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("sardonyx-serve did not become ready:\n" + "".join(log))
        # The line is "sardonyx-serve ready: grpc PORT metrics PORT".
        _, grpc_port, _, metrics_port = next(line for line in log if line.startswith(READY)).split(":", 1)[1].split()
        yield LocalServer(process, int(grpc_port), int(metrics_port), log)
    finally:
        _stop(process)


def _read(process: subprocess.Popen, log: list[str], ready: threading.Event) -> None:
    for line in iter(process.stdout.readline, ""):
        log.append(line)
        if line.startswith(READY):
            ready.set()


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # graceful: in-flight requests finish, the ports are closed
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait()
