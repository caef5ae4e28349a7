"""``trainer.backends.openmp``: whether OpenMP threads run trainer's parallel CPU work, which is NumPy's BLAS (the
only multithreaded part of trainer on the CPU): True when that library was built with OpenMP threading."""

from __future__ import annotations

import threadpoolctl


def is_available() -> bool:
    return any(library["user_api"] == "blas" and library.get("threading_layer") == "openmp"
               for library in threadpoolctl.threadpool_info())
