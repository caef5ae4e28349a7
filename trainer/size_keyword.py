"""PyTorch's ``zeros(*size)``-style factories also take the shape by keyword: ``torch.empty(size=(n, m))``, as
pytorch/examples' gat program writes it."""

from __future__ import annotations

import functools
from collections.abc import Callable

_NOT_GIVEN = object()


def accepts_size_keyword(factory: Callable) -> Callable:
    """``factory(*size, ...)`` that also accepts ``size=`` (a sequence of ints), but not both at once."""

    @functools.wraps(factory)
    def with_size_keyword(*args, size=_NOT_GIVEN, **kwargs):
        if size is _NOT_GIVEN:
            return factory(*args, **kwargs)
        if args:
            raise TypeError(f"{factory.__name__}() got multiple values for argument 'size'")
        return factory(size, **kwargs)

    return with_size_keyword
