"""``Tensor.module_load``: how ``nn.Module.load_state_dict`` turns a state-dict value into what it swaps into a
parameter or buffer when tensors are swapped on loading (``torch.__future__.set_swap_module_params_on_conversion``).

A tensor subclass overrides it to convert the loaded value; the default, as in PyTorch, copies ``other`` into
``self`` (``assign=False``) or takes ``other`` as it is (``assign=True``), and returns a detached tensor that is
neither ``self`` nor ``other``.
"""

from __future__ import annotations


def module_load(self, other, assign=False):
    if assign:
        return other.detach()
    return self.copy_(other).detach()
