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
    "DEFAULT_CONFIDENCE", "ExitStatus", "FileOption", "FILE_OPTION", "FILE_OPTIONS",
    "GRADIENT_MODES", "INTERVALS", "METHODS", "METHOD_TABLE", "MODES", "MethodInfo", "OPTIONS",
    "STOCHASTIC_METHODS", "SWEEP_LAYOUTS", "choices_text", "method_info",
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
    MethodInfo("adam", "Adam (step lr, beta1 0.9, beta2 0.999); over mini-batches with "
                       "option batch or epochs"),
    MethodInfo("sgd", "stochastic gradient descent over mini-batches of data rows "
                      "(momentum, nesterov)"),
    MethodInfo("adamw", "Adam with decoupled weight decay, over mini-batches of data rows"),
    MethodInfo("bfgs", "BFGS with a dense inverse-Hessian model and a strong Wolfe line search"),
    MethodInfo("lbfgs", "L-BFGS (10 pairs) with a strong Wolfe line search; projected with bounds"),
    MethodInfo("newton", "Newton with the exact Hessian in a trust region "
                         "(indefinite Hessians are fine)"),
    MethodInfo("lm", "Levenberg-Marquardt for least squares", applies_to="least-squares"),
    MethodInfo("nelder-mead", "Nelder-Mead simplex search (derivative-free)"),
)  # fmt: skip

# The methods that run epochs over mini-batches of data rows (diffopt.solve.stochastic);
# adam joins them when the file sets batch, epochs or validation.
STOCHASTIC_METHODS: tuple[str, ...] = ("sgd", "adamw")

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
        kind: "string" (one of ``choices``), "integer" (a whole number >= ``low``,
            0 unless given), "positive" (a number > 0), "number" (a number in
            the range ``low``..``high``), "boolean" (true or false), "fraction"
            (a number strictly between 0 and 1) or "uncertainty" (a constant
            scalar or array, every element finite and > 0).
        choices: the strings a "string" option takes, else None.
        default: the value when neither the file nor a flag sets it; None when
            it depends on the method (see diffopt-solve(1)).
        doc: one line for help texts.
    """

    name: str
    kind: Literal["string", "integer", "positive", "number", "boolean", "fraction",
                  "uncertainty"]
    choices: tuple[str, ...] | None
    default: str | float | None
    doc: str
    low: float | None = None
    high: float | None = None
    open_low: bool = False  # the range excludes low
    open_high: bool = False  # the range excludes high

    def range_text(self) -> str:
        """``[0, 1)``, ``(0, 1)``, ``>= 1``: the values a number option takes, for messages."""
        if self.kind == "integer":
            return f"a whole number >= {self.low or 0:g}"
        if self.high is None:
            return f"a number {'>' if self.open_low else '>='} {self.low:g}"
        return (f"a number in {'(' if self.open_low else '['}{self.low:g}, {self.high:g}"
                f"{')' if self.open_high else ']'}")


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
    FileOption("lr", "positive", None, None, "the step of gd, momentum, adam, sgd and adamw"),
    FileOption("sigma", "uncertainty", None, None,
               "absolute uncertainty of each residual of a least-squares fit (weights 1/sigma^2)"),
    FileOption("intervals", "string", INTERVALS, "asymptotic",
               "how a fit's confidence intervals are computed"),
    FileOption("confidence", "fraction", None, DEFAULT_CONFIDENCE,
               "the confidence level of a fit's intervals"),
    # mini-batch training (stochastic methods, see diffopt.solve.stochastic)
    FileOption("batch", "integer", None, None,
               "rows per mini-batch (default all training rows)", low=1),
    FileOption("epochs", "integer", None, 100, "passes over the training rows", low=1),
    FileOption("momentum", "number", None, None,
               "sgd's heavy-ball coefficient (default 0; momentum method 0.9)",
               low=0, high=1, open_high=True),
    FileOption("nesterov", "boolean", None, "false", "sgd: Nesterov's look-ahead momentum"),
    FileOption("beta1", "number", None, 0.9, "adam, adamw: first-moment decay",
               low=0, high=1, open_high=True),
    FileOption("beta2", "number", None, 0.999, "adam, adamw: second-moment decay",
               low=0, high=1, open_high=True),
    FileOption("eps", "positive", None, 1e-8, "adam, adamw: denominator guard"),
    FileOption("weight_decay", "number", None, None,
               "L2 weight decay (sgd, adam 0; adamw decoupled, 0.01)", low=0),
    FileOption("schedule", "string", ("constant", "step", "cosine", "inverse_time"),
               "constant", "the learning-rate schedule of stochastic methods"),
    FileOption("warmup", "integer", None, 0, "steps of linear learning-rate warm-up"),
    FileOption("decay", "number", None, 0.1,
               "step: factor per decay_epochs; inverse_time: rate per epoch",
               low=0, open_low=True),
    FileOption("decay_epochs", "integer", None, 10, "step schedule: epochs between decays",
               low=1),
    FileOption("clip_norm", "positive", None, None, "clip each batch gradient to this norm"),
    FileOption("validation", "number", None, None,
               "fraction of rows held out for validation", low=0, high=1,
               open_low=True, open_high=True),
    FileOption("patience", "integer", None, None,
               "stop after this many epochs without a better validation loss", low=1),
)

# name -> its table row
FILE_OPTION: dict[str, FileOption] = {option.name: option for option in FILE_OPTIONS}

# name -> (kind, choices): the shape diffopt.program.OPTIONS has.
OPTIONS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    option.name: (option.kind, option.choices) for option in FILE_OPTIONS
}


# ------------------------------------------------------------------ help text


def choices_text(choices: tuple[str, ...], default: str | None = None) -> str:
    """``a, b or c`` (``(default a)`` appended when given), for help texts and messages."""
    listed = choices[0] if len(choices) == 1 else f"{', '.join(choices[:-1])} or {choices[-1]}"
    return f"{listed} (default {default})" if default is not None else listed
