"""diffopt: optimization driven by .dop expression files.

A tour of the package, in the order data flows (nothing calls back up):

* ``syntax/`` — the grammar through Lark's public API, the AST (frozen, with
  spans), the formatter. ``sema`` checks names statically.
* ``check/`` — the one pass from AST to IR: ``runner`` (statements) and
  ``machine`` (expressions) run the program once at its start point, checking
  shapes, bounds, options and data while recording the tape; the result is a
  frozen ``CheckedProblem`` (``check/problem``) and the first trace.
* ``ir/`` — the tape of primitive equations with guards and common
  subexpressions merged (``ir/tape``), closed sub-programs for root/argmin
  (``ir/subprogram``), structure-finding passes (``ir/passes``).
* ``ops/`` — the primitive registry: one stanza per primitive (value, shape,
  derivative rules), the language's built-ins and special forms.
* ``ad/`` — staged reverse mode (``reverse``), staged forward mode
  (``forward``), and the derivative checker (``check``).
* ``compile/`` — straight-line NumPy/Python code from a tape (``codegen``),
  reduction fusion, reused buffers.
* ``diagnose`` — where a NaN/inf first appeared. ``recording`` stages a trace's
  derivatives; ``session`` pairs the checked problem with its recording and
  re-traces when a guard fails; ``points`` resolves ``--at``.
* ``solve/`` — solvers as pure functions of an oracle; ``api`` is the only
  surface the CLI uses; ``report/`` renders (Rich, JSON); ``cli/`` is a thin
  Typer layer; ``vocab`` holds the one table of methods, modes and options.

Heavy modules (NumPy, Lark, Rich) are imported lazily by the commands that
use them, so ``diffopt --version`` stays fast.
"""

__version__ = "0.1.0"
