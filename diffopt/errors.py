"""User-facing errors: every one carries a span, notes and an optional hint.

``DopError`` and its subclasses are the only exceptions that reach the user as
diagnostics (``file:line:col: error: message``, exit status 2); anything else
escaping to the CLI is an internal error. The ``kind`` of each class is the
diagnostic kind listed in ``man/dop.5``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from diffopt.source import Span, unknown_span


class DopError(Exception):
    """A problem with what the user wrote or passed; reported with its span."""

    kind = "error"

    def __init__(
        self,
        message: str,
        span: Span | None = None,
        notes: Iterable[str] = (),
        hint: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.span = span  # None until a caller that knows the place attaches one
        self.notes = tuple(notes)
        self.hint = hint

    def __str__(self) -> str:
        span = self.span if self.span is not None else unknown_span()
        return f"{span.location}: error: {self.message}"

    def located(self, span: Span | None) -> DopError:
        """Attach ``span`` if the error has none yet (raised below the AST level)."""
        if self.span is None:
            self.span = span
        return self


class DopSyntaxError(DopError):
    kind = "syntax"


class DopNameError(DopError):
    kind = "name"


class DopTypeError(DopError):
    """Wrong arity, keyword, argument kind or misuse of a construct."""

    kind = "type"


class ShapeError(DopError):
    kind = "shape"


class DataError(DopError):
    kind = "data"


class OptionError(DopError):
    """A bad setting; ``option`` names it (``"tol"``) when the solver refuses it,
    so the caller can point at the file's ``option`` line that gave it."""

    kind = "option"

    def __init__(self, message: str, span: Span | None = None, notes: Iterable[str] = (),
                 hint: str | None = None, option: str | None = None):
        super().__init__(message, span, notes, hint)
        self.option = option


class NumericalError(DopError):
    """Non-finite values, failed implicit solves, singular systems."""

    kind = "numerical"


class UsageError(DopError):
    """A bad command-line value (``--set``, ``--at``, ``--data``)."""

    kind = "usage"


ERROR_KINDS = (
    DopSyntaxError,
    DopNameError,
    DopTypeError,
    ShapeError,
    DataError,
    OptionError,
    NumericalError,
    UsageError,
)


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A "did you mean 'x'?" hint from the closest candidate names, or None."""
    matches = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in candidates}
        if name.lower() in lowered:
            matches = [lowered[name.lower()]]
    return f"did you mean '{matches[0]}'?" if matches else None
