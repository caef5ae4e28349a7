"""CPU thread settings with PyTorch's API.

``set_num_threads``/``get_num_threads`` control the intra-op parallelism, which for trainer is the BLAS thread
pool under NumPy's matrix products (through threadpoolctl). trainer has no inter-op pool: independent ops run
one after another on the calling thread, so ``get_num_interop_threads`` reports 1 until a program sets it, and
``set_num_interop_threads`` keeps PyTorch's contract (a positive integer, accepted once) for programs that call it.
"""

from __future__ import annotations

import os

import threadpoolctl

_interop = {"threads": 1, "set": False}


def _positive_int(name: str, n) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise RuntimeError(f"{name} expects an int, but got {type(n).__name__}")
    if n <= 0:
        raise RuntimeError(f"{name} expects a positive integer")
    return n


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in the BLAS libraries behind matrix products (the limit holds until the next call)."""
    threadpoolctl.threadpool_limits(limits=_positive_int("set_num_threads", n), user_api="blas")


def get_num_threads() -> int:
    """The threads the BLAS library uses (the CPU count when no BLAS library with a thread pool is loaded)."""
    pools = [lib["num_threads"] for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "blas"]
    return max(pools) if pools else os.cpu_count() or 1


def set_num_interop_threads(n: int) -> None:
    _positive_int("set_num_interop_threads", n)
    if _interop["set"]:
        raise RuntimeError("Error: cannot set number of interop threads after parallel work has started or "
                           "set_num_interop_threads called")
    _interop.update(threads=n, set=True)


def get_num_interop_threads() -> int:
    return _interop["threads"]
