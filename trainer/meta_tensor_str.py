"""How a meta tensor prints, as in PyTorch: ``tensor(..., device='meta', size=(3, 4))``, then a dtype other than
the default float dtype and the autograd state (there are no values to show)."""

from __future__ import annotations

from trainer import dtypes


def meta_suffixes(t) -> list[str]:
    suffixes = [f"size={tuple(t._data.shape)}"]
    if t.dtype is not dtypes.get_default_dtype():
        suffixes.append(f"dtype={t.dtype!r}")
    if t._grad_fn is not None:
        suffixes.append(f"grad_fn=<{t._grad_fn.name()}>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    return suffixes
