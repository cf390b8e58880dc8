"""The exported module as text: header, constants, helpers, program, interface.

``write_module`` puts together what the other modules produce: the target's
prelude (the array module ``xp`` and the functional update ``_set_at``), the
parameter layout (``PARAMS``, ``START``), the constants and data tables
(diffopt.export.data), the helpers the primitives' export rules declare, the
Newton solver (diffopt.export.newton) and the nested functions of the
root/argmin calls if there are any, the path check, ``_evaluate``
(diffopt.export.codegen) and the public functions ``value``, ``gradient``,
``value_and_grad`` and ``unflatten``.

Must not import the CLI or Rich.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from diffopt import __version__
from diffopt.export.codegen import ConstantPool, Names, Output, evaluate_source, slot_names
from diffopt.export.data import (
    EMBED_LIMIT,
    array_literal,
    constants_section,
    known_constants,
    load_data_section,
)
from diffopt.export.newton import newton_source
from diffopt.export.traced import TracedProgram

TARGETS = ("numpy", "jax")

PRELUDE = {
    "numpy": '''\
import numpy as np

xp = np  # the array module the equations are written against
TARGET = "numpy"


def _set_at(x, index, value):
    """x with x[index] replaced by value, as a new array (arguments are never written to)."""
    x = np.array(x, dtype=np.float64)
    x[index] = value
    return x
''',
    "jax": '''\
import jax
import jax.numpy as xp
import numpy as np

jax.config.update("jax_enable_x64", True)  # float64, as diffopt computes
TARGET = "jax"


def _set_at(x, index, value):
    """x with x[index] replaced by value (jax arrays are immutable)."""
    return xp.asarray(x).at[index].set(value)
''',
}

_INTERFACE = '''\
def _flat(x):
    flat = xp.asarray(x, dtype=xp.float64).reshape(-1)
    if flat.shape != (N,):
        raise ValueError(f"expected a flat vector of {N} parameter values, got shape "
                         f"{np.shape(x)}")
    return flat


def _concat(pieces):
    if not pieces:
        return np.zeros(0)
    return np.concatenate([np.ravel(np.asarray(p, dtype=np.float64)) for p in pieces])


def value(x):
    """The objective at x, a flat float64 vector of all parameters (see PARAMS)."""
    with np.errstate(all="ignore"):
        f, _ = _evaluate(_flat(x), False)
    return float(f)


def value_and_grad(x):
    """(objective, gradient) at x; the gradient is flat, in the layout of x."""
    with np.errstate(all="ignore"):
        f, pieces = _evaluate(_flat(x), True)
    return float(f), _concat(pieces)


def gradient(x):
    """The gradient of the objective at x, flat, in the layout of x."""
    return value_and_grad(x)[1]


def unflatten(x):
    """A dict name -> array (of the parameter's shape) from a flat vector."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    result, offset = {}, 0
    for name, shape in PARAMS:
        size = int(np.prod(shape, dtype=np.int64))
        result[name] = x[offset:offset + size].reshape(shape).copy()
        offset += size
    return result
'''

_PATH_CHECK = '''\
class PathError(ValueError):
    """The point takes a branch the exported program did not take."""


def _path_differs(where, taken):
    was, now = ("true", "false") if taken else ("false", "true")
    raise PathError(
        f"{SOURCE}: the path at this point differs from the exported one: the condition "
        f"at {where} was {was} when exported (at TRACED_AT) and is {now} here; export the "
        "problem again at this point (diffopt export --at ...)")
'''


def write_module(problem, program: TracedProgram, point: np.ndarray, target: str,
                 embed_limit: int = EMBED_LIMIT) -> str:
    """The source of the standalone module (see diffopt.export.export_module)."""
    names = Names()
    named = slot_names(program, problem.params, problem.objective_name, names)
    known, columns = known_constants(problem, program.lets, names, embed_limit)
    pool = ConstantPool(known)
    out = Output(pool, names)
    body = evaluate_source(program, problem.params, named, out)
    helpers: list[str] = []
    for prim in out.used:
        source = prim.export.helper_source(target)
        if source and source not in helpers:
            helpers.append(source)
    if out.functions:
        helpers.append(newton_source(target))
    sections = [
        _docstring(problem, program, target, bool(out.functions)),
        PRELUDE[target],
        _layout(problem, point),
        "\n".join(load_data_section(pool.used, columns, names)),
        "\n".join(constants_section(pool.used, columns)),
        "\n\n".join(h.rstrip("\n") for h in helpers),
        _PATH_CHECK,
        *("\n".join(function) for function in out.functions),
        "\n".join(body),
        _INTERFACE,
    ]
    return "\n\n\n".join(s.rstrip("\n") for s in sections if s.strip()) + "\n"


def _docstring(problem, program: TracedProgram, target: str, solves: bool) -> str:
    name = Path(problem.source.name).name
    module = "jax.numpy (float64)" if target == "jax" else "NumPy"
    guards = len(program.branches)
    path = ("It records no parameter-dependent branch: it is valid everywhere."
            if not guards else
            f"It is the path of {guards} branch decision(s) taken at TRACED_AT: at a point\n"
            "where a condition comes out differently, the functions raise PathError.")
    if solves:
        path += ("\n\nEach root/argmin call is solved as diffopt solves it: damped Newton steps\n"
                 "(_newton) from its init= on its body, a nested function returning g and\n"
                 "dg/dx (_root_LINE, _argmin_LINE); a solve that fails raises ValueError\n"
                 "naming the call's place in the .dop file.")
    return f'''"""{name}, exported by diffopt {__version__} (diffopt export --to {target}).

The objective and its exact gradient (reverse mode, staged by diffopt) in
{module}: one line per equation, named after the .dop file's lets where
there is one, with the source line as a comment.

    PARAMS            (name, shape) of each parameter, in declaration order
    START             the start point, a flat float64 vector
    value(x)          the objective at x (a flat vector of all parameters,
                      each flattened row-major, in declaration order)
    gradient(x)       its gradient, in the layout of x
    value_and_grad(x) (float, ndarray) of both
    unflatten(x)      dict name -> array

{path}
"""'''


def _layout(problem, point: np.ndarray) -> str:
    params = ", ".join(f"({p.name!r}, {p.shape!r})" for p in problem.params)
    return "\n".join([
        f"SOURCE = {Path(problem.source.name).name!r}",
        f"PARAMS = [{params}]",
        f"N = {problem.n}",
        f"START = {_vector(problem.start_point())}",
        "TRACED_AT = " + ("START" if np.array_equal(point, problem.start_point())
                          else _vector(point)) + "  # the point whose path this module follows",
    ])


def _vector(x: np.ndarray) -> str:
    return array_literal(np.asarray(x, dtype=np.float64).reshape(-1))
