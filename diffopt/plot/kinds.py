"""The plot kinds: refusing one that does not apply, and building the data of one.

``plot`` is the entry the CLI calls (``diffopt plot``, ``solve --plot``).
"""

from __future__ import annotations

import numpy as np

from diffopt.errors import UsageError, did_you_mean
from diffopt.option_values import parse_value
from diffopt.plot.curves import fit, slice_data
from diffopt.plot.data import Run, entries, landscape, trace
from diffopt.vocab import PLOT_KINDS

KINDS = PLOT_KINDS


def solve_runs(solve, session, methods: str | None, options: dict) -> tuple[list, object]:
    """One ``solve`` (api.solve) per method of ``a,b,c`` keeping every iterate; the runs
    and the last one's fit statistics. ``options["callback"]`` still sees every event."""
    options = dict(options)
    progress = options.pop("callback", None)
    runs, result = [], None
    for method in parse_list(methods) or [None]:
        events: list = []

        def callback(info, events=events):
            events.append(info)
            if progress is not None:
                progress(info)

        result = solve(session, method=method, callback=callback, **options)
        runs.append(Run.of(session.problem, result, events))
    return runs, result.fit


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


def parse_ranges(text: str | None) -> dict:
    """``--range x1=0:10,x2=5:20`` as name -> (low, high)."""
    ranges: dict = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        name, equals, interval = item.partition("=")
        low, colon, high = interval.partition(":")
        if not equals or not colon or not name.strip():
            raise UsageError(f"--range: '{item.strip()}' is not NAME=LOW:HIGH",
                             hint="for example --range x1=0:10,x2=5:20")
        bounds = (parse_value(low, "--range"), parse_value(high, "--range"))
        if not all(np.ndim(b) == 0 and np.isfinite(b) for b in bounds):
            raise UsageError(f"--range {name.strip()}: LOW and HIGH must be finite numbers")
        if not np.isfinite(bounds[1] - bounds[0]):
            raise UsageError(f"--range {name.strip()}: the interval is too wide to sample")
        if not bounds[0] < bounds[1]:
            raise UsageError(f"--range {name.strip()}: LOW must be below HIGH, got "
                             f"{interval.strip()}")
        ranges[name.strip()] = bounds
    return ranges


def parse_list(text: str | None) -> list[str] | None:
    """``a,b,c`` as a list of names (None when not given)."""
    if text is None:
        return None
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise UsageError(f"'{text}' has an empty name; separate names with single commas")
    return names


# the options each kind reads; giving one to a kind that ignores it is an error
USES = {"landscape": {"--params", "--range", "--grid", "--at"}, "trace": set(),
        "fit": {"--x"}, "slice": {"--params", "--range"}}


def parse_view(kind: str, params: str | None = None, ranges: str | None = None,
               grid: int | None = None, at: str | None = None,
               x_name: str | None = None) -> dict:
    """The command line's texts as ``build``'s keyword arguments."""
    given = {"--params": params, "--range": ranges, "--grid": grid, "--at": at, "--x": x_name}
    for flag, value in given.items():
        if value is not None and kind in USES and flag not in USES[kind]:
            used = ", ".join(k for k, v in USES.items() if flag in v)
            raise UsageError(f"{flag} does not apply to a {kind} plot (only to {used})")
    return {"params": parse_list(params), "ranges": parse_ranges(ranges),
            "grid": 100 if grid is None else int(grid), "at": at, "x_name": x_name}


def plot(session, kind: str, *, methods: str | None = None, solve_options=None,
         solved=None, **view):
    """What the CLI calls (beside diffopt.api): check the kind and the view (the texts of
    --params, --range, --grid, --at, --x), solve with api.solve once per method of
    ``a,b,c`` keeping every iterate, and build the data; with ``solved`` = (result,
    events) of a finished solve (``solve --plot``), its trace and, for two parameters,
    its landscape (a list), without solving again."""
    from diffopt.api import solve

    if solved is not None:
        run = Run.of(session.problem, solved[0], solved[1])
        shown = [trace(session, [run])]
        return shown + ([landscape(session, run)] if session.problem.n == 2 else [])
    check(kind, session, None)
    view = parse_view(kind, **view)
    check(kind, session, view["params"])
    runs, fit_report = solve_runs(solve, session, methods, solve_options or {})
    return build(kind, session, runs, fit_report, **view)
