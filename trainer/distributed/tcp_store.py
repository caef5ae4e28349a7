"""``TCPStore``: the key-value store that rendezvous over ``tcp://`` and ``env://`` uses. The master process runs a
server thread holding the table; every process (the master too) talks to it over a socket."""

from __future__ import annotations

import socket
import threading
import time

from trainer.distributed.errors import DistNetworkError, DistStoreError
from trainer.distributed.store import DEFAULT_TIMEOUT, KeyValueTable, Store
from trainer.distributed.wire import recv_fields, send_fields

_JOINED = "__tcpstore_joined__"  # clients count themselves in here; the master waits for world_size of them


def _encode(value) -> list[bytes]:
    """A command's result as [kind, payload]: bytes, int, bool or None."""
    if value is None:
        return [b"n", b""]
    if isinstance(value, bool):
        return [b"b", b"1" if value else b"0"]
    if isinstance(value, int):
        return [b"i", str(value).encode()]
    return [b"s", bytes(value)]


def _decode(kind: bytes, payload) -> object:
    return {b"n": lambda p: None, b"b": lambda p: p == b"1", b"i": lambda p: int(bytes(p)),
            b"s": bytes}[kind](payload)


# how each command's arguments travel: k = key (text), v = value (bytes), i = integer, f = seconds (float),
# * = any number of keys
_ARGUMENTS = {"set": "kv", "get": "kf", "add": "ki", "compare_set": "kvv", "append": "kv", "delete_key": "k",
              "num_keys": "", "check": "*", "wait": "*f"}
_PARSE = {"k": lambda b: b.decode(), "v": bytes, "i": int, "f": float}


def _pack_args(args: tuple) -> list[bytes]:
    return [a.encode() if isinstance(a, str) else a if isinstance(a, bytes) else repr(a).encode() for a in args]


def _unpack_args(command: str, fields) -> tuple:
    layout = _ARGUMENTS[command]
    values = [bytes(f) for f in fields]
    if layout.startswith("*"):  # keys, then what the rest of the layout says
        fixed = len(layout) - 1
        keys = [v.decode() for v in values[:len(values) - fixed]]
        return (*keys, *[_PARSE[c](v) for c, v in zip(layout[1:], values[len(values) - fixed:], strict=True)])
    return tuple(_PARSE[c](v) for c, v in zip(layout, values, strict=True))


class _StoreServer:
    """Serves one ``KeyValueTable`` to every client that connects, one thread per connection."""

    def __init__(self, host: str, port: int):
        self.table = KeyValueTable()
        try:
            self.listener = socket.create_server((host, port), backlog=128)
        except OSError as error:
            raise DistNetworkError(f"TCPStore: the master could not listen on port {port}: {error}") from error
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, name="TCPStore-server", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:  # listener closed
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._serve, args=(conn,), name="TCPStore-client", daemon=True).start()

    def _serve(self, conn) -> None:
        with conn:
            while True:
                try:
                    fields = recv_fields(conn)
                except (ConnectionError, OSError):
                    return
                command = bytes(fields[0]).decode()
                try:
                    if command not in _ARGUMENTS:
                        raise DistStoreError(f"TCPStore: unknown command {command!r}")
                    reply = [b"ok", *_encode(self.table.apply(command, _unpack_args(command, fields[1:])))]
                except DistStoreError as error:
                    reply = [b"error", str(error).encode()]
                try:
                    send_fields(conn, reply)
                except OSError:
                    return

    def close(self) -> None:
        self.listener.close()


class TCPStore(Store):
    """``TCPStore(host_name, port, world_size=None, is_master=False, timeout=timedelta(seconds=300),
    wait_for_workers=True)``: the master serves on ``port`` (0 picks a free one, read it back from ``.port``)
    and, with ``world_size`` and ``wait_for_workers``, waits until that many stores (its own included) have
    connected."""

    def __init__(self, host_name: str, port: int, world_size: int | None = None, is_master: bool = False,
                 timeout=DEFAULT_TIMEOUT, wait_for_workers: bool = True, multi_tenant: bool = False,
                 master_listen_fd=None, use_libuv: bool = True):
        super().__init__(timeout)
        self.host = host_name
        self.world_size = world_size
        self._server = _StoreServer("", port) if is_master else None  # all interfaces, as PyTorch
        self.port = self._server.port if is_master else port
        self._lock = threading.Lock()
        self._sock = self._connect()
        self._run("add", (_JOINED, 1))
        if is_master and world_size is not None and wait_for_workers:
            deadline = time.monotonic() + self._timeout
            while int(self._run("get", (_JOINED, self._timeout))) < world_size:
                if time.monotonic() >= deadline:
                    raise DistStoreError(f"TCPStore at {host_name}:{self.port}: timed out after {self._timeout}s "
                                         f"waiting for {world_size} workers to connect")
                time.sleep(0.01)

    @property
    def libuvBackend(self) -> bool:  # noqa: N802 - PyTorch's name
        return False

    def _connect(self):
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=max(0.1, deadline - time.monotonic()))
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.settimeout(None)
                return sock
            except OSError as error:
                if time.monotonic() >= deadline:
                    raise DistNetworkError(f"TCPStore: could not connect to {self.host}:{self.port} within "
                                           f"{self._timeout}s: {error}") from error
                time.sleep(0.05)

    def local_address(self) -> str:
        """The address this process reaches the store from: the interface its peers can reach it on too."""
        return self._sock.getsockname()[0]

    def _run(self, command, args):
        if command == "num_keys":
            return self._request(command, args) - 1  # the joined-workers counter is bookkeeping
        return self._request(command, args)

    def _request(self, command, args):
        with self._lock:
            try:
                send_fields(self._sock, [command.encode(), *_pack_args(args)])
                reply = recv_fields(self._sock)
            except (ConnectionError, OSError) as error:
                raise DistStoreError(f"TCPStore at {self.host}:{self.port}: connection lost during {command} "
                                     f"({error})") from error
        if bytes(reply[0]) == b"error":
            raise DistStoreError(bytes(reply[1]).decode())
        return _decode(bytes(reply[1]), reply[2])

    def __del__(self):
        sock = getattr(self, "_sock", None)
        if sock is not None:
            sock.close()
        if getattr(self, "_server", None) is not None:
            self._server.close()
