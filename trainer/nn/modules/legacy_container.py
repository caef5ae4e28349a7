"""``nn.Container``: the pre-0.2 base class for modules holding sub-modules, deprecated in PyTorch (everything it
did is ``nn.Module``'s now) and kept, with PyTorch's ``FutureWarning`` on use and on subclassing, so that old
programs run."""

from __future__ import annotations

import warnings

from trainer.nn.modules.module import Module

_DEPRECATION = ("`nn.Container` is deprecated. All of its functionality is now implemented in `nn.Module`. Subclass "
                "that instead.")


class Container(Module):
    """A module whose keyword arguments become its sub-modules: ``Container(fc=Linear(2, 3))``."""

    def __new__(cls, *args, **kwargs):
        warnings.warn(_DEPRECATION, FutureWarning, stacklevel=2)
        return super().__new__(cls)

    def __init_subclass__(cls, **kwargs):
        warnings.warn(_DEPRECATION, FutureWarning, stacklevel=2)
        super().__init_subclass__(**kwargs)

    def __init__(self, **kwargs) -> None:
        super().__init__()
        for key, value in kwargs.items():
            self.add_module(key, value)
