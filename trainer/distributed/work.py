"""``Work``: the handle an ``async_op=True`` collective or ``isend``/``irecv`` returns."""

from __future__ import annotations

from trainer.distributed.store import _seconds


class Work:
    """Wraps the future of an operation running on a process group's worker thread. ``wait()`` blocks until it is
    done (re-raising its error, such as a timeout) and returns True; the output tensors are written by then."""

    def __init__(self, future, outputs=()):
        self._future = future
        self._outputs = list(outputs)

    def wait(self, timeout=None) -> bool:
        self._future.result(None if timeout is None else _seconds(timeout))
        return True

    def is_completed(self) -> bool:
        return self._future.done()

    def is_success(self) -> bool:
        return self._future.done() and self._future.exception() is None

    def exception(self):
        return self._future.exception() if self._future.done() else None

    def result(self) -> list:
        self.wait()
        return self._outputs

    def source_rank(self) -> int:
        """For ``irecv`` from any source: the rank the data came from."""
        return self._future.result()
