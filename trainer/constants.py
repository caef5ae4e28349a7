"""PyTorch's top-level constants: ``pi``, ``e``, ``inf``, ``nan`` and ``newaxis`` (None, for indexing)."""

import math

e = math.e
pi = math.pi
inf = math.inf
nan = math.nan
newaxis = None
