"""Iterations and evaluations of diffopt's solvers on the Moré-Garbow-Hillstrom set.

Run from the repository root:  python bench/solvers.py [--methods lbfgs,bfgs,...]

For each problem of tests/test_classic.py and each method it prints
iterations, objective/gradient/Hessian evaluations, the final objective and
status; beside them, when SciPy is importable, the same numbers for SciPy's
nearest counterpart (an anchor, not a dependency):

    lbfgs -> minimize(method="L-BFGS-B", gtol=1e-8, ftol=1e-15)
    bfgs -> minimize(method="BFGS", gtol=1e-8)
    newton -> minimize(method="trust-exact", gtol=1e-8)
    lm -> least_squares(method="lm")           (no iteration count: "-")
    nelder-mead -> minimize(method="Nelder-Mead", xatol=1e-4, fatol=1e-8)

diffopt runs with its defaults (tol 1e-8 on the gradient's largest component).
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(METHODS))
    methods = [m for m in parser.parse_args(argv).methods.split(",") if m]
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
