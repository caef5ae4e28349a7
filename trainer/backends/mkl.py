"""``trainer.backends.mkl``: whether Intel oneMKL runs trainer's CPU linear algebra, and its on-demand verbose mode.

trainer's matrix products go through NumPy's BLAS, so MKL is available exactly when NumPy was built against it
(threadpoolctl names the BLAS library NumPy has loaded). ``verbose(VERBOSE_ON)`` switches MKL's verbose messages
on for a block through MKL's own ``mkl_verbose``; without MKL it fails as PyTorch does in a build without MKL.
"""

from __future__ import annotations

import ctypes

import threadpoolctl

VERBOSE_OFF = 0
VERBOSE_ON = 1


def _mkl_library():
    """The path of the MKL library NumPy's BLAS calls go to, or None."""
    for library in threadpoolctl.threadpool_info():
        if library["internal_api"] == "mkl":
            return library["filepath"]
    return None


def is_available() -> bool:
    return _mkl_library() is not None


def _set_verbose(level: int) -> bool:
    path = _mkl_library()
    if path is None:
        return False
    return ctypes.CDLL(path).mkl_verbose(ctypes.c_int(level)) != -1


class verbose:
    """A block with MKL's verbose messages at ``enable`` (``VERBOSE_OFF`` or ``VERBOSE_ON``)."""

    def __init__(self, enable):
        self.enable = enable

    def __enter__(self):
        if self.enable == VERBOSE_OFF:
            return None
        if not _set_verbose(self.enable):
            raise AssertionError("Failed to set MKL into verbose mode. Please consider to disable this verbose scope.")
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        _set_verbose(VERBOSE_OFF)
        return False
