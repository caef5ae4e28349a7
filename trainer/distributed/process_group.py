"""``ProcessGroup``: the ranks of a group, the connections between them, and the collective algorithms on host
arrays (the part PyTorch's gloo backend plays).

Every operation of a group runs, in the order the program issued it, on the group's one worker thread, so
``async_op=True`` overlaps communication with the caller's work and still keeps the same order on every rank.

Reductions are computed in one defined order so that every rank gets bit-identical results: the group's first rank
combines the ranks' arrays in rank order, ``((x0 op x1) op x2) ...``, and sends the result to the others; ``reduce``
does the same on its destination and ``reduce_scatter`` on each chunk's owner. Data moves directly between the two
ranks concerned everywhere else (broadcast, gathers, scatter, all-to-all).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from trainer.distributed.peer_mesh import PeerMesh, RemoteError
from trainer.distributed.reduce_op import RedOpType, combine

COLLECTIVE = "c"  # the channel of collectives; point-to-point messages travel on "p<tag>"


class ProcessGroup:
    """Ranks ``ranks`` (global ranks, in group-rank order) of which this process is group rank ``rank``."""

    def __init__(self, store, rank: int, ranks: list[int], timeout: float, address: str, backend: str = "gloo"):
        self._rank = rank
        self.ranks = list(ranks)
        self.timeout = timeout
        self.backend = backend
        self.mesh = PeerMesh(store, rank, len(ranks), address, timeout)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{backend}-rank{rank}")

    def rank(self) -> int:
        return self._rank

    def size(self) -> int:
        return len(self.ranks)

    def name(self) -> str:
        return self.backend

    def submit(self, operation, *args):
        """A future of ``operation(*args)``, run after every operation submitted before it."""
        return self._worker.submit(operation, *args)

    def shutdown(self) -> None:
        self._worker.shutdown(wait=True)
        self.mesh.close()

    # --- algorithms: each runs on the worker thread, on NumPy arrays -----------------------------------------
    def _others(self) -> list[int]:
        return [r for r in range(self.size()) if r != self._rank]

    def _fail_everywhere(self, message: str, peers) -> None:
        for peer in peers:
            self.mesh.send(peer, COLLECTIVE, RemoteError(message))
        raise RuntimeError(message)

    def reduce_into(self, root: int, array, op: RedOpType, what: str, others_wait: bool = False):
        """On ``root``: the ranks' arrays combined in rank order (AVG still a sum); elsewhere None. With
        ``others_wait`` (they wait for the result next), a mismatch is reported to them too."""
        if self._rank != root:
            self.mesh.send(root, COLLECTIVE, array)
            return None
        parts = [array if peer == root else self.mesh.receive([peer], COLLECTIVE, what)[1]
                 for peer in range(self.size())]
        for peer, part in enumerate(parts):
            if part.shape != array.shape or part.dtype != array.dtype:
                self._fail_everywhere(f"{what}: rank {self.ranks[peer]} passed a tensor of shape {list(part.shape)} "
                                      f"and dtype {part.dtype}, but rank {self.ranks[root]} passed shape "
                                      f"{list(array.shape)} and dtype {array.dtype}; every rank must pass the same",
                                      self._others() if others_wait else [])
        total = np.array(parts[0], copy=True)
        for part in parts[1:]:
            total = combine(op, np, total, part)
        return total

    def all_reduce(self, array, op: RedOpType, what: str = "all_reduce"):
        total = self.reduce_into(0, array, op, what, others_wait=True)
        return self.broadcast(total, 0, what)

    def broadcast(self, array, src: int, what: str = "broadcast"):
        if self._rank == src:
            for peer in self._others():
                self.mesh.send(peer, COLLECTIVE, array)
            return array
        return self.mesh.receive([src], COLLECTIVE, what)[1]

    def all_gather(self, array, what: str = "all_gather") -> list:
        for peer in self._others():
            self.mesh.send(peer, COLLECTIVE, array)
        return [array if peer == self._rank else self.mesh.receive([peer], COLLECTIVE, what)[1]
                for peer in range(self.size())]

    def gather(self, array, dst: int, what: str = "gather"):
        if self._rank != dst:
            self.mesh.send(dst, COLLECTIVE, array)
            return None
        return [array if peer == dst else self.mesh.receive([peer], COLLECTIVE, what)[1]
                for peer in range(self.size())]

    def scatter(self, arrays, src: int, what: str = "scatter"):
        if self._rank != src:
            return self.mesh.receive([src], COLLECTIVE, what)[1]
        for peer in self._others():
            self.mesh.send(peer, COLLECTIVE, arrays[peer])
        return arrays[src]

    def all_to_all(self, arrays, what: str = "all_to_all") -> list:
        for peer in self._others():
            self.mesh.send(peer, COLLECTIVE, arrays[peer])
        return [arrays[peer] if peer == self._rank else self.mesh.receive([peer], COLLECTIVE, what)[1]
                for peer in range(self.size())]

    def reduce_scatter(self, arrays, op: RedOpType, what: str = "reduce_scatter"):
        """Chunk ``r`` of every rank, combined in rank order on rank ``r``."""
        parts = self.all_to_all(arrays, what)
        for peer, part in enumerate(parts):
            if part.shape != parts[self._rank].shape or part.dtype != parts[self._rank].dtype:
                raise RuntimeError(f"{what}: rank {self.ranks[peer]} sent a chunk of shape {list(part.shape)} and "
                                   f"dtype {part.dtype} to rank {self.ranks[self._rank]}, which expected shape "
                                   f"{list(parts[self._rank].shape)} and dtype {parts[self._rank].dtype}")
        total = np.array(parts[0], copy=True)
        for part in parts[1:]:
            total = combine(op, np, total, part)
        return total
