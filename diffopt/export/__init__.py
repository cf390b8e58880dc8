"""``diffopt export``: a standalone NumPy or JAX module from the staged tape.

The second back end of the one IR: the equations the engine compiles (the
program and its staged reverse sweep) written out as readable source that
imports only NumPy (or jax.numpy), with this interface::

    PARAMS, START, value(x), gradient(x), value_and_grad(x), unflatten(x)

Modules:

* ``traced``: the one adapter to the engine (trace at a point → plain data);
* ``codegen``: names and the straight-line ``_evaluate`` function, one line
  per equation from each primitive's ``ExportRule`` (ops/registry.py), with
  the branch decisions as explicit checks, and each root/argmin body as a
  nested function;
* ``newton``: the damped Newton solver those calls run (diffopt's, mirrored);
* ``data``: constants and data tables (embedded, or read from the CSV);
* ``module``: the module text around it.

Must not import the CLI or Rich.
"""

from __future__ import annotations

import numpy as np

from diffopt.errors import UsageError
from diffopt.export.data import EMBED_LIMIT
from diffopt.export.module import TARGETS, write_module
from diffopt.export.traced import traced_program
from diffopt.points import resolve_point

__all__ = ["EMBED_LIMIT", "TARGETS", "export_module"]


def export_module(session, target: str = "numpy", at=None,
                  embed_limit: int = EMBED_LIMIT) -> str:
    """The source of a standalone module computing the problem's objective and gradient.

    Args:
        session: a loaded problem (``api.load``).
        target: "numpy" or "jax".
        at: the point whose path (branch decisions) is exported, as for
            ``diffopt grad --at``: None or "init" (the start), "random", or
            {name: value}.
        embed_limit: CSV tables with more cells than this are read from
            their file by the module instead of being embedded.

    Returns:
        Python source text.

    Raises:
        UsageError: an unknown target, or a construct export does not support.
    """
    if target not in TARGETS:
        raise UsageError(f"--to must be numpy or jax, not '{target}'")
    problem = session.problem
    point = np.asarray(resolve_point(problem, at), dtype=np.float64)
    program = traced_program(session, point)
    return write_module(problem, program, point, target, embed_limit)
