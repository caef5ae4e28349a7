"""``send``/``recv`` and ``isend``/``irecv``: a tensor from one rank to another, matched by ``tag``. They go straight
over the two ranks' connection, not through the group's ordered worker, so a ``recv`` that waits never holds up
the collectives issued after it."""

from __future__ import annotations

import threading
from concurrent.futures import Future

from trainer.distributed import group_state
from trainer.distributed.collectives import host, root_of, write
from trainer.distributed.work import Work


def _channel(tag: int) -> str:
    return f"p{int(tag)}"


def _peer(pg, rank, group_rank_given, what: str, name: str) -> int:
    peer = root_of(pg, rank, group_rank_given, what, name)
    if peer == pg.rank():
        kind = "destination" if name == "dst" else "source"
        raise ValueError(f"Invalid {kind} rank: {kind} rank should not be the same as the rank of the current "
                         "process.")
    return peer


def send(tensor, dst=None, group=None, tag: int = 0, group_dst=None) -> None:
    pg = group_state.resolve(group)
    if pg is None:
        return
    pg.mesh.send(_peer(pg, dst, group_dst, "send", "dst"), _channel(tag), host(tensor))


def isend(tensor, dst=None, group=None, tag: int = 0, group_dst=None):
    """Sends at once (a send never waits for the receiver) and returns a completed ``Work``."""
    send(tensor, dst, group, tag, group_dst)
    done: Future = Future()
    done.set_result(None)
    return Work(done, [tensor])


def _receive(pg, tensor, peer, tag) -> int:
    """Fill ``tensor`` from ``peer`` (any other rank when None); the sender's global rank."""
    peers = [r for r in range(pg.size()) if r != pg.rank()] if peer is None else [peer]
    sender, array = pg.mesh.receive(peers, _channel(tag), "recv")
    if array.dtype != tensor._data.dtype:
        raise RuntimeError(f"recv: rank {pg.ranks[sender]} sent a {array.dtype} tensor into a {tensor._data.dtype} "
                           "one; the dtypes must match")
    write(tensor, array)
    return pg.ranks[sender]


def _receive_from(pg, src, group_src):
    if src is None and group_src is None:
        return None
    return _peer(pg, src, group_src, "recv", "src")


def recv(tensor, src=None, group=None, tag: int = 0, group_src=None) -> int:
    """Fill ``tensor`` with what ``src`` (any rank when None) sends with ``tag``; returns the sender's rank."""
    pg = group_state.resolve(group)
    if pg is None:
        return -1
    return _receive(pg, tensor, _receive_from(pg, src, group_src), tag)


def irecv(tensor, src=None, group=None, tag: int = 0, group_src=None):
    """``recv`` on a thread of its own; ``wait()`` on the returned ``Work`` once the data is needed."""
    pg = group_state.resolve(group)
    if pg is None:
        return None
    peer = _receive_from(pg, src, group_src)
    future: Future = Future()

    def receive():
        try:
            future.set_result(_receive(pg, tensor, peer, tag))
        except BaseException as error:  # handed to whoever waits on the Work
            future.set_exception(error)

    threading.Thread(target=receive, name="irecv", daemon=True).start()
    return Work(future, [tensor])

