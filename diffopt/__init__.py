"""diffopt: optimization driven by .dop expression files.

Heavy modules (NumPy, Lark, Rich) are imported lazily by the commands that
use them, so ``diffopt --version`` stays fast.
"""

__version__ = "0.1.0"
