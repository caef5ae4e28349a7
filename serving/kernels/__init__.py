"""Runtime kernels, one module per family; importing this package registers all of them.

Every module here other than ``registry`` is a kernel family, so adding a family is adding a file.
"""

import importlib
import pkgutil

from serving.kernels.registry import KernelContext, kernel, lookup, registered_ops

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "registry" and not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
