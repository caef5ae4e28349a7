"""PyTorch computes ``1 / 0``, ``0 / 0``, ``log(0)`` and overflows silently (inf, nan); NumPy warns about each.

Trainer silences those warnings where its own modules call NumPy, with a warnings filter on them: NumPy's error
state stays as the user set it for their own code, and an op pays nothing unless a floating-point error happens.
"""

import warnings

warnings.filterwarnings("ignore", message=r"(divide by zero|invalid value|overflow|underflow) encountered",
                        category=RuntimeWarning, module=r"trainer(\.|$)")
