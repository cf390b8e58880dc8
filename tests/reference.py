"""Independent reference solutions for the example problems in problems/.

Plain NumPy only: nothing here imports diffopt, so the tests in
test_problems.py compare diffopt's answers with solutions reached another
way, from closed forms (KKT conditions, Snell's law, inverse kinematics,
normal equations) or small self-contained solvers (bisection, a hand-written
gradient descent, an Euler simulation). No optimum is pasted in as a number.

The problem constants below restate what the .dop files declare (a
reference has to know the problem); numeric data that only lives in a .dop
file (inline `data NAME = [...]`) is read from that file with
``inline_data`` so it is never copied twice.
"""

from __future__ import annotations

import ast
import csv
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PROBLEMS = REPO / "problems"


# ----------------------------------------------------------------- helpers


def inline_data(dop_file: str, name: str) -> np.ndarray:
    """Return the array literal of ``data NAME = [...]`` in problems/DOP_FILE.

    The literal may span lines; nested lists give 2-D arrays. Only plain
    numbers are supported, which is all the example files use.
    """
    text = (PROBLEMS / dop_file).read_text(encoding="utf-8")
    match = re.search(rf"^data\s+{re.escape(name)}\s*=\s*\[", text, flags=re.MULTILINE)
    if match is None:
        raise LookupError(f"no inline `data {name} = [...]` in {dop_file}")
    start = match.end() - 1
    depth = 0
    for end in range(start, len(text)):
        depth += {"[": 1, "]": -1}.get(text[end], 0)
        if depth == 0:
            break
    literal = re.sub(r"#[^\n]*", "", text[start : end + 1])
    return np.array(ast.literal_eval(literal), dtype=float)


def bisect(f: Callable[[float], float], lo: float, hi: float, iterations: int = 200) -> float:
    """Root of a continuous f with a sign change on [lo, hi], to machine precision."""
    f_lo, f_hi = f(lo), f(hi)
    if f_lo == 0:
        return lo
    if f_hi == 0:
        return hi
    if np.sign(f_lo) == np.sign(f_hi):
        raise ValueError(f"no sign change on [{lo}, {hi}]: f = {f_lo}, {f_hi}")
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        f_mid = f(mid)
        if f_mid == 0:
            return mid
        if np.sign(f_mid) == np.sign(f_lo):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def softmax(v: np.ndarray) -> np.ndarray:
    z = np.exp(v - np.max(v))
    return z / z.sum()


# ----------------------------------------------------------------- terrain.dop

TERRAIN_H = 20.0
TERRAIN_D = 10.0
TERRAIN_SPEEDS = np.array([0.7, 0.3, 0.45])


def terrain_legs(x1: float, x2: float) -> np.ndarray:
    """Distances covered along the edge in strips 1, 2, 3."""
    return np.array([x1, x2, TERRAIN_H - x1 - x2])


def terrain_time(x: np.ndarray) -> float:
    legs = terrain_legs(*x)
    return float(np.sum(np.sqrt(legs**2 + TERRAIN_D**2) / TERRAIN_SPEEDS))


def terrain_snell_ratios(x1: float, x2: float) -> np.ndarray:
    """sin(θi) / vi per strip; equal for all three at the optimum."""
    legs = terrain_legs(x1, x2)
    return legs / np.sqrt(legs**2 + TERRAIN_D**2) / TERRAIN_SPEEDS


def terrain_gradient(x: np.ndarray) -> np.ndarray:
    """d time / d (x1, x2), by hand: x3 = h - x1 - x2 enters with a minus sign."""
    r = terrain_snell_ratios(*x)
    return np.array([r[0] - r[2], r[1] - r[2]])


def terrain_optimum() -> np.ndarray:
    """(x1, x2) from Snell's law: sin θi = k vi for one k, and Σ xi = h.

    With sin θ = x / sqrt(x² + d²), each leg is x = d s / sqrt(1 - s²) for
    s = k vi; the total grows with k, so one bisection on k finds it.
    """

    def legs(k: float) -> np.ndarray:
        s = k * TERRAIN_SPEEDS
        return TERRAIN_D * s / np.sqrt(1.0 - s**2)

    k_max = 1.0 / TERRAIN_SPEEDS.max()
    k = bisect(lambda k: legs(k).sum() - TERRAIN_H, 0.0, k_max * (1 - 1e-15))
    return legs(k)[:2]


def terrain_gradient_descent(
    start: tuple[float, float] = (2.0, 17.0), lr: float = 1.5, steps: int = 20
) -> tuple[np.ndarray, list[float]]:
    """The seed blog's plain gradient descent: x <- x - lr * grad(x), `steps` times.

    Returns the final point and the objective after each step (start included).
    """
    x = np.array(start, dtype=float)
    history = [terrain_time(x)]
    for _ in range(steps):
        x = x - lr * terrain_gradient(x)
        history.append(terrain_time(x))
    return x, history


# ----------------------------------------------------------------- taxi.dop


def read_trips(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(distance_km, duration_min) columns of a trips CSV."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    distance = np.array([float(r["distance_km"]) for r in rows])
    duration = np.array([float(r["duration_min"]) for r in rows])
    return distance, duration


def taxi_best_speed(distance: np.ndarray, duration: np.ndarray) -> float:
    """Least-squares speed for duration ≈ 60 d / speed, in closed form.

    The model is linear in u = 1/speed: Σ (60 d u - t)² is minimal at
    u = Σ 60 d t / Σ (60 d)², so speed = 60 Σ d² / Σ d t.
    """
    return float(60.0 * np.sum(distance**2) / np.sum(distance * duration))


def taxi_speed_stderr(distance: np.ndarray, duration: np.ndarray) -> float:
    """Standard error of the fitted speed: sqrt(SSR / (m - 1) / Σ J²), J = dr/dspeed."""
    speed = taxi_best_speed(distance, duration)
    residual = 60.0 * distance / speed - duration
    jacobian = -60.0 * distance / speed**2
    ssr = float(np.sum(residual**2))
    return float(np.sqrt(ssr / (len(distance) - 1) / np.sum(jacobian**2)))


# ----------------------------------------------------------------- projectile.dop

PROJECTILE_V0 = 15.0
PROJECTILE_G = 9.81
PROJECTILE_DT = 0.01
PROJECTILE_STEPS = 200
PROJECTILE_TARGET = 10.0
PROJECTILE_BOUNDS = (0.01, 0.6)


def projectile_landing(angle: float) -> tuple[float, bool]:
    """Explicit-Euler flight; the landing x is interpolated in the last step.

    Returns (x, landed); x is the position after the last step when the ball
    is still in the air after PROJECTILE_STEPS steps.
    """
    vx = PROJECTILE_V0 * np.cos(angle)
    vy = PROJECTILE_V0 * np.sin(angle)
    px = py = 0.0
    for _ in range(PROJECTILE_STEPS):
        px_before, py_before = px, py
        px += vx * PROJECTILE_DT
        py += vy * PROJECTILE_DT
        vy -= PROJECTILE_G * PROJECTILE_DT
        if py < 0:
            fraction = py_before / (py_before - py)
            return px_before + fraction * (px - px_before), True
    return px, False


def projectile_angle() -> float:
    """The flat-shot angle (within the file's bounds) landing on the target, by bisection.

    Within those bounds the ball always lands and the landing distance
    increases with the angle (the test checks both on a grid), so the root is
    unique.
    """
    lo, hi = PROJECTILE_BOUNDS
    return bisect(lambda a: projectile_landing(a)[0] - PROJECTILE_TARGET, lo, hi)


def projectile_angle_drag_free() -> float:
    """Continuous-time answer, range = v0² sin(2a) / g: only a loose sanity check
    (Euler steps of 0.01 s shift the landing by about v0 cos(a) dt)."""
    return 0.5 * float(np.arcsin(PROJECTILE_G * PROJECTILE_TARGET / PROJECTILE_V0**2))


# ----------------------------------------------------------------- cube_root.dop

CUBE_ROOT_WANTED = 2.0


def cube_root_optimum() -> float:
    """root(x^3 - p) = wanted  <=>  p = wanted³."""
    return CUBE_ROOT_WANTED**3


# ----------------------------------------------------------------- soft_argmax.dop

SOFT_ARGMAX_WANTED = 4.3


def soft_argmax_expected(log_tau: float) -> float:
    """Expected rating under the softmax policy at temperature exp(log_tau)."""
    ratings = inline_data("soft_argmax.dop", "ratings")
    return float(softmax(ratings / np.exp(log_tau)) @ ratings)


def soft_argmax_log_tau() -> float:
    """log tau with expected rating = wanted; the expectation falls as tau grows
    (its derivative in 1/tau is the variance of the ratings under the policy),
    so a bisection on log tau finds the unique answer."""
    return bisect(lambda t: soft_argmax_expected(t) - SOFT_ARGMAX_WANTED, -5.0, 5.0)


# ----------------------------------------------------------------- ste.dop

STE_STEP = 0.25


def ste_true_gains() -> np.ndarray:
    """Exact least-squares gains of the ste.dop data (they lie on the 0.25 grid)."""
    mix, out = inline_data("ste.dop", "mix"), inline_data("ste.dop", "out")
    gains, *_ = np.linalg.lstsq(mix, out, rcond=None)
    return gains


def ste_gradient_descent(lr: float = 0.6, max_iter: int = 200) -> tuple[np.ndarray, int]:
    """Fixed-step gradient descent with a straight-through round, from w = 0.

    Loss mean((mix @ q - out)²) with q = round(w / step) * step; the
    straight-through gradient is the loss gradient at q. Stops when that
    gradient is exactly zero. Returns (w, number of steps taken).

    Raises if the path passes within 1e-6 cells of a rounding tie, where the
    outcome would hang on round-off and tie-breaking rather than on the method.
    """
    mix, out = inline_data("ste.dop", "mix"), inline_data("ste.dop", "out")
    w = np.zeros(mix.shape[1])
    for step in range(max_iter):
        scaled = w / STE_STEP
        if step > 0 and np.any(np.abs(np.abs(scaled - np.floor(scaled)) - 0.5) < 1e-6):
            raise AssertionError("near a rounding tie: the reference would hang on round-off")
        q = np.round(scaled) * STE_STEP
        gradient = 2.0 / len(out) * mix.T @ (mix @ q - out)
        if not np.any(gradient):
            return w, step
        w = w - lr * gradient
    return w, max_iter


# ----------------------------------------------------------------- tiny_mlp.dop


def mlp_data() -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets of tiny_mlp.dop: 20 points on [-3, 3], y = sin x."""
    xs = np.linspace(-3.0, 3.0, 20)
    return xs, np.sin(xs)


def mlp_mse(W1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: float) -> float:
    """Mean squared error of the 1-8-1 tanh network, computed independently."""
    xs, ys = mlp_data()
    hidden = np.tanh(W1.reshape(-1, 1) * xs[None, :] + b1.reshape(-1, 1))
    prediction = w2.reshape(-1) @ hidden + b2
    return float(np.mean((prediction - ys) ** 2))


# ----------------------------------------------------------------- rosenbrock.dop

ROSENBROCK_A = 1.0


def rosenbrock_optimum() -> np.ndarray:
    """(a - x)² + b (y - x²)² is zero, its minimum, only at x = a, y = a²."""
    return np.array([ROSENBROCK_A, ROSENBROCK_A**2])


# ----------------------------------------------------------------- constrained.dop


def constrained_optimum() -> np.ndarray:
    """KKT solution of min |p - wish|² s.t. x + y <= budget, x >= 0.

    The wish (2, 1) breaks the budget, so the budget is active and the answer
    is the orthogonal projection of the wish onto x + y = budget; then check
    that x >= 0 holds there (so its multiplier is zero) and that the budget's
    multiplier is positive.
    """
    wish, normal, budget = np.array([2.0, 1.0]), np.array([1.0, 1.0]), 2.0
    excess = normal @ wish - budget
    point = wish - excess / (normal @ normal) * normal
    multiplier = 2.0 * excess / (normal @ normal)  # from 2 (p - wish) + λ n = 0
    if not (excess > 0 and point[0] >= 0 and multiplier > 0):
        raise AssertionError("the KKT case analysis does not apply")
    return point


# ----------------------------------------------------------------- volume_render.dop

VOLUME_N = 16
VOLUME_DELTA = 0.25


def volume_setup() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sigma_true, pattern, observed) of volume_render.dop, rebuilt in NumPy."""
    n, delta = VOLUME_N, VOLUME_DELTA
    depth = (np.arange(n) + 0.5) * delta
    sigma_true = 0.2 + 1.5 * np.exp(-(((depth - 1.875) / 0.5) ** 2))
    k, i = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    pattern = 0.5 + 0.5 * np.cos(np.pi * k * (i + 0.5) / n)
    observed = pattern @ volume_weights(sigma_true)
    return sigma_true, pattern, observed


def volume_weights(sigma: np.ndarray) -> np.ndarray:
    """w_i = T_i (1 - exp(-σ_i δ)), T_i = Π_{j<i} exp(-σ_j δ), by an explicit loop."""
    weights = np.empty_like(sigma)
    transmittance = 1.0
    for i, s in enumerate(sigma):
        kept = np.exp(-s * VOLUME_DELTA)
        weights[i] = transmittance * (1.0 - kept)
        transmittance *= kept
    return weights


def volume_invert(pattern: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Densities from measurements in closed form.

    The patterns form an invertible matrix, so w = pattern⁻¹ observed; then,
    front to back, alpha_i = w_i / T_i, σ_i = -log(1 - alpha_i) / δ and
    T_{i+1} = T_i - w_i.
    """
    weights = np.linalg.solve(pattern, observed)
    sigma = np.empty_like(weights)
    transmittance = 1.0
    for i, w in enumerate(weights):
        sigma[i] = -np.log1p(-w / transmittance) / VOLUME_DELTA
        transmittance -= w
    return sigma


# ----------------------------------------------------------------- arm_ik.dop

ARM_L1, ARM_L2 = 1.0, 0.7
ARM_TARGET = np.array([1.2, 0.8])


def arm_forward(theta1: float, theta2: float) -> np.ndarray:
    """Hand position of the two-link arm."""
    return np.array(
        [
            ARM_L1 * np.cos(theta1) + ARM_L2 * np.cos(theta1 + theta2),
            ARM_L1 * np.sin(theta1) + ARM_L2 * np.sin(theta1 + theta2),
        ]
    )


def arm_inverse(elbow_sign: float = 1.0) -> np.ndarray:
    """Analytic inverse kinematics (law of cosines); elbow_sign picks sign(θ2)."""
    tx, ty = ARM_TARGET
    cos2 = (tx**2 + ty**2 - ARM_L1**2 - ARM_L2**2) / (2 * ARM_L1 * ARM_L2)
    if not -1 < cos2 < 1:
        raise AssertionError("target out of reach")
    theta2 = elbow_sign * np.arccos(cos2)
    theta1 = np.arctan2(ty, tx) - np.arctan2(
        ARM_L2 * np.sin(theta2), ARM_L1 + ARM_L2 * np.cos(theta2)
    )
    return np.array([theta1, theta2])


def wrap_angle(a: np.ndarray | float) -> np.ndarray:
    """Angle(s) mapped to (-pi, pi]."""
    return np.pi - np.mod(np.pi - np.asarray(a, dtype=float), 2 * np.pi)


# ----------------------------------------------------------------- iris_logistic.dop


def iris_table() -> tuple[np.ndarray, np.ndarray]:
    """problems/iris.csv: the four measurements (150 x 4) and the species 0, 1, 2."""
    rows = np.loadtxt(PROBLEMS / "iris.csv", delimiter=",", skiprows=1)
    return rows[:, :4], rows[:, 4].astype(int)


def iris_logistic_accuracy(train_rows: np.ndarray, ridge: float,
                           steps: int = 20000) -> float:
    """Accuracy over all 150 flowers of multinomial logistic regression fitted to the
    training rows by full-batch gradient descent on the standardized features.

    The loss is the mean negative log-likelihood over the training rows plus
    ``ridge * |W|^2`` (no penalty on the intercepts), as iris_logistic.dop writes it;
    it is smooth and strongly convex, so a fixed step below 2/L converges.
    """
    X, y = iris_table()
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    Xt, Yt = X[train_rows], np.eye(3)[y[train_rows]]
    W, b = np.zeros((4, 3)), np.zeros(3)
    step = 0.5
    for _ in range(steps):
        Z = Xt @ W + b
        P = np.exp(Z - Z.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        G = (P - Yt) / len(train_rows)
        W -= step * (Xt.T @ G + 2 * ridge * W)
        b -= step * G.sum(axis=0)
    return float(np.mean(np.argmax(X @ W + b, axis=1) == y))
