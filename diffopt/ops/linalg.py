"""Linear algebra: the matrix product ``@``, ``transpose`` and ``linsolve``.

``a @ b`` follows NumPy for vectors and matrices: vector·vector is the inner
product (a scalar), matrix·vector and vector·matrix are vectors,
matrix·matrix a matrix. Scalars and arrays of more than two dimensions are
shape errors, as are differing inner dimensions (the message shows both
shapes). ``transpose`` swaps the axes of a matrix and leaves vectors and
scalars unchanged. ``linsolve(A, b)`` is A⁻¹b (internal: the implicit
functions of diffopt.implicit differentiate through it).

Must not import the front end, the CLI or Rich.
"""

from __future__ import annotations

import numpy as np

from diffopt.errors import ShapeError
from diffopt.ops.core import reshape
from diffopt.ops.registry import Abstract, Var, builtin, format_shape, prim, shape_of

# ------------------------------------------------------------------ matmul


def _subscripts(a_ndim: int, b_ndim: int) -> tuple[str, str, str]:
    # einsum subscripts of a @ b: a is (m?, n), b is (n, p?), the result (m?, p?).
    a = ("m" if a_ndim == 2 else "") + "n"
    b = "n" + ("p" if b_ndim == 2 else "")
    out = ("m" if a_ndim == 2 else "") + ("p" if b_ndim == 2 else "")
    return a, b, out


def _matmul_shape(a, b):
    for s in (a, b):
        if len(s) not in (1, 2):
            kind = "a scalar" if s == () else f"an array of shape {format_shape(s)}"
            raise ShapeError(
                f"matrix product of {format_shape(a)} and {format_shape(b)}: "
                f"@ needs vectors or matrices, not {kind}"
            )
    if a[-1] != b[0]:
        raise ShapeError(
            f"matrix product of {format_shape(a)} and {format_shape(b)}: "
            f"inner dimensions {a[-1]} and {b[0]} differ"
        )
    return tuple(a[:-1]) + tuple(b[1:])


def _matmul_vjp(g, inputs, out):
    # ā = ḡ bᵀ and b̄ = aᵀ ḡ, with vectors read as a row (a) or a column (b).
    a, b = inputs
    sa, sb = shape_of(a), shape_of(b)
    ga = gb = None
    if isinstance(a, (Var, Abstract)):
        if len(sb) == 1:  # out = a b: ā_mn = ḡ_m b_n (an outer product; scalar ḡ for a vector a)
            ga = (reshape(g, shape=(sa[0], 1)) if len(sa) == 2 else g) * b
        elif len(sa) == 1:  # out = a B, a row: ā = B ḡ, with no transposed copy of B
            ga = matmul(b, g)
        else:
            ga = matmul(g, transpose(b))
    if isinstance(b, (Var, Abstract)):
        if len(sa) == 1:  # b̄_np = a_n ḡ_p
            gb = (reshape(a, shape=(sa[0], 1)) if len(sb) == 2 else a) * g
        elif len(sb) == 1:  # out = A b, a column: b̄ = ḡ A, likewise
            gb = matmul(g, a)
        else:
            gb = matmul(transpose(a), g)
    return [ga, gb]


# (A + H)(B + K) ≈ AB + HB + AK
def _matmul_jvp(tangents, inputs, out):
    # (A + dA)(B + dB) ≈ AB + dA B + A dB
    (tA, tB), (A, B) = tangents, inputs
    terms = [matmul(tA, B)] if tA is not None else []
    if tB is not None:
        terms.append(matmul(A, tB))
    return terms[0] if len(terms) == 1 else terms[0] + terms[1]


matmul = prim(
    "matmul",
    np.matmul,
    jvp=_matmul_jvp,
    nargs=2,
    shape=_matmul_shape,
    vjp=_matmul_vjp,
    doc="a @ b: matrix and vector products",
    export="({0} @ {1})",
)

# ------------------------------------------------------------------ transpose


def _transpose_shape(x):
    if len(x) > 2:
        raise ShapeError(f"transpose needs a vector or a matrix, got {format_shape(x)}")
    return tuple(reversed(x))


# (A + H)ᵀ = Aᵀ + Hᵀ ; its own adjoint
transpose = prim(
    "transpose",
    lambda x: np.transpose(x).copy(),
    linear=True,  # linear in its inputs: its forward rule is itself
    shape=_transpose_shape,
    vjp=lambda g, inputs, out: [transpose(g)],
    doc="swap the rows and columns of a matrix (vectors are unchanged)",
    export="xp.transpose({0})",
)

builtin("transpose", lambda x: transpose(x) if len(shape_of(x)) == 2 else x,
        doc="swap rows and columns of a matrix; vectors and scalars are unchanged")


# ------------------------------------------------------------------ linsolve


def _linsolve_jvp(tangents, inputs, out):
    # ẋ = A⁻¹ (ḃ − Ȧ x), staged: one more solve with the same A
    (tA, tb), (A, _) = tangents, inputs
    if tA is None:
        rhs = tb
    else:
        rhs = -matmul(tA, out) if tb is None else tb - matmul(tA, out)
    return linsolve(A, rhs)


def _linsolve_vjp(g, inputs, out, **_):
    # λ = A⁻ᵀ x̄ ; Ā = −λ xᵀ ; b̄ = λ
    A, b = inputs
    lam = linsolve(transpose(A), g)
    m = shape_of(b)[0]
    gA = None
    if isinstance(A, (Var, Abstract)):
        gA = -(reshape(lam, shape=(m, 1)) @ reshape(out, shape=(1, m)))
    gb = lam if isinstance(b, (Var, Abstract)) else None
    return [gA, gb]


def _linsolve_shape(A, b):
    if len(A) != 2 or A[0] != A[1] or len(b) != 1 or b[0] != A[0]:
        raise ShapeError(f"linsolve needs an (m, m) matrix and an (m,) vector, not "
                         f"{format_shape(A)} and {format_shape(b)}")
    return b


# (A + H)⁻¹(b + k) ≈ A⁻¹b + A⁻¹(k − H A⁻¹b)
linsolve = prim("linsolve", lambda A, b: np.linalg.solve(A, b), nargs=2, shape=_linsolve_shape,
                vjp=_linsolve_vjp, jvp=_linsolve_jvp, export="xp.linalg.solve({0}, {1})",
                domain=("invertible", "real"), doc="A⁻¹ b (internal: implicit differentiation)")
