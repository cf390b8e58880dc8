"""The plot kinds: refusing one that does not apply, and building the data of one."""

from __future__ import annotations

from diffopt.errors import UsageError, did_you_mean
from diffopt.plot.curves import fit, slice_data
from diffopt.plot.data import entries, landscape, trace

KINDS = ("landscape", "trace", "fit", "slice")


def check(kind: str, session, params=None) -> None:
    """Refuse a kind that does not apply, before any solve runs."""
    problem = session.problem
    if kind not in KINDS:
        raise UsageError(f"unknown plot kind '{kind}'; choose one of {', '.join(KINDS)}",
                         hint=did_you_mean(kind, KINDS))
    if kind == "landscape":
        entries(problem, params, 2, "landscape")
    elif kind == "slice":
        entries(problem, params, None, "slice")
    elif kind == "fit" and session.recording.residual is None:
        fit(session, None, None)  # the located refusal


def build(kind: str, session, runs: list, fit_report, *, params=None, ranges=None,
          grid: int = 100, at=None, x_name=None):
    """The data of one kind from finished runs (the first run for all but trace)."""
    if kind == "trace":
        return trace(session, runs)
    if kind == "landscape":
        return landscape(session, runs[0], params=params, ranges=ranges, grid=grid, at=at)
    if kind == "fit":
        return fit(session, runs[0], fit_report, x_name)
    return slice_data(session, runs[0], params=params, ranges=ranges)
