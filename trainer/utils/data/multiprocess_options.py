"""Checks of the DataLoader options that only concern worker processes, with PyTorch's errors."""

from __future__ import annotations

import multiprocessing
import multiprocessing.context


def checked_prefetch_factor(prefetch_factor: int | None, num_workers: int) -> int | None:
    """``prefetch_factor`` as the loader keeps it: 2 by default with workers, None without."""
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError("prefetch_factor option could only be specified in multiprocessing. Let num_workers > 0 "
                         "to enable multiprocessing, otherwise set prefetch_factor to None.")
    if num_workers > 0 and prefetch_factor is None:
        return 2
    if prefetch_factor is not None and prefetch_factor < 0:
        raise ValueError("prefetch_factor option should be non-negative")
    return prefetch_factor


def resolve_context(context, num_workers: int):
    """The multiprocessing context named by ``context`` (a start method's name or a context object); None
    stays None and means the platform's default start method when the workers are started."""
    if context is None:
        return None
    if num_workers == 0:
        raise ValueError(f"multiprocessing_context can only be used with multi-process loading (num_workers > 0), "
                         f"but got num_workers={num_workers}")
    if isinstance(context, str):
        methods = multiprocessing.get_all_start_methods()
        if context not in methods:
            raise ValueError(f"multiprocessing_context option should specify a valid start method in {methods!r}, "
                             f"but got multiprocessing_context={context!r}")
        return multiprocessing.get_context(context)
    if not isinstance(context, multiprocessing.context.BaseContext):
        raise TypeError(f"multiprocessing_context option should be a valid context object or a string specifying "
                        f"the start method, but got multiprocessing_context={context}")
    return context


def default_context():
    """The context workers start in when the loader names none: Python's default start method."""
    return multiprocessing.get_context()
