"""``Timer``: ``timeit.Timer`` made aware of trainer, with PyTorch's ``torch.utils.benchmark.Timer`` API.

Like PyTorch's, it warms up before measuring, pins the thread count for the measurement (``num_threads``, default 1,
so comparisons are like for like), synchronises the GPU around each timed block when CuPy is in use, and returns
``Measurement``s that ``Compare`` can tabulate. Only Python statements are timed: C++ statements (``language="cpp"``)
and Callgrind instruction counts need PyTorch's C++ toolchain.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import sys
import textwrap
import timeit
from collections.abc import Callable, Iterator
from typing import Any

import trainer
from trainer import threads
from trainer.utils.benchmark.measurement import Measurement
from trainer.utils.benchmark.task_spec import TaskSpec

# PyTorch stops growing a block past a 32-bit count (its C++ timer takes an int); the same cap keeps block sizes equal.
_MAX_BLOCK_SIZE = 2147483647


@functools.cache
def _cuda_device_present() -> bool:
    return trainer.cuda.is_available()


def timer() -> float:
    """``timeit.default_timer()``, after waiting for queued GPU work when CuPy drives a GPU."""
    # Only a program that imported CuPy can have queued GPU work; testing sys.modules first keeps the probe (an
    # import attempt, tens of microseconds) out of every CPU-only timing.
    if "cupy" in sys.modules and _cuda_device_present():
        trainer.cuda.synchronize()
    return timeit.default_timer()


class Language(enum.Enum):
    PYTHON = 0
    CPP = 1


@contextlib.contextmanager
def set_torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` intra-op (BLAS) threads, then restore the previous count."""
    prior = threads.get_num_threads()
    try:
        threads.set_num_threads(n)
        yield
    finally:
        threads.set_num_threads(prior)


def _strip_snippet(code: str) -> str:
    # Block strings defined inside functions start with a newline and carry indentation; neither changes what runs,
    # and removing them keeps reprs tidy.
    code = textwrap.dedent(code)
    return (code[1:] if code and code[0] == "\n" else code).rstrip()


class Timer:
    """Measures ``stmt`` (after ``setup``) with ``globals`` as its namespace; ``torch`` is bound to ``trainer`` there
    unless ``globals`` names it, so statements written for PyTorch run unchanged.

    ``label``, ``sub_label``, ``description`` and ``env`` only annotate the result (``Compare`` groups by them);
    ``num_threads`` is the intra-op thread count while measuring.
    """

    def __init__(
        self,
        stmt: str = "pass",
        setup: str = "pass",
        global_setup: str = "",
        timer: Callable[[], float] = timer,
        globals: dict[str, Any] | None = None,
        label: str | None = None,
        sub_label: str | None = None,
        description: str | None = None,
        env: str | None = None,
        num_threads: int = 1,
        language: Language | str = Language.PYTHON,
    ) -> None:
        if not isinstance(stmt, str):
            raise ValueError("Currently only a `str` stmt is supported.")
        if language in (Language.CPP, "cpp", "c++"):
            raise NotImplementedError(
                "Timing C++ statements needs PyTorch's C++ extension JIT; trainer's Timer times Python statements "
                "only (language='python')."
            )
        if language not in (Language.PYTHON, "py", "python"):
            raise ValueError(f"Invalid language `{language}`.")
        if global_setup:
            raise ValueError(
                f"global_setup is C++ only, got `{global_setup}`. Most likely this code can simply be moved to `setup`."
            )
        # A copy, so that what exec adds (``__builtins__``) and what the statements assign stay out of the caller's.
        self._globals = dict(globals or {})
        self._globals.setdefault("torch", trainer)
        self._language = Language.PYTHON
        stmt, setup = _strip_snippet(stmt), _strip_snippet(setup)
        self._timer = timeit.Timer(stmt=stmt, setup=setup, timer=timer, globals=self._globals)
        self._task_spec = TaskSpec(stmt=stmt, setup=setup, global_setup=global_setup, label=label,
                                   sub_label=sub_label, description=description, env=env, num_threads=num_threads)

    def _timeit(self, number: int) -> float:
        # Reading the clock alone takes tens of nanoseconds, so nothing real is faster than 1 ns; the floor also
        # keeps later divisions defined.
        return max(self._timer.timeit(number), 1e-9)

    def timeit(self, number: int = 1000000) -> Measurement:
        """Run ``stmt`` ``number`` times as one block (after a warm-up of ``max(number // 100, 2)`` runs)."""
        with set_torch_threads(self._task_spec.num_threads):
            self._timeit(number=max(int(number // 100), 2))
            return Measurement(number_per_run=number, raw_times=[self._timeit(number=number)],
                               task_spec=self._task_spec)

    def repeat(self, repeat: int = -1, number: int = -1) -> None:
        # PyTorch replaces timeit's repeat/autorange with blocked_autorange and points callers to it.
        raise NotImplementedError("See `Timer.blocked_autorange.`")

    def autorange(self, callback: Callable[[int, float], None] | None = None) -> None:
        raise NotImplementedError("See `Timer.blocked_autorange.`")

    def _measurement_loop(self, number: int, stop_hook: Callable[[list[float]], bool], min_run_time: float,
                          max_run_time: float | None = None,
                          callback: Callable[[int, float], None] | None = None) -> list[float]:
        """Time blocks of ``number`` runs until ``min_run_time`` is spent and ``stop_hook`` agrees (or the time
        passes ``max_run_time``)."""
        total_time, can_stop, times = 0.0, False, []
        with set_torch_threads(self._task_spec.num_threads):
            while total_time < min_run_time or not can_stop:
                time_spent = self._timeit(number)
                times.append(time_spent)
                total_time += time_spent
                if callback:
                    callback(number, time_spent)
                can_stop = stop_hook(times)
                if max_run_time and total_time > max_run_time:
                    break
        return times

    def _estimate_block_size(self, min_run_time: float) -> int:
        """The smallest power of ten of runs whose block dwarfs the timer's own overhead (this is also the warm-up)."""
        with set_torch_threads(self._task_spec.num_threads):
            overhead = sorted(self._timeit(0) for _ in range(5))[2]
            number = 1
            while True:
                time_taken = self._timeit(number)
                if overhead / time_taken <= 1e-4 and time_taken >= min_run_time / 1000:
                    break
                if time_taken > min_run_time or number * 10 > _MAX_BLOCK_SIZE:
                    break
                number *= 10
        return number

    def blocked_autorange(self, callback: Callable[[int, float], None] | None = None,
                          min_run_time: float = 0.2) -> Measurement:
        """Time blocks of an estimated size until ``min_run_time`` seconds of them are collected.

        The block size grows by tens until timer overhead is at most 0.01% of a block: big blocks amortise the clock
        and GPU synchronisation, small ones give more replicates for the statistics.
        """
        number = self._estimate_block_size(min_run_time)
        times = self._measurement_loop(number, lambda times: True, min_run_time=min_run_time, callback=callback)
        return Measurement(number_per_run=number, raw_times=times, task_spec=self._task_spec)

    def adaptive_autorange(self, threshold: float = 0.1, *, min_run_time: float = 0.01, max_run_time: float = 10.0,
                           callback: Callable[[int, float], None] | None = None) -> Measurement:
        """Like ``blocked_autorange``, but keep timing until IQR / median is below ``threshold`` (with more than
        three blocks and ``min_run_time`` spent) or ``max_run_time`` is reached."""
        number = self._estimate_block_size(min_run_time=0.05)

        def precise_enough(times: list[float]) -> bool:
            return len(times) > 3 and Measurement(number, times, self._task_spec).meets_confidence(threshold)

        times = self._measurement_loop(number, precise_enough, min_run_time, max_run_time, callback=callback)
        return Measurement(number_per_run=number, raw_times=times, task_spec=self._task_spec)
