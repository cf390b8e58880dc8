"""Iterations and evaluations of diffopt's solvers on the Moré-Garbow-Hillstrom set,
and diffopt's lm beside SciPy's MINPACK on the hard NIST fits of tests/fits.

Run from the repository root:  python bench/solvers.py [--methods lbfgs,bfgs,...]
[--suites classic,fits] [--repeat 5]

For each problem of tests/test_classic.py and each method it prints
iterations, objective/gradient/Hessian evaluations, the final objective and
status; beside them, when SciPy is importable, the same numbers for SciPy's
nearest counterpart (an anchor, not a dependency):

    lbfgs -> minimize(method="L-BFGS-B", gtol=1e-8, ftol=1e-15)
    bfgs -> minimize(method="BFGS", gtol=1e-8)
    newton -> minimize(method="trust-exact", gtol=1e-8)
    lm -> least_squares(method="lm")           (no iteration count: "-")
    nelder-mead -> minimize(method="Nelder-Mead", xatol=1e-4, fatol=1e-8)

diffopt runs with its defaults. The fits table runs diffopt's lm and
SciPy's least_squares(method="lm") (MINPACK's lmder, default tolerances
1e-8) on the same compiled residuals and Jacobian of each tests/fits/*.dop
(so their evaluations cost the same), alternating the two --repeat times
and printing median wall times, the residual (f) and Jacobian (J)
evaluations, the significant digits reached against NIST's certified values
(lre), and the ratios diffopt / scipy of evaluations (f + J) and time.
Not run by the tests.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from test_classic import PROBLEMS, Problem  # noqa: E402
from test_hard_fits import CERTIFIED, FITS, digits  # noqa: E402

from diffopt import api  # noqa: E402
from diffopt.solve.loop import minimize  # noqa: E402

try:
    import scipy.optimize as sciopt
except ImportError:  # scipy is optional: the table simply has no anchor columns
    sciopt = None

METHODS = ("lbfgs", "bfgs", "newton", "lm", "nelder-mead")


def ours(p: Problem, method: str) -> dict:
    started = time.perf_counter()
    out = minimize(p.oracle(least_squares=(method == "lm")), p.x0.copy(), method=method)
    ev = out.evaluations
    return dict(
        it=out.iterations, fe=ev["objective"], ge=ev["gradient"], he=ev["hessian"],
        f=out.objective, status=out.status, ms=1e3 * (time.perf_counter() - started),
    )  # fmt: skip


def scipy_anchor(p: Problem, method: str) -> dict | None:
    if sciopt is None:
        return None
    started = time.perf_counter()
    x0 = p.x0.copy()
    if method == "lm":
        res = sciopt.least_squares(p.residuals, x0, jac=p.jacobian, method="lm")
        row = dict(it="-", fe=res.nfev, ge=res.njev or 0, he=0, f=2.0 * res.cost,
                   status="ok" if res.success else "fail")  # fmt: skip
    else:
        name, options, extra = {
            "lbfgs": ("L-BFGS-B", dict(gtol=1e-8, ftol=1e-15, maxiter=1000), {}),
            "bfgs": ("BFGS", dict(gtol=1e-8, maxiter=1000), {}),
            "newton": ("trust-exact", dict(gtol=1e-8, maxiter=200), dict(hess=p.hessian)),
            "nelder-mead": ("Nelder-Mead", dict(xatol=1e-4, fatol=1e-8, maxiter=5000), {}),
        }[method]
        if method == "nelder-mead":
            res = sciopt.minimize(p.value, x0, method=name, options=options)
        else:
            res = sciopt.minimize(p.value_and_grad, x0, jac=True, method=name,
                                  options=options, **extra)  # fmt: skip
        row = dict(it=res.nit, fe=res.nfev, ge=getattr(res, "njev", 0) or 0,
                   he=getattr(res, "nhev", 0) or 0, f=float(res.fun),
                   status="ok" if res.success else "fail")  # fmt: skip
    row["ms"] = 1e3 * (time.perf_counter() - started)
    return row


def _cells(row: dict | None) -> str:
    if row is None:
        return ""
    return (
        f"{row['it']!s:>5} {row['fe']:>5} {row['ge']:>5} {row['he']:>5} "
        f"{row['f']:>11.4g} {row['status']:<10} {row['ms']:>7.1f}"
    )


def _lre(x, name: str) -> float:
    certified = CERTIFIED.get(name.split("-")[0])
    if certified is None:
        return float("nan")
    return min(digits(float(v), ref) for v, ref in zip(x, certified[1]))


def fit_rows(repeat: int) -> None:
    """diffopt's lm beside scipy's MINPACK on every tests/fits/*.dop (see the docstring)."""
    import statistics

    print(f"{'fit':<16} | {'diffopt lm':<37} | {'scipy least_squares(lm)':<37} | ratio")
    cols = f"{'status':<10} {'f':>5} {'J':>5} {'lre':>5} {'ms':>7}"
    print(f"{'':<16} | {cols} | {cols} | {'ev':>5} {'time':>5}")
    totals = {"ours": 0, "theirs": 0, "t_ours": 0.0, "t_theirs": 0.0}
    for path in sorted(FITS.glob("*.dop")):
        session = api.load(str(path))
        oracle = session.oracle()
        x0 = session.problem.start_point()
        jac = lambda x, o=oracle: o.jacobian(x)[1]  # noqa: E731
        oracle.jacobian(x0)  # compile once, outside the timings
        times_ours, times_theirs = [], []
        for _ in range(repeat):
            started = time.perf_counter()
            out = minimize(oracle, x0.copy(), method="lm")
            times_ours.append(time.perf_counter() - started)
            started = time.perf_counter()
            res = sciopt.least_squares(oracle.residuals, x0.copy(), jac=jac, method="lm")
            times_theirs.append(time.perf_counter() - started)
        ev = out.evaluations
        f_ours, j_ours = ev["objective"] - ev["gradient"], ev["gradient"]
        t_ours, t_theirs = statistics.median(times_ours), statistics.median(times_theirs)
        theirs_status = "ok" if res.success else "fail"
        print(f"{path.stem:<16} | {out.status:<10} {f_ours:>5} {j_ours:>5} "
              f"{_lre(out.x, path.stem):>5.1f} {1e3 * t_ours:>7.1f} | {theirs_status:<10} "
              f"{res.nfev:>5} {res.njev:>5} {_lre(res.x, path.stem):>5.1f} "
              f"{1e3 * t_theirs:>7.1f} | {(f_ours + j_ours) / (res.nfev + res.njev):>5.2f} "
              f"{t_ours / t_theirs:>5.2f}")  # fmt: skip
        totals["ours"] += f_ours + j_ours
        totals["theirs"] += res.nfev + res.njev
        totals["t_ours"] += t_ours
        totals["t_theirs"] += t_theirs
    ours, theirs = totals["ours"], totals["theirs"]
    t_ours, t_theirs = totals["t_ours"], totals["t_theirs"]
    print(f"{'total':<16} | {'':<10} {ours:>11} {'':<5} {1e3 * t_ours:>7.1f} | {'':<10} "
          f"{theirs:>11} {'':<5} {1e3 * t_theirs:>7.1f} | {ours / theirs:>5.2f} "
          f"{t_ours / t_theirs:>5.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--suites", default="classic,fits")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    suites = args.suites.split(",")
    if "fits" in suites:
        if sciopt is None:
            print("the fits table needs scipy: pip install scipy")
        else:
            fit_rows(max(1, args.repeat))
            print()
    if "classic" not in suites:
        return 0
    cols = f"{'iter':>5} {'f-ev':>5} {'g-ev':>5} {'H-ev':>5} {'objective':>11} "
    cols += f"{'status':<10} {'ms':>7}"
    header = f"{'problem':<24} {'method':<12} | {cols}"
    if sciopt is not None:
        header += f" | {cols}"
    print(f"{'':<37}   diffopt" + (f"{'':<{len(cols) - 5}}scipy" if sciopt else "  (no scipy)"))
    print(header)
    print("-" * len(header))
    for name, p in PROBLEMS.items():
        for method in methods:
            line = f"{name:<24} {method:<12} | {_cells(ours(p, method))}"
            anchor = scipy_anchor(p, method)
            print(line + (f" | {_cells(anchor)}" if anchor is not None else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
