"""The alternatives measured for fused evaluation (issue 16), side by side.

    python bench/alternatives.py 1000000      # needs numexpr and jax installed

Value + gradient of mean((d / s * 60 - m)^2): diffopt's fused regions (blocked
NumPy on every core), numexpr on whole arrays (its own threads; the residual
written once, then two BLAS dots), numexpr's own sum reductions (two passes),
and jax.jit. Medians of alternating runs. Not part of run.py: numexpr is not a
dependency, this records why.
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numexpr as ne
import numpy as np

from diffopt import api

jax.config.update("jax_enable_x64", True)
rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10**6
rng = np.random.default_rng(3)
d = rng.uniform(0.5, 20, rows)
m = 60 * d / rng.normal(30, 3, rows)
folder = tempfile.mkdtemp()
np.savez(Path(folder) / "t.npz", d=d, m=m)
(Path(folder) / "f.dop").write_text('data trips = csv("t.npz")\nparam speed in [1, 200] = 20\n'
                                    "minimize mean((trips.d / speed * 60 - trips.m)^2)\n")
p = api.load(Path(folder) / "f.dop")
x = p.problem.start_point()
p.value_and_grad(x)
out = np.empty(rows)
def ne_dots(s=20.0):
    c = 60.0 / s
    r = ne.evaluate("d * c - m", out=out)
    return np.dot(r, r) / rows, -2.0 / s * c * np.dot(r, d) / rows
def ne_sums(s=20.0):
    c = 60.0 / s
    return (ne.evaluate("sum((d * c - m) ** 2)") / rows,
            -2.0 / s * c * ne.evaluate("sum((d * c - m) * d)") / rows)
jd, jm = jnp.asarray(d), jnp.asarray(m)
jf = jax.jit(jax.value_and_grad(lambda s: jnp.mean((jd / s * 60 - jm) ** 2)))
jf(20.0)[1].block_until_ready()
fns = {"diffopt fused": lambda: p.value_and_grad(x), "numexpr + dots": ne_dots,
       "numexpr sums": ne_sums, "jax.jit": lambda: jf(20.0)[1].block_until_ready()}
print({k: float(f()[0]) for k, f in fns.items() if k != "jax.jit"})
times = {k: [] for k in fns}
for _ in range(15):
    for k, f in fns.items():
        t = time.perf_counter()
        f()
        f()
        f()
        times[k].append((time.perf_counter() - t) / 3)
base = statistics.median(times["jax.jit"])
for k, v in times.items():
    t = statistics.median(v)
    print(f"{rows:>11,} {k:16s} {t * 1e3:8.2f} ms  {t / base:5.2f}x jax.jit")
