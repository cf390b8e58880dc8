"""The words users type, in one table: solve methods, gradient modes, file options.

Owns the names (and one-line descriptions) of the methods of ``--method`` and
``option method``, the modes of ``--mode`` and ``option mode``, and the
options a ``.dop`` file may set (with their kind, choices and default).
Every other layer reads these tables: the checker validates ``option``
lines against ``OPTIONS``, the API takes its modes from ``MODES``, the
solver dispatch validates method names against ``METHODS``, the CLI builds
its help text from them, and tests/test_man.py checks that the man pages
list exactly these names. The exit statuses are a
table of their own, ``diffopt.status.ExitStatus``, re-exported here.

Pure data: imports nothing but the standard library and diffopt.status
(the CLI imports it, and the CLI imports no NumPy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from diffopt.status import ExitStatus

__all__ = [
    "DEFAULT_CONFIDENCE", "ExitStatus", "FileOption", "FILE_OPTIONS", "GRADIENT_MODES",
    "INTERVALS", "METHODS",
    "METHOD_TABLE", "MODES", "MethodInfo", "OPTIONS", "SWEEP_LAYOUTS", "choices_text",
    "method_info",
]  # fmt: skip


# ------------------------------------------------------------------ methods


@dataclass(frozen=True)
class MethodInfo:
    """A solve method as users see it.

    Attributes:
        name: what ``--method`` and ``option method`` take.
        summary: one line for help texts.
        applies_to: "any" objective, or "least-squares" objectives only (a sum
            of squares of residuals, whose Jacobian the method needs).
    """

    name: str
    summary: str
    applies_to: Literal["any", "least-squares"] = "any"


METHOD_TABLE: tuple[MethodInfo, ...] = (
    MethodInfo("auto", "lm for a least-squares objective without general constraints, "
                       "else lbfgs"),
    MethodInfo("gd", "gradient descent with a fixed step lr"),
    MethodInfo("momentum", "heavy-ball gradient descent (step lr, momentum 0.9)"),
    MethodInfo("adam", "Adam (step lr, beta1 0.9, beta2 0.999)"),
    MethodInfo("bfgs", "BFGS with a dense inverse-Hessian model and a strong Wolfe line search"),
    MethodInfo("lbfgs", "L-BFGS (10 pairs) with a strong Wolfe line search; projected with bounds"),
    MethodInfo("newton", "Newton with the exact Hessian in a trust region "
                         "(indefinite Hessians are fine)"),
    MethodInfo("lm", "Levenberg-Marquardt for least squares", applies_to="least-squares"),
    MethodInfo("nelder-mead", "Nelder-Mead simplex search (derivative-free)"),
)  # fmt: skip

# The names alone, "auto" first: the shape diffopt.program.METHODS has.
METHODS: tuple[str, ...] = tuple(m.name for m in METHOD_TABLE)


def method_info(name: str) -> MethodInfo:
    """The table row of a method name (KeyError for a name not in ``METHODS``)."""
    for info in METHOD_TABLE:
        if info.name == name:
            return info
    raise KeyError(name)


# ------------------------------------------------------------------ modes

# How solve computes gradients: "auto" lets the engine choose (reverse mode).
MODES: tuple[str, ...] = ("auto", "forward", "reverse")

# What ``diffopt grad --mode`` takes: a gradient is computed one way or the other.
GRADIENT_MODES: tuple[str, ...] = tuple(mode for mode in MODES if mode != "auto")


# How ``diffopt sweep`` combines its lists of values: every combination, or paired.
SWEEP_LAYOUTS: tuple[str, ...] = ("grid", "zip")


# ------------------------------------------------------------------ file options


@dataclass(frozen=True)
class FileOption:
    """An ``option NAME = VALUE`` a .dop file may set (command-line flags override it).

    Attributes:
        name: the option's name in the file.
        kind: "string" (one of ``choices``), "integer" (a whole number >= 0),
            "positive" (a number > 0), "fraction" (a number strictly between
            0 and 1) or "uncertainty" (a constant scalar or array, every
            element finite and > 0).
        choices: the strings a "string" option takes, else None.
        default: the value when neither the file nor a flag sets it; None when
            it depends on the method (see diffopt-solve(1)).
        doc: one line for help texts.
    """

    name: str
    kind: Literal["string", "integer", "positive", "fraction", "uncertainty"]
    choices: tuple[str, ...] | None
    default: str | float | None
    doc: str


DEFAULT_TOL = 1e-8  # the gradient (and constraint) tolerance of solve

# How a fit's confidence intervals are computed: value ± z·stderr, or by
# re-solving with one parameter fixed (profile likelihood, as MINOS does).
INTERVALS: tuple[str, ...] = ("asymptotic", "profile")
DEFAULT_CONFIDENCE = 0.95  # the level of a fit's confidence intervals

FILE_OPTIONS: tuple[FileOption, ...] = (
    FileOption("method", "string", METHODS, "auto", "the solve method"),
    FileOption("mode", "string", MODES, "auto", "how solve computes gradients"),
    FileOption("max_iter", "integer", None, None, "the iteration limit (default per method)"),
    FileOption("tol", "positive", None, DEFAULT_TOL, "the gradient tolerance"),
    FileOption("lr", "positive", None, None, "the step of gd, momentum and adam"),
    FileOption("sigma", "uncertainty", None, None,
               "absolute uncertainty of each residual of a least-squares fit (weights 1/sigma^2)"),
    FileOption("intervals", "string", INTERVALS, "asymptotic",
               "how a fit's confidence intervals are computed"),
    FileOption("confidence", "fraction", None, DEFAULT_CONFIDENCE,
               "the confidence level of a fit's intervals"),
)

# name -> (kind, choices): the shape diffopt.program.OPTIONS has.
OPTIONS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    option.name: (option.kind, option.choices) for option in FILE_OPTIONS
}


# ------------------------------------------------------------------ help text


def choices_text(choices: tuple[str, ...], default: str | None = None) -> str:
    """``a, b or c`` (``(default a)`` appended when given), for help texts and messages."""
    listed = choices[0] if len(choices) == 1 else f"{', '.join(choices[:-1])} or {choices[-1]}"
    return f"{listed} (default {default})" if default is not None else listed
