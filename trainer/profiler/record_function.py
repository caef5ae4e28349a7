"""``record_function``: a named user range, as a context manager or a decorator. Ops run inside it nest under it,
so its CPU total includes them and its self time excludes them. Without an active profiler it records nothing."""

from __future__ import annotations

import contextlib

from trainer.profiler import recorder


class record_function(contextlib.ContextDecorator):  # noqa: N801 - PyTorch's public name
    def __init__(self, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"record_function expects the range's name as a str, but got {type(name).__name__}")
        self.name = name
        self._entered: list[list] = []  # one entry per open use: a decorated function may recurse

    def __enter__(self) -> record_function:
        self._entered.append([(r, r.begin(self.name, recorder.USER)) for r in tuple(recorder.active)])
        return self

    def __exit__(self, exc_type, exc_value, traceback) -> bool:
        for active, opened in reversed(self._entered.pop()):
            active.end(opened)
        return False
