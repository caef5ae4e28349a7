"""Framing for the distributed package's sockets: a message is a list of byte strings, each sent with its length,
so nothing received is ever unpickled (an open port must not run code that a stranger sends)."""

from __future__ import annotations

import struct

_COUNT = struct.Struct("<I")
_LENGTH = struct.Struct("<Q")


def send_fields(sock, fields) -> None:
    header = [_COUNT.pack(len(fields))]
    for field in fields:
        header.append(_LENGTH.pack(len(field)))
    if sum(len(f) for f in fields) < 1 << 16:  # small messages in one write
        sock.sendall(header[0] + b"".join(h + f for h, f in zip(header[1:], fields)))
        return
    sock.sendall(header[0])
    for length, field in zip(header[1:], fields):  # large ones without a joined copy
        sock.sendall(length)
        sock.sendall(field)


def recv_exact(sock, size: int) -> memoryview:
    """``size`` bytes from ``sock``; ``ConnectionError`` when the peer closes first."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:], size - got)
        if n == 0:
            raise ConnectionError("connection closed by peer")
        got += n
    return view


def recv_fields(sock) -> list[memoryview]:
    (count,) = _COUNT.unpack(recv_exact(sock, _COUNT.size))
    fields = []
    for _ in range(count):
        (length,) = _LENGTH.unpack(recv_exact(sock, _LENGTH.size))
        fields.append(recv_exact(sock, length))
    return fields
