"""The table of solve methods: for each name in diffopt.vocab, its implementation.

A method is an optax-style (init, update) pair of plain functions over frozen
state (diffopt.solve.state describes the interface); the families live in
their own modules: first_order (gd, momentum, adam), quasi_newton (bfgs,
lbfgs), newton, least_squares (lm) and nelder_mead. This module adds what
the driver (loop.py) needs to run one: which oracle calls it makes, its
default step and iteration limit, and its extra stopping rule. The names and
their descriptions come from ``diffopt.vocab.METHODS``; a name there without
an implementation here fails at import.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from diffopt import vocab
from diffopt.solve.first_order import (
    adam_init,
    adam_update,
    gd_init,
    gd_update,
    momentum_init,
    momentum_update,
)
from diffopt.solve.least_squares import lm_converged, lm_init, lm_update
from diffopt.solve.nelder_mead import nelder_mead_converged, nelder_mead_init, nelder_mead_update
from diffopt.solve.newton import newton_init, newton_update
from diffopt.solve.oracle import Oracle
from diffopt.solve.quasi_newton import bfgs_init, bfgs_update, lbfgs_init, lbfgs_update
from diffopt.solve.state import Settings, State


@dataclass(frozen=True)
class Method:
    """One method as the driver sees it.

    Attributes:
        name: the name users type (``--method``), as in diffopt.vocab.
        init, update: the optax-style pair.
        needs: "gradient" (value_and_grad), "residuals" (residuals and
            jacobian) or "value" (value only).
        lr: default step size for methods that take one, else None.
        max_iter: default iteration limit as a function of n.
        monotone: every accepted step lowers f (line search or trust region), so a
            negligible step or change in f means precision is exhausted. Fixed-step
            methods can also stall by oscillating, so they get no such rule.
        converged: an extra, method-specific stopping rule (tol -> message or None).
        limit: what ``max_iter`` counts, in messages: "iteration", or for lm
            "evaluation" (one update is one trial evaluation of the residuals).
    """

    name: str
    init: Callable[[Oracle, np.ndarray, Settings], State]
    update: Callable[[Oracle, State, Settings], State]
    needs: Literal["gradient", "residuals", "value"]
    lr: float | None
    max_iter: Callable[[int], int]
    monotone: bool = True
    converged: Callable[[State, float], str | None] | None = None
    limit: str = "iteration"

    @property
    def summary(self) -> str:
        """One line for help texts (from diffopt.vocab)."""
        return vocab.method_info(self.name).summary


_IMPLEMENTATIONS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("gd", gd_init, gd_update, "gradient", 0.1, lambda n: 1000, monotone=False),
        Method("momentum", momentum_init, momentum_update, "gradient", 0.01, lambda n: 1000,
               monotone=False),
        Method("adam", adam_init, adam_update, "gradient", 0.01, lambda n: 1000, monotone=False),
        # Over an oracle alone there are no rows to batch: one batch is the whole
        # objective (diffopt.training runs them over mini-batches of data rows).
        Method("sgd", gd_init, gd_update, "gradient", 0.1, lambda n: 1000, monotone=False),
        Method("adamw", adam_init, adam_update, "gradient", 0.01, lambda n: 1000,
               monotone=False),
        Method("bfgs", bfgs_init, bfgs_update, "gradient", None, lambda n: 1000),
        Method("lbfgs", lbfgs_init, lbfgs_update, "gradient", None, lambda n: 1000),
        Method("newton", newton_init, newton_update, "gradient", None, lambda n: 200),
        # 200 (n + 1) trial evaluations of the residuals, MINPACK lmdif1's budget (lmder1's
        # 100 (n + 1) stops NIST's Bennett5 and MGH09 from start 1, which need 757 and 511)
        Method("lm", lm_init, lm_update, "residuals", None, lambda n: 200 * (n + 1),
               converged=lm_converged, limit="evaluation"),
        Method("nelder-mead", nelder_mead_init, nelder_mead_update, "value", None,
               lambda n: max(1000, 200 * n), monotone=False, converged=nelder_mead_converged),
    )
}  # fmt: skip

# Every method vocab names, in its order ("auto" is a choice, not a method).
METHODS: dict[str, Method] = {
    name: _IMPLEMENTATIONS[name] for name in vocab.METHODS if name != "auto"
}


def choose_auto(oracle: Oracle) -> str:
    """lm for a least-squares objective without general constraints, else lbfgs."""
    least_squares = oracle.residuals is not None and oracle.jacobian is not None
    if least_squares and not (oracle.constraints and oracle.constraints.names):
        return "lm"
    return "lbfgs"
