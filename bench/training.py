"""Mini-batch training rows of bench/run.py: an SGD step of tiny_mlp's network, a 10^6-row epoch.

Both time whole epochs (shuffle, slicing, one compiled value and gradient
per batch, the update) through diffopt.training's Epochs oracle and
diffopt.solve.stochastic.train, exactly what `diffopt solve` runs per epoch;
the per-step row divides an epoch by its steps. Anchors: PyTorch eager (the
same network in float64, torch.optim.SGD with momentum, one randperm per
epoch) and a hand-written NumPy SGD loop. PyTorch runs on one thread, like
diffopt's NumPy code: on this two-core VM its default two threads made a
step 20 times slower. Imported by bench/run.py.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from diffopt import api
from diffopt.solve.stochastic import train
from diffopt.training import epochs_oracle, train_settings

# problems/tiny_mlp.dop's network (8 tanh units fitted to sin), with its 20 inputs
# replaced by ROWS data rows so that batches of 64 can be drawn from them.
TINY_MLP_ROWS = """\
data pts = csv("sin.csv")
param W1[8, 1] ~ normal(0, 0.5)
param b1[8, 1] ~ normal(0, 0.5)
param w2[8] ~ normal(0, 0.5)
param b2 = 0
let hidden = tanh(W1 @ stack(pts.x) + b1)
let prediction = w2 @ hidden + b2
minimize mse: mean((prediction - pts.y)^2)
option method = "sgd", momentum = 0.9, lr = 0.1, batch = 64, epochs = 1
"""

LINEAR_ROWS = """\
data rows = csv("rows.csv")
param w[3] = 0
param c = 0
minimize mse: mean((w[0] * rows.a + w[1] * rows.b + w[2] * rows.d + c - rows.y)^2)
option method = "sgd", momentum = 0.9, lr = 0.05, batch = 1000, epochs = 1
"""


def _session(folder: Path, text: str, name: str, columns: dict):
    np.savetxt(folder / name, np.column_stack(list(columns.values())), delimiter=",",
               header=",".join(columns), comments="", fmt="%.9g")
    (folder / "bench.dop").write_text(text)
    return api.load(str(folder / "bench.dop"))


def _one_epoch(session):
    """A function running one epoch of the file's method; and its steps per epoch."""
    settings = train_settings(session.problem.options, "sgd")
    oracle, _, _ = epochs_oracle(session, settings)
    x0 = session.problem.start_point()
    one = replace(settings, epochs=1)
    train(oracle, x0, one)  # compiles the batch programs
    return (lambda: train(oracle, x0, one)), oracle.batches


def bench_tiny_mlp_step(paired, row, try_import, repeat: int, rows: int = 4096):
    rng = np.random.default_rng(0)
    xs = rng.uniform(-3, 3, rows)
    ys = np.sin(xs)
    with tempfile.TemporaryDirectory() as folder:
        session = _session(Path(folder), TINY_MLP_ROWS, "sin.csv", {"x": xs, "y": ys})
        epoch, steps = _one_epoch(session)
    torch = try_import("torch")
    if torch is None:
        return
    torch.set_num_threads(1)
    torch.manual_seed(0)
    X = torch.tensor(xs, dtype=torch.float64).reshape(rows, 1)
    Y = torch.tensor(ys, dtype=torch.float64)
    W1 = (0.5 * torch.randn(8, 1, dtype=torch.float64)).requires_grad_()
    b1 = (0.5 * torch.randn(8, 1, dtype=torch.float64)).requires_grad_()
    w2 = (0.5 * torch.randn(8, dtype=torch.float64)).requires_grad_()
    b2 = torch.zeros((), dtype=torch.float64, requires_grad=True)
    # lr (1 - momentum): the same steps as diffopt's dampened heavy ball at lr 0.1
    optimizer = torch.optim.SGD([W1, b1, w2, b2], lr=0.01, momentum=0.9)

    def torch_epoch():
        order = torch.randperm(rows)
        for k in range(0, rows, 64):
            batch = order[k:k + 64]
            hidden = torch.tanh(W1 @ X[batch].T + b1)
            loss = torch.mean((w2 @ hidden + b2 - Y[batch]) ** 2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    ours, theirs = paired(epoch, torch_epoch, max(repeat // 5, 20))
    row("tiny_mlp SGD step, batch 64 (epoch / steps)", ours / steps, "PyTorch eager",
        theirs / steps, "≤ 1.0")


def bench_million_row_epoch(paired, row, try_import, rows: int = 10**6):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(rows, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3 + 0.1 * rng.normal(size=rows)
    with tempfile.TemporaryDirectory() as folder:
        columns = {"a": X[:, 0], "b": X[:, 1], "d": X[:, 2], "y": y}
        session = _session(Path(folder), LINEAR_ROWS, "rows.csv", columns)
        epoch, steps = _one_epoch(session)
    state = {"w": np.zeros(3), "c": 0.0, "v": np.zeros(4)}
    order_rng = np.random.default_rng(3)

    def numpy_epoch():
        order = order_rng.permutation(rows)
        Xs, ys = X[order], y[order]
        w, c, v = state["w"], state["c"], state["v"]
        for k in range(0, rows, 1000):
            xb, yb = Xs[k:k + 1000], ys[k:k + 1000]
            r = xb @ w + c - yb
            g = np.r_[2.0 * (xb.T @ r) / len(yb), 2.0 * r.mean()]
            v = 0.9 * v + 0.1 * g
            w, c = w - 0.05 * v[:3], c - 0.05 * v[3]

    work = f"linear SGD epoch, {rows:,} rows, batch 1000 ({steps} steps)"
    ours, theirs = paired(epoch, numpy_epoch, 5)
    row(work, ours, "hand-written NumPy", theirs, "≤ 2.0")
    torch = try_import("torch")
    if torch is None:
        return
    torch.set_num_threads(1)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    w = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    c = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([w, c], lr=0.005, momentum=0.9)

    def torch_epoch():
        order = torch.randperm(rows)
        Xs, ys = Xt[order], yt[order]
        for k in range(0, rows, 1000):
            loss = torch.mean((Xs[k:k + 1000] @ w + c - ys[k:k + 1000]) ** 2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    ours, theirs = paired(epoch, torch_epoch, 5)
    row(work, ours, "PyTorch eager", theirs)
