"""``Tensor.register_post_accumulate_grad_hook``: hooks that run on a leaf right after ``backward()`` has added
into its ``.grad`` (optimizer-in-backward, gradient offloading), as in PyTorch.

Tensors have fixed slots, so the hooks live here, keyed by the tensor's id and dropped when it is collected.
"""

from __future__ import annotations

import weakref

_hooks: dict = {}  # id(leaf) -> (weak reference to the leaf, {handle id: hook})


def register(tensor, hook):
    from trainer.utils.hooks import RemovableHandle

    if not tensor.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if tensor.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    if not callable(hook):
        raise TypeError(f"hook must be callable, got {type(hook).__name__}")
    key = id(tensor)
    if key not in _hooks:
        _hooks[key] = (weakref.ref(tensor), {})
        weakref.finalize(tensor, _hooks.pop, key, None)
    hooks = _hooks[key][1]
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def run(leaves) -> None:
    """Call each leaf's hooks with the leaf, once its ``.grad`` holds this backward's gradient."""
    if not _hooks:
        return
    for leaf in leaves:
        entry = _hooks.get(id(leaf))
        if entry is not None and entry[0]() is leaf:
            for hook in tuple(entry[1].values()):
                hook(leaf)
