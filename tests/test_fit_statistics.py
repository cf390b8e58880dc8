"""Fit statistics: covariance from the column-scaled Jacobian, rank and identifiability.

References are computed here with NumPy's QR on the design matrix (the
models are linear, so J is the design matrix), independently of diffopt.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from diffopt import api
from diffopt.solve.statistics import unscaled_covariance


def solve_text(tmp_path, text: str):
    path = tmp_path / "fit.dop"
    path.write_text(text)
    return api.solve(api.load(path))


def qr_stderr(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Standard errors of the linear least-squares fit of y on X (column-scaled QR)."""
    scale = np.linalg.norm(X, axis=0)
    q, r = np.linalg.qr(X / scale)
    beta = np.linalg.solve(r, q.T @ y) / scale
    resid = y - X @ beta
    s2 = resid @ resid / (X.shape[0] - X.shape[1])
    r_inv = np.linalg.inv(r)
    cov = (r_inv @ r_inv.T) / np.outer(scale, scale) * s2
    return np.sqrt(np.diag(cov))


def test_badly_scaled_linear_fit_has_the_right_standard_errors(tmp_path):
    # x around 1e8: JᵀJ has condition ~1e17, where pinv(JᵀJ) drops a direction
    x = 1e8 + np.arange(12.0) * 1e3
    y = 3.0 + 2e-3 * (x - 1e8) + np.sin(np.arange(12.0))  # noise-like, deterministic
    text = (f"data x = {json.dumps(x.tolist())}\ndata y = {json.dumps(y.tolist())}\n"
            "param a = 0, b = 0\nminimize sum((a + b * x - y)^2)\n")
    result = solve_text(tmp_path, text)
    reference = qr_stderr(np.column_stack([np.ones_like(x), x]), y)
    got = np.array([result.fit.stderr["a"], result.fit.stderr["b"]])
    np.testing.assert_allclose(got, reference, rtol=1e-4)
    assert result.fit.rank == 2 and result.fit.not_identifiable == ()


def test_parameters_the_data_do_not_determine_are_named(tmp_path):
    x = np.linspace(0.0, 1.0, 9)
    y = 1.0 + 2.0 * x + 0.1 * np.cos(7 * x)
    text = (f"data x = {json.dumps(x.tolist())}\ndata y = {json.dumps(y.tolist())}\n"
            "param p = 0, q = 0, s = 0\nminimize sum((p + q + s * x - y)^2)\n")
    result = solve_text(tmp_path, text)
    assert result.fit.rank == 2
    assert result.fit.not_identifiable == ("p", "q")
    assert result.fit.stderr["p"] == np.inf and result.fit.stderr["q"] == np.inf
    reference = qr_stderr(np.column_stack([np.ones_like(x), x]), y)
    assert result.fit.stderr["s"] == pytest.approx(reference[1], rel=1e-6)
    document = result.to_json()["fit"]
    assert document["rank"] == 2 and document["not_identifiable"] == ["p", "q"]


def test_unscaled_covariance_of_a_non_finite_jacobian_is_nan_not_a_hang():
    J = np.array([[1e308, 1.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [np.inf, 1.0, 1.0]])
    found = unscaled_covariance(J)
    assert np.all(np.isnan(found.matrix)) and found.rank == 0
