"""``torch.futures``: a ``Future`` holds a value (or an error) that is set once, possibly from another thread;
``wait`` blocks until then, and callbacks added with ``then`` / ``add_done_callback`` run when it is set (at once
if it already is). PyTorch's semantics and errors, in Python."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from trainer.backend import device

__all__ = ["Future", "collect_all", "wait_all"]

T = TypeVar("T")
S = TypeVar("S")
_log = logging.getLogger(__name__)


class Future(Generic[T]):
    """A value to be set once: ``set_result`` / ``set_exception`` complete it, ``wait`` / ``value`` read it."""

    def __init__(self, *, devices: list | None = None):
        self._devices = [device(d) for d in devices or ()]
        for d in self._devices:
            if d.index is None:
                raise ValueError(f"Expected devices to have indices, got {d}")
        self._done = threading.Condition()
        self._completed = False
        self._result = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable] = []

    def done(self) -> bool:
        """Whether the value (or an error) has been set."""
        return self._completed

    def wait(self) -> T:
        """Block until the future completes, then return its value (or raise its error)."""
        with self._done:
            self._done.wait_for(lambda: self._completed)
        return self.value()

    def value(self) -> T:
        """The value of a completed future (its error raised); without waiting."""
        if not self._completed:
            raise RuntimeError("Future.value() was called before the Future completed: call wait() to block until a "
                               "value or an error is set")
        if self._error is not None:
            raise self._error
        return self._result

    def then(self, callback: Callable[[Future[T]], S]) -> Future[S]:
        """A new future completed with ``callback(self)`` once this one completes; an error the callback raises
        (including this future's own, re-raised by ``wait``) completes it as a ``RuntimeError``."""
        chained = Future()

        def run(fut):
            try:
                result = callback(fut)
            except Exception as e:  # noqa: BLE001 - any error of the callback completes the new future
                error = RuntimeError(f"Got the following error when running the callback: {type(e).__name__}: {e}")
                error.__cause__ = e
                chained.set_exception(error)
            else:
                chained.set_result(result)

        self.add_done_callback(run)
        return chained

    def add_done_callback(self, callback: Callable[[Future[T]], None]) -> None:
        """Run ``callback(self)`` when this future completes (now, if it has). An error it raises is logged, not
        raised, as in PyTorch."""
        with self._done:
            if not self._completed:
                self._callbacks.append(callback)
                return
        self._run(callback)

    def set_result(self, result: T) -> None:
        """Complete the future with ``result``: wakes up ``wait`` and runs the callbacks."""
        self._complete(result, None)

    def set_exception(self, result: BaseException) -> None:
        """Complete the future with an error, which ``wait`` and ``value`` raise."""
        if not isinstance(result, Exception):
            raise AssertionError(f"{result} is of type {type(result)}, not an Exception.")
        self._complete(None, result)

    def _complete(self, result, error) -> None:
        with self._done:
            if self._completed:
                raise RuntimeError("Attempting to mark a completed Future as complete again. Note that a Future can "
                                   "only be marked completed once.")
            self._result, self._error, self._completed = result, error, True
            callbacks, self._callbacks = self._callbacks, []
            self._done.notify_all()
        for callback in callbacks:
            self._run(callback)

    def _run(self, callback) -> None:
        try:
            callback(self)
        except Exception as e:  # noqa: BLE001 - PyTorch logs a failing done-callback and carries on
            _log.error("Got the following error when running the callback: %s: %s", type(e).__name__, e)


def _check_futures(futures, api: str) -> list[Future]:
    futures = list(futures)
    for f in futures:
        if not isinstance(f, Future):
            raise TypeError(f"{api}(): expected a list of trainer.futures.Future, but got an element of type "
                            f"{type(f).__name__}")
    return futures


def collect_all(futures: list[Future]) -> Future[list[Future]]:
    """A future completed with the list ``futures`` once every one of them has completed; with the first error
    among them, if any has one."""
    futures = _check_futures(futures, "collect_all")
    combined: Future[list[Future]] = Future()
    remaining = [len(futures)]
    lock = threading.Lock()

    def one_done(_):
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            error = next((f._error for f in futures if f._error is not None), None)
            if error is None:
                combined.set_result(futures)
            else:
                combined.set_exception(error)

    if not futures:
        combined.set_result([])
    for f in futures:
        f.add_done_callback(one_done)
    return combined


def wait_all(futures: list[Future]) -> list:
    """The values of ``futures``, once all have completed; raises the first error among them."""
    return [f.wait() for f in collect_all(_check_futures(futures, "wait_all")).wait()]
