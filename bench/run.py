"""diffopt's speed, side by side with the tools our users would otherwise use.

    python bench/run.py            # everything (a minute or two)
    python bench/run.py --quick    # fewer repeats

Prints one table: each piece of work, diffopt's median time, each anchor's
median time, the ratio and the issue's target. Each row times diffopt and its
anchor alternately, call by call (``paired``), so that the drift of a shared
machine's speed falls on both sides of the ratio.
Anchors: hand-written NumPy, plain Python floats, a seed-style scalar
autograd (micrograd-like, written below), and — when installed (the optional
``bench`` extra) — jax.jit, PyTorch eager and scipy. Missing anchors are
skipped. Never run by the test suite.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training import bench_million_row_epoch, bench_tiny_mlp_step  # noqa: E402

from diffopt import api  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
import big  # noqa: E402

ROWS: list[tuple] = []


def median_time(fn, repeat: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def paired(ours, theirs, repeat: int, warmup: int = 3) -> tuple[float, float]:
    """Per-call medians of two functions timed in alternating blocks.

    This machine is a shared VM whose speed drifts by a third from minute to
    minute; timing one side after the other puts that drift into the ratio.
    So the two sides take turns, a block of calls each (about 2 ms of work,
    so that a block runs with warm caches as a loop of calls would), and each
    side's time is the median over its blocks of the time per call.
    ``repeat`` is the number of calls a side would have had one at a time;
    it sets the number of blocks (between 5 and 25).
    """
    for _ in range(warmup):
        ours()
        theirs()
    sizes = [_block_size(fn) for fn in (ours, theirs)]
    blocks = max(5, min(25, repeat // 4))
    clock = time.perf_counter
    per_call: tuple[list, list] = ([], [])
    for _ in range(blocks):
        for side, fn in enumerate((ours, theirs)):
            size = sizes[side]
            start = clock()
            for _ in range(size):
                fn()
            per_call[side].append((clock() - start) / size)
    return statistics.median(per_call[0]), statistics.median(per_call[1])


def _block_size(fn, budget: float = 2e-3) -> int:
    start = time.perf_counter()
    fn()
    once = time.perf_counter() - start
    return max(1, min(10_000, int(budget / max(once, 1e-7))))


def compare(work: str, ours, anchor: str, theirs, repeat: int, target: str = ""):
    """One row: ``ours`` and the anchor ``theirs`` (functions), timed alternately."""
    mine, other = paired(ours, theirs, repeat)
    row(work, mine, anchor, other, target)


def row(work: str, ours: float, anchor: str, theirs: float | None, target: str = ""):
    ratio = ours / theirs if theirs else float("nan")
    ROWS.append((work, ours, anchor, theirs, ratio, target))


def fmt_time(t: float | None) -> str:
    if t is None or t != t:
        return "—"
    if t < 1e-3:
        return f"{t * 1e6:.1f} µs"
    if t < 1:
        return f"{t * 1e3:.2f} ms"
    return f"{t:.2f} s"


def engine_for(path, **kw):
    problem = api.load(path, **kw)
    engine = problem
    x = problem.problem.start_point()
    engine.value_and_grad(x)
    return problem, engine, x


# ------------------------------------------------------------ projectile

V0, TARGET, G, DT, STEPS = 15.0, 10.0, 9.81, 0.01, 200


def projectile_floats(angle: float) -> float:
    """The seed blog's simulator with plain floats: the value only."""
    px = py = 0.0
    vx, vy = V0 * math.cos(angle), V0 * math.sin(angle)
    for _ in range(STEPS):
        px, py = px + vx * DT, py + vy * DT
        vy -= G * DT
        if py < 0:
            break
    return (px - TARGET) ** 2


class Value:
    """Seed-style scalar autograd (micrograd's engine, trimmed): the baseline."""

    __slots__ = ("data", "grad", "_backward", "_prev")

    def __init__(self, data, prev=()):
        self.data, self.grad, self._backward, self._prev = data, 0.0, lambda: None, prev

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other))

        def backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = backward
        return out

    __radd__ = __add__

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other))

        def backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = backward
        return out

    __rmul__ = __mul__

    def __sub__(self, other):
        return self + (-1.0) * other

    def cos(self):
        out = Value(math.cos(self.data), (self,))

        def backward():
            self.grad += -math.sin(self.data) * out.grad

        out._backward = backward
        return out

    def sin(self):
        out = Value(math.sin(self.data), (self,))

        def backward():
            self.grad += math.cos(self.data) * out.grad

        out._backward = backward
        return out

    def backward(self):
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((p, False) for p in node._prev)
        self.grad = 1.0
        for node in reversed(order):
            node._backward()


def projectile_scalar_autograd(angle: float):
    a = Value(angle)
    px, py = Value(0.0), Value(0.0)
    vx, vy = V0 * a.cos(), V0 * a.sin()
    for _ in range(STEPS):
        px, py = px + vx * DT, py + vy * DT
        vy = vy - G * DT
        if py.data < 0:
            break
    loss = (px - TARGET) * (px - TARGET)
    loss.backward()
    return loss.data, a.grad


def bench_projectile(repeat):
    text = f"""
const g = {G}, dt = {DT}, v0 = {V0}, target = {TARGET}
param angle = 0.3
var px = 0, py = 0, vx = v0 * cos(angle), vy = v0 * sin(angle)
for t in 0..{STEPS} {{
    px = px + vx * dt
    py = py + vy * dt
    vy = vy - g * dt
    if py < 0 {{ break }}
}}
minimize (px - target)^2
"""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "projectile.dop"
        path.write_text(text)
        _, engine, x = engine_for(path)

    def ours():
        engine.value_and_grad(x)

    work = "projectile 200 steps, value+grad (reverse)"
    compare(work, ours, "plain floats, value only", lambda: projectile_floats(0.3), repeat)
    compare(work, ours, "seed-style scalar autograd", lambda: projectile_scalar_autograd(0.3),
            repeat, "≥ 30× faster (≤ 0.033)")
    jax = _try_import("jax")
    if jax is not None:
        jax.config.update("jax_enable_x64", True)
        jnp = jax.numpy

        def loss(angle):
            def step(carry, _):
                px, py, vy, done = carry
                npx, npy = px + V0 * jnp.cos(angle) * DT, py + vy * DT
                landed = done | (npy < 0)
                return (jnp.where(done, px, npx), jnp.where(done, py, npy),
                        jnp.where(done, vy, vy - G * DT), landed), None

            start = (0.0, 0.0, V0 * jnp.sin(angle), False)
            (px, _, _, _), _ = jax.lax.scan(step, start, None, length=STEPS)
            return (px - TARGET) ** 2

        fn = jax.jit(jax.value_and_grad(loss))
        fn(0.3)[1].block_until_ready()
        compare(work, ours, "jax.jit", lambda: fn(0.3)[1].block_until_ready(), repeat, "≤ 1.0")
    torch = _try_import("torch")
    if torch is not None:
        def torch_step():
            a = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
            px = py = torch.tensor(0.0, dtype=torch.float64)
            vx, vy = V0 * torch.cos(a), V0 * torch.sin(a)
            for _ in range(STEPS):
                px, py = px + vx * DT, py + vy * DT
                vy = vy - G * DT
                if py.item() < 0:
                    break
            loss = (px - TARGET) ** 2
            loss.backward()

        compare(work, ours, "PyTorch eager", torch_step, max(repeat // 10, 5))


# ------------------------------------------------------------------ taxi


def bench_taxi(rows_count, repeat):
    rng = np.random.default_rng(1)
    distance = rng.uniform(0.5, 20, rows_count)
    minutes = 60 * distance / rng.normal(30, 3, rows_count)
    with tempfile.TemporaryDirectory() as folder:
        csv = Path(folder) / "trips.csv"
        np.savetxt(csv, np.column_stack([distance, minutes]), delimiter=",",
                   header="distance_km,duration_min", comments="", fmt="%.6f")
        _, engine, x = engine_for(ROOT / "problems" / "taxi.dop", data={"trips": str(csv)})

    def ours():
        engine.value_and_grad(x)

    def numpy_value_grad(speed=20.0):
        predicted = 60.0 * distance / speed
        residual = predicted - minutes
        value = np.mean(residual * residual)
        grad = np.mean(2.0 * residual * (-60.0 * distance / (speed * speed)))
        return value, grad

    target = "≤ 1.0" if rows_count >= 10**6 else "≤ 3.0"
    compare(f"taxi fit, {rows_count:,} trips, value+grad", ours, "hand-written NumPy",
            numpy_value_grad, repeat, target)
    jax = _try_import("jax")
    if jax is not None:
        jnp = jax.numpy
        d, m = jnp.asarray(distance), jnp.asarray(minutes)
        fn = jax.jit(jax.value_and_grad(lambda s: jnp.mean((60 * d / s - m) ** 2)))
        fn(20.0)[1].block_until_ready()
        compare(f"taxi fit, {rows_count:,} trips, value+grad", ours, "jax.jit",
                lambda: fn(20.0)[1].block_until_ready(), repeat)


# ------------------------------------------------------- extended Rosenbrock


def bench_rosenbrock(n, repeat):
    text = (f"param x[{n}] = 0\n"
            "minimize sum(100 * (x[1::2] - x[::2]^2)^2 + (1 - x[::2])^2)\n")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rosen.dop"
        path.write_text(text)
        problem, engine, x = engine_for(path)
        x = np.tile([-1.2, 1.0], n // 2)
        engine.value_and_grad(x)

    def ours():
        engine.value_and_grad(x)

    def numpy_value_grad(x=x):
        odd, even = x[::2], x[1::2]
        t = even - odd * odd
        value = np.sum(100 * t * t + (1 - odd) ** 2)
        grad = np.empty_like(x)
        grad[::2] = -400 * t * odd - 2 * (1 - odd)
        grad[1::2] = 200 * t
        return value, grad

    compare(f"extended Rosenbrock n={n}, value+grad", ours, "hand-written NumPy",
            numpy_value_grad, repeat, "≤ 2.0")


# ------------------------------------------------------- every problem


def bench_problems(repeat):
    for path in sorted((ROOT / "problems").glob("*.dop")):
        problem, engine, x = engine_for(path)
        def value(engine=engine, x=x):
            engine.value(x)

        compare(f"{path.name}: reverse value+grad vs value",
                lambda engine=engine, x=x: engine.value_and_grad(x), "value alone", value,
                repeat, "≤ 3.0")
        k = problem.problem.n  # the forward-mode gradient: one direction per parameter entry
        compare(f"{path.name}: forward gradient, k={k} directions vs value",
                lambda engine=engine, x=x: engine.gradient_forward(x), "value alone", value,
                repeat, f"≤ {1 + 1.5 * k:.1f}")


# ------------------------------------------------------- jacobians and sensitivities


def volume_weights_jacobian(sigma: np.ndarray, delta: float = 0.25) -> np.ndarray:
    """dw/dsigma of volume_render.dop's w_i = T_i alpha_i, written by hand."""
    optical = sigma * delta
    transmittance = np.exp(-(np.cumsum(optical) - optical))
    w = transmittance * (1 - np.exp(-optical))
    jac = np.tril(np.broadcast_to(-delta * w[:, None], (sigma.size, sigma.size)), -1)
    jac[np.diag_indices(sigma.size)] = delta * transmittance * np.exp(-optical)
    return jac


def bench_jacobians(repeat):
    from diffopt.sensitivity import sensitivity

    session, _, x = engine_for(ROOT / "problems" / "volume_render.dop")
    for mode in ("forward", "reverse"):
        session.output_jacobian(x, "w", mode)
    assert np.allclose(session.output_jacobian(x, "w", "forward")[1],
                       volume_weights_jacobian(x))
    compare("volume_render.dop: jacobian of w (16x16), forward",
            lambda: session.output_jacobian(x, "w", "forward"), "hand-written NumPy",
            lambda: volume_weights_jacobian(x), repeat, "")
    compare("volume_render.dop: jacobian of w (16x16), reverse",
            lambda: session.output_jacobian(x, "w", "reverse"), "forward mode",
            lambda: session.output_jacobian(x, "w", "forward"), repeat,
            "grad --repeat keeps the faster")
    terrain = api.load(ROOT / "problems" / "terrain.dop")
    solved = terrain.problem.flatten(api.solve(terrain).params)
    compare("terrain.dop: solve --sensitivity (5 consts), added cost",
            lambda: sensitivity(terrain, solved), "the solve itself",
            lambda: api.solve(terrain), max(repeat // 10, 5), "")


# ------------------------------------------------------- whole process

SCIPY_TERRAIN = """
import numpy as np
from scipy.optimize import minimize
h, d, v = 20.0, 10.0, (0.7, 0.3, 0.45)
def f(x):
    x1, x2 = x
    return sum(np.sqrt(xi**2 + d**2) / vi for xi, vi in zip((x1, x2, h - x1 - x2), v))
def g(x):
    x1, x2 = x
    x3 = h - x1 - x2
    t = lambda xi, vi: xi / (np.sqrt(xi**2 + d**2) * vi)
    return np.array([t(x1, v[0]) - t(x3, v[2]), t(x2, v[1]) - t(x3, v[2])])
print(minimize(f, [2.0, 17.0], jac=g, method="L-BFGS-B").x)
"""


def wall(command, other, repeat=9) -> tuple[float, float]:
    """Median wall times of two fresh processes started alternately, as a
    user's shell would start them (see ``paired`` for why alternately).

    Byte-code caching is switched back on (some sandboxes set
    PYTHONDONTWRITEBYTECODE, which makes every run recompile diffopt from
    source while installed anchors like scipy ship compiled), and one
    unmeasured run of each writes the caches.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def runner(argv):
        return lambda: subprocess.run(argv, check=True, capture_output=True, env=env)

    return paired(runner(command), runner(other), repeat, warmup=1)


def bench_process():
    diffopt = [sys.executable, "-m", "diffopt"]
    solve = diffopt + ["solve", str(ROOT / "problems" / "terrain.dop"), "--quiet"]
    if _try_import("scipy") is not None:
        ours, theirs = wall(solve, [sys.executable, "-c", SCIPY_TERRAIN])
        row("terrain: whole-process solve --quiet", ours, "scipy script", theirs,
            "≤ 0.5 and ≤ 0.30 s")
    ours, theirs = wall(diffopt + ["--version"], [sys.executable, "-c", "pass"])
    row("diffopt --version", ours, "python -c pass", theirs, "≤ 0.15 s")
    # the floor under any diffopt command that parses and reports: importing
    # the four runtime dependencies the stack mandates, and nothing else
    floor = [sys.executable, "-c", "import numpy, typer, lark, rich.console, rich.table"]
    ours, theirs = wall(solve, floor)
    row("terrain: whole-process solve --quiet", ours, "import numpy+typer+lark+rich", theirs,
        "(floor)")


MATPLOTLIB_TERRAIN = """
import numpy as np
from matplotlib.figure import Figure
h, d, v = 20.0, 10.0, (0.7, 0.3, 0.45)
x1, x2 = np.meshgrid(np.linspace(1.0, 12.3, 200), np.linspace(1.9, 18.4, 200))
leg = lambda x, s: np.sqrt(x**2 + d**2) / s
t = leg(x1, v[0]) + leg(x2, v[1]) + leg(h - x1 - x2, v[2])
fig = Figure(figsize=(6.4, 5), dpi=120, layout="constrained")
ax = fig.subplots()
fig.colorbar(ax.contourf(x1, x2, t, levels=24), ax=ax)
ax.plot([2, 11.2], [17, 3.5], "-o")
fig.savefig(OUT)
"""


def bench_plot():
    """A 200 x 200 landscape of terrain.dop with the solver's path, whole process
    (issue 12: <= 1.5 s): as text for a terminal, and as a PNG beside the same
    picture drawn by a plain NumPy + matplotlib script (closed-form grid)."""
    terrain = str(ROOT / "problems" / "terrain.dop")
    diffopt = [sys.executable, "-m", "diffopt", "plot", "landscape", terrain, "--grid", "200"]
    solve = [sys.executable, "-m", "diffopt", "solve", terrain, "--quiet"]
    ours, theirs = wall(diffopt, solve)
    row("terrain: plot landscape --grid 200 (text)", ours, "solve --quiet", theirs, "≤ 1.5 s")
    if _try_import("matplotlib") is None:
        return
    with tempfile.TemporaryDirectory() as folder:
        png = os.path.join(folder, "landscape.png")
        script = f"OUT = {os.path.join(folder, 'anchor.png')!r}" + MATPLOTLIB_TERRAIN
        ours, theirs = wall(diffopt + ["-o", png], [sys.executable, "-c", script])
        row("terrain: plot landscape --grid 200 -o PNG", ours, "numpy+matplotlib script",
            theirs, "≤ 1.5 s")


# ------------------------------------------------------- front end


def loop_program(steps: int) -> str:
    """A short program whose tape grows with ``steps`` (about 15 equations a step)."""
    return ("param a = 0.3\nvar s = 0, v = 1\n"
            f"for i in 0..{steps} {{ v = v * (1 - a * 0.0001) + sin(s) * 0.0001\n"
            " s = s + v * 0.01 }\n"
            "minimize (s - 5)^2\n")


def bench_long_loop():
    """A 10^5-node tape from a short program: a 10^4-step simulation loop."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "loop.dop"
        path.write_text(loop_program(10_000))
        start = time.perf_counter()
        problem = api.load(path)
        engine = problem
        x = problem.problem.start_point()
        engine.value_and_grad(x)
        elapsed = time.perf_counter() - start
        nodes = len(engine.recording.tape.eqns)
        again = median_time(lambda: engine.value_and_grad(x), 5, warmup=1)
    row(f"10^4-step loop: check+trace+stage+compile ({nodes:,} equations)", elapsed,
        "target", 2.0, "≤ 1.0")
    row(f"10^4-step loop: value+grad once compiled ({nodes:,} equations)", again, "—", None)


def bench_memory():
    """Bytes per recorded equation (tracemalloc over a trace + staged gradient)."""
    import tracemalloc

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "loop.dop"
        path.write_text(loop_program(2000))
        problem = api.load(path)
        engine = problem
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        recording = engine.trace(problem.problem.start_point())
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    equations = len(recording.tape.eqns)
    per = (after - before) / equations
    ROWS.append((f"memory per equation (scalar loop, {equations:,} equations, trace + gradient)",
                 per, "bytes", None, float("nan"), "bounded, stated"))

    from diffopt.syntax import ast
    from diffopt.syntax.parser import decode, parse

    terms = " + ".join(f"sin(x * {i % 97 + 1})" for i in range(10_000))
    source = decode(f"param x = 0.5\nminimize {terms}\n".encode(), "big.dop")
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    program = parse(source)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    nodes, stack = 0, list(program.statements)
    while stack:
        nodes += 1
        stack.extend(ast.children(stack.pop()))
    ROWS.append((f"memory per AST node (parsed program, {nodes:,} nodes, spans included)",
                 (after - before) / nodes, "bytes", None, float("nan"), "bounded, stated"))


def bench_front_end():
    for n in (10_000, 100_000):
        terms = " + ".join(f"sin(x * {i % 97 + 1})" for i in range(n // 3))
        text = f"param x = 0.5\nminimize {terms}\n"
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "big.dop"
            path.write_text(text)
            start = time.perf_counter()
            problem = api.load(path)
            engine = problem
            engine.value_and_grad(problem.problem.start_point())
            elapsed = time.perf_counter() - start
            nodes = len(engine.recording.tape.eqns)
        row(f"front end + compile, {n:,}-node program ({nodes:,} equations)", elapsed,
            "target 3 s at 10^5", 3.0 if n == 100_000 else None, "≤ 1.0 at 10^5")


def _try_import(name):
    try:
        return __import__(name)
    except Exception:
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=("training", "big"), help="run only these rows "
                        "(big: the big-data rows of bench/big.py)")
    parser.add_argument("--no-big", action="store_true", help="skip the big-data rows")
    args = parser.parse_args()
    repeat = 20 if args.quick else 100
    if args.only == "training":
        return _training(repeat)
    if not args.no_big:
        big.bench_fused(10**6, 40, compare, api)
        big.bench_fused(10**7, 20, compare, api)
        big.bench_taxi_process(10**6, wall, row, ROWS)
        big.bench_load(10**6, compare)
    if args.only == "big":
        _print_rows()
        return
    bench_projectile(repeat)
    bench_taxi(10**3, repeat)
    bench_taxi(10**6, max(repeat // 10, 5))
    bench_rosenbrock(1000, repeat)
    bench_problems(repeat)
    bench_jacobians(repeat)
    bench_process()
    bench_plot()
    bench_long_loop()
    bench_memory()
    bench_front_end()
    _training(repeat)


def _training(repeat):
    bench_tiny_mlp_step(paired, row, _try_import, repeat)
    bench_million_row_epoch(paired, row, _try_import)
    _print_rows()


def _print_rows():
    width = max(len(r[0]) for r in ROWS)
    print(f"{'work':<{width}}  {'diffopt':>10}  {'anchor':<28} {'anchor time':>11}  "
          f"{'ratio':>7}  target")
    for work, ours, anchor, theirs, ratio, target in ROWS:
        shown = f"{ratio:.3f}" if ratio == ratio else "—"
        value = f"{ours:,.0f} B" if anchor == "bytes" else fmt_time(ours)
        print(f"{work:<{width}}  {value:>10}  {anchor:<28} {fmt_time(theirs):>11}  "
              f"{shown:>7}  {target}")


if __name__ == "__main__":
    main()
