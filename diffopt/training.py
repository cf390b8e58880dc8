"""Solving by a stochastic method: the options, the batches, the run and its report.

``stochastic_solve`` is what ``api.solve`` calls first. For a deterministic
method it only refuses, located at their ``option`` lines, the options that
belong to mini-batch training; for ``sgd``, ``adamw``, or ``adam`` with
``batch``, ``epochs``, ``validation`` or ``patience`` (``auto`` with one of
them is adam) it builds the ``Epochs`` oracle from the problem's data rows
(diffopt.batching), runs diffopt.solve.stochastic.train and reports like
any solve, with a ``TrainingReport``. Never prints.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, replace
from pathlib import Path

from diffopt import vocab
from diffopt.batching import BatchProgram, check_rows, drawer, shuffler, split_rows
from diffopt.errors import OptionError
from diffopt.results import ObjectiveInfo, SolveResult, TrainingReport
from diffopt.solution import active_bounds, gradient_at
from diffopt.solve.stochastic import Epochs, TrainSettings, train

# Options that only mini-batch training reads (the rest of the table's new rows).
TRAINING_OPTIONS = ("batch", "epochs", "momentum", "nesterov", "beta1", "beta2", "eps",
                    "weight_decay", "schedule", "warmup", "decay", "decay_epochs",
                    "clip_norm", "validation", "patience")
# Setting one of these makes adam (and auto) train over epochs.
_EPOCH_OPTIONS = ("batch", "epochs", "validation", "patience")
_DEFAULT_LR = {"sgd": 0.01, "adam": 0.001, "adamw": 0.001}


def stochastic_method(options, method: str) -> str | None:
    """The stochastic method a solve runs, or None for a deterministic one."""
    epochs = any(name in options.given for name in _EPOCH_OPTIONS)
    if method in vocab.STOCHASTIC_METHODS or (method in ("adam", "auto") and epochs):
        return "adam" if method == "auto" else method
    return None


def stochastic_solve(session, method: str, lr, max_iter, callback, progress,
                     strict: bool = True, start=None):
    """A stochastic method's SolveResult; None (after checking options) for another method.

    ``strict``: the method is the file's own, so training options beside a
    deterministic method are an error; a ``--method`` flag instead runs that
    method and ignores them (to compare, e.g., lbfgs on a file written for sgd).
    ``start``: the flat start point (default the file's).
    """
    problem = session.problem
    options = problem.options
    chosen = stochastic_method(options, method)
    if chosen is None:
        for name in TRAINING_OPTIONS if strict else ():
            if name in options.given:
                raise OptionError(f"option '{name}' is for the stochastic methods sgd, adam and "
                                  f"adamw, not {method}", options.spans[name])
        return None
    if session.recording.constraints:
        raise OptionError(f"{chosen} handles bounds but not 'subject to' constraints",
                          problem.options.spans.get("method"),
                          hint="use a deterministic method (lbfgs, ...) for a constrained problem")
    if "sigma" in options.given:  # the weights of a least-squares fit, one per row
        raise OptionError(f"option 'sigma' weights a least-squares fit; {chosen} does not take "
                          "it (write the weights into the objective)", options.spans["sigma"])
    settings = train_settings(options, chosen, lr, max_iter)
    started = time.perf_counter()
    oracle, rows, report = epochs_oracle(session, settings)
    if progress is not None:
        progress("training", limit=settings.epochs)
    x0 = problem.start_point() if start is None else start
    outcome = train(oracle, x0, settings, callback)
    final = report(outcome.x)
    elapsed = time.perf_counter() - started
    point = session.report(outcome.x)
    sign = -1.0 if problem.sense == "maximize" else 1.0
    training = TrainingReport(rows["batch"], outcome.epochs, outcome.steps,
                              sign * final[0],
                              None if final[1] is None else sign * final[1],
                              outcome.best_epoch, rows["validation"])
    return SolveResult(
        problem=Path(problem.name).name if problem.name != "<stdin>" else "<stdin>",
        status=outcome.status, message=outcome.message, method=chosen, mode="reverse",
        objective=ObjectiveInfo(problem.objective_name, float(point.objective), problem.sense),
        params=problem.unflatten(outcome.x), start=problem.unflatten(x0), lets=point.lets,
        gradient_norm=outcome.gradient_norm, iterations=outcome.steps,
        evaluations={"objective": outcome.steps + rows["validations"](),
                     "gradient": outcome.steps, "hessian": 0},
        constraints=[],
        time_s=elapsed, training=training, gradient=gradient_at(session, outcome.x),
        active_bounds=active_bounds(problem, outcome.x),
        settings={**asdict(settings), "method": chosen, "method_asked": method,
                  "mode": "reverse", "seed": problem.seed, "batch": rows["batch"]},
    )


def train_settings(options, method: str, lr=None, max_iter=None) -> TrainSettings:
    """The settings of a stochastic run from the file's options (flags override lr, max_iter)."""
    get = options.get
    momentum = get("momentum", 0.0)
    weight_decay = get("weight_decay", 0.01 if method == "adamw" else 0.0)
    settings = TrainSettings(
        method=method, lr=lr if lr is not None else get("lr", _DEFAULT_LR[method]),
        epochs=get("epochs", 100), momentum=momentum, nesterov=get("nesterov", False),
        beta1=get("beta1", 0.9), beta2=get("beta2", 0.999), eps=get("eps", 1e-8),
        weight_decay=weight_decay, schedule=get("schedule", "constant"),
        warmup=get("warmup", 0), decay=get("decay", 0.1),
        decay_epochs=get("decay_epochs", 10), clip_norm=get("clip_norm"),
        patience=get("patience"), max_steps=max_iter if max_iter is not None
        else get("max_iter"))
    if settings.schedule == "step" and settings.decay >= 1:
        raise OptionError(f"option 'decay' must be below 1 for schedule \"step\", got "
                          f"{settings.decay:g}", options.spans.get("decay"))
    if "patience" in options.given and "validation" not in options.given:
        raise OptionError("option 'patience' needs held-out rows: set option validation too",
                          options.spans["patience"])
    return replace(settings)


def epochs_oracle(session, s: TrainSettings):
    """The Epochs oracle of a session, the row counts, and the final-loss function.

    Each epoch (batch 0) shuffles the training rows again, so the oracle can
    be given to ``train`` more than once (the benchmarks do).
    """
    problem = session.problem
    options = problem.options
    seed = problem.seed
    needs_rows = any(name in options.given for name in ("batch", "validation"))
    # Without batch or validation every step sees all rows, in their order (a program
    # that is not row by row, e.g. dot(p, ratings) with p a parameter, stays right).
    data = check_rows(problem) if needs_rows else None
    lower, upper = problem.bounds()
    counter = {"validations": 0}
    draws = drawer(seed)
    if data is None:  # no rows to batch: every step is the whole problem, fresh draws
        program = BatchProgram(problem, None, 1, gradient=True)
        oracle = Epochs(problem.n, 1, lambda x, e, k, t: program.step(x, [], draws),
                        None, lower, upper)
        rows = {"batch": 0, "validation": 0, "validations": lambda: 0}
        return oracle, rows, lambda x: (program.run(x, [])[0], None)
    train_rows, val_rows = split_rows(data.count, options.get("validation"), seed)
    batch = options.get("batch", len(train_rows))
    if batch > len(train_rows):
        raise OptionError(f"option 'batch' is {batch}, but there are only {len(train_rows)} "
                          "training rows", options.spans.get("batch"))
    programs: dict[int, BatchProgram] = {}
    shuffled = {"columns": []}
    shuffles = shuffler(seed)

    def value_and_grad(x, epoch, k, step):
        if k == 0:  # a new epoch: one shuffled copy of the training rows
            order = train_rows[shuffles.permutation(len(train_rows))]
            shuffled["columns"] = [column[order] for column in data.columns]
        lo = k * batch
        hi = min(lo + batch, len(train_rows))
        columns = [column[lo:hi] for column in shuffled["columns"]]  # views
        program = programs.get(hi - lo)
        if program is None:
            program = programs[hi - lo] = BatchProgram(problem, data, hi - lo, gradient=True)
        return program.step(x, columns, draws)

    validation = None
    if len(val_rows):
        held = [column[val_rows] for column in data.columns]
        val_program = BatchProgram(problem, data, len(val_rows), gradient=False)

        def validation(x):
            counter["validations"] += 1
            return val_program.run(x, held)[0]

    def final(x):
        whole = BatchProgram(problem, data, len(train_rows), gradient=False)
        loss = whole.run(x, [column[train_rows] for column in data.columns])[0]
        return loss, validation(x) if validation is not None else None

    oracle = Epochs(problem.n, math.ceil(len(train_rows) / batch), value_and_grad, validation,
                    lower, upper)
    rows = {"batch": batch, "validation": len(val_rows),
            "validations": lambda: counter["validations"]}
    return oracle, rows, final
