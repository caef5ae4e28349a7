"""``intra_op_num_threads`` for this runtime: the thread count of NumPy's BLAS during a session's runs.

BLAS (OpenBLAS, MKL, BLIS) is where the runtime's kernels spend their threads. threadpoolctl finds the libraries
once per process; each run then sets their thread count and restores it afterwards (about 2 us), and only sessions
that ask for a count pay that. The setting is process-wide while a run lasts, as BLAS keeps one per library.
"""

from __future__ import annotations

import contextlib
import functools

from serving.errors import InvalidArgumentError


@functools.cache
def _blas_controllers() -> tuple:
    try:
        import threadpoolctl
    except ImportError:
        return ()
    return tuple(c for c in threadpoolctl.ThreadpoolController().lib_controllers if c.user_api == "blas")


class BlasThreads:
    """``limited()`` runs its body with ``count`` BLAS threads."""

    def __init__(self, count: int):
        self.count = count
        self._controllers = _blas_controllers()
        if not self._controllers:
            raise InvalidArgumentError(
                "intra_op_num_threads needs threadpoolctl to reach NumPy's BLAS: pip install threadpoolctl "
                "(or leave intra_op_num_threads at 0 and set OMP_NUM_THREADS / OPENBLAS_NUM_THREADS)")

    @contextlib.contextmanager
    def limited(self):
        saved = [c.num_threads for c in self._controllers]
        for controller in self._controllers:
            controller.set_num_threads(self.count)
        try:
            yield
        finally:
            for controller, count in zip(self._controllers, saved):
                controller.set_num_threads(count)
