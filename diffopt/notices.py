"""Warnings as data: a message about a place in the program.

Engines never print. What they find that the user should know but that is
not an error (a loop whose exit step moves with the parameters, a degenerate
``root``/``argmin`` solution) is a ``Notice``; the API collects notices with
the NaN/inf diagnoses into a result's ``warnings`` and the CLI renders them
(``file:line:col: warning: ...``) or writes them into the JSON document.
"""

from __future__ import annotations

from dataclasses import dataclass

from diffopt.source import Span


@dataclass(frozen=True)
class Notice:
    """A warning: ``message`` about the program text at ``span``."""

    message: str
    span: Span | None

    def describe(self) -> str:
        return self.message


def warning_json(warning) -> dict:
    """``{message, file, line, col}`` of a Notice or a NaN/inf diagnosis."""
    span = warning.span
    return {
        "message": warning.describe(),
        "file": span.source.name if span is not None else None,
        "line": span.line if span is not None else None,
        "col": span.col if span is not None else None,
    }


def unique(notices) -> tuple:
    """The notices in order, each (message, place) once."""
    seen, kept = set(), []
    for notice in notices:
        key = (notice.describe(), notice.span.location if notice.span is not None else None)
        if key not in seen:
            seen.add(key)
            kept.append(notice)
    return tuple(kept)
