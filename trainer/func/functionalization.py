"""``functionalize(func)``, as ``torch.func.functionalize``: a function with ``func``'s results whose program has
no mutations (``remove="mutations"``), or no mutations and no views (``remove="mutations_and_views"``).

PyTorch rewrites the traced program so that graph compilers see no in-place ops; changes to the inputs are still
applied to them afterwards, so callers see the same results either way. trainer has no functionalization pass and
no graph compiler that needs one: the returned function runs ``func`` as it is, which gives those same results,
input mutations included."""

from __future__ import annotations

import functools

__all__ = ["functionalize"]


def functionalize(func, *, remove: str = "mutations"):
    if remove not in ("mutations", "mutations_and_views"):
        raise RuntimeError(
            f"functionalize(f, remove='mutations'): received invalid argument for remove={remove}. Valid options "
            "are:\n     remove='mutations': all inplace and out= operators will be removed from the program, and "
            "replaced with their out-of-place equivalents.\n     remove='mutations_and_views': In addition to the "
            "above, all aliasing operators {view} will be replaced with their non-aliasing counterparts, "
            "{view}_copy.\n")

    @functools.wraps(func)
    def functionalized(*args, **kwargs):
        return func(*args, **kwargs)

    return functionalized
