"""One TCP connection between every pair of ranks of a process group, and the mailboxes that received data waits in.

Each rank listens on a free port and publishes ``address:port`` in the group's store; a rank connects to every lower
rank and accepts a connection from every higher one. A thread per connection reads whole messages as they come and
files them by ``(sender, channel)``, so a send never waits for the receiver to be ready and two ranks can exchange
large arrays at once without blocking each other. Arrays travel as raw bytes with their dtype name and shape.
"""

from __future__ import annotations

import collections
import socket
import threading
import time

import numpy as np

from trainer.distributed.errors import DistBackendError, DistNetworkError
from trainer.distributed.wire import recv_fields, send_fields


class RemoteError:
    """A failure that one rank found and tells the others about, so that they raise too instead of waiting."""

    def __init__(self, message: str):
        self.message = message


class _Mailbox:
    def __init__(self):
        self.items: dict = collections.defaultdict(collections.deque)
        self.closed: dict[int, str] = {}  # peer -> why its connection ended
        self.arrived = threading.Condition()

    def put(self, key, item) -> None:
        with self.arrived:
            self.items[key].append(item)
            self.arrived.notify_all()

    def close(self, peer: int, reason: str) -> None:
        with self.arrived:
            self.closed[peer] = reason
            self.arrived.notify_all()

    def take(self, keys, deadline: float, describe_wait):
        """The first item under any of ``keys`` (``(peer, channel)`` pairs), in the order given."""
        with self.arrived:
            while True:
                for key in keys:
                    if self.items.get(key):
                        return key, self.items[key].popleft()
                for peer, _ in keys:
                    if peer in self.closed:
                        raise DistBackendError(f"{describe_wait()}: rank {peer} closed its connection "
                                               f"({self.closed[peer]}); it has exited or failed")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DistBackendError(f"{describe_wait()}: timed out")
                self.arrived.wait(left)


def _to_fields(channel: str, payload) -> list:
    if isinstance(payload, RemoteError):
        return [channel.encode(), b"e", payload.message.encode()]
    array = np.ascontiguousarray(payload)
    shape = ",".join(str(n) for n in array.shape).encode()
    return [channel.encode(), b"a", array.dtype.name.encode(), shape, memoryview(array.reshape(-1).view(np.uint8))]


def _from_fields(fields):
    if bytes(fields[1]) == b"e":
        return RemoteError(bytes(fields[2]).decode())
    shape_text = bytes(fields[3]).decode()
    shape = tuple(int(n) for n in shape_text.split(",")) if shape_text else ()
    return np.frombuffer(fields[4], dtype=np.uint8).view(np.dtype(bytes(fields[2]).decode())).reshape(shape)


class PeerMesh:
    """Connections from rank ``rank`` to each of the other ``size - 1`` ranks, made through ``store``."""

    def __init__(self, store, rank: int, size: int, address: str, timeout: float):
        self.rank, self.size, self.timeout = rank, size, timeout
        self.mailbox = _Mailbox()
        self._sockets: dict[int, socket.socket] = {}
        self._send_locks = {peer: threading.Lock() for peer in range(size) if peer != rank}
        if size == 1:
            return
        listener = socket.create_server(("", 0), backlog=size)
        with listener:
            store.set(f"peer/{rank}", f"{address}:{listener.getsockname()[1]}")
            for peer in range(rank):
                self._sockets[peer] = self._connect(store, peer)
            listener.settimeout(timeout)
            for _ in range(size - 1 - rank):
                try:
                    conn, _ = listener.accept()
                except TimeoutError as error:
                    raise DistNetworkError(f"[Rank {rank}] timed out after {timeout}s waiting for the higher ranks "
                                           "of the process group to connect") from error
                conn.settimeout(None)
                (hello,) = recv_fields(conn)
                self._sockets[int(bytes(hello))] = conn
        for peer, sock in self._sockets.items():
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._receive, args=(peer, sock), name=f"rank{rank}-from{peer}",
                             daemon=True).start()

    def _connect(self, store, peer: int) -> socket.socket:
        host, _, port = store.get(f"peer/{peer}").decode().rpartition(":")
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                sock = socket.create_connection((host, int(port)), timeout=max(0.1, deadline - time.monotonic()))
                sock.settimeout(None)
                send_fields(sock, [str(self.rank).encode()])
                return sock
            except OSError as error:
                if time.monotonic() >= deadline:
                    raise DistNetworkError(f"[Rank {self.rank}] could not connect to rank {peer} at {host}:{port}: "
                                           f"{error}") from error
                time.sleep(0.05)

    def _receive(self, peer: int, sock) -> None:
        while True:
            try:
                fields = recv_fields(sock)
            except (ConnectionError, OSError) as error:
                self.mailbox.close(peer, str(error))
                return
            self.mailbox.put((peer, bytes(fields[0]).decode()), _from_fields(fields))

    def send(self, peer: int, channel: str, payload) -> None:
        """Send an array (or a ``RemoteError``) to ``peer`` on ``channel``."""
        try:
            with self._send_locks[peer]:
                send_fields(self._sockets[peer], _to_fields(channel, payload))
        except OSError as error:
            raise DistBackendError(f"[Rank {self.rank}] sending to rank {peer} failed: {error}; it has exited or "
                                   "failed") from error

    def receive(self, peers, channel: str, what: str, timeout: float | None = None):
        """``(peer, array)`` from the first of ``peers`` that has sent on ``channel``; ``RemoteError``s raise."""
        seconds = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + seconds
        keys = [(p, channel) for p in peers]

        def describe():
            sources = ", ".join(str(p) for p in peers)
            return f"[Rank {self.rank}] {what} waited {seconds:g}s for data from rank {sources}"

        (peer, _), item = self.mailbox.take(keys, deadline, describe)
        if isinstance(item, RemoteError):
            raise RuntimeError(item.message)
        return peer, item

    def close(self) -> None:
        for sock in self._sockets.values():
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
